// Package telemetrytest captures everything package telemetry emits, in
// memory, for tests: finished spans, metrics (through a manual reader), JSON
// log lines, OpenTelemetry log records and Sentry events. [Capture.Dump]
// renders all of it as text, so a test can prove a secret reached no sink.
package telemetrytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"example.com/otelstarter/telemetry"
	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// GlobalMeterReader installs a meter provider with a manual reader as the
// global one, for code that takes its meter from otel.Meter, and restores
// the previous provider when the test ends. Tests using it must not run in
// parallel.
func GlobalMeterReader(tb testing.TB) *sdkmetric.ManualReader {
	tb.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(mp)
	tb.Cleanup(func() {
		otel.SetMeterProvider(prev)
		_ = mp.Shutdown(context.Background())
	})
	return reader
}

// GlobalSpanRecorder installs a tracer provider that records every span as
// the global one, for code that takes its tracer from the globals (as
// instrumentation libraries do by default), and restores the previous
// provider when the test ends. Tests using it must not run in parallel.
func GlobalSpanRecorder(tb testing.TB) *tracetest.SpanRecorder {
	tb.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	tb.Cleanup(func() {
		otel.SetTracerProvider(prev)
		_ = tp.Shutdown(context.Background())
	})
	return rec
}

// Capture holds a [telemetry.Telemetry] whose every sink is in memory.
type Capture struct {
	*telemetry.Telemetry
	Spans   *tracetest.SpanRecorder
	Metrics *sdkmetric.ManualReader
	Logs    *LogRecorder
	Lines   *Buffer
	Sentry  *sentry.MockTransport // sentry-go's own recording transport
}

// New sets up telemetry with in-memory sinks (and Sentry with a fake DSN
// and a recording transport) and shuts it down when the test ends, failing
// the test if the shutdown fails. Extra options come after the test ones.
// Unless they include [telemetry.WithoutGlobals], the providers are
// installed as the globals, so tests using New must not run in parallel.
func New(tb testing.TB, opts ...telemetry.Option) *Capture {
	tb.Helper()
	c := &Capture{
		Spans:   tracetest.NewSpanRecorder(),
		Metrics: sdkmetric.NewManualReader(),
		Logs:    &LogRecorder{},
		Lines:   &Buffer{},
		Sentry:  &sentry.MockTransport{},
	}
	base := []telemetry.Option{
		telemetry.WithLogWriter(c.Lines),
		telemetry.WithSpanProcessor(c.Spans),
		telemetry.WithMetricReader(c.Metrics),
		telemetry.WithLoggerProviderOptions(sdklog.WithProcessor(c.Logs)),
		telemetry.WithSentry(telemetry.SentryConfig{DSN: "http://public@127.0.0.1:1/1", Transport: c.Sentry}),
	}
	t, err := telemetry.Setup(context.Background(), append(base, opts...)...)
	if err != nil {
		tb.Fatalf("telemetry.Setup: %v", err)
	}
	c.Telemetry = t
	tb.Cleanup(func() {
		if err := t.Shutdown(context.Background()); err != nil {
			tb.Errorf("telemetry Shutdown: %v", err)
		}
	})
	return c
}

// LinesWith returns the JSON log lines written so far whose msg is msg,
// decoded.
func (c *Capture) LinesWith(tb testing.TB, msg string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for line := range bytes.Lines(c.Lines.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			tb.Fatalf("log line is not one JSON object: %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// Metrics collects r and returns every metric it holds, of every scope.
func Metrics(tb testing.TB, r sdkmetric.Reader) []metricdata.Metrics {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		tb.Fatalf("collect metrics: %v", err)
	}
	var out []metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		out = append(out, sm.Metrics...)
	}
	return out
}

// Find returns the data of the metric named name among r's metrics, the
// zero T when there is none; it fails the test when the data is not a T.
func Find[T metricdata.Aggregation](tb testing.TB, r sdkmetric.Reader, name string) T {
	tb.Helper()
	var data T
	for _, m := range Metrics(tb, r) {
		if m.Name == name {
			d, ok := m.Data.(T)
			if !ok {
				tb.Fatalf("metric %s is %T, want %T", name, m.Data, data)
			}
			return d
		}
	}
	return data
}

// Metric returns the named metric's data, or nil.
func (c *Capture) Metric(tb testing.TB, name string) *metricdata.Metrics {
	tb.Helper()
	for _, m := range Metrics(tb, c.Metrics) {
		if m.Name == name {
			return &m
		}
	}
	return nil
}

// Dump renders every captured item as text: log lines, OTel log records,
// span names, attributes, events and status, metric names and attribute
// sets, and Sentry events as JSON.
func (c *Capture) Dump(tb testing.TB) string {
	tb.Helper()
	var b strings.Builder
	b.Write(c.Lines.Bytes())
	for _, r := range c.Logs.Records() {
		fmt.Fprintf(&b, "otel-log %s", r.Body().String())
		b.WriteString(" ")
		b.WriteString(recordAttrs(r))
		b.WriteString("\n")
	}
	for _, s := range c.Spans.Ended() {
		fmt.Fprintf(&b, "span %s %s %v\n", s.Name(), s.Status().Description, s.Attributes())
		for _, e := range s.Events() {
			fmt.Fprintf(&b, "  event %s %v\n", e.Name, e.Attributes)
		}
	}
	for _, m := range Metrics(tb, c.Metrics) {
		fmt.Fprintf(&b, "metric %s %+v\n", m.Name, m.Data)
	}
	for _, e := range c.Sentry.Events() {
		j, _ := json.Marshal(e)
		fmt.Fprintf(&b, "sentry %s\n", j)
	}
	return b.String()
}

// Buffer is a bytes.Buffer safe for concurrent writers.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of the contents.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// String returns the contents.
func (b *Buffer) String() string { return string(b.Bytes()) }

// LogRecorder is an [sdklog.Processor] that keeps every record.
type LogRecorder struct {
	mu      sync.Mutex
	records []sdklog.Record
}

var _ sdklog.Processor = (*LogRecorder)(nil)

// OnEmit implements sdklog.Processor.
func (l *LogRecorder) OnEmit(_ context.Context, r *sdklog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}

// Enabled reports true for every record.
func (l *LogRecorder) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }

// Shutdown implements sdklog.Processor.
func (l *LogRecorder) Shutdown(context.Context) error { return nil }

// ForceFlush implements sdklog.Processor.
func (l *LogRecorder) ForceFlush(context.Context) error { return nil }

// Records returns the records emitted so far.
func (l *LogRecorder) Records() []sdklog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sdklog.Record(nil), l.records...)
}

func recordAttrs(r sdklog.Record) string {
	var b strings.Builder
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		fmt.Fprintf(&b, "%s=%s ", kv.Key, kv.Value.String())
		return true
	})
	return b.String()
}
