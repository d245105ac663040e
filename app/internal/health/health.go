// Package health runs the service's dependency checks concurrently, each
// under its own timeout, and exports their last results as the gauge
// health_check_status{check=…} (1 ok, 0 failing).
package health

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const scope = "example.com/otelstarter/app/internal/health"

// Status values in reports.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
	StatusError    = "error"
	StatusDisabled = "disabled"
)

// DefaultTimeout bounds each check.
const DefaultTimeout = time.Second

// Check is one dependency check. Critical checks decide readiness.
type Check struct {
	Name     string
	Critical bool
	Func     func(ctx context.Context) error // nil: the dependency is disabled
}

// Report is the JSON body of /api/health. It holds no error text: errors
// go to the log.
type Report struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// Checker runs the checks.
type Checker struct {
	checks  []Check
	timeout time.Duration
	last    sync.Map // name → *atomic.Int64 (1 ok, 0 failing)
	reg     metric.Registration
}

// Config configures a Checker.
type Config struct {
	// Timeout bounds each check; ≤ 0 means DefaultTimeout.
	Timeout time.Duration
	// Checks are run in this order; their names must differ.
	Checks []Check
}

// New returns a Checker and registers its gauge with the global meter
// provider.
func New(cfg Config) (*Checker, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	c := &Checker{checks: cfg.Checks, timeout: cfg.Timeout}
	meter := otel.Meter(scope)
	g, err := meter.Int64ObservableGauge("health_check_status",
		metric.WithDescription("Result of the last health check of each dependency: 1 ok, 0 failing."))
	if err != nil {
		return nil, err
	}
	c.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		c.last.Range(func(k, v any) bool {
			o.ObserveInt64(g, v.(*atomic.Int64).Load(), metric.WithAttributes(attribute.String("check", k.(string))))
			return true
		})
		return nil
	}, g)
	return c, err
}

// Run runs every check concurrently and reports. Status is "ok" when all
// enabled checks pass, "degraded" otherwise.
func (c *Checker) Run(ctx context.Context) Report {
	r := Report{Status: StatusOK, Checks: make(map[string]string, len(c.checks))}
	results := make([]string, len(c.checks))
	var wg sync.WaitGroup
	for i, ch := range c.checks {
		if ch.Func == nil {
			results[i] = StatusDisabled
			continue
		}
		wg.Go(func() {
			results[i] = c.run(ctx, ch)
		})
	}
	wg.Wait()
	for i, ch := range c.checks {
		r.Checks[ch.Name] = results[i]
		if results[i] == StatusError {
			r.Status = StatusDegraded
		}
	}
	return r
}

func (c *Checker) run(ctx context.Context, ch Check) string {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// A check that ignores its context must not hold the report: it is
	// abandoned at the timeout (and finishes on its own later).
	res := make(chan error, 1)
	go func() { res <- ch.Func(ctx) }()
	var err error
	select {
	case err = <-res:
	case <-ctx.Done():
		err = ctx.Err()
	}
	v, _ := c.last.LoadOrStore(ch.Name, new(atomic.Int64))
	if err != nil {
		v.(*atomic.Int64).Store(0)
		if errors.Is(err, context.DeadlineExceeded) {
			err = errors.New("timed out after " + c.timeout.String())
		}
		slog.WarnContext(ctx, "health.check_failed", slog.String("check", ch.Name), slog.String("error", err.Error()))
		return StatusError
	}
	v.(*atomic.Int64).Store(1)
	return StatusOK
}

// Ready reports whether every critical check passes.
func (c *Checker) Ready(ctx context.Context) bool {
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, ch := range c.checks {
		if !ch.Critical || ch.Func == nil {
			continue
		}
		wg.Go(func() {
			if c.run(ctx, ch) != StatusOK {
				failed.Store(true)
			}
		})
	}
	wg.Wait()
	return !failed.Load()
}

// Watch runs the checks every interval until ctx is done, so the gauge stays
// current even when nobody calls /api/health.
func (c *Checker) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	c.Run(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Run(ctx)
		}
	}
}

// Names returns the names of the checks, sorted.
func (c *Checker) Names() []string {
	var n []string
	for _, ch := range c.checks {
		n = append(n, ch.Name)
	}
	sort.Strings(n)
	return n
}

// Close unregisters the gauge.
func (c *Checker) Close() error {
	if c.reg != nil {
		return c.reg.Unregister()
	}
	return nil
}
