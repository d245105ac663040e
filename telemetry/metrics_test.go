package telemetry_test

import (
	"example.com/otelstarter/telemetry"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func scrape(tb testing.TB, h http.Handler, accept string) (string, string) {
	tb.Helper()
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := serve(tb, h, r)
	if w.Code != http.StatusOK {
		tb.Fatalf("GET /metrics: %d %s", w.Code, w.Body)
	}
	return w.Body.String(), w.Header().Get("Content-Type")
}

func TestMetricsHandler(t *testing.T) {
	h := newHarness(t, telemetry.WithServiceName("metrics-test"))
	// A long Host must neither reach the series nor push the exemplar over
	// OpenMetrics' 128-rune label limit (which drops it).
	r := httptest.NewRequest(http.MethodGet, "/api/posts/42", nil)
	r.Host = strings.Repeat("h", 100) + ".example.com:8443"
	serve(t, h.handler(), r)
	h.get(t, "/not/a/route")
	traceID := h.spans.Ended()[0].SpanContext().TraceID().String()

	tests := []struct {
		name, accept string
		wantType     string
		want         []string
	}{
		{
			name: "prometheus text", wantType: "text/plain",
			want: []string{
				"http_server_request_duration_seconds_bucket{",
				`http_route="/api/posts/{id}"`,
				`http_route="unmatched"`,
				`http_request_method="GET"`,
				`http_response_status_code="200"`,
				"go_goroutines ",
				`service_name="metrics-test"`, // target_info
			},
		},
		{
			name: "openmetrics", accept: "application/openmetrics-text; version=1.0.0; charset=utf-8",
			wantType: "application/openmetrics-text",
			want:     []string{"http_server_request_duration_seconds_bucket{", `trace_id="` + traceID + `"`, "# EOF"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := scrape(t, h.tel.MetricsHandler(), tt.accept)
			if !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("Content-Type %q, want %s", ct, tt.wantType)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("scrape lacks %s", w)
				}
			}
			for _, bad := range []string{"/not/a/route", "server_address", "example.com"} {
				if strings.Contains(body, bad) {
					t.Errorf("scrape contains %q", bad)
				}
			}
		})
	}
}
