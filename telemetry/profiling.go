package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	otelpyroscope "github.com/grafana/otel-profiling-go"
	"github.com/grafana/pyroscope-go"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ProfilingConfig is continuous profiling with Pyroscope. Every field left
// empty is read from the environment variable named in its comment, so
// that a deployment turns profiling on without a code change.
type ProfilingConfig struct {
	// ServerAddress is where profiles are pushed (PYROSCOPE_SERVER_ADDRESS),
	// such as http://pyroscope:4040. Empty there too: profiling is off, and
	// nothing is started.
	ServerAddress string
	// BasicAuthUser and BasicAuthPassword authenticate to a hosted
	// Pyroscope (PYROSCOPE_BASIC_AUTH_USER, PYROSCOPE_BASIC_AUTH_PASSWORD).
	BasicAuthUser     string
	BasicAuthPassword string
	// TenantID is the X-Scope-OrgID of a multi-tenant Pyroscope
	// (PYROSCOPE_TENANT_ID).
	TenantID string
	// UploadInterval is how often profiles are collected and pushed; 15 s
	// when zero, Pyroscope's default.
	UploadInterval time.Duration
}

// WithProfiling turns on continuous profiling when cfg (or the environment)
// names a Pyroscope server: CPU, allocations, heap, goroutines, mutex and
// block contention, pushed with pyroscope-go under the service's name and
// resource attributes as labels. The tracer provider is wrapped with
// otel-profiling-go, so that each sampled local root span (a request's
// server span) carries pyroscope.profile.id and the CPU samples taken while
// it ran carry its span ID: Grafana opens a span's flame graph from Tempo.
// It needs the SDK: with OTEL_SDK_DISABLED=true profiling stays off.
func WithProfiling(cfg ProfilingConfig) Option {
	return optionFunc(func(c *config) { c.profiling = &cfg })
}

// fromEnv fills the empty fields from the environment.
func (p ProfilingConfig) fromEnv() ProfilingConfig {
	or := func(v *string, key string) {
		if *v == "" {
			*v = strings.TrimSpace(os.Getenv(key))
		}
	}
	or(&p.ServerAddress, "PYROSCOPE_SERVER_ADDRESS")
	or(&p.BasicAuthUser, "PYROSCOPE_BASIC_AUTH_USER")
	or(&p.BasicAuthPassword, "PYROSCOPE_BASIC_AUTH_PASSWORD")
	or(&p.TenantID, "PYROSCOPE_TENANT_ID")
	return p
}

// Contention sampling while profiling runs: one mutex event in 5 and one
// blocking event per 10 µs blocked, the rates Pyroscope's Go guide starts
// from; both cost nothing when profiling is off, where they stay 0.
const (
	mutexProfileFraction = 5
	blockProfileRate     = 10_000 // nanoseconds
)

// profileLabels are the resource attributes that become profile labels,
// as Pyroscope names them (dots are not allowed in its label names).
var profileLabels = []attribute.Key{
	semconv.ServiceNamespaceKey,
	semconv.ServiceVersionKey,
	semconv.DeploymentEnvironmentNameKey,
}

// setupProfiling starts the profiler when configured, and wraps the
// tracer provider. It runs once the logger exists, which the profiler
// writes to from its own goroutines.
func (t *Telemetry) setupProfiling() error {
	if t.cfg.profiling == nil || t.res == nil {
		return nil
	}
	cfg := t.cfg.profiling.fromEnv()
	if cfg.ServerAddress == "" {
		return nil
	}
	if !strings.HasPrefix(cfg.ServerAddress, "http://") && !strings.HasPrefix(cfg.ServerAddress, "https://") {
		return &ConfigError{Var: "PYROSCOPE_SERVER_ADDRESS", Reason: "want http://host:port or https://host"}
	}
	res := t.res

	name, _ := res.Set().Value(semconv.ServiceNameKey)
	tags := map[string]string{}
	for _, k := range profileLabels {
		if v, ok := res.Set().Value(k); ok && v.AsString() != "" {
			tags[strings.ReplaceAll(string(k), ".", "_")] = v.AsString()
		}
	}
	runtime.SetMutexProfileFraction(mutexProfileFraction)
	runtime.SetBlockProfileRate(blockProfileRate)
	profiler, err := pyroscope.Start(pyroscope.Config{
		// Pyroscope labels the profiles service_name from it, as the other
		// signals carry it.
		ApplicationName:   profileServiceName(name.AsString()),
		Tags:              tags,
		ServerAddress:     cfg.ServerAddress,
		BasicAuthUser:     cfg.BasicAuthUser,
		BasicAuthPassword: cfg.BasicAuthPassword,
		TenantID:          cfg.TenantID,
		UploadRate:        cfg.UploadInterval,
		Logger:            pyroscopeLogger{t.Logger},
		ProfileTypes: []pyroscope.ProfileType{
			pyroscope.ProfileCPU,
			pyroscope.ProfileAllocObjects, pyroscope.ProfileAllocSpace,
			pyroscope.ProfileInuseObjects, pyroscope.ProfileInuseSpace,
			pyroscope.ProfileGoroutines,
			pyroscope.ProfileMutexCount, pyroscope.ProfileMutexDuration,
			pyroscope.ProfileBlockCount, pyroscope.ProfileBlockDuration,
		},
	})
	if err != nil {
		runtime.SetMutexProfileFraction(0)
		runtime.SetBlockProfileRate(0)
		return fmt.Errorf("profiling: %w", err)
	}
	t.shutdowns = append(t.shutdowns, func(ctx context.Context) error {
		// Stop pushes what was collected since the last upload.
		err := profiler.Stop()
		runtime.SetMutexProfileFraction(0)
		runtime.SetBlockProfileRate(0)
		return err
	})
	t.TracerProvider = otelpyroscope.NewTracerProvider(t.TracerProvider)
	return nil
}

// profileServiceName is name as Pyroscope accepts a service name: letters,
// digits and "_-./"; any other character becomes "_". The SDK's default,
// "unknown_service:<binary>", has a colon that Pyroscope refuses.
func profileServiceName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_-./", r):
			return r
		}
		return '_'
	}, name)
}

// pyroscopeLogger passes pyroscope-go's messages to the service's logger:
// its errors (a failed upload) as warnings, the rest at debug level.
type pyroscopeLogger struct{ l *slog.Logger }

func (p pyroscopeLogger) Infof(format string, args ...any) {
	p.l.DebugContext(context.Background(), "profiling.info", slog.String("message", fmt.Sprintf(format, args...)))
}

func (p pyroscopeLogger) Debugf(format string, args ...any) {
	p.l.DebugContext(context.Background(), "profiling.debug", slog.String("message", fmt.Sprintf(format, args...)))
}

func (p pyroscopeLogger) Errorf(format string, args ...any) {
	p.l.WarnContext(context.Background(), "profiling.error", slog.String("error", fmt.Sprintf(format, args...)))
}
