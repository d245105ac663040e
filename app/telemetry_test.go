package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"example.com/otelstarter/app/internal/config"
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
