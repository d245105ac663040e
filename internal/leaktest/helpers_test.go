package leaktest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
)

// Adapted from internal/stacktest (test code cannot be imported): start and
// stop programs, wait for them, find the repository.

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

func repoPath(tb testing.TB, elem ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{repoRoot(tb)}, elem...)...)
}

// otelcol returns the collector built by `make collector` (or the one
// OTELCOL_BIN names): failing with CI=true, skipping loudly elsewhere.
func otelcol(tb testing.TB) string {
	tb.Helper()
	path := os.Getenv("OTELCOL_BIN")
	if path == "" {
		path = repoPath(tb, "bin", "otelcol")
	}
	if _, err := os.Stat(path); err != nil {
		testenv.Missing(tb, "the collector bin/otelcol (build it with `make collector`)", "OTELCOL_BIN", err)
	}
	return path
}

// buildApp compiles ./app into a temporary directory.
func buildApp(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "app")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./app")
	cmd.Dir = repoRoot(tb)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./app: %v\n%s", err, out)
	}
	return bin
}

// syncBuffer is a bytes.Buffer a process writes while the test reads.
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
	name           string
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

func start(tb testing.TB, name string, env []string, prog string, args ...string) *process {
	tb.Helper()
	p := &process{name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(prog, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
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
			tb.Logf("---- output of %s ----\n%s\n%s", name, tail(p.stdout.String(), 5000), tail(p.stderr.String(), 3000))
		}
	})
	return p
}

// stop sends SIGTERM to the process group and waits (SIGKILL after 15s).
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited early (%v):\n%s\n%s", p.name, p.err, tail(p.stdout.String(), 3000), tail(p.stderr.String(), 3000))
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

// waitFor polls check until it returns nil, a process dies, or timeout.
func waitFor(tb testing.TB, what string, timeout time.Duration, check func() error, procs ...*process) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, p := range procs {
			if err := p.exited(); err != nil {
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

func httpOK(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	return testenv.FreeAddr(tb)
}

// received is one request a fake server recorded, its body decoded.
type received struct {
	Path string
	Body []byte
}

// recorder is an HTTP server that records every request body.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
	errs []error
}

// newRecorder records bodies, decoding Content-Encoding gzip or snappy,
// and answers with status and body.
func newRecorder(tb testing.TB, status int, answer string) *recorder {
	tb.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err == nil {
			body, err = decodeBody(r.Header.Get("Content-Encoding"), body)
		}
		rec.mu.Lock()
		if err != nil {
			rec.errs = append(rec.errs, fmt.Errorf("%s: %w", r.URL.Path, err))
		} else {
			rec.reqs = append(rec.reqs, received{Path: r.URL.Path, Body: body})
		}
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	tb.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) requests() ([]received, []error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]received(nil), rec.reqs...), append([]error(nil), rec.errs...)
}

func decodeBody(encoding string, b []byte) ([]byte, error) {
	switch strings.ToLower(encoding) {
	case "", "identity":
		return b, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case "snappy":
		return snappyDecode(b)
	}
	return nil, fmt.Errorf("unsupported Content-Encoding %q", encoding)
}

// snappyDecode decodes the snappy block format that Prometheus remote
// write uses (https://github.com/google/snappy/blob/main/format_description.txt).
// Hand-written so the test needs no module outside go.mod; the test proves
// it right by finding known metric names in what it decodes.
func snappyDecode(src []byte) ([]byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > 256<<20 {
		return nil, errors.New("snappy: bad length header")
	}
	src = src[k:]
	dst := make([]byte, 0, n)
	errCorrupt := errors.New("snappy: corrupt input")
	for len(src) > 0 {
		tag := src[0]
		var length, offset int
		switch tag & 3 {
		case 0: // literal
			l := int(tag >> 2)
			src = src[1:]
			if l >= 60 {
				nb := l - 59
				if len(src) < nb {
					return nil, errCorrupt
				}
				l = 0
				for i := range nb {
					l |= int(src[i]) << (8 * i)
				}
				src = src[nb:]
			}
			l++
			if l <= 0 || len(src) < l {
				return nil, errCorrupt
			}
			dst = append(dst, src[:l]...)
			src = src[l:]
			continue
		case 1: // copy, 1-byte offset
			if len(src) < 2 {
				return nil, errCorrupt
			}
			length = 4 + (int(tag>>2) & 7)
			offset = int(tag>>5)<<8 | int(src[1])
			src = src[2:]
		case 2: // copy, 2-byte offset
			if len(src) < 3 {
				return nil, errCorrupt
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint16(src[1:3]))
			src = src[3:]
		case 3: // copy, 4-byte offset
			if len(src) < 5 {
				return nil, errCorrupt
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint32(src[1:5]))
			src = src[5:]
		}
		if offset <= 0 || offset > len(dst) {
			return nil, errCorrupt
		}
		for range length {
			dst = append(dst, dst[len(dst)-offset])
		}
	}
	if uint64(len(dst)) != n {
		return nil, errCorrupt
	}
	return dst, nil
}

// count reports how often secret occurs in s.
func count(s, secret string) int { return strings.Count(s, secret) }

// context around the first occurrence, for failure messages.
func around(s, secret string) string {
	i := strings.Index(s, secret)
	if i < 0 {
		return ""
	}
	return s[max(0, i-300):min(len(s), i+len(secret)+150)]
}
