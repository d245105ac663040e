package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"example.com/otelstarter/internal/testproc"
	"example.com/otelstarter/telemetry/telemetrytest"
	"github.com/coder/websocket"
)

func TestBadConfigStopsTheStartWithOneLine(t *testing.T) {
	for _, tc := range []struct{ key, val string }{
		{"DATABASE_URL", "mysql://root:hunter2@db/blog"},
		{"DATABASE_URL", "host=db user=u password=hunter2"},
		{"DATABASE_URL", "postgres://u:hunter2@db:port/blog"},
		{"DATABASE_URL", "postgres://u:hunter2%zz@db/blog"},
		{"DATABASE_URL", "postgres://u:hunter2@[::1/blog"},
		{"DATABASE_URL", "postgres://u:hunter2@db/blog?sslmode=bogus"},
		{"DATABASE_URL", "sqlite:"},
		{"DATABASE_URL", "sqlite://data/blog.db"},
		{"REDIS_URL", "http://cache"},
		{"LOG_LEVEL", "loud"},
		{"HTTP_ADDR", "8080"},
		{"SENTRY_DSN", "not a dsn"},
		{"OTEL_TRACES_SAMPLER", "sometimes"},
		{"OTEL_TRACES_EXPORTER", "carrier-pigeon"},
		{"SMTP_URL", "smtp://user:hunter2@"},
		{"SMTP_URL", "http://user:hunter2@mail"},
		{"SMTP_FROM", "hunter2 is no address"},
		{"JOB_WORKERS", "-1"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			// OTEL_* are read from the process environment by the SDK.
			env := map[string]string{tc.key: tc.val, "DATABASE_URL": "sqlite::memory:"}
			if tc.key == "DATABASE_URL" {
				env["DATABASE_URL"] = tc.val
			}
			if tc.key == "SMTP_FROM" {
				env["SMTP_URL"] = "smtp://localhost:1025"
			}
			if strings.HasPrefix(tc.key, "OTEL_") {
				t.Setenv(tc.key, tc.val)
			}
			var out bytes.Buffer
			err := run(context.Background(), nil, func(k string) string { return env[k] }, &out, io.Discard)
			if err == nil {
				t.Fatal("started with a bad value")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.key) || strings.Contains(msg, "\n") || (strings.Contains(msg, "hunter2") && tc.key != "SMTP_FROM") {
				t.Fatalf("error = %q: want one line naming %s, without secrets", msg, tc.key)
			}
		})
	}
}

func TestUnknownArgument(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"bogus"}, func(string) string { return "" }, io.Discard, &stderr); err == nil {
		t.Fatal("accepted an unknown argument")
	}
	if !strings.Contains(stderr.String(), "usage") {
		t.Fatalf("no usage on stderr: %q", stderr.String())
	}
}

// TestBinaryLifecycle builds and starts the real binary: it serves, keeps
// /metrics on the admin listener only (behind METRICS_TOKEN), answers the
// container healthcheck, and on SIGTERM closes WebSockets and exits 0.
func TestBinaryLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := testproc.BuildApp(t)
	app := testproc.StartApp(t, "app", []string{
		"DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "blog.db"),
		"METRICS_TOKEN=scrape-secret", "FRONTEND_DIR=" + t.TempDir(),
		"OTEL_TRACES_EXPORTER=none", "OTEL_LOGS_EXPORTER=none",
	}, bin)
	base, admin := app.URL, app.AdminURL
	testproc.WaitFor(t, "app ready", 30*time.Second, func() error { return testproc.HTTPOK(base + "/readyz") }, app.Process)

	status := func(url string, hdr ...string) int {
		req, _ := http.NewRequest("GET", url, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(base + "/metrics"); got != 404 {
		t.Errorf("public /metrics = %d, want 404", got)
	}
	if got := status(admin + "/metrics"); got != 401 {
		t.Errorf("admin /metrics without token = %d, want 401", got)
	}
	if got := status(admin+"/metrics", "Authorization", "Bearer scrape-secret"); got != 200 {
		t.Errorf("admin /metrics with token = %d, want 200", got)
	}
	req, _ := http.NewRequest("GET", admin+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer scrape-secret")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(body, []byte("\nwebsocket_dropped_clients_total{")) {
			t.Errorf("/metrics has no websocket_dropped_clients_total series:\n%s", body)
		}
	}
	if got := status(admin + "/debug/pprof/cmdline"); got != 401 {
		t.Errorf("admin /debug/pprof/cmdline without token = %d, want 401", got)
	}
	if got := status(admin+"/debug/pprof/cmdline", "Authorization", "Bearer scrape-secret"); got != 404 {
		t.Errorf("admin /debug/pprof/cmdline without PPROF = %d, want 404", got)
	}

	hc := exec.Command(bin, "healthcheck")
	hc.Env = append(os.Environ(), "HTTP_ADDR="+app.Addr)
	if out, err := hc.CombinedOutput(); err != nil {
		t.Errorf("app healthcheck: %v %s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+app.Addr+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()

	if err := app.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("WebSocket read after SIGTERM: %v, want close 1001 going away", err)
	}
	select {
	case <-app.Done():
		if err := app.Err(); err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15s after SIGTERM")
	}

	// Every line on stdout is one JSON object; the last says it stopped.
	var last map[string]any
	sc := bufio.NewScanner(strings.NewReader(app.Stdout.String()))
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
	}
	if last["msg"] != "server.stopped" {
		t.Fatalf("last line = %v, want server.stopped", last)
	}
}

// TestWorkerCommand: `app worker` answers its probes, serves its metrics on
// the admin listener, names itself blog-worker, and stops cleanly.
func TestWorkerCommand(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "blog.db"),
		"HTTP_ADDR":    "127.0.0.1:0",
		"ADMIN_ADDR":   "127.0.0.1:0",
		"JOB_WORKERS":  "2",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out telemetrytest.Buffer
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		done <- run(ctx, []string{"worker"}, func(k string) string { return env[k] }, &out, io.Discard)
	}()
	httpAddr, adminAddr, err := testproc.WaitAppAddrs(out.String, exited, 30*time.Second)
	if err != nil {
		select {
		case runErr := <-done:
			t.Fatalf("%v: %v\n%s", err, runErr, out.String())
		default:
			t.Fatalf("%v:\n%s", err, out.String())
		}
	}

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := get("http://" + httpAddr + "/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker is not ready after 30 s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := get("http://" + httpAddr + "/livez"); code != http.StatusOK {
		t.Errorf("/livez = %d", code)
	}
	if code, body := get("http://" + httpAddr + "/api/posts"); code != http.StatusNotFound || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("/api/posts on a worker = %d %s, want a JSON 404", code, body)
	}
	if code, body := get("http://" + adminAddr + "/metrics"); code != http.StatusOK || !strings.Contains(body, "jobs_backlog{") || !strings.Contains(body, "jobs_discarded_total{") || !strings.Contains(body, `service_name="blog-worker"`) {
		t.Errorf("/metrics = %d, want the jobs metrics:\n%.2000s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not stop within 30 s of its signal")
	}
	for _, msg := range []string{`"msg":"worker.started"`, `"msg":"worker.stopped"`} {
		if !strings.Contains(out.String(), msg) {
			t.Errorf("no %s line in:\n%s", msg, out.String())
		}
	}

	env["JOB_WORKERS"] = "0"
	if err := run(context.Background(), []string{"worker"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "JOB_WORKERS") {
		t.Errorf("app worker with JOB_WORKERS=0: %v, want an error naming JOB_WORKERS", err)
	}
}
