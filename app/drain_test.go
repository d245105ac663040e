package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
)

// TestDrainAnswersEveryRequest: SIGTERM under load loses no request. A load
// balancer polls /readyz and stops routing when it fails; clients send as
// long as it routes to the instance, on keep-alive and fresh connections,
// and some have written a whole request just before the signal. Every one
// of those requests is answered: the instance turns unready at once and
// keeps serving for SHUTDOWN_DRAIN_DELAY, longer than the balancer takes
// to notice.
func TestDrainAnswersEveryRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the service through a shutdown")
	}
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"} {
		t.Setenv(k, "none")
	}
	const (
		drainDelay = time.Second
		lbInterval = 50 * time.Millisecond
		clients    = 16
		pending    = 20
	)
	addr := testenv.FreeAddr(t)
	env := map[string]string{
		"HTTP_ADDR":            addr,
		"ADMIN_ADDR":           testenv.FreeAddr(t),
		"DATABASE_URL":         "sqlite:" + filepath.Join(t.TempDir(), "blog.db"),
		"FRONTEND_DIR":         t.TempDir(),
		"SHUTDOWN_DRAIN_DELAY": drainDelay.String(),
		"LOG_LEVEL":            "warn",
	}
	ctx, sigterm := context.WithCancel(context.Background())
	defer sigterm()
	served := make(chan error, 1)
	go func() { served <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, io.Discard) }()

	base := "http://" + addr
	get := func(c *http.Client, path string) (int, error) {
		resp, err := c.Get(base + path)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := get(http.DefaultClient, "/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready after 10s")
		}
	}

	// The balancer: routes while /readyz answers 200.
	var routed atomic.Bool
	routed.Store(true)
	lbDone := make(chan struct{})
	go func() {
		defer close(lbDone)
		c := &http.Client{Timeout: time.Second}
		for routed.Load() {
			if code, _ := get(c, "/readyz"); code != 200 {
				routed.Store(false)
			}
			time.Sleep(lbInterval)
		}
	}()

	var sent, answered, afterSignal atomic.Int64
	var signalled atomic.Bool
	var failMu sync.Mutex
	var failures []error
	fail := func(err error) {
		failMu.Lock()
		defer failMu.Unlock()
		failures = append(failures, err)
	}
	var wg sync.WaitGroup
	for i := range clients {
		// Half the clients keep their connections alive, half dial anew.
		tr := &http.Transport{DisableKeepAlives: i%2 == 1}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		wg.Go(func() {
			defer tr.CloseIdleConnections()
			for routed.Load() {
				sent.Add(1)
				after := signalled.Load()
				code, err := get(c, "/api/posts")
				if err != nil || code != 200 {
					fail(err)
					continue
				}
				answered.Add(1)
				if after {
					afterSignal.Add(1)
				}
			}
		})
	}

	// Requests written whole on their own connections, then the signal
	// 10 ms later, before the server has necessarily read them.
	conns := make([]net.Conn, pending)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /api/posts HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	time.Sleep(200 * time.Millisecond) // the clients are running
	time.Sleep(10 * time.Millisecond)
	signalled.Store(true)
	sigterm()

	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("request %d written before SIGTERM: %v", i, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("request %d written before SIGTERM: status %d", i, resp.StatusCode)
		}
	}

	wg.Wait()
	<-lbDone
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(drainDelay + 30*time.Second):
		t.Fatal("serve did not return after the drain and the shutdown timeout")
	}
	t.Logf("sent %d, answered %d (%d after SIGTERM), unanswered %d", sent.Load(), answered.Load(), afterSignal.Load(), len(failures))
	if len(failures) > 0 {
		t.Errorf("%d of %d requests routed to the instance were not answered; first: %v", len(failures), sent.Load(), failures[0])
	}
	if afterSignal.Load() == 0 {
		t.Error("no request was answered after SIGTERM: the drain served nothing")
	}
}
