package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"example.com/otelstarter/telemetry"
	"example.com/otelstarter/telemetry/telemetrytest"
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

// TestWithHistogramBuckets: a library's histogram in seconds gets the
// buckets given, on /metrics, instead of the SDK's millisecond defaults.
func TestWithHistogramBuckets(t *testing.T) {
	tel := telemetrytest.New(t, telemetry.WithHistogramBuckets("lib", "lib.*duration", 0.1, 1, 10))
	h, err := otel.Meter("lib").Float64Histogram("lib.work.duration", metric.WithUnit("s"))
	if err != nil {
		t.Fatal(err)
	}
	h.Record(context.Background(), 0.5)
	body, _ := scrape(t, tel.MetricsHandler(), "")
	for _, le := range []string{`le="0.1"`, `le="1"`, `le="10"`} {
		if !strings.Contains(body, "lib_work_duration_seconds_bucket{") || !strings.Contains(body, le) {
			t.Errorf("no bucket %s in:\n%s", le, body)
		}
	}
	if strings.Contains(body, `lib_work_duration_seconds_bucket{otel_scope_name="lib",otel_scope_schema_url="",otel_scope_version="",le="5000"}`) {
		t.Error("the SDK's default buckets are still there")
	}
}
