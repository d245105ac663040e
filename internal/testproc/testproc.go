// Package testproc is the toolkit the end-to-end tests (internal/stacktest,
// leaktest, faulttest) and bench/load share. It runs the programs they need
// (the app, collectors, Prometheus): started in a process group, stopped
// when the test ends, their output kept and shown when the test fails
// ([Start], [Launch]), on ports they bind themselves and report where they
// can ([StartApp], [StartPromServer]), on ports picked in advance and
// picked anew after a collision where they cannot ([StartOnFreePorts]).
// And it reads what those programs produce with the
// libraries made for it: OTLP with the go.opentelemetry.io/proto/otlp types
// and protojson ([ReadSpans], [SendSpans]), Prometheus text with expfmt
// ([ParseMetrics], [Sum]), /proc with prometheus/procfs ([RSS], [CPUTime]).
// Load itself comes from package loadgen.
package testproc

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
)

// RepoRoot returns the directory holding go.mod, above the test's directory.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := FindRepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// RepoFiles lists the repository's own files under root whose names end
// in suffix ("" for all), relative and slash-separated: git's store, the
// installed and built trees (node_modules, bin, dist) and the app's local
// data are left out, and so is anything not a regular file (a worktree's
// bin symlink, a socket).
func RepoFiles(root, suffix string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "bin", "dist", "data":
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(path, suffix) {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	return files, err
}

// FindRepoRoot is [RepoRoot] for code that has no testing.TB (TestMain, a
// command): the nearest directory above the working directory with a go.mod.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above %s", dir)
		}
		dir = parent
	}
}

// RepoPath joins elem to the repository root.
func RepoPath(tb testing.TB, elem ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{RepoRoot(tb)}, elem...)...)
}

// SkipShort skips tb under -short, the everyday `make test`, because it
// needs program, a built program; `make test-all` runs it. The skip is not
// written to the skipped-proofs report: it is the tier's design, not a gap.
func SkipShort(tb testing.TB, program string) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("-short: needs " + program + ", a built program; make test-all runs this proof")
	}
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
	SkipShort(tb, "the app binary")
	bin := filepath.Join(tb.TempDir(), "app")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := GoBuildApp(ctx, RepoRoot(tb), bin); err != nil {
		tb.Fatal(err)
	}
	return bin
}

// GoBuildApp runs `go build -o bin ./app` in the module at root (the
// working tree, or a checkout of another revision).
func GoBuildApp(ctx context.Context, root, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./app")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./app in %s: %v\n%s", root, err, out)
	}
	return nil
}

// Process is a program started by a test and stopped when it ends.
type Process struct {
	Name           string
	Cmd            *exec.Cmd
	Stdout, Stderr *Output // nil when started by Launch
	output         func(n int) string
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
	stdout, stderr := newOutput(tb, name, "stdout"), newOutput(tb, name, "stderr")
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout.file, stderr.file
	p, err := Launch(name, cmd, func(n int) string { return Tail(stdout.String(), n*2/3) + "\n" + Tail(stderr.String(), n/3) })
	if err != nil {
		tb.Fatal(err)
	}
	p.Stdout, p.Stderr = stdout, stderr
	tb.Cleanup(func() {
		p.Stop()
		if tb.Failed() {
			tb.Logf("---- output of %s ----\n%s", name, p.output(6000))
		}
		stdout.file.Close()
		stderr.file.Close()
	})
	return p
}

// Output is one output stream of a started program: a file in the test's
// temporary directory, which the program writes directly (no goroutine of
// ours in between) and String reads at any time.
type Output struct{ file *os.File }

func newOutput(tb testing.TB, name, stream string) *Output {
	tb.Helper()
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, name)
	f, err := os.CreateTemp(tb.TempDir(), safe+"-*."+stream)
	if err != nil {
		tb.Fatal(err)
	}
	return &Output{file: f}
}

// String returns everything written so far.
func (o *Output) String() string {
	b, _ := os.ReadFile(o.file.Name())
	return string(b)
}

// Launch starts cmd in a process group of its own (so that stopping it
// stops its children too), for code without a testing.TB such as
// bench/load; the caller stops it. output returns the last n bytes of what
// the program wrote wherever cmd sends it, for [Process.Exited].
func Launch(name string, cmd *exec.Cmd, output func(n int) string) (*Process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, output: output, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Output returns stdout followed by stderr.
func (p *Process) Output() string { return p.Stdout.String() + p.Stderr.String() }

// Stop sends SIGTERM to the process group and waits, with SIGKILL after 15 s.
func (p *Process) Stop() { p.StopWithin(15 * time.Second) }

// StopWithin is Stop with SIGKILL after grace: longer than the program's
// own shutdown timeout, so that a clean shutdown is not cut short.
func (p *Process) StopWithin(grace time.Duration) { p.signal(syscall.SIGTERM, grace) }

// Kill sends SIGKILL to the process group, as a crash or an OOM kill would,
// and waits for the process.
func (p *Process) Kill() { p.signal(syscall.SIGKILL, 10*time.Second) }

func (p *Process) signal(sig syscall.Signal, grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
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
		return fmt.Errorf("%s exited early (%v):\n%s", p.Name, p.err, p.output(6000))
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

// WaitFor polls check every 250 ms until it returns nil; it fails the
// test when timeout passes first or one of procs dies.
func WaitFor(tb testing.TB, what string, timeout time.Duration, check func() error, procs ...*Process) {
	tb.Helper()
	Poll(tb, what, 250*time.Millisecond, timeout, check, procs...)
}

// Poll is [WaitFor] with the polling interval every, for tests that
// measure how long a recovery takes; it returns that time.
func Poll(tb testing.TB, what string, every, timeout time.Duration, check func() error, procs ...*Process) time.Duration {
	tb.Helper()
	took, err := poll(every, timeout, check, procs...)
	if err != nil {
		tb.Fatalf("waiting for %s: %v", what, err)
	}
	return took
}

// poll calls check every interval until it returns nil, and returns how
// long that took. It gives up with the exit error of the first of procs
// that ended, or with check's last error once timeout has passed.
func poll(every, timeout time.Duration, check func() error, procs ...*Process) (time.Duration, error) {
	began := time.Now()
	for {
		for _, p := range procs {
			if err := p.Exited(); err != nil {
				return 0, err
			}
		}
		err := check()
		if err == nil {
			return time.Since(began), nil
		}
		if time.Since(began) > timeout {
			return 0, fmt.Errorf("timed out after %s: %w", timeout, err)
		}
		time.Sleep(every)
	}
}
