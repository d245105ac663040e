package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"example.com/otelstarter/app/internal/health"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// secretErr is the text of a failing check: it names an address and a
// password, neither of which may reach the report.
const secretErr = "dial tcp 10.1.2.3:5432: password authentication failed for s3cret"

func ok(context.Context) error   { return nil }
func fail(context.Context) error { return errors.New(secretErr) }

// sleep returns a check that takes d (or until its context ends).
func sleep(d time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hang is a check that returns only when its context is done.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// newChecker returns a Checker closed at the end of the test.
func newChecker(tb testing.TB, timeout time.Duration, checks ...health.Check) *health.Checker {
	tb.Helper()
	c, err := health.New(health.Config{Timeout: timeout, Checks: checks})
	if err != nil {
		tb.Fatalf("health.New: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return c
}

// gauge collects health_check_status: check name → value.
func gauge(tb testing.TB, reader *sdkmetric.ManualReader) map[string]int64 {
	tb.Helper()
	got := map[string]int64{}
	for _, dp := range telemetrytest.Find[metricdata.Gauge[int64]](tb, reader, "health_check_status").DataPoints {
		v, found := dp.Attributes.Value("check")
		if !found {
			tb.Errorf("data point %v has no check attribute", dp.Attributes)
			continue
		}
		got[v.AsString()] = dp.Value
	}
	return got
}

func TestRun(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	tests := []struct {
		name       string
		checks     []health.Check
		wantStatus string
		wantChecks map[string]string
		wantTook   time.Duration // in the bubble's fake time: exact
	}{
		{"no checks", nil, health.StatusOK, map[string]string{}, 0},
		{"all ok",
			[]health.Check{{Name: "database", Critical: true, Func: ok}, {Name: "redis", Func: ok}},
			health.StatusOK, map[string]string{"database": "ok", "redis": "ok"}, 0},
		{"critical failing",
			[]health.Check{{Name: "database", Critical: true, Func: fail}, {Name: "redis", Func: ok}},
			health.StatusDegraded, map[string]string{"database": "error", "redis": "ok"}, 0},
		{"non-critical failing still degrades",
			[]health.Check{{Name: "database", Critical: true, Func: ok}, {Name: "redis", Func: fail}},
			health.StatusDegraded, map[string]string{"database": "ok", "redis": "error"}, 0},
		{"disabled does not degrade",
			[]health.Check{{Name: "database", Critical: true, Func: ok}, {Name: "redis"}},
			health.StatusOK, map[string]string{"database": "ok", "redis": "disabled"}, 0},
		{"disabled critical does not degrade",
			[]health.Check{{Name: "database", Critical: true}},
			health.StatusOK, map[string]string{"database": "disabled"}, 0},
		{"hanging check is cut at the timeout",
			[]health.Check{{Name: "database", Critical: true, Func: ok}, {Name: "slow", Func: hang}},
			health.StatusDegraded, map[string]string{"database": "ok", "slow": "error"}, timeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				c := newChecker(t, timeout, tt.checks...)
				start := time.Now()
				rep := c.Run(context.Background())
				if d := time.Since(start); d != tt.wantTook {
					t.Errorf("Run took %v with a %v timeout, want %v", d, timeout, tt.wantTook)
				}
				if rep.Status != tt.wantStatus {
					t.Errorf("Status = %q, want %q", rep.Status, tt.wantStatus)
				}
				if len(rep.Checks) != len(tt.wantChecks) {
					t.Errorf("Checks = %v, want %v", rep.Checks, tt.wantChecks)
				}
				for name, want := range tt.wantChecks {
					if got := rep.Checks[name]; got != want {
						t.Errorf("Checks[%q] = %q, want %q", name, got, want)
					}
				}
			})
		})
	}
}

// TestRunIsConcurrent: two checks of 300 ms and 200 ms take 300 ms
// together; one after the other they would take 500 ms.
func TestRunIsConcurrent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, 5*time.Second,
			health.Check{Name: "a", Func: sleep(300 * time.Millisecond)},
			health.Check{Name: "b", Func: sleep(200 * time.Millisecond)},
		)
		start := time.Now()
		rep := c.Run(context.Background())
		d := time.Since(start)
		if rep.Status != health.StatusOK {
			t.Errorf("Status = %q, want ok (%v)", rep.Status, rep.Checks)
		}
		if d != 300*time.Millisecond {
			t.Errorf("checks of 300ms and 200ms took %v, want 300ms (the longer one)", d)
		}
	})
}

func TestRunTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, 200*time.Millisecond, health.Check{Name: "database", Critical: true, Func: hang})
		start := time.Now()
		rep := c.Run(context.Background())
		if d := time.Since(start); d != 200*time.Millisecond {
			t.Errorf("a hanging check took %v with a 200ms timeout, want exactly the timeout", d)
		}
		if rep.Status != health.StatusDegraded || rep.Checks["database"] != health.StatusError {
			t.Errorf("report = %+v, want degraded with database error", rep)
		}
	})
}

// TestRunCheckIgnoringContext: a check that does not watch its context (a
// driver call without a deadline, say) should still be cut at the timeout,
// as the package promises "each under its own timeout".
func TestRunCheckIgnoringContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // the abandoned check ends before the bubble does
		stuck := func(context.Context) error { <-release; return nil }
		c := newChecker(t, 100*time.Millisecond, health.Check{Name: "stuck", Critical: true, Func: stuck})

		start := time.Now()
		done := make(chan health.Report, 1)
		go func() { done <- c.Run(context.Background()) }()
		select {
		case rep := <-done:
			if rep.Checks["stuck"] != health.StatusError {
				t.Errorf("Checks[stuck] = %q, want error", rep.Checks["stuck"])
			}
			if d := time.Since(start); d != 100*time.Millisecond {
				t.Errorf("Run took %v, want exactly the 100ms timeout", d)
			}
		case <-time.After(time.Second):
			t.Fatal("BUG: health.go Checker.run waits for Func to return, so a check that ignores ctx " +
				"blocks Run (and /api/health) past the timeout; run Func in a goroutine and select on ctx.Done()")
		}
	})
}

func TestDefaultTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, 0, health.Check{Name: "slow", Func: sleep(3 * health.DefaultTimeout)})
		start := time.Now()
		rep := c.Run(context.Background())
		d := time.Since(start)
		if rep.Checks["slow"] != health.StatusError {
			t.Errorf("Checks[slow] = %q, want error after DefaultTimeout", rep.Checks["slow"])
		}
		if d != health.DefaultTimeout {
			t.Errorf("Run took %v, want exactly DefaultTimeout (%v)", d, health.DefaultTimeout)
		}
	})
}

func TestReportHasNoErrorText(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newChecker(t, time.Second,
			health.Check{Name: "database", Critical: true, Func: fail},
			health.Check{Name: "redis", Func: hang},
		)
		b, err := json.Marshal(c.Run(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{"s3cret", "10.1.2.3", "5432", "password", "dial", "timed out", "deadline"} {
			if strings.Contains(string(b), leak) {
				t.Errorf("report %s contains %q", b, leak)
			}
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got["status"] != "degraded" {
			t.Errorf("report %s: status is not degraded", b)
		}
	})
}

func TestReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		checks []health.Check
		want   bool
	}{
		{"no checks", nil, true},
		{"critical ok", []health.Check{{Name: "database", Critical: true, Func: ok}}, true},
		{"critical failing", []health.Check{{Name: "database", Critical: true, Func: fail}}, false},
		{"critical hanging", []health.Check{{Name: "database", Critical: true, Func: hang}}, false},
		{"only non-critical failing", []health.Check{
			{Name: "database", Critical: true, Func: ok}, {Name: "redis", Func: fail}}, true},
		{"critical disabled", []health.Check{{Name: "database", Critical: true}}, true},
		{"one of two critical failing", []health.Check{
			{Name: "database", Critical: true, Func: ok}, {Name: "queue", Critical: true, Func: fail}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				c := newChecker(t, 100*time.Millisecond, tt.checks...)
				if got := c.Ready(context.Background()); got != tt.want {
					t.Errorf("Ready = %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestReadyRunsOnlyCriticalChecks(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	counted := func(context.Context) error { calls.Add(1); return errors.New("down") }
	c := newChecker(t, time.Second,
		health.Check{Name: "database", Critical: true, Func: ok},
		health.Check{Name: "redis", Func: counted},
	)
	if !c.Ready(context.Background()) {
		t.Error("Ready = false with only a non-critical check failing")
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("Ready ran the non-critical check %d times", n)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	c := newChecker(t, 0, health.Check{Name: "redis"}, health.Check{Name: "database"}, health.Check{Name: "queue"})
	if got, want := c.Names(), []string{"database", "queue", "redis"}; !slices.Equal(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
}

// TestGauge replaces the global meter provider: not parallel.
func TestGauge(t *testing.T) {
	reader := telemetrytest.GlobalMeterReader(t) // before health.New, which looks up the meter
	var healthy atomic.Bool
	healthy.Store(true)
	flappy := func(context.Context) error {
		if healthy.Load() {
			return nil
		}
		return errors.New("down")
	}
	c := newChecker(t, 100*time.Millisecond,
		health.Check{Name: "database", Critical: true, Func: flappy},
		health.Check{Name: "redis", Func: fail},
		health.Check{Name: "queue"}, // disabled: no series
	)
	if got := gauge(t, reader); len(got) != 0 {
		t.Errorf("before any run: gauge = %v, want no series", got)
	}

	steps := []struct {
		name    string
		healthy bool
		run     func()
		want    map[string]int64
	}{
		{"first run", true, func() { c.Run(context.Background()) },
			map[string]int64{"database": 1, "redis": 0}},
		{"database goes down", false, func() { c.Run(context.Background()) },
			map[string]int64{"database": 0, "redis": 0}},
		{"Ready updates it too", true, func() { c.Ready(context.Background()) },
			map[string]int64{"database": 1, "redis": 0}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			healthy.Store(st.healthy)
			st.run()
			got := gauge(t, reader)
			if len(got) != len(st.want) {
				t.Errorf("gauge = %v, want %v", got, st.want)
			}
			for k, v := range st.want {
				if gv, found := got[k]; !found || gv != v {
					t.Errorf("health_check_status{check=%q} = %v (present %v), want %v", k, gv, found, v)
				}
			}
		})
	}

	t.Run("Close unregisters", func(t *testing.T) {
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if got := gauge(t, reader); len(got) != 0 {
			t.Errorf("after Close: gauge = %v, want no series", got)
		}
	})
}

// TestWatch: the checks run at once, then once per interval, until the
// context ends.
func TestWatch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		c := newChecker(t, time.Second, health.Check{Name: "database", Func: func(context.Context) error {
			calls.Add(1)
			return nil
		}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			c.Watch(ctx, 20*time.Millisecond)
			close(done)
		}()
		// Runs at 0, 20 and 40 ms; the next is due at 60 ms.
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		if n := calls.Load(); n != 3 {
			t.Errorf("after 50ms at a 20ms interval: %d runs, want 3", n)
		}
		cancel()
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatal("Watch did not return after its context was canceled")
		}
		time.Sleep(time.Second)
		if n := calls.Load(); n != 3 {
			t.Errorf("%d runs after Watch returned, want still 3", n)
		}
	})
}
