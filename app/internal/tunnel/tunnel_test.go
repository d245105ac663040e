package tunnel_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/app/internal/tunnel"
	"example.com/otelstarter/telemetry"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// fakeSentry records the envelopes posted to it.
type fakeSentry struct {
	*httptest.Server
	mu      sync.Mutex
	paths   []string
	bodies  [][]byte
	parents []string // traceparent of each request
	status  int
	dsnHost string
}

func newFakeSentry(tb testing.TB) *fakeSentry {
	f := &fakeSentry{status: http.StatusOK}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.Path)
		f.bodies = append(f.bodies, b)
		f.parents = append(f.parents, r.Header.Get("traceparent"))
		status := f.status
		f.mu.Unlock()
		w.WriteHeader(status)
	}))
	tb.Cleanup(f.Close)
	f.dsnHost = strings.TrimPrefix(f.URL, "http://")
	return f
}

func (f *fakeSentry) dsn(project string) string {
	return "http://publickey@" + f.dsnHost + "/" + project
}

func (f *fakeSentry) traceparent(i int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parents[i]
}

func (f *fakeSentry) received() ([]string, [][]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...), append([][]byte(nil), f.bodies...)
}

func envelope(dsn string, items ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":%q,"sent_at":"2026-11-25T10:00:00Z","trace":{"trace_id":"771a43a4192642f0b136d5159a501700","public_key":"publickey"}}`+"\n", dsn)
	for _, it := range items {
		b.WriteString(it)
	}
	return b.Bytes()
}

const errorEvent = `{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","exception":{"values":[{"type":"TypeError","value":"boom for ann@example.com"}]},"contexts":{"trace":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}}}`

func post(tb testing.TB, h http.Handler, body []byte) *httptest.ResponseRecorder {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/sentry-tunnel", bytes.NewReader(body)))
	return rec
}

func captureLogs(tb testing.TB) *bytes.Buffer {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	tb.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

func TestForwardsTheConfiguredProjectOnly(t *testing.T) {
	sentry := newFakeSentry(t)
	tel := telemetrytest.New(t, telemetry.WithoutGlobals())
	h, err := tunnel.New(tunnel.Config{DSN: sentry.dsn("42"), Transport: tel.Transport(nil)})
	if err != nil {
		t.Fatal(err)
	}
	logs := captureLogs(t)

	// A text event item and a binary replay item with an explicit length.
	binary := []byte{0x00, 0xff, 0x0a, 0x1f, 0x8b, 0x08, 0x0a, 0x0a, 0xfe}
	replay := fmt.Sprintf(`{"type":"replay_recording","length":%d}`+"\n", len(binary)) + string(binary) + "\n"
	body := envelope(sentry.dsn("42"),
		`{"type":"event","length":`+fmt.Sprint(len(errorEvent))+`}`+"\n"+errorEvent+"\n",
		replay)
	rec := post(t, h, body)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d %s", rec.Code, rec.Body)
	}
	paths, bodies := sentry.received()
	if len(paths) != 1 || paths[0] != "/api/42/envelope/" {
		t.Fatalf("forwarded to %v, want /api/42/envelope/", paths)
	}
	if !bytes.Equal(bodies[0], body) {
		t.Fatalf("body changed on the way:\n got %q\nwant %q", bodies[0], body)
	}
	// The forward is a client span, and Sentry received its trace.
	spans := tel.Spans.Ended()
	if len(spans) != 1 || spans[0].SpanKind() != trace.SpanKindClient {
		t.Fatalf("want one client span for the forward, got %d spans", len(spans))
	}
	if tp := sentry.traceparent(0); !strings.Contains(tp, spans[0].SpanContext().TraceID().String()) ||
		!strings.Contains(tp, spans[0].SpanContext().SpanID().String()) {
		t.Errorf("Sentry received traceparent %q, want the client span's trace and ID", tp)
	}
	for _, kv := range spans[0].Attributes() {
		if strings.Contains(kv.Value.String(), "publickey") {
			t.Errorf("client span attribute %s holds the DSN's key: %q", kv.Key, kv.Value.String())
		}
	}

	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "frontend.error" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no frontend.error log line in %s", logs)
	}
	if line["exception_type"] != "TypeError" || !strings.Contains(line["exception_message"].(string), "boom for") {
		t.Fatalf("frontend.error = %v", line)
	}
	if strings.Contains(logs.String(), "ann@example.com") {
		t.Fatalf("the email in the exception reached the log: %s", logs)
	}

	refused := []struct {
		name   string
		body   []byte
		status int
	}{
		{"other project", envelope(sentry.dsn("43")), 403},
		{"other host", envelope("http://publickey@evil.example.com/42"), 403},
		{"metadata address", envelope("http://publickey@169.254.169.254/42"), 403},
		{"no dsn", envelope(""), 400},
		{"dsn without key", envelope("http://" + sentry.dsnHost + "/42"), 400},
		{"garbage", []byte("\x00\x01garbage"), 400},
		{"empty", nil, 400},
		{"header not an object", []byte("[1,2]\n"), 400},
		{"bad item header", envelope(sentry.dsn("42"), "not json\n{}\n"), 400},
		{"length past the end", envelope(sentry.dsn("42"), `{"type":"event","length":9999}`+"\n{}\n"), 400},
		{"negative length", envelope(sentry.dsn("42"), `{"type":"event","length":-1}`+"\n{}\n"), 400},
		{"oversized", envelope(sentry.dsn("42"), `{"type":"attachment"}`+"\n"+strings.Repeat("a", tunnel.DefaultMaxBytes)+"\n"), 413},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(t, h, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || !strings.Contains(rec.Body.String(), `"code"`) {
				t.Fatalf("refusal is not a JSON error: %q", rec.Body)
			}
		})
	}
	if paths, _ := sentry.received(); len(paths) != 1 {
		t.Fatalf("refused envelopes were forwarded: %v", paths)
	}
}

func TestNoDSNDropsWith204(t *testing.T) {
	t.Parallel()
	h, err := tunnel.New(tunnel.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if rec := post(t, h, envelope("http://k@sentry.example.com/1")); rec.Code != http.StatusNoContent {
		t.Fatalf("status = %d, want 204", rec.Code)
	}
	if rec := post(t, h, []byte("garbage")); rec.Code != http.StatusBadRequest {
		t.Fatalf("garbage without DSN = %d, want 400", rec.Code)
	}
}

func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	sentry := newFakeSentry(t)
	h, _ := tunnel.New(tunnel.Config{DSN: sentry.dsn("7")})
	sentry.status = http.StatusTooManyRequests
	if rec := post(t, h, envelope(sentry.dsn("7"))); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("Sentry's 429 became %d", rec.Code)
	}
	sentry.status = http.StatusInternalServerError
	if rec := post(t, h, envelope(sentry.dsn("7"))); rec.Code != http.StatusBadGateway {
		t.Fatalf("Sentry's 500 became %d, want 502", rec.Code)
	}
	sentry.Close() // unreachable
	if rec := post(t, h, envelope(sentry.dsn("7"))); rec.Code != http.StatusBadGateway {
		t.Fatalf("unreachable Sentry = %d, want 502", rec.Code)
	}
}

// TestErrorBodies pins what the browser SDK gets back: the API's error
// shape and headers, for a refusal and for an upstream failure.
func TestErrorBodies(t *testing.T) {
	t.Parallel()
	sentry := newFakeSentry(t)
	h, err := tunnel.New(tunnel.Config{DSN: sentry.dsn("7")})
	if err != nil {
		t.Fatal(err)
	}
	forbidden := post(t, h, envelope(sentry.dsn("8")))
	sentry.Close()
	failed := post(t, h, envelope(sentry.dsn("7")))
	for _, tc := range []struct {
		name   string
		rec    *httptest.ResponseRecorder
		status int
		body   string
	}{
		{"other project", forbidden, 403, `{"error":{"code":"forbidden","message":"the envelope is for another Sentry project"}}` + "\n"},
		{"Sentry unreachable", failed, 502, `{"error":{"code":"upstream_failed","message":"the envelope could not be forwarded"}}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rec.Code != tc.status || tc.rec.Body.String() != tc.body {
				t.Errorf("answer = %d %q, want %d %q", tc.rec.Code, tc.rec.Body, tc.status, tc.body)
			}
			if ct, cc := tc.rec.Header().Get("Content-Type"), tc.rec.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q; want application/json, no-store", ct, cc)
			}
		})
	}
}

// roundTripper answers every request with 200 and records its URL.
type roundTripper struct{ urls []string }

func (rt *roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.urls = append(rt.urls, r.URL.String())
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
}

// TestProjectMatching: an envelope's DSN names the configured project when
// host (in any case), port (the scheme's default written out or not) and
// project ID agree; the envelope then goes to the configured project's
// envelope endpoint, path prefix included, whatever else its DSN says.
func TestProjectMatching(t *testing.T) {
	t.Parallel()
	rt := &roundTripper{}
	h, err := tunnel.New(tunnel.Config{DSN: "https://key@sentry.example.com/prefix/1", Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dsn    string
		status int
	}{
		{"https://key@sentry.example.com/prefix/1", 200},
		{"https://key@Sentry.Example.COM:443/prefix/1", 200},
		{"https://otherkey@sentry.example.com/1", 200}, // the key and path do not pick the destination
		{"https://key@sentry.example.com:8443/prefix/1", 403},
		{"https://key@sentry.example.com/prefix/11", 403},
		{"https://key@sentry.example.com.evil.test/prefix/1", 403},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			if rec := post(t, h, envelope(tc.dsn)); rec.Code != tc.status {
				t.Errorf("status = %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
		})
	}
	for _, u := range rt.urls {
		if u != "https://sentry.example.com/prefix/api/1/envelope/" {
			t.Errorf("forwarded to %s", u)
		}
	}
	if len(rt.urls) != 3 {
		t.Errorf("%d envelopes forwarded, want 3", len(rt.urls))
	}
}

func TestBadDSNConfig(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"not a url", "ftp://k@h/1", "https://h/1", "https://k@h/abc", "https://k@h/", "https://k@h/1/", "https://k@h:port/1"} {
		if _, err := tunnel.New(tunnel.Config{DSN: dsn}); err == nil || !strings.Contains(err.Error(), "SENTRY_FRONTEND_DSN") {
			t.Errorf("New(%q) = %v, want an error naming SENTRY_FRONTEND_DSN", dsn, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(envelope("http://k@h/1", `{"type":"event"}`+"\n{}\n"))
	f.Add(envelope("http://k@h/1", `{"type":"replay_recording","length":3}`+"\n\x00\x01\x02\n"))
	f.Add([]byte("{}\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := tunnel.Parse(b)
		if err != nil {
			return
		}
		total := 0
		for _, it := range env.Items {
			if it.Type == "" {
				t.Fatal("an item without a type was accepted")
			}
			total += len(it.Payload)
		}
		if total > len(b) {
			t.Fatalf("payloads (%d bytes) larger than the envelope (%d)", total, len(b))
		}
	})
}
