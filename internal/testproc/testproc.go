// Package testproc runs the programs that end-to-end tests need (the app,
// collectors, Prometheus): started in a process group, stopped when the test
// ends, their output kept and shown when the test fails.
package testproc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// RepoRoot returns the directory holding go.mod, above the test's directory.
func RepoRoot(tb testing.TB) string {
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

// RepoPath joins elem to the repository root.
func RepoPath(tb testing.TB, elem ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{RepoRoot(tb)}, elem...)...)
}

// Otelcol returns the collector built by `make collector` (or the one
// OTELCOL_BIN names); a missing one fails the test in CI, skips it elsewhere.
func Otelcol(tb testing.TB) string {
	tb.Helper()
	path := os.Getenv("OTELCOL_BIN")
	if path == "" {
		path = RepoPath(tb, "bin", "otelcol")
	}
	if _, err := os.Stat(path); err != nil {
		testenv.Missing(tb, "the collector bin/otelcol (build it with `make collector`)", "OTELCOL_BIN", err)
	}
	return path
}

// BuildApp compiles ./app into the test's temporary directory.
func BuildApp(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "app")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./app")
	cmd.Dir = RepoRoot(tb)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./app: %v\n%s", err, out)
	}
	return bin
}

// Process is a program started by a test and stopped when it ends.
type Process struct {
	Name           string
	Cmd            *exec.Cmd
	Stdout, Stderr *telemetrytest.Buffer
	done           chan struct{}
	err            error
}

// Start runs prog with env added to the test's environment until the test
// ends. When the test fails, the tail of the output is logged, so a failing
// end-to-end run explains itself.
func Start(tb testing.TB, name string, env []string, prog string, args ...string) *Process {
	tb.Helper()
	return start(tb, name, append(os.Environ(), env...), prog, args...)
}

// StartEnv is Start with env as the whole environment, so that nothing from
// the developer's shell (OTEL_*, DATABASE_URL) reaches the program.
func StartEnv(tb testing.TB, name string, env []string, prog string, args ...string) *Process {
	tb.Helper()
	return start(tb, name, env, prog, args...)
}

func start(tb testing.TB, name string, env []string, prog string, args ...string) *Process {
	tb.Helper()
	p := &Process{Name: name, Stdout: &telemetrytest.Buffer{}, Stderr: &telemetrytest.Buffer{}, done: make(chan struct{})}
	p.Cmd = exec.Command(prog, args...)
	p.Cmd.Env = env
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, p.Stderr
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.Cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Stop()
		if tb.Failed() {
			tb.Logf("---- output of %s ----\n%s", name, p.tail(6000))
		}
	})
	return p
}

// Output returns stdout followed by stderr.
func (p *Process) Output() string { return p.Stdout.String() + p.Stderr.String() }

func (p *Process) tail(n int) string {
	return Tail(p.Stdout.String(), n*2/3) + "\n" + Tail(p.Stderr.String(), n/3)
}

// Stop sends SIGTERM to the process group and waits, with SIGKILL after 15 s.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill sends SIGKILL to the process group and waits for the process.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the process ended, once it has.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Exited returns an error, with the output, when the process has died.
func (p *Process) Exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited early (%v):\n%s", p.Name, p.err, p.tail(6000))
	default:
		return nil
	}
}

// Tail returns the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// WaitFor polls check until it returns nil; it fails the test when timeout
// passes first or one of procs dies.
func WaitFor(tb testing.TB, what string, timeout time.Duration, check func() error, procs ...*Process) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, p := range procs {
			if err := p.Exited(); err != nil {
				tb.Fatalf("waiting for %s: %v", what, err)
			}
		}
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// HTTPOK returns nil when GET url answers 2xx within 2 s.
func HTTPOK(url string) error {
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
