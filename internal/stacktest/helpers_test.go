package stacktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
)

// inCI reports whether a missing tool must fail the test instead of skipping it.
func inCI() bool { return os.Getenv("CI") == "true" }

// missing skips the test loudly, or fails it in CI.
func missing(tb testing.TB, what, how string) {
	tb.Helper()
	msg := fmt.Sprintf("%s is missing: %s\n!!! This part of the stack is NOT proven on this machine.", what, how)
	if inCI() {
		tb.Fatal("\n!!! " + msg)
	}
	testenv.Skip(tb, msg)
}

// needProgram returns the path of an executable on the PATH.
func needProgram(tb testing.TB, name, how string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missing(tb, name, how)
	}
	return path
}

// stackProgram returns bin/<name>, a program the Makefile builds at the
// version the stack pins (make bin/<name>), never one from the PATH whose
// version nobody chose.
func stackProgram(tb testing.TB, name string) string {
	tb.Helper()
	path := testproc.RepoPath(tb, "bin", name)
	if _, err := os.Stat(path); err != nil {
		missing(tb, "bin/"+name, "run `make bin/"+name+"` (builds it at the version docker-compose.yml runs)")
	}
	return path
}

// run executes a program to completion and returns its combined output.
func run(tb testing.TB, dir, prog string, args ...string) (string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return string(out), fmt.Errorf("%s timed out", prog)
	}
	return string(out), err
}
