package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/telemetry"
)

// discardExporter drops every span, so the benchmarks measure the cost of
// recording spans, not of sending them.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// discardLogExporter drops every log record.
type discardLogExporter struct{}

func (discardLogExporter) Export(context.Context, []sdklog.Record) error { return nil }
func (discardLogExporter) Shutdown(context.Context) error                { return nil }
func (discardLogExporter) ForceFlush(context.Context) error              { return nil }

// benchEnv clears the OTEL_* variables for the benchmark so that the
// caller's environment cannot change what is measured.
func benchEnv(b *testing.B) {
	b.Helper()
	for _, k := range otelEnv {
		b.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// benchMux is the router of every middleware benchmark: one Go 1.22
// pattern and a handler that does (almost) nothing.
func benchMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/posts/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":42}`))
	})
	return mux
}

// naiveHandler is what the usual tutorials assemble by hand: otelhttp, a
// Prometheus client_golang counter and histogram labelled with the raw path,
// and an slog JSON access log.
//
// With metered, otelhttp's own metrics go to an SDK meter provider with the
// Prometheus exporter, as when the tutorial also sets the global
// MeterProvider; otherwise they go to the no-op global one. Views are added
// to that provider.
func naiveHandler(b *testing.B, next http.Handler, metered bool, views ...sdkmetric.View) http.Handler {
	b.Helper()
	mp := otel.GetMeterProvider()
	if metered {
		exp, err := otelprom.New(otelprom.WithRegisterer(prometheus.NewRegistry()))
		if err != nil {
			b.Fatal(err)
		}
		sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithView(views...))
		b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
		mp = sdk
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(discardExporter{}),
	)
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total", Help: "HTTP requests.",
	}, []string{"method", "path", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "HTTP request duration.", Buckets: prometheus.DefBuckets,
	}, []string{"method", "path", "status"})
	reg.MustRegister(requests, duration)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))

	metrics := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			status := strconv.Itoa(sw.status)
			requests.WithLabelValues(r.Method, r.URL.Path, status).Inc()
			duration.WithLabelValues(r.Method, r.URL.Path, status).Observe(time.Since(start).Seconds())
		})
	}
	accessLog := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			logger.InfoContext(r.Context(), "http.request",
				"method", r.Method, "path", r.URL.Path, "status", sw.status,
				"duration", time.Since(start), "bytes", sw.bytes)
		})
	}
	return otelhttp.NewHandler(metrics(accessLog(next)), "server",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithMeterProvider(mp),
	)
}

// statusWriter is the tutorials' response writer wrapper.
type statusWriter struct {
	http.ResponseWriter
	status, bytes int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

// naiveFull is the tutorials' composition with the signals the kit
// produces, each through the same library: otelhttp with an SDK tracer and
// an SDK meter behind the Prometheus exporter, and a JSON access line per
// request, with the trace and span IDs, that also goes through the otelslog
// bridge to an SDK logger provider with a batch processor. Every exporter
// discards.
type naiveFull struct {
	logger  *slog.Logger
	handler http.Handler
}

func newNaiveFull(b *testing.B, next http.Handler, views ...sdkmetric.View) *naiveFull {
	b.Helper()
	exp, err := otelprom.New(otelprom.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		b.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithView(views...))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discardExporter{}))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(discardLogExporter{})))
	b.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
		_ = lp.Shutdown(context.Background())
	})
	logger := slog.New(slog.NewMultiHandler(
		slog.NewJSONHandler(io.Discard, nil),
		otelslog.NewHandler("bench", otelslog.WithLoggerProvider(lp)),
	))
	accessLog := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		sc := trace.SpanContextFromContext(r.Context())
		logger.LogAttrs(r.Context(), slog.LevelInfo, "http.request",
			slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()),
			slog.String("method", r.Method), slog.String("route", r.Pattern), slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000), slog.Int("bytes", sw.bytes))
	})
	return &naiveFull{logger: logger, handler: otelhttp.NewHandler(accessLog, "",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(mp),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
	)}
}

// registerDiscard makes "bench_discard" an exporter name autoexport knows,
// so that the kit's spans take the production path: an exporter of the
// environment behind a batch processor.
var registerDiscard = sync.OnceFunc(func() {
	autoexport.RegisterSpanExporter("bench_discard", func(context.Context) (sdktrace.SpanExporter, error) {
		return discardExporter{}, nil
	})
})

// benchTelemetry is the kit with every signal on, exported nowhere: spans
// through OTEL_TRACES_EXPORTER, metrics, and log lines also through the
// OpenTelemetry bridge, as in docker-compose.yml.
func benchTelemetry(b *testing.B, opts ...telemetry.Option) *telemetry.Telemetry {
	b.Helper()
	registerDiscard()
	b.Setenv("OTEL_TRACES_EXPORTER", "bench_discard")
	tel, err := telemetry.Setup(context.Background(), append([]telemetry.Option{
		telemetry.WithLoggerProviderOptions(sdklog.WithProcessor(sdklog.NewBatchProcessor(discardLogExporter{}))),
		telemetry.WithLogWriter(io.Discard),
		telemetry.WithoutGlobals(),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

// BenchmarkMiddleware compares a bare mux, the hand-made instrumentation of
// the tutorials and the kit's middleware on the same in-process request.
func BenchmarkMiddleware(b *testing.B) {
	benchEnv(b)
	b.Setenv("OTEL_TRACES_SAMPLER", "always_on")
	tel := benchTelemetry(b)
	b.Setenv("OTEL_SDK_DISABLED", "true")
	disabled := benchTelemetry(b)
	os.Unsetenv("OTEL_SDK_DISABLED")
	handlers := []struct {
		name string
		h    http.Handler
	}{
		{"bare", benchMux()},
		{"naive", naiveHandler(b, benchMux(), false)},
		// Not part of the goal: naive with otelhttp's metrics recorded,
		// which is closer to what the kit records.
		{"naive_metered", naiveHandler(b, benchMux(), true)},
		// Not a goal either: naive_metered with the kit's view on the
		// HTTP metrics, which bounds their attributes; it shows what the
		// SDK's attribute filter costs on its own.
		{"naive_metered_view", naiveHandler(b, benchMux(), true, telemetry.HTTPServerView)},
		// The goal's baseline: the same signals as the kit, through the
		// same libraries, composed as the tutorials do.
		{"naive_full", newNaiveFull(b, benchMux()).handler},
		// Not a goal: naive_full with the kit's view, so that its metrics
		// are the kit's series (no server.address from the Host header);
		// kit/naive_full_view is the kit's own work on top of the libraries.
		{"naive_full_view", newNaiveFull(b, benchMux(), telemetry.HTTPServerView).handler},
		{"kit", tel.Middleware(benchMux())},
		// Not a goal: the kit with OTEL_SDK_DISABLED=true, against bare.
		{"kit_sdk_disabled", disabled.Middleware(benchMux())},
	}
	for _, tt := range handlers {
		b.Run(tt.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/api/posts/42", nil)
			r.Header.Set("User-Agent", "bench/1.0")
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				tt.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkLogRecord compares one typical log line through the standard JSON
// handler, through that handler and the otelslog bridge (naive_full), and
// through the kit's logger with the bridge on, with a recording span in the
// context (trace correlation and redaction both run).
func BenchmarkLogRecord(b *testing.B) {
	benchEnv(b)
	tel := benchTelemetry(b)
	ctx, span := tel.TracerProvider.Tracer("bench").Start(context.Background(), "op")
	defer span.End()
	if !span.IsRecording() {
		b.Fatal("span not recording")
	}
	// plain_ids is not a goal: plain with the caller passing the two IDs,
	// the least any handler on slog.JSONHandler can cost for the same line.
	sc := span.SpanContext()
	tid, sid := sc.TraceID().String(), sc.SpanID().String()
	loggers := []struct {
		name string
		l    *slog.Logger
		ids  []slog.Attr
	}{
		{"plain", slog.New(slog.NewJSONHandler(io.Discard, nil)), nil},
		{"plain_ids", slog.New(slog.NewJSONHandler(io.Discard, nil)), []slog.Attr{slog.String("trace_id", tid), slog.String("span_id", sid)}},
		// The goal's baseline: the JSON line and the otelslog bridge
		// through slog.NewMultiHandler, the IDs passed by the caller.
		{"naive_full", newNaiveFull(b, benchMux()).logger, []slog.Attr{slog.String("trace_id", tid), slog.String("span_id", sid)}},
		{"kit", tel.Logger, nil},
	}
	for _, tt := range loggers {
		attrs := append(tt.ids,
			slog.String("post_id", "42"),
			slog.Int("comments", 17),
			slog.Duration("elapsed", 1500*time.Microsecond),
			slog.String("author", "alice"),
		)
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tt.l.LogAttrs(ctx, slog.LevelInfo, "post loaded", attrs...)
			}
		})
	}
}

// BenchmarkProfiling is the kit's middleware without and with continuous
// profiling (WithProfiling, pushing to a stand-in that discards): the
// profiler's CPU sampling, the pprof labels on each request's goroutine and
// the periodic heap, goroutine, mutex and block collections. The profiler
// runs in the kit_profiling sub-benchmark only, started and stopped around
// it, so that the kit sub-benchmark runs without it. cpu-ns/op is the
// process's CPU time (getrusage) per request: unlike ns/op it includes the
// profiler's own goroutines, which run beside the benchmark's.
func BenchmarkProfiling(b *testing.B) {
	benchEnv(b)
	b.Setenv("OTEL_TRACES_SAMPLER", "always_on")
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()
	run := func(b *testing.B, tel *telemetry.Telemetry) {
		h := tel.Middleware(benchMux())
		r := httptest.NewRequest(http.MethodGet, "/api/posts/42", nil)
		b.ReportAllocs()
		before := processCPU(b)
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
		b.ReportMetric(float64(processCPU(b)-before)/float64(b.N), "cpu-ns/op")
	}
	b.Run("kit", func(b *testing.B) { run(b, benchTelemetry(b)) })
	b.Run("kit_profiling", func(b *testing.B) {
		run(b, benchTelemetry(b, telemetry.WithProfiling(telemetry.ProfilingConfig{ServerAddress: sink.URL, UploadInterval: time.Second})))
	})
}

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
