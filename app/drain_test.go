package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"example.com/otelstarter/app/internal/config"
	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
	"example.com/otelstarter/telemetry/telemetrytest"
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
	env := map[string]string{
		"HTTP_ADDR":            "127.0.0.1:0",
		"ADMIN_ADDR":           "127.0.0.1:0",
		"DATABASE_URL":         "sqlite:" + filepath.Join(t.TempDir(), "blog.db"),
		"FRONTEND_DIR":         t.TempDir(),
		"SHUTDOWN_DRAIN_DELAY": drainDelay.String(),
		"LOG_LEVEL":            "info", // http.listening says where it listens
	}
	ctx, sigterm := context.WithCancel(context.Background())
	defer sigterm()
	var out telemetrytest.Buffer
	served := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		served <- run(ctx, nil, func(k string) string { return env[k] }, &out, io.Discard)
	}()
	addr, _, err := testproc.WaitAppAddrs(out.String, exited, 30*time.Second)
	if err != nil {
		select {
		case runErr := <-served:
			t.Fatalf("%v: %v\n%s", err, runErr, out.String())
		default:
			t.Fatalf("%v:\n%s", err, out.String())
		}
	}

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
	testproc.Poll(t, "ready", 20*time.Millisecond, 10*time.Second, func() error {
		if code, err := get(http.DefaultClient, "/readyz"); code != 200 {
			return fmt.Errorf("/readyz = %d %v", code, err)
		}
		return nil
	})

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

	// The load flows: the clients have had two answers each on average.
	testproc.Poll(t, "the clients' first answers", 5*time.Millisecond, 10*time.Second, func() error {
		if n := answered.Load(); n < 2*clients {
			return fmt.Errorf("%d answers", n)
		}
		return nil
	})
	// Requests written whole on their own connections, then the signal
	// 10 ms later (the scenario, not a wait), before the server has
	// necessarily accepted or read them.
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
	if !strings.Contains(out.String(), `"msg":"server.draining"`) {
		t.Error("no server.draining line: the shutdown skipped the drain")
	}
	t.Logf("sent %d, answered %d (%d after SIGTERM), unanswered %d", sent.Load(), answered.Load(), afterSignal.Load(), len(failures))
	if len(failures) > 0 {
		t.Errorf("%d of %d requests routed to the instance were not answered; first: %v", len(failures), sent.Load(), failures[0])
	}
	if afterSignal.Load() == 0 {
		t.Error("no request was answered after SIGTERM: the drain served nothing")
	}
}

// TestDrainThenStop: in fake time, exactly SHUTDOWN_DRAIN_DELAY passes
// between the instance turning unready and its listener closing, and a
// connection opened at the last moment of the drain is still served; then
// the work in flight gets SHUTDOWN_TIMEOUT, and a server that stops during
// the drain ends it at once.
func TestDrainThenStop(t *testing.T) {
	cfg := &config.Config{ShutdownDrainDelay: 5 * time.Second, ShutdownTimeout: 20 * time.Second}
	log := slog.New(slog.DiscardHandler)

	t.Run("drain then close", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ln, srv, errc := servePipe(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			}))
			var unreadyAt time.Time
			done := make(chan error, 1)
			go func() {
				done <- drainThenStop(context.Background(), log, cfg, errc, func() { unreadyAt = time.Now() }, srv.Shutdown)
			}()
			synctest.Wait()
			began := time.Now()

			time.Sleep(cfg.ShutdownDrainDelay - time.Nanosecond)
			synctest.Wait()
			if !ln.ClosedAt().IsZero() {
				t.Fatalf("the listener closed %v into a %v drain", ln.ClosedAt().Sub(unreadyAt), cfg.ShutdownDrainDelay)
			}
			if code := get(t, ln); code != http.StatusNoContent {
				t.Fatalf("a request 1 ns before the end of the drain: %d", code)
			}

			time.Sleep(time.Nanosecond)
			synctest.Wait()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if unreadyAt != began {
				t.Errorf("unready %v after the shutdown began, want at once", unreadyAt.Sub(began))
			}
			if got := ln.ClosedAt().Sub(unreadyAt); got != cfg.ShutdownDrainDelay {
				t.Errorf("the listener closed %v after the instance turned unready, want %v", got, cfg.ShutdownDrainDelay)
			}
		})
	})

	t.Run("in-flight work gets the shutdown timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			ln, srv, errc := servePipe(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				<-release
			}))
			c := send(t, ln) // in flight from now on
			synctest.Wait()
			began := time.Now()
			err := drainThenStop(context.Background(), log, cfg, errc, func() {}, srv.Shutdown)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("drainThenStop = %v, want the shutdown's deadline exceeded", err)
			}
			if got, want := time.Since(began), cfg.ShutdownDrainDelay+cfg.ShutdownTimeout; got != want {
				t.Errorf("gave up after %v, want %v (drain, then timeout)", got, want)
			}
			close(release)
			c.Close()
		})
	})

	t.Run("a server stopping ends the drain", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ln, _, errc := servePipe(t, http.NotFoundHandler())
			done := make(chan error, 1)
			go func() {
				done <- drainThenStop(context.Background(), log, cfg, errc, func() {}, func(context.Context) error { return nil })
			}()
			time.Sleep(time.Second)
			began := time.Now()
			ln.Close() // the server's Serve fails
			err := <-done
			if err == nil || !strings.Contains(err.Error(), "server stopped") {
				t.Errorf("drainThenStop = %v, want server stopped", err)
			}
			if waited := time.Since(began); waited != 0 {
				t.Errorf("returned %v after the server stopped, want at once", waited)
			}
		})
	})
}

// servePipe serves h on an in-memory listener, which synctest's fake time
// can wait on (a TCP listener's Accept is not durably blocked). errc gets
// what Serve returns, as serve's does.
func servePipe(t *testing.T, h http.Handler) (*testenv.PipeListener, *http.Server, chan error) {
	t.Helper()
	ln := testenv.NewPipeListener()
	srv := &http.Server{Handler: h}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	return ln, srv, errc
}

// send opens a connection to ln and writes a whole GET / on it.
func send(t *testing.T, ln *testenv.PipeListener) net.Conn {
	t.Helper()
	c, err := ln.Dial(t.Context(), "", "")
	if err != nil {
		t.Fatalf("the listener is closed: %v", err)
	}
	go func() { _, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n") }()
	return c
}

// get sends GET / on a new connection to ln and returns the status.
func get(t *testing.T, ln *testenv.PipeListener) int {
	t.Helper()
	c := send(t, ln)
	defer c.Close()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
