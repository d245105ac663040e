package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
)

// TestOneTraceAcrossProcesses runs what docker-compose.yml runs, on each
// database: two API instances that only enqueue (JOB_WORKERS=0), one
// `app worker`, one Redis, the real collector and a real Mailpit. It reads
// back, from what the collector exports:
//   - register on A: the welcome email arrives, and A's request trace holds
//     A's producer span, the worker's consumer span (its child) and the
//     worker's SMTP client span (the consumer's child), with the recipient
//     nowhere in any export or output;
//   - a post created on A reaches a WebSocket client of B, whose delivery
//     span is in A's trace;
//   - with Mailpit stopped, each attempt is an error span and a warn line;
//     once it is back, the email arrives.
func TestOneTraceAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two collectors, Mailpit, two API instances and a worker; run without -short")
	}
	otelcolBin := testproc.Otelcol(t)
	appBin := testproc.BuildApp(t)
	redisURL, ok := reachableRedis(t)
	if !ok {
		testenv.Skip(t, "SKIPPING: needs Redis for the feed between instances")
	}
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			databaseURL := "sqlite:" + filepath.Join(t.TempDir(), "blog.db")
			if db == "postgres" {
				databaseURL = testenv.PostgresURL(t)
			}
			// The retries are River's on either database: proven once, on
			// the production shape, they cost the test ~20 s of backoff.
			oneTraceAcrossProcesses(t, otelcolBin, appBin, databaseURL, redisURL, db == "postgres")
		})
	}
}

func oneTraceAcrossProcesses(t *testing.T, otelcolBin, appBin, databaseURL, redisURL string, retries bool) {
	cols := startCollectors(t, otelcolBin, "", "http://"+testenv.FreeAddr(t)+"/api/v1/write",
		"OTELCOL_TAIL_SAMPLING_PERCENTAGE=100")
	mail := testproc.StartMailpit(t)
	_, smtpPort, _ := strings.Cut(mail.SMTP, ":")

	common := []string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + databaseURL,
		"REDIS_URL=" + redisURL,
		"SMTP_URL=smtp://localhost:" + smtpPort,
		"SMTP_FROM=Blog <no-reply@blog.test>",
		"FRONTEND_DIR=" + filepath.Join(t.TempDir(), "none"),
		"BCRYPT_COST=4",
		// The limits live in the shared Redis: a run right after another (make
		// test-rename after test-stack) must not inherit its count.
		"RATE_LIMIT_REGISTER=0",
		"RATE_LIMIT_LOGIN=0",
		"LOG_LEVEL=info",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + cols.CollectorHTTP,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_LOGS_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=none",
		"OTEL_BSP_SCHEDULE_DELAY=200",
		"OTEL_BLRP_SCHEDULE_DELAY=200",
	}
	startAPI := func(name string) string {
		p := testproc.StartAppEnv(t, name, append(common, "OTEL_SERVICE_NAME=blog-api", "JOB_WORKERS=0"), appBin)
		testproc.WaitFor(t, name+" ready", 60*time.Second, func() error { return testproc.HTTPOK(p.URL + "/readyz") }, p.Process)
		return p.URL
	}
	a := startAPI("api A")
	b := startAPI("api B")
	// No OTEL_SERVICE_NAME: the worker names itself blog-worker.
	wapp := testproc.StartAppEnv(t, "worker", append(common, "JOB_WORKERS=2"), appBin, "worker")
	worker := wapp.Process
	testproc.WaitFor(t, "worker ready", 60*time.Second, func() error { return testproc.HTTPOK(wapp.URL + "/readyz") }, worker)

	tracesPath := filepath.Join(cols.SinkDir, "traces.jsonl")
	logsPath := filepath.Join(cols.SinkDir, "logs.jsonl")
	traceOf := func(traceID string, done func([]testproc.Span) error) []testproc.Span {
		t.Helper()
		var spans []testproc.Span
		testproc.WaitFor(t, "the spans of trace "+traceID, 60*time.Second, func() error {
			all, err := testproc.ReadSpans(tracesPath)
			if err != nil {
				return err
			}
			spans = spans[:0]
			for _, s := range all {
				if s.HexTraceID() == traceID {
					spans = append(spans, s)
				}
			}
			return done(spans)
		}, worker)
		return spans
	}

	// 1. Register on A: one trace from A's request to the SMTP server.
	const recipient, second = "welcome.reader.7d2@example.org", "retried.reader.3a9@example.org"
	requestID := register(t, a, recipient)
	if got := mail.WaitForMessageTo(t, recipient, 60*time.Second, worker); got.Subject != "Welcome to the blog" {
		t.Errorf("Mailpit holds %+v, want the welcome email", got)
	}
	var insert, work, send testproc.Span
	traceOf(requestID, func(spans []testproc.Span) error {
		for _, s := range spans {
			switch {
			case s.Name == "river.insert_many":
				insert = s
			case s.Name == "river.work/welcome_email":
				work = s
			case s.Name == "smtp send":
				send = s
			}
		}
		if insert.Span == nil || work.Span == nil || send.Span == nil {
			return fmt.Errorf("%d spans, no insert, work and smtp spans yet", len(spans))
		}
		return nil
	})
	for _, c := range []struct {
		span    testproc.Span
		service string
		kind    tracepb.Span_SpanKind
		parent  []byte
	}{
		{insert, "blog-api", tracepb.Span_SPAN_KIND_PRODUCER, nil},
		{work, "blog-worker", tracepb.Span_SPAN_KIND_CONSUMER, insert.SpanId},
		{send, "blog-worker", tracepb.Span_SPAN_KIND_CLIENT, work.SpanId},
	} {
		if c.span.Service != c.service || c.span.Kind != c.kind {
			t.Errorf("span %s: service %s kind %s, want %s %s", c.span.Name, c.span.Service, c.span.Kind, c.service, c.kind)
		}
		if c.parent != nil && string(c.span.ParentSpanId) != string(c.parent) {
			t.Errorf("span %s is not the child of the span before it", c.span.Name)
		}
	}
	if port, _ := testproc.Attr(send.Attributes, "server.port"); port != smtpPort {
		t.Errorf("smtp span server.port = %q, want %s", port, smtpPort)
	}

	// 2. A post on A reaches B's WebSocket client, in A's trace.
	token := login(t, a, recipient)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(b, "http", "ws", 1)+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	time.Sleep(500 * time.Millisecond) // B's subscription to the channel
	status, hdr, body := apiCall(t, a, "POST", "/api/posts", token, map[string]string{"title": "across", "body": "from A to B"})
	if status != http.StatusCreated {
		t.Fatalf("create post: %d %s", status, body)
	}
	// Other tests may publish on the same Redis meanwhile: read on to ours.
	for {
		_, msg, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("B's client: %v before the post arrived", err)
		}
		if strings.Contains(string(msg), `"across"`) {
			break
		}
	}
	postTrace := hdr.Get("X-Request-Id")
	traceOf(postTrace, func(spans []testproc.Span) error {
		var publish, process testproc.Span
		for _, s := range spans {
			switch s.Kind {
			case tracepb.Span_SPAN_KIND_PRODUCER:
				publish = s
			case tracepb.Span_SPAN_KIND_CONSUMER:
				if s.Name == "process blog:posts" {
					process = s
				}
			}
		}
		if publish.Span == nil || process.Span == nil {
			return fmt.Errorf("no publish and delivery spans yet")
		}
		if string(process.ParentSpanId) != string(publish.SpanId) {
			t.Errorf("B's delivery span is not the child of A's publish")
		}
		return nil
	})

	// Nothing exported, nor any process's output, holds an address.
	defer func() {
		entries, _ := os.ReadDir(cols.SinkDir)
		for _, e := range entries {
			data, _ := os.ReadFile(filepath.Join(cols.SinkDir, e.Name()))
			for _, addr := range []string{recipient, second} {
				if strings.Contains(string(data), addr) {
					t.Errorf("%s holds the recipient %s", e.Name(), addr)
				}
			}
		}
		if out := worker.Output(); strings.Contains(out, recipient) || strings.Contains(out, second) {
			t.Errorf("the worker's output holds a recipient")
		}
	}()
	if !retries {
		return
	}

	// 3. Mailpit down: attempts fail, visibly; back up: the email arrives.
	mail.Stop()
	retryTrace := register(t, a, second)
	traceOf(retryTrace, func(spans []testproc.Span) error {
		failed := 0
		for _, s := range spans {
			if s.Name == "river.work/welcome_email" && s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
				failed++
			}
		}
		if failed < 2 {
			return fmt.Errorf("%d failed attempts so far, want 2", failed)
		}
		return nil
	})
	testproc.WaitFor(t, "two job.failed warn lines", 30*time.Second, func() error {
		logs, err := testproc.ReadLogs(logsPath)
		if err != nil {
			return err
		}
		attempts := map[string]bool{}
		for _, r := range logs {
			if r.HexTraceID() == retryTrace && r.Body.GetStringValue() == "job.failed" && r.SeverityText == "WARN" {
				n, _ := testproc.Attr(r.Attributes, "attempt")
				id, _ := testproc.Attr(r.Attributes, "job_id")
				if id != "" {
					attempts[n] = true
				}
			}
		}
		if !attempts["1"] || !attempts["2"] {
			return fmt.Errorf("warn lines for attempts %v, want 1 and 2 with job_id", attempts)
		}
		return nil
	}, worker)
	mail.Restart()
	mail.WaitForMessageTo(t, second, 90*time.Second, worker)
}

// apiCall sends a JSON request to the API at base.
func apiCall(t *testing.T, base, method, path, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	req, err := testproc.NewJSONRequest(context.Background(), method, base+path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, data
}

const testPassword = "a long enough password"

// register creates the account email on the API at base and returns the
// request's X-Request-Id, its trace ID.
func register(t *testing.T, base, email string) string {
	t.Helper()
	status, hdr, body := apiCall(t, base, "POST", "/api/users", "", map[string]string{"email": email, "password": testPassword})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %s", status, body)
	}
	return hdr.Get("X-Request-Id")
}

// login returns a session token of email.
func login(t *testing.T, base, email string) string {
	t.Helper()
	status, _, body := apiCall(t, base, "POST", "/api/login", "", map[string]string{"email": email, "password": testPassword})
	var res struct{ Token string }
	if status != http.StatusOK || json.Unmarshal(body, &res) != nil || res.Token == "" {
		t.Fatalf("login: %d %s", status, body)
	}
	return res.Token
}
