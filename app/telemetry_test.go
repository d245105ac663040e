package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"example.com/otelstarter/app/internal/config"
	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// The service's telemetry settings: its own name, /api/health untraced
// beside the probes, and a panic answered in the API's error format.
func TestTelemetryOptions(t *testing.T) {
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"DATABASE_URL": "sqlite:" + t.TempDir() + "/blog.db"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	c := telemetrytest.New(t, telemetryOptions(cfg)...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("GET /api/health", func(http.ResponseWriter, *http.Request) {})
	h := c.Middleware(mux)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusInternalServerError ||
		body.Error.Code != "internal" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("panic answered %d %q %q (%v), want 500 JSON with code internal", w.Code, w.Header().Get("Content-Type"), w.Body, err)
	}

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/health", nil))
	spans := c.Spans.Ended()
	if len(spans) != 1 || spans[0].Name() != "GET /boom" {
		t.Fatalf("%d spans, want only GET /boom (/api/health untraced)", len(spans))
	}
	if got := spans[0].Resource().String(); !strings.Contains(got, "service.name=blog-api") {
		t.Errorf("resource %s, want service.name=blog-api", got)
	}
}

// TestStartupIsOneTrace: a fresh start (SQLite migrations, first pings) is
// one "startup" trace, not a root trace per statement.
func TestStartupIsOneTrace(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{{"sqlite", nil}, {"postgres and redis", map[string]string{"DATABASE_URL": testenv.PostgresURL(t), "REDIS_URL": sharedRedis(t)}}} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestApp(t, tc.env)
			spans := a.tel.Spans.Ended()
			var startup sdktrace.ReadOnlySpan
			for _, s := range spans {
				if s.Name() == "startup" {
					startup = s
				}
			}
			if startup == nil || startup.Parent().IsValid() {
				t.Fatalf("no root startup span among %d spans", len(spans))
			}
			if len(spans) < 2 {
				t.Fatalf("%d spans: the start's work recorded nothing to put in its trace", len(spans))
			}
			for _, s := range spans {
				if s.SpanContext().TraceID() != startup.SpanContext().TraceID() {
					t.Errorf("span %q is outside the startup trace", s.Name())
				}
			}
		})
	}
}
