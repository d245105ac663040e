package stacktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// repoRoot returns the directory holding go.mod.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// repoPath joins elem to the repository root.
func repoPath(tb testing.TB, elem ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{repoRoot(tb)}, elem...)...)
}

// inCI reports whether a missing tool must fail the test instead of skipping it.
func inCI() bool { return os.Getenv("CI") == "true" }

// missing skips the test loudly, or fails it in CI.
func missing(tb testing.TB, what, how string) {
	tb.Helper()
	msg := fmt.Sprintf("\n!!! %s is missing: %s\n!!! This part of the stack is NOT proven on this machine.", what, how)
	if inCI() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
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

// otelcol returns the collector built from collector/builder.yaml.
func otelcol(tb testing.TB) string {
	tb.Helper()
	path := repoPath(tb, "bin", "otelcol")
	if _, err := os.Stat(path); err != nil {
		missing(tb, "bin/otelcol", "run `make collector` (builds collector/builder.yaml with ocb)")
	}
	return path
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a program started by a test and stopped in t.Cleanup.
type process struct {
	name   string
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
	err    error
}

// start runs a program until the test ends. Its output is printed when the
// test fails, so a failing end-to-end run explains itself.
func start(tb testing.TB, name string, env []string, prog string, args ...string) *process {
	tb.Helper()
	p := &process{name: name, output: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(prog, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = p.output
	p.cmd.Stderr = p.output
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.stop()
		if tb.Failed() {
			tb.Logf("---- output of %s ----\n%s", name, tail(p.output.String(), 6000))
		}
	})
	return p
}

// stop sends SIGTERM to the process group, then SIGKILL after 10s.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// exited reports a process that died early, with its output.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited early (%v):\n%s", p.name, p.err, tail(p.output.String(), 4000))
	default:
		return nil
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// waitFor polls check until it returns nil or the timeout passes.
func waitFor(tb testing.TB, what string, timeout time.Duration, check func() error, procs ...*process) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		for _, p := range procs {
			if perr := p.exited(); perr != nil {
				tb.Fatalf("waiting for %s: %v", what, perr)
			}
		}
		if err = check(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// httpOK returns nil when GET url answers 2xx.
func httpOK(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
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
