package telemetry_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"example.com/otelstarter/telemetry"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// testDSN points nowhere: events go to the test transport only.
const testDSN = "http://public@127.0.0.1:1/1"

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// otelEnv lists every variable Setup (or autoexport under it) reads; the
// harness clears them so the environment of the test run cannot leak in.
var otelEnv = []string{
	"OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
	"OTEL_TRACES_EXPORTER", "OTEL_LOGS_EXPORTER", "OTEL_METRICS_EXPORTER",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
	"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
	"OTEL_METRIC_EXPORT_INTERVAL",
}

// TestMain runs the tests without the OTEL_* variables of the caller's
// environment; tests set their own with t.Setenv.
func TestMain(m *testing.M) {
	for _, k := range otelEnv {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

// clearOTelEnv unsets the OTEL_* variables for the duration of the test
// (and marks it as not parallel, as t.Setenv does).
func clearOTelEnv(tb testing.TB) {
	tb.Helper()
	for _, k := range otelEnv {
		tb.Setenv(k, "") // restores the old value in Cleanup
		os.Unsetenv(k)   // autoexport treats "" and unset alike, but be exact
	}
}

// setenv sets pairs of variables ("K=V") after clearing the OTEL_* ones.
func setenv(tb testing.TB, kv ...string) {
	tb.Helper()
	for _, p := range kv {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			tb.Fatalf("setenv: %q is not K=V", p)
		}
		tb.Setenv(k, v)
	}
}

// The in-memory sinks are telemetrytest's, which users get too.
type (
	lockedBuffer    = telemetrytest.Buffer
	logProcessor    = telemetrytest.LogRecorder
	sentryTransport = sentry.MockTransport
)

// findRecord returns the first OTel log record whose body is msg.
func findRecord(tb testing.TB, p *logProcessor, msg string) sdklog.Record {
	tb.Helper()
	for _, r := range p.Records() {
		if r.Body().AsString() == msg {
			return r
		}
	}
	tb.Fatalf("no OTel log record %q among %d", msg, len(p.Records()))
	return sdklog.Record{}
}

// recordText renders a record's body and attributes for substring checks.
func recordText(r sdklog.Record) string {
	var b strings.Builder
	b.WriteString(r.Body().String())
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.String())
		return true
	})
	return b.String()
}

// harness is a Telemetry whose every sink is in memory.
type harness struct {
	tel     *telemetry.Telemetry
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
	logs    *logProcessor
	lines   *lockedBuffer
	sentry  *sentryTransport
}

// newHarness sets up telemetry without globals, every sink in memory, from
// the environment as the test has set it.
func newHarness(tb testing.TB, opts ...telemetry.Option) *harness {
	tb.Helper()
	c := telemetrytest.New(tb, append([]telemetry.Option{telemetry.WithoutGlobals()}, opts...)...)
	return &harness{tel: c.Telemetry, spans: c.Spans, metrics: c.Metrics, logs: c.Logs, lines: c.Lines, sentry: c.Sentry}
}

// mux is the demo router every HTTP test uses.
func (h *harness) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/posts/{id}", func(w http.ResponseWriter, r *http.Request) {
		h.tel.Logger.InfoContext(r.Context(), "loading post", slog.String("post_id", r.PathValue("id")))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"`+r.PathValue("id")+`"}`)
	})
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		h.tel.Logger.InfoContext(r.Context(), "alive")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) {
		panic("boom for alice@example.com")
	})
	mux.HandleFunc("GET /panic-late", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late boom")
	})
	mux.HandleFunc("GET /abort", func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	})
	return mux
}

// handler is the mux behind the middleware.
func (h *harness) handler() http.Handler { return h.tel.Middleware(h.mux()) }

// serve sends r through handler in-process.
func serve(tb testing.TB, handler http.Handler, r *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, r)
	return w
}

// get is serve of a GET for target.
func (h *harness) get(tb testing.TB, target string, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return serve(tb, h.handler(), r)
}

// onlySpan returns the single ended span, failing otherwise.
func (h *harness) onlySpan(tb testing.TB) sdktrace.ReadOnlySpan {
	tb.Helper()
	ended := h.spans.Ended()
	if len(ended) != 1 {
		tb.Fatalf("got %d ended spans, want 1", len(ended))
	}
	return ended[0]
}

// jsonLines parses every line written to the log writer.
func jsonLines(tb testing.TB, out string) []map[string]any {
	tb.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatalf("log line is not one JSON object: %v\n%s", err, sc.Text())
		}
		lines = append(lines, m)
	}
	return lines
}

// line returns the first JSON line whose msg is msg, or nil.
func line(tb testing.TB, out, msg string) map[string]any {
	tb.Helper()
	for _, l := range jsonLines(tb, out) {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// mustLine is line that fails when there is none.
func mustLine(tb testing.TB, out, msg string) map[string]any {
	tb.Helper()
	l := line(tb, out, msg)
	if l == nil {
		tb.Fatalf("no log line with msg %q in:\n%s", msg, out)
	}
	return l
}

// durationAttrs returns the attribute sets of http.server.request.duration.
func durationAttrs(tb testing.TB, r *sdkmetric.ManualReader) []attribute.Set {
	tb.Helper()
	var sets []attribute.Set
	for _, dp := range telemetrytest.Find[metricdata.Histogram[float64]](tb, r, "http.server.request.duration").DataPoints {
		sets = append(sets, dp.Attributes)
	}
	return sets
}

// otlpSink is an OTLP/HTTP receiver that keeps every request body by path.
type otlpSink struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][][]byte
}

func newOTLPSink(tb testing.TB) *otlpSink {
	tb.Helper()
	s := &otlpSink{bodies: map[string][][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies[r.Method+" "+r.URL.Path] = append(s.bodies[r.Method+" "+r.URL.Path], b)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	tb.Cleanup(s.Close)
	return s
}

// received returns the bodies POSTed to path.
func (s *otlpSink) received(path string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies["POST "+path]
}

func httptestRequest(tb testing.TB, target string) *http.Request {
	tb.Helper()
	return httptest.NewRequest(http.MethodGet, target, nil)
}

func slogDefault() *slog.Logger     { return slog.Default() }
func setSlogDefault(l *slog.Logger) { slog.SetDefault(l) }
func slogInfoContext(ctx context.Context, msg string, args ...any) {
	slog.InfoContext(ctx, msg, args...)
}
