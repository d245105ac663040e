package telemetry_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/telemetry"
)

func TestSamplerFromEnv(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name        string
		env         []string
		traceparent string
		wantSpans   int
	}{
		{"default", nil, "", 1},
		{"always_on", []string{"OTEL_TRACES_SAMPLER=always_on"}, "", 1},
		{"always_off", []string{"OTEL_TRACES_SAMPLER=always_off"}, "", 0},
		{"always_off ignores parent", []string{"OTEL_TRACES_SAMPLER=always_off"}, parent, 0},
		{"ratio 0", []string{"OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=0"}, "", 0},
		{"ratio 1", []string{"OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=1"}, "", 1},
		{"ratio without arg", []string{"OTEL_TRACES_SAMPLER=traceidratio"}, "", 1},
		{"parentbased ratio 0, sampled parent", []string{"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0"}, parent, 1},
		{"parentbased ratio 0, no parent", []string{"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0"}, "", 0},
		{"parentbased_always_off, sampled parent", []string{"OTEL_TRACES_SAMPLER=parentbased_always_off"}, parent, 1},
		{"parentbased_always_off", []string{"OTEL_TRACES_SAMPLER=parentbased_always_off"}, "", 0},
		{"parentbased_always_on case", []string{"OTEL_TRACES_SAMPLER= ParentBased_Always_On "}, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearOTelEnv(t)
			setenv(t, tt.env...)
			h := newHarness(t)
			var hdr []string
			if tt.traceparent != "" {
				hdr = []string{"traceparent", tt.traceparent}
			}
			w := h.get(t, "/api/posts/1", hdr...)
			if got := len(h.spans.Ended()); got != tt.wantSpans {
				t.Errorf("%d spans recorded, want %d", got, tt.wantSpans)
			}
			if !hex32.MatchString(w.Header().Get(telemetry.RequestIDHeader)) {
				t.Errorf("no X-Request-Id on an unsampled request")
			}
			// The access line carries the trace even when not sampled.
			if l := mustLine(t, h.lines.String(), "http.request"); l["trace_id"] != w.Header().Get(telemetry.RequestIDHeader) {
				t.Errorf("access line trace_id %v, want %s", l["trace_id"], w.Header().Get(telemetry.RequestIDHeader))
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		env     []string
		wantVar string
	}{
		{[]string{"OTEL_TRACES_SAMPLER=bogus"}, "OTEL_TRACES_SAMPLER"},
		{[]string{"OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=2"}, "OTEL_TRACES_SAMPLER_ARG"},
		{[]string{"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=half"}, "OTEL_TRACES_SAMPLER_ARG"},
		{[]string{"OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=-0.1"}, "OTEL_TRACES_SAMPLER_ARG"},
		{[]string{"OTEL_TRACES_EXPORTER=bogus"}, "OTEL_TRACES_EXPORTER"},
		{[]string{"OTEL_METRICS_EXPORTER=bogus"}, "OTEL_METRICS_EXPORTER"},
		{[]string{"OTEL_LOGS_EXPORTER=zipkin"}, "OTEL_LOGS_EXPORTER"},
		{[]string{"OTEL_SDK_DISABLED=maybe"}, "OTEL_SDK_DISABLED"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.env, " "), func(t *testing.T) {
			clearOTelEnv(t)
			setenv(t, tt.env...)
			tel, err := telemetry.Setup(context.Background(), telemetry.WithoutGlobals(), telemetry.WithLogWriter(&lockedBuffer{}))
			if err == nil {
				tel.Shutdown(context.Background())
				t.Fatal("Setup succeeded, want a *ConfigError")
			}
			var ce *telemetry.ConfigError
			if !errors.As(err, &ce) || ce.Var != tt.wantVar {
				t.Fatalf("error %v (%T), want a *ConfigError for %s", err, err, tt.wantVar)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tt.wantVar+"=") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line starting with %s=", msg, tt.wantVar)
			}
		})
	}
}

func TestSentryDSNError(t *testing.T) {
	_, err := telemetry.Setup(context.Background(), telemetry.WithoutGlobals(), telemetry.WithLogWriter(&lockedBuffer{}),
		telemetry.WithSentry(telemetry.SentryConfig{DSN: "http://secretkey@/nohost"}))
	var ce *telemetry.ConfigError
	if !errors.As(err, &ce) || ce.Var != "SENTRY_DSN" {
		t.Fatalf("error %v, want a *ConfigError for SENTRY_DSN", err)
	}
	if strings.Contains(err.Error(), "secretkey") {
		t.Errorf("error reveals the DSN key: %v", err)
	}
}

func TestSDKDisabled(t *testing.T) {
	for _, v := range []string{"true", "TRUE", "1"} {
		t.Run(v, func(t *testing.T) {
			clearOTelEnv(t)
			setenv(t, "OTEL_SDK_DISABLED="+v, "OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1")
			h := newHarness(t)
			if _, ok := h.tel.TracerProvider.(*sdktrace.TracerProvider); ok {
				t.Errorf("TracerProvider is the SDK's, want a no-op")
			}
			w := h.get(t, "/api/posts/3")
			if len(h.spans.Ended()) != 0 {
				t.Errorf("spans recorded with the SDK disabled")
			}
			var rm metricdata.ResourceMetrics
			if err := h.metrics.Collect(context.Background(), &rm); !errors.Is(err, sdkmetric.ErrReaderNotRegistered) {
				t.Errorf("manual reader collected (%v), want it unused with the SDK disabled", err)
			}
			l := mustLine(t, h.lines.String(), "http.request")
			if l["trace_id"] != w.Header().Get(telemetry.RequestIDHeader) || l["route"] != "/api/posts/{id}" {
				t.Errorf("access line %v", l)
			}
			// The caller's trace still names the request.
			const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
			w = h.get(t, "/api/posts/3", "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
			if got := w.Header().Get(telemetry.RequestIDHeader); got != traceID {
				t.Errorf("X-Request-Id %q, want the caller's trace ID %s", got, traceID)
			}
			m := httptest.NewRecorder()
			h.tel.MetricsHandler().ServeHTTP(m, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if m.Code != http.StatusOK || !strings.Contains(m.Body.String(), "go_goroutines") {
				t.Errorf("metrics handler: %d\n%.300s", m.Code, m.Body.String())
			}
		})
	}
}

func TestNoExporterMeansNoConnection(t *testing.T) {
	// With neither an exporter variable nor an endpoint, autoexport alone
	// would send to localhost:4318. Listen there and expect silence.
	ln, err := net.Listen("tcp", "127.0.0.1:4318")
	if err != nil {
		t.Skipf("cannot listen on the default OTLP port: %v", err)
	}
	defer ln.Close()
	accepted := make(chan string, 10) // the clients' addresses, in the order they connected
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c.RemoteAddr().String()
			c.Close()
		}
	}()
	clearOTelEnv(t)
	rec := tracetest.NewSpanRecorder()
	tel, err := telemetry.Setup(context.Background(), telemetry.WithoutGlobals(), telemetry.WithLogWriter(&lockedBuffer{}),
		telemetry.WithSpanProcessor(rec))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider.Tracer("t").Start(context.Background(), "work")
	span.End()
	tel.Logger.Info("hello")
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if len(rec.Ended()) != 1 {
		t.Errorf("span not recorded")
	}
	// An exporter would have connected by the end of Shutdown's flush. The
	// kernel hands out connections in the order they were made, so one of
	// the test's own, made now, is accepted after any of the exporter's:
	// no waiting for a silence that proves nothing.
	last, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer last.Close()
	for addr := range accepted {
		if addr == last.LocalAddr().String() {
			return
		}
		t.Errorf("Setup without an exporter connected to localhost:4318 (from %s)", addr)
	}
	t.Fatal("the listener stopped before accepting the test's own connection")
}

func TestOTLPExportToEndpoint(t *testing.T) {
	sink := newOTLPSink(t)
	clearOTelEnv(t)
	setenv(t,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+sink.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_METRICS_EXPORTER=otlp",
		"OTEL_METRIC_EXPORT_INTERVAL=3600000",
	)
	h := newHarness(t)
	h.get(t, "/api/posts/11")
	if n := len(sink.received("/v1/metrics")); n != 0 {
		t.Fatalf("%d metric pushes before Shutdown with an hour's interval", n)
	}
	if err := h.tel.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, path := range []string{"/v1/metrics", "/v1/traces", "/v1/logs"} {
		got := sink.received(path)
		if len(got) == 0 {
			t.Errorf("no POST to %s", path)
			continue
		}
		if path == "/v1/traces" && !strings.Contains(string(got[0]), "GET /api/posts/{id}") {
			t.Errorf("trace export lacks the span name")
		}
		if path == "/v1/metrics" && !strings.Contains(string(got[0]), "http.server.request.duration") {
			t.Errorf("metric export lacks http.server.request.duration")
		}
	}
}

func TestMetricsExporterPrometheusOnlyByDefault(t *testing.T) {
	sink := newOTLPSink(t)
	clearOTelEnv(t)
	// An endpoint alone exports traces and logs, not metrics (they're scraped).
	setenv(t, "OTEL_EXPORTER_OTLP_ENDPOINT="+sink.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
	h := newHarness(t)
	h.get(t, "/api/posts/1")
	h.tel.Shutdown(context.Background())
	if len(sink.received("/v1/metrics")) != 0 {
		t.Errorf("metrics pushed without OTEL_METRICS_EXPORTER=otlp")
	}
	if len(sink.received("/v1/traces")) == 0 {
		t.Errorf("traces not exported to the configured endpoint")
	}
}

func TestTracesExporterConsole(t *testing.T) {
	clearOTelEnv(t)
	setenv(t, "OTEL_TRACES_EXPORTER=console", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
	h := newHarness(t)
	if w := h.get(t, "/api/posts/1"); w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if len(h.spans.Ended()) != 1 {
		t.Errorf("span not recorded next to the console exporter")
	}
}

func TestResource(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		opts []telemetry.Option
		want map[attribute.Key]string
	}{
		// The specification's default; the test binary is telemetry.test.
		{"default", nil, nil, map[attribute.Key]string{semconv.ServiceNameKey: "unknown_service:" + filepath.Base(os.Args[0])}},
		{"option", nil, []telemetry.Option{telemetry.WithServiceName("opt")}, map[attribute.Key]string{semconv.ServiceNameKey: "opt"}},
		{"OTEL_SERVICE_NAME", []string{"OTEL_SERVICE_NAME=from-env"}, []telemetry.Option{telemetry.WithServiceName("opt")},
			map[attribute.Key]string{semconv.ServiceNameKey: "from-env"}},
		{"OTEL_RESOURCE_ATTRIBUTES", []string{"OTEL_RESOURCE_ATTRIBUTES=service.name=x,team=blog"}, nil,
			map[attribute.Key]string{semconv.ServiceNameKey: "x", "team": "blog"}},
		{"version and environment", nil,
			[]telemetry.Option{telemetry.WithServiceVersion("1.2.3"), telemetry.WithEnvironment("staging")},
			map[attribute.Key]string{semconv.ServiceVersionKey: "1.2.3", semconv.DeploymentEnvironmentNameKey: "staging", semconv.TelemetrySDKLanguageKey: "go"}},
		{"environment from env wins", []string{"OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=prod"},
			[]telemetry.Option{telemetry.WithEnvironment("staging")},
			map[attribute.Key]string{semconv.DeploymentEnvironmentNameKey: "prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearOTelEnv(t)
			setenv(t, tt.env...)
			h := newHarness(t, tt.opts...)
			h.get(t, "/api/posts/1")
			res := h.onlySpan(t).Resource()
			for k, want := range tt.want {
				if got, ok := res.Set().Value(k); !ok || got.AsString() != want {
					t.Errorf("%s = %q (present %v), want %q", k, got.AsString(), ok, want)
				}
			}
		})
	}
}

func TestGlobals(t *testing.T) {
	oldTP, oldMP, oldProp, oldLog := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator(), slogDefault()
	t.Cleanup(func() {
		otel.SetTracerProvider(oldTP)
		otel.SetMeterProvider(oldMP)
		otel.SetTextMapPropagator(oldProp)
		setSlogDefault(oldLog)
	})
	clearOTelEnv(t)
	buf := &lockedBuffer{}
	tel, err := telemetry.Setup(context.Background(), telemetry.WithLogWriter(buf))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if otel.GetTracerProvider() != tel.TracerProvider {
		t.Errorf("global tracer provider not installed")
	}
	if slogDefault() != tel.Logger {
		t.Errorf("slog.Default not installed")
	}
	ctx, span := otel.Tracer("t").Start(context.Background(), "op")
	slogInfoContext(ctx, "global line", "password", "hunter2")
	span.End()
	l := mustLine(t, buf.String(), "global line")
	if l["trace_id"] != span.SpanContext().TraceID().String() || l["password"] != telemetry.Redacted {
		t.Errorf("slog.InfoContext line %v", l)
	}
	if fields := otel.GetTextMapPropagator().Fields(); !strings.Contains(strings.Join(fields, ","), "traceparent") {
		t.Errorf("propagator fields %v", fields)
	}
}

func TestShutdown(t *testing.T) {
	exp := &keepingExporter{}
	clearOTelEnv(t)
	tel, err := telemetry.Setup(context.Background(), telemetry.WithoutGlobals(), telemetry.WithLogWriter(&lockedBuffer{}),
		telemetry.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithBatchTimeout(time.Hour))),
		telemetry.WithSentry(telemetry.SentryConfig{DSN: testDSN, Transport: &sentryTransport{}}))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider.Tracer("t").Start(context.Background(), "work")
	span.End()
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans exported before Shutdown with an hour's batch timeout", n)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := exp.GetSpans(); len(got) != 1 || got[0].Name() != "work" {
		t.Errorf("after Shutdown the exporter holds %v, want the span", got)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// keepingExporter keeps the spans it exports, also after Shutdown (unlike
// tracetest.InMemoryExporter, which forgets them).
type keepingExporter struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (e *keepingExporter) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.spans = append(e.spans, s...)
	return nil
}

func (e *keepingExporter) Shutdown(context.Context) error { return nil }

func (e *keepingExporter) GetSpans() []sdktrace.ReadOnlySpan {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sdktrace.ReadOnlySpan(nil), e.spans...)
}

func TestMalformedResourceAttributesStopSetup(t *testing.T) {
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=ok,broken")
	_, err := telemetry.Setup(context.Background(), telemetry.WithoutGlobals(), telemetry.WithLogWriter(new(bytes.Buffer)))
	var ce *telemetry.ConfigError
	if !errors.As(err, &ce) || ce.Var != "OTEL_RESOURCE_ATTRIBUTES" {
		t.Fatalf("Setup = %v, want a *ConfigError naming OTEL_RESOURCE_ATTRIBUTES", err)
	}
}

// TestExporterVariables reads OTEL_*_EXPORTER as the specification writes
// it (case-insensitive names, spaces, comma-separated lists, none), and
// agrees with autoexport: every name Setup accepts, autoexport builds, and
// every value Setup refuses, autoexport refuses too, with an error that
// names the variable.
func TestExporterVariables(t *testing.T) {
	tests := []struct {
		value     string
		wantErr   bool
		wantSpans bool // spans reach the OTLP sink
	}{
		{"otlp", false, true},
		{"OTLP", false, true},
		{" Otlp ", false, true},
		{"otlp,console", false, true},
		{"console, OTLP", false, true},
		{"otlp,otlp", false, true},
		{"console", false, false},
		{"none", false, false},
		{"NONE", false, false},
		{"", false, true}, // unset: OTLP because an endpoint is set
		{"bogus", true, false},
		{"otlp,zipkin", true, false},
		{"otlp console", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			clearOTelEnv(t)
			sink := newOTLPSink(t)
			setenv(t, "OTEL_TRACES_EXPORTER="+tt.value, "OTEL_EXPORTER_OTLP_ENDPOINT="+sink.URL,
				"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_LOGS_EXPORTER=none")
			tel, err := telemetry.Setup(context.Background(), telemetry.WithoutGlobals(), telemetry.WithLogWriter(&lockedBuffer{}))
			if got := os.Getenv("OTEL_TRACES_EXPORTER"); got != tt.value {
				t.Errorf("Setup left OTEL_TRACES_EXPORTER=%q, want the caller's %q", got, tt.value)
			}
			// autoexport's own verdict on each name, as Setup reads them.
			autoexportAccepts := true
			for _, name := range strings.Split(tt.value, ",") {
				name = strings.ToLower(strings.TrimSpace(name))
				if name == "" {
					continue
				}
				t.Setenv("OTEL_TRACES_EXPORTER", name)
				exp, err := autoexport.NewSpanExporter(context.Background())
				if err != nil {
					autoexportAccepts = false
					continue
				}
				exp.Shutdown(context.Background())
			}
			t.Setenv("OTEL_TRACES_EXPORTER", tt.value)

			if tt.wantErr {
				var ce *telemetry.ConfigError
				if !errors.As(err, &ce) || ce.Var != "OTEL_TRACES_EXPORTER" || ce.Value != tt.value {
					t.Fatalf("Setup: %v, want a *ConfigError for OTEL_TRACES_EXPORTER=%q", err, tt.value)
				}
				if autoexportAccepts {
					t.Errorf("Setup refused %q, which autoexport accepts name by name", tt.value)
				}
				return
			}
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			if !autoexportAccepts {
				t.Errorf("Setup accepted %q, which autoexport refuses", tt.value)
			}
			_, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "op")
			span.End()
			if err := tel.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if got := len(sink.received("/v1/traces")) > 0; got != tt.wantSpans {
				t.Errorf("spans exported over OTLP: %v, want %v", got, tt.wantSpans)
			}
		})
	}
}

// TestSamplerAgreesWithTheSDK: the kit parses OTEL_TRACES_SAMPLER itself
// only to stop the start on a bad value (the SDK would fall back to the
// default silently); every value it accepts, it reads as the SDK does. The
// same spans, from parents sampled and not, under many trace IDs, get the
// same decision from the kit's provider and from the SDK's own reading of
// the environment.
func TestSamplerAgreesWithTheSDK(t *testing.T) {
	values := []struct{ sampler, arg string }{
		{"", ""},
		{"always_on", ""},
		{"ALWAYS_OFF", ""},
		{" traceidratio ", "0.5"},
		{"traceidratio", " 0.1 "},
		{"traceidratio", ""},
		{"parentbased_traceidratio", "0.25"},
		{"ParentBased_Always_Off", ""},
		{"parentbased_always_on", ""},
	}
	for _, v := range values {
		t.Run(v.sampler+"/"+v.arg, func(t *testing.T) {
			clearOTelEnv(t)
			setenv(t, "OTEL_TRACES_SAMPLER="+v.sampler, "OTEL_TRACES_SAMPLER_ARG="+v.arg)
			kit := newHarness(t).tel.TracerProvider.Tracer("agreement")
			sdk := sdktrace.NewTracerProvider() // reads the environment itself
			t.Cleanup(func() { sdk.Shutdown(context.Background()) })
			sdkTracer := sdk.Tracer("agreement")
			for i := range 200 {
				var tid trace.TraceID
				binary.BigEndian.PutUint64(tid[:8], uint64(i)*0x9e3779b97f4a7c15)
				binary.BigEndian.PutUint64(tid[8:], uint64(i)*0xbf58476d1ce4e5b9+1)
				for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled} {
					parent := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
						TraceID: tid, SpanID: trace.SpanID{1}, TraceFlags: flags, Remote: true}))
					_, a := kit.Start(parent, "op")
					_, b := sdkTracer.Start(parent, "op")
					if a.SpanContext().IsSampled() != b.SpanContext().IsSampled() {
						t.Fatalf("trace %s, parent sampled %v: kit samples %v, SDK %v",
							tid, flags.IsSampled(), a.SpanContext().IsSampled(), b.SpanContext().IsSampled())
					}
					a.End()
					b.End()
				}
			}
		})
	}
}
