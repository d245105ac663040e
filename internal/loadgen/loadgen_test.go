package loadgen_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"example.com/otelstarter/internal/loadgen"
)

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one", ms(7), 50, 7 * time.Millisecond},
		{"one p99", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := loadgen.Percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("loadgen.Percentile(p%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	var samples []loadgen.Sample
	for _, d := range []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond} {
		samples = append(samples, loadgen.Sample{Took: d})
	}
	samples = append(samples, loadgen.Sample{Took: time.Hour, Err: errors.New("timed out")})
	s := loadgen.Summarize(samples, 2*time.Second)
	if s.OK != 4 || len(s.Errors) != 1 || s.Failed != 1 || s.RPS() != 2 || s.P50 != 2*time.Millisecond || s.Max != 4*time.Millisecond {
		t.Errorf("summarize = %+v, RPS %v", s, s.RPS())
	}
}

func TestOpenDoesNotWait(t *testing.T) {
	// 20 calls at 200/s that each take 100 ms: an open loop sends them all
	// within ~100 ms and returns once the last has answered.
	var calls atomic.Int32
	began := time.Now()
	var lastDue time.Time
	loadgen.Open(context.Background(), 200, 20, func(i int, due time.Time) {
		if i == 19 {
			lastDue = due
		}
		calls.Add(1)
		time.Sleep(100 * time.Millisecond)
	})
	took := time.Since(began)
	if calls.Load() != 20 || took > 900*time.Millisecond || lastDue.Sub(began) < 90*time.Millisecond {
		t.Errorf("%d calls in %v, the last due after %v", calls.Load(), took, lastDue.Sub(began))
	}
}

func TestClosedPaced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var calls atomic.Int32
	loadgen.Closed(ctx, 4, 20, func(int) bool { calls.Add(1); return true })
	// 20/s for half a second, whatever the number of workers.
	if n := calls.Load(); n < 5 || n > 12 {
		t.Errorf("%d paced calls in 500 ms at 20/s", n)
	}
	var stopped atomic.Int32
	loadgen.Closed(context.Background(), 3, 0, func(int) bool { return stopped.Add(1) < 100 })
	if n := stopped.Load(); n < 100 || n > 102 {
		t.Errorf("workers stopped after %d calls", n)
	}
}
