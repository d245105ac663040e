package stacktest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// toolbox returns a directory for PATH that holds only the named programs
// (and the extra scripts), so a test can run make without docker or npm.
func toolbox(t *testing.T, programs []string, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range programs {
		path, err := exec.LookPath(p)
		if err != nil {
			missing(t, p, "install it")
		}
		if err := os.Symlink(path, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var makeTools = []string{"make", "bash", "sh", "git", "go", "grep", "sort", "awk", "mkdir", "cp", "rm", "cat"}

func makeCmd(t *testing.T, ctx context.Context, path string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = testproc.RepoRoot(t)
	cmd.Env = append(os.Environ(), "PATH="+path, "MAKEFLAGS=", "MAKELEVEL=")
	cmd.Path = filepath.Join(path, "make")
	return cmd
}

// TestMakeHelpListsEveryTarget: every target a user can type has its line
// in `make help`.
func TestMakeHelpListsEveryTarget(t *testing.T) {
	needProgram(t, "make", "apt-get install -y make")
	out, err := run(t, testproc.RepoRoot(t), "make", "--no-print-directory", "help")
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	listed := map[string]bool{}
	var areas []string
	for _, line := range strings.Split(out, "\n") {
		if area, ok := strings.CutSuffix(line, ":"); ok && !strings.HasPrefix(line, " ") {
			areas = append(areas, area)
		} else if f := strings.Fields(line); len(f) > 1 {
			listed[f[0]] = true
		}
	}
	// Grouped by area, in the order a newcomer meets them; a target left
	// without a `##@ area` line would land under "other".
	if want := []string{"run", "test", "stack", "deploy", "performance"}; !slices.Equal(areas, want) {
		t.Errorf("make help areas = %q, want %q (a target needs a `##@ area` line above it)", areas, want)
	}
	files, _ := filepath.Glob(testproc.RepoPath(t, "make", "*.mk"))
	files = append(files, testproc.RepoPath(t, "Makefile"))
	phony := regexp.MustCompile(`(?m)^\.PHONY:(.*)$`)
	n := 0
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range phony.FindAllStringSubmatch(string(body), -1) {
			for _, target := range strings.Fields(m[1]) {
				n++
				if !listed[target] {
					t.Errorf("make help does not list %s (%s): give it a `## ` line", target, filepath.Base(f))
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("found %d phony targets, want the whole Makefile's", n)
	}
}

// TestMakeComposeTargetsSayWhatIsMissing: without Docker Compose, `make up`,
// `down` and `logs` fail with one line that names what to install, instead
// of docker's "unknown shorthand flag: 'd'".
func TestMakeComposeTargetsSayWhatIsMissing(t *testing.T) {
	cases := map[string]struct {
		scripts map[string]string
		want    string
	}{
		"no docker": {nil, "Docker Compose not found"},
		// A docker without the compose plugin answers `docker compose …`
		// with its usage error.
		"docker without compose": {map[string]string{"docker": `echo "unknown shorthand flag: 'd' in -d" >&2; exit 125`}, "docker is installed but Docker Compose is not"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := toolbox(t, makeTools, c.scripts)
			for _, target := range []string{"up", "down", "logs"} {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				out, err := makeCmd(t, ctx, path, target).CombinedOutput()
				cancel()
				if err == nil {
					t.Errorf("make %s succeeded without Docker Compose", target)
				}
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], c.want) || strings.Contains(string(out), "shorthand") {
					t.Errorf("make %s printed %q, want one line with %q", target, out, c.want)
				}
			}
		})
	}
}

// TestMakeRunStopsWithMake: `make run` in the background, SIGTERM to make,
// and the app stops too: the recipe execs the binary, so the signal that
// make passes on reaches the app itself (`go run` would leave its child
// serving on the port).
func TestMakeRunStopsWithMake(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the app")
	}
	// No npm on this PATH: make run serves the API alone, without a UI build.
	path := toolbox(t, makeTools, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := makeCmd(t, ctx, path, "run")
	cmd.Env = append(cmd.Env, "HTTP_ADDR=127.0.0.1:0", "ADMIN_ADDR=127.0.0.1:0",
		"DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "blog.db"), "OTEL_SDK_DISABLED=true")
	var out bytes.Buffer
	pr, pw, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	started := make(chan struct{})
	copied := make(chan struct{})
	var addr string // the public listener's, set before started is closed
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			fmt.Fprintln(&out, sc.Text())
			if a := testproc.ListenAddrs(sc.Text())["public"]; a != "" {
				addr = a
			}
			if !once && strings.Contains(sc.Text(), `"msg":"server.started"`) {
				once = true
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-copied:
		t.Fatalf("make run exited before the app started:\n%s", out.String())
	case <-ctx.Done():
		t.Fatalf("the app did not start:\n%s", out.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		// How make reports its own SIGTERM is not the subject; that the
		// app stopped with it is (below).
		t.Logf("make exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("make did not exit within 30s of SIGTERM")
	}
	<-copied
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("the app still serves on %s after make stopped:\n%s", addr, out.String())
	}
	if !strings.Contains(out.String(), `"msg":"server.stopped"`) {
		t.Errorf("the app did not shut down gracefully (no server.stopped):\n%s", out.String())
	}
	// make run picks the quick stop; the binary's default drains for 5 s.
	drained := false
	for line := range strings.Lines(out.String()) {
		var rec struct {
			Msg        string
			DrainDelay string `json:"drain_delay"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "server.draining" && rec.DrainDelay == "0s" {
			drained = true
		}
	}
	if !drained {
		t.Errorf("make run did not set SHUTDOWN_DRAIN_DELAY=0 (no server.draining line with drain_delay 0):\n%s", out.String())
	}
}

// TestFuzzTargetsListed: make fuzz runs the explicit FUZZ_TARGETS list, so a
// renamed target fails the run; this keeps a new Fuzz function from being
// left out of it.
func TestFuzzTargetsListed(t *testing.T) {
	body, err := os.ReadFile(testproc.RepoPath(t, "make", "security.mk"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)FUZZ_TARGETS := \\\n(.*?)\n\n`).FindSubmatch(body)
	if block == nil {
		t.Fatal("make/security.mk has no FUZZ_TARGETS block")
	}
	listed := map[string]bool{}
	for _, f := range strings.Fields(strings.ReplaceAll(string(block[1]), "\\", "")) {
		listed[f] = true
	}
	found := map[string]bool{}
	fuzzFunc := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	root := testproc.RepoRoot(t)
	files, err := testproc.RepoFiles(root, "_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fuzzFunc.FindAllSubmatch(src, -1) {
			found["./"+path.Dir(f)+":"+string(m[1])] = true
		}
	}
	for target := range found {
		if !listed[target] {
			t.Errorf("%s is not in make/security.mk's FUZZ_TARGETS: make fuzz would not run it", target)
		}
	}
	for target := range listed {
		if !found[target] {
			t.Errorf("FUZZ_TARGETS lists %s, which no test file defines", target)
		}
	}
	if len(found) < 5 {
		t.Errorf("found %d fuzz targets, want at least the 5 the kit has", len(found))
	}
}
