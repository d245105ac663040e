package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/log"
	lognoop "go.opentelemetry.io/otel/log/noop"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// scopeName is the instrumentation scope of the telemetry this package emits
// itself (the log bridge).
const scopeName = "example.com/otelstarter/telemetry"

// Telemetry holds the configured providers. Create it with [Setup]; the
// zero value is not usable.
type Telemetry struct {
	// Logger writes JSON lines with trace correlation and, when a logs
	// exporter is configured, OpenTelemetry log records.
	Logger *slog.Logger
	// TracerProvider, MeterProvider, LoggerProvider and Propagator are the
	// configured providers; they are no-ops when OTEL_SDK_DISABLED=true.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	LoggerProvider log.LoggerProvider
	Propagator     propagation.TextMapPropagator

	mu         sync.Mutex // serialises Shutdown
	cfg        *config
	registry   *prometheus.Registry
	sentry     *sentry.Client
	shutdowns  []func(context.Context) error
	logBridged bool

	sdkDisabled     bool               // OTEL_SDK_DISABLED: the providers are no-ops
	res             *resource.Resource // the SDK's resource; nil when OTEL_SDK_DISABLED
	routeLostWarned atomic.Bool        // see warnRouteLost
}

// Setup configures OpenTelemetry and the logger from the environment and
// opts, installs them as the globals (unless [WithoutGlobals]) and returns
// them. A bad OTEL_* value returns a [*ConfigError] naming the variable. On
// error, whatever was started is shut down again.
func Setup(ctx context.Context, opts ...Option) (_ *Telemetry, err error) {
	cfg := newConfig(opts)
	t := &Telemetry{cfg: cfg, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Shutdown(context.WithoutCancel(ctx)))
		}
	}()

	t.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	t.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

	disabled, err := cfg.sdkDisabled()
	if err != nil {
		return nil, err
	}
	t.sdkDisabled = disabled
	if disabled {
		t.TracerProvider = tracenoop.NewTracerProvider()
		t.MeterProvider = metricnoop.NewMeterProvider()
		t.LoggerProvider = lognoop.NewLoggerProvider()
	} else if err := t.setupSDK(ctx); err != nil {
		return nil, err
	}

	if err := t.setupSentry(); err != nil {
		return nil, err
	}
	h, err := t.newLogHandler()
	if err != nil {
		return nil, err
	}
	t.Logger = slog.New(h)
	if err := t.setupProfiling(); err != nil {
		return nil, err
	}

	if !cfg.noGlobals {
		otel.SetTracerProvider(t.TracerProvider)
		otel.SetMeterProvider(t.MeterProvider)
		otel.SetLoggerProvider(t.LoggerProvider)
		otel.SetTextMapPropagator(t.Propagator)
		otel.SetErrorHandler(&throttledErrorHandler{logger: t.Logger, interval: errorLogInterval, now: time.Now})
		slog.SetDefault(t.Logger)
	}
	return t, nil
}

func (t *Telemetry) setupSDK(ctx context.Context) error {
	cfg := t.cfg
	res, err := t.resource(ctx)
	if err != nil {
		return err
	}

	// Traces.
	sampler, err := cfg.sampler()
	if err != nil {
		return err
	}
	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	spanExps, err := autoexported("OTEL_TRACES_EXPORTER", cfg.exporterNames("OTEL_TRACES_EXPORTER", "TRACES"),
		func() (sdktrace.SpanExporter, error) { return autoexport.NewSpanExporter(ctx) }, autoexport.IsNoneSpanExporter)
	if err != nil {
		return err
	}
	// Nothing sees a span before it is masked.
	for _, exp := range spanExps {
		traceOpts = append(traceOpts, sdktrace.WithBatcher(maskingExporter{exp}))
	}
	for _, p := range cfg.spanProcessors {
		traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(maskingProcessor{p}))
	}
	tp := sdktrace.NewTracerProvider(traceOpts...)
	t.TracerProvider = tp
	t.shutdowns = append(t.shutdowns, tp.Shutdown)
	t.res = res

	// Metrics: Prometheus always, a push exporter when asked.
	promExp, err := otelprom.New(otelprom.WithRegisterer(t.registry))
	if err != nil {
		return fmt.Errorf("prometheus exporter: %w", err)
	}
	meterOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(promExp),
		sdkmetric.WithView(append([]sdkmetric.View{httpServerView}, cfg.views...)...)}
	// The Prometheus exporter above is the "prometheus" exporter; autoexport
	// builds the push readers ("otlp", "console").
	var pushNames []string
	for _, name := range exporterNames("OTEL_METRICS_EXPORTER") {
		if name != "prometheus" {
			pushNames = append(pushNames, name)
		}
	}
	readers, err := autoexported("OTEL_METRICS_EXPORTER", pushNames,
		func() (sdkmetric.Reader, error) { return autoexport.NewMetricReader(ctx) }, autoexport.IsNoneMetricReader)
	if err != nil {
		return err
	}
	for _, r := range readers {
		meterOpts = append(meterOpts, sdkmetric.WithReader(r))
	}
	for _, r := range cfg.readers {
		meterOpts = append(meterOpts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(meterOpts...)
	t.MeterProvider = mp
	t.shutdowns = append(t.shutdowns, mp.Shutdown)

	// Logs.
	lpOpts := []sdklog.LoggerProviderOption{sdklog.WithResource(res)}
	logExps, err := autoexported("OTEL_LOGS_EXPORTER", cfg.exporterNames("OTEL_LOGS_EXPORTER", "LOGS"),
		func() (sdklog.Exporter, error) { return autoexport.NewLogExporter(ctx) }, autoexport.IsNoneLogExporter)
	if err != nil {
		return err
	}
	for _, exp := range logExps {
		lpOpts = append(lpOpts, sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
		t.logBridged = true
	}
	if len(cfg.logOpts) > 0 {
		t.logBridged = true
	}
	lp := sdklog.NewLoggerProvider(append(lpOpts, cfg.logOpts...)...)
	t.LoggerProvider = lp
	t.shutdowns = append(t.shutdowns, lp.Shutdown)
	return nil
}

// resource describes the service: the defaults from the options first, so
// that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override them.
func (t *Telemetry) resource(ctx context.Context) (*resource.Resource, error) {
	// The environment detector reports a malformed variable only as a
	// partial resource, which the merge below must tolerate for the other
	// detectors; check it alone so a typo stops the start.
	if _, err := resource.New(ctx, resource.WithFromEnv()); err != nil {
		return nil, &ConfigError{Var: "OTEL_RESOURCE_ATTRIBUTES", Value: os.Getenv("OTEL_RESOURCE_ATTRIBUTES"),
			Reason: "want key=value pairs separated by commas, values percent-encoded"}
	}
	name := t.cfg.serviceName
	if name == "" {
		name = defaultServiceName()
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(name)}
	if t.cfg.serviceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(t.cfg.serviceVersion))
	}
	if t.cfg.environment != "" {
		attrs = append(attrs, semconv.DeploymentEnvironmentNameKey.String(t.cfg.environment))
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	return res, nil
}

// defaultServiceName is the specification's service name for a service
// that sets none.
func defaultServiceName() string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown_service"
	}
	return "unknown_service:" + filepath.Base(exe)
}

// MetricsHandler serves every metric in the Prometheus text format, and in
// OpenMetrics (with exemplars linking to traces) when the scraper asks for
// it. Serve it on an internal listener only.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Timeout:           10 * time.Second,
	})
}

// Shutdown flushes and stops every provider and Sentry. It waits at most
// until ctx is done and returns every error, joined. It is safe to call more
// than once.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for i := len(t.shutdowns) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdowns[i](ctx))
	}
	t.shutdowns = nil
	return errors.Join(errs...)
}
