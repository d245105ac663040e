package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

type config struct {
	serviceName    string
	serviceVersion string
	environment    string

	logWriter io.Writer
	logLevel  slog.Leveler
	logFormat string

	sentry *SentryConfig

	spanProcessors []sdktrace.SpanProcessor
	views          []sdkmetric.View
	profiling      *ProfilingConfig
	readers        []sdkmetric.Reader
	logOpts        []sdklog.LoggerProviderOption
	noGlobals      bool

	untraced      map[string]bool
	panicResponse http.Handler
}

// Option configures [Setup].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithServiceName sets the default service.name. OTEL_SERVICE_NAME and
// service.name in OTEL_RESOURCE_ATTRIBUTES take precedence, as the
// specification requires. Default: "unknown_service:" and the executable's
// name, as the specification says.
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithServiceVersion sets service.version (typically the build's version).
func WithServiceVersion(version string) Option {
	return optionFunc(func(c *config) { c.serviceVersion = version })
}

// WithEnvironment sets deployment.environment.name, unless
// OTEL_RESOURCE_ATTRIBUTES sets it.
func WithEnvironment(env string) Option {
	return optionFunc(func(c *config) { c.environment = env })
}

// WithLogWriter sets where JSON log lines go. Default: os.Stdout.
func WithLogWriter(w io.Writer) Option {
	return optionFunc(func(c *config) { c.logWriter = w })
}

// WithLogLevel sets the minimum level of the logger. A [*slog.LevelVar]
// allows changing it at run time. Default: [slog.LevelInfo].
func WithLogLevel(l slog.Leveler) Option {
	return optionFunc(func(c *config) { c.logLevel = l })
}

// WithLogFormat selects "json" (the default) or "text" for the lines
// written by the logger. OpenTelemetry logs are unaffected.
func WithLogFormat(format string) Option {
	return optionFunc(func(c *config) { c.logFormat = format })
}

// SentryConfig configures error reporting to Sentry. Only errors are sent:
// tracing stays with OpenTelemetry, and each event carries the active trace.
type SentryConfig struct {
	// DSN of the Sentry project. Empty disables Sentry.
	DSN string
	// Environment, such as "production". Default: "development".
	Environment string
	// Release is the version of the service.
	Release string
	// SampleRate is the share of error events sent, 0 < rate ≤ 1. Default 1.
	SampleRate float64
	// Transport replaces the HTTP transport; tests use it to capture events.
	Transport sentry.Transport
}

// WithSentry enables Sentry error reporting when cfg.DSN is not empty.
func WithSentry(cfg SentryConfig) Option {
	return optionFunc(func(c *config) {
		if cfg.DSN != "" {
			c.sentry = &cfg
		}
	})
}

// WithSpanProcessor adds p to the tracer provider, next to the exporters of
// the environment. p sees each span as they do: at its end, with secrets and
// personal data masked (OnStart gets the span as it starts, unmasked). Tests
// use a tracetest.SpanRecorder.
func WithSpanProcessor(p sdktrace.SpanProcessor) Option {
	return optionFunc(func(c *config) { c.spanProcessors = append(c.spanProcessors, p) })
}

// WithMetricReader adds a reader to the meter provider, next to the
// Prometheus exporter. Tests use sdkmetric.NewManualReader.
func WithMetricReader(r sdkmetric.Reader) Option {
	return optionFunc(func(c *config) { c.readers = append(c.readers, r) })
}

// WithHistogramBuckets sets the bucket boundaries of the histograms that the
// instrumentation scope records under a name matching name (a pattern with
// the '*' and '?' wildcards of SDK views). A library that records durations
// in seconds without bucket advice lands in the SDK's default buckets (0 to
// 10000, meant for milliseconds), where every observation falls in the
// first one or two and a p95 means nothing.
func WithHistogramBuckets(scope, name string, boundaries ...float64) Option {
	return optionFunc(func(c *config) {
		c.views = append(c.views, sdkmetric.NewView(
			sdkmetric.Instrument{Name: name, Kind: sdkmetric.InstrumentKindHistogram, Scope: instrumentation.Scope{Name: scope}},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: boundaries}},
		))
	})
}

// WithLoggerProviderOptions adds options to the SDK logger provider. Adding a
// processor turns the OpenTelemetry log bridge on even when
// OTEL_LOGS_EXPORTER selects nothing.
func WithLoggerProviderOptions(opts ...sdklog.LoggerProviderOption) Option {
	return optionFunc(func(c *config) { c.logOpts = append(c.logOpts, opts...) })
}

// WithoutGlobals stops Setup from installing its providers, propagator and
// logger as the OpenTelemetry globals and [slog.Default].
func WithoutGlobals() Option {
	return optionFunc(func(c *config) { c.noGlobals = true })
}

// WithUntracedPaths sets the request paths the middleware keeps out of
// traces and metrics and logs at debug level only, typically health probes.
// The paths replace the default: /livez and /readyz.
func WithUntracedPaths(paths ...string) Option {
	return optionFunc(func(c *config) {
		c.untraced = make(map[string]bool, len(paths))
		for _, p := range paths {
			c.untraced[p] = true
		}
	})
}

// WithPanicResponse sets the handler that answers a request whose handler
// panicked before writing anything; it should write a 500 in the service's
// error format. Default: a plain-text "Internal Server Error" with status
// 500.
func WithPanicResponse(h http.Handler) Option {
	return optionFunc(func(c *config) { c.panicResponse = h })
}

func newConfig(opts []Option) *config {
	c := &config{
		logWriter:     os.Stdout,
		logLevel:      slog.LevelInfo,
		logFormat:     "json",
		untraced:      map[string]bool{"/livez": true, "/readyz": true},
		panicResponse: http.HandlerFunc(writePanicResponse),
	}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

// ConfigError reports an environment variable with a value Setup cannot use.
type ConfigError struct {
	Var    string // the variable, such as "OTEL_TRACES_SAMPLER"
	Value  string
	Reason string
}

// Error implements error; it names the variable in one line.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s=%q: %s", e.Var, e.Value, e.Reason)
}

// sdkDisabled reports OTEL_SDK_DISABLED=true (case-insensitive); any value
// other than true/false/empty is an error.
func (c *config) sdkDisabled() (bool, error) {
	v := strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED"))
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &ConfigError{Var: "OTEL_SDK_DISABLED", Value: v, Reason: "want true or false"}
	}
	return b, nil
}

// sampler builds the sampler named by OTEL_TRACES_SAMPLER, parent-based
// always-on by default, and rejects unknown names and bad ratios with an
// error that names the variable (the SDK alone would fall back silently).
func (c *config) sampler() (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, &ConfigError{Var: "OTEL_TRACES_SAMPLER_ARG", Value: arg, Reason: "want a ratio between 0 and 1"}
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		r, err := ratio()
		return sdktrace.TraceIDRatioBased(r), err
	case "parentbased_traceidratio":
		r, err := ratio()
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), err
	}
	return nil, &ConfigError{Var: "OTEL_TRACES_SAMPLER", Value: name,
		Reason: "want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"}
}

// exporterNames returns the exporters an OTEL_*_EXPORTER variable names,
// read as the specification describes: a comma-separated list whose names
// are compared without regard to case or surrounding spaces. Each name
// appears once.
func exporterNames(envVar string) []string {
	var names []string
	for _, n := range strings.Split(os.Getenv(envVar), ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// exporterNames is the package-level exporterNames with the kit's one
// difference from autoexport: an unset variable means "otlp" only when an
// OTLP endpoint is configured for the signal ("TRACES", "LOGS"), and no
// exporter otherwise (autoexport alone would try localhost).
func (c *config) exporterNames(envVar, signal string) []string {
	if names := exporterNames(envVar); len(names) > 0 {
		return names
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != "" {
		return []string{"otlp"}
	}
	return nil
}

// autoexported builds the exporters named in envVar with autoexport, which
// reads envVar itself and knows each name in lower case only: while it
// builds one, envVar holds that one name, and the caller's value is put back
// after. The "none" exporter is left out; an error names the variable and
// shuts down what was built.
func autoexported[T interface{ Shutdown(context.Context) error }](envVar string, names []string, build func() (T, error), isNone func(T) bool) (_ []T, err error) {
	raw, set := os.LookupEnv(envVar)
	defer func() {
		if set {
			os.Setenv(envVar, raw)
		} else {
			os.Unsetenv(envVar)
		}
	}()
	var built []T
	for _, name := range names {
		os.Setenv(envVar, name)
		exp, err := build()
		if err != nil {
			for _, b := range built {
				_ = b.Shutdown(context.Background())
			}
			return nil, &ConfigError{Var: envVar, Value: raw, Reason: name + ": " + err.Error()}
		}
		if !isNone(exp) {
			built = append(built, exp)
		}
	}
	return built, nil
}
