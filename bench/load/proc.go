package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// process is a program the harness started, its output in a file (a long
// run writes more than is worth keeping in memory); stop or kill ends it.
type process struct {
	*testproc.Process
	out string // the file holding its stdout and stderr
}

// startProcess runs bin in its own process group with exactly env (the
// harness's own environment is not inherited, so no stray OTEL_* variable
// changes what is measured), output to the file out.
func startProcess(name, bin string, env []string, out string, args ...string) (*process, error) {
	f, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}, env...)
	cmd.Stdout, cmd.Stderr = f, f
	p := &process{out: out}
	p.Process, err = testproc.Launch(name, cmd, p.tail)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// pid is the process's id, for /proc.
func (p *process) pid() int { return p.Cmd.Process.Pid }

// tail is the last n bytes of the process's output.
func (p *process) tail(n int) string {
	f, err := os.Open(p.out)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > int64(n) {
		_, _ = f.Seek(st.Size()-int64(n), io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// stop sends SIGTERM and waits up to 25 s (the app's shutdown timeout is
// 20 s) before it kills the process.
func (p *process) stop() { p.StopWithin(25 * time.Second) }

// freeAddrs returns n distinct free loopback addresses.
func freeAddrs(n int) ([]string, error) {
	// Hold every listener until all are chosen so no address repeats.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		addrs[i] = l.Addr().String()
	}
	return addrs, nil
}

// waitHTTP polls url every interval until it answers 200, the process exits
// or timeout passes.
func waitHTTP(ctx context.Context, p *process, url string, interval, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if err := p.Exited(); err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no 200 from %s within %s", p.Name, url, timeout)
		case <-time.After(interval):
		}
	}
}

// buildApp compiles ./app once into bin/app-bench.
func buildApp(ctx context.Context) (string, error) {
	const bin = "bin/app-bench"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return bin, testproc.GoBuildApp(ctx, ".", bin)
}

// waitTCP waits until something accepts connections on addr.
func waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
