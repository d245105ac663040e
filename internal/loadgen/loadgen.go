// Package loadgen is the one load generator of the repository: the demo
// traffic of `make traffic` (internal/traffic), the load harness
// (bench/load) and the fault-injection tests (internal/faulttest) pace their
// requests and summarise their latencies with it.
//
// Two shapes of load: [Open] sends at a fixed rate whatever the answers take
// (a slow server gets more concurrent requests, as it would from real
// users), [Closed] runs workers that each wait for an answer before the next
// request, optionally paced to a rate across all of them. [Summarize] turns
// the [Sample]s of either into a [Summary].
package loadgen

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Open makes n calls, call i due at i/rate seconds after the start, each in
// its own goroutine so that a slow answer does not delay the next call (an
// open loop). It stops sending when ctx is done and returns once every call
// made has returned. due is when the call was scheduled: latency measured
// from it is not hidden by a stall of the sender.
func Open(ctx context.Context, rate float64, n int, call func(i int, due time.Time)) {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		wg.Go(func() { call(i, due) })
	}
}

// Closed runs workers goroutines, each calling step(worker) again and again
// until ctx is done or step returns false, and returns when all have
// stopped. With rate > 0 the workers share one pace of rate calls per
// second: each call waits for a tick, and a tick no worker is free to take
// is dropped (as [time.Ticker] drops them), so a slow server gets fewer
// calls instead of a backlog. With rate ≤ 0 each worker calls as fast as
// its answers come (a closed loop).
func Closed(ctx context.Context, workers int, rate float64, step func(worker int) bool) {
	var ticks <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		ticks = t.C
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if ticks != nil {
					select {
					case <-ctx.Done():
						return
					case <-ticks:
					}
				}
				if !step(w) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// Sample is the outcome of one call of a load run.
type Sample struct {
	Start time.Time     // when the call was due (Open) or began
	Took  time.Duration // from Start to the end of the answer
	Err   error         // nil when the answer was the expected one
	ID    string        // what the call reports about itself, e.g. the answer's X-Request-Id
}

// Between returns the samples that started in [from, to).
func Between(samples []Sample, from, to time.Time) []Sample {
	var out []Sample
	for _, s := range samples {
		if !s.Start.Before(from) && s.Start.Before(to) {
			out = append(out, s)
		}
	}
	return out
}

// Summary is what a set of samples comes down to.
type Summary struct {
	OK, Failed    int
	Elapsed       time.Duration // the window the samples were taken in, for RPS
	P50, P99, Max time.Duration // latencies of the calls that succeeded
	Errors        []string      // the first few failures
}

// maxErrors is how many failures a Summary keeps the text of.
const maxErrors = 5

// Summarize summarises samples taken over elapsed (0 when unknown).
// Latency percentiles are over the successful calls only: a failure may
// have been quick (refused) or slow (timed out) for reasons that say
// nothing about how fast the answers were.
func Summarize(samples []Sample, elapsed time.Duration) Summary {
	s := Summary{Elapsed: elapsed}
	lat := make([]time.Duration, 0, len(samples))
	for _, x := range samples {
		if x.Err != nil {
			s.Failed++
			if len(s.Errors) < maxErrors {
				s.Errors = append(s.Errors, x.Err.Error())
			}
			continue
		}
		lat = append(lat, x.Took)
	}
	slices.Sort(lat)
	s.OK = len(lat)
	s.P50, s.P99 = Percentile(lat, 50), Percentile(lat, 99)
	if len(lat) > 0 {
		s.Max = lat[len(lat)-1]
	}
	return s
}

// RPS is successful calls per second over Elapsed.
func (s Summary) RPS() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.OK) / s.Elapsed.Seconds()
}

func (s Summary) String() string {
	rps := ""
	if s.Elapsed > 0 {
		rps = fmt.Sprintf(" in %s: %.0f req/s,", s.Elapsed.Round(time.Millisecond), s.RPS())
	}
	return fmt.Sprintf("%d ok, %d failed%s p50 %s, p99 %s, max %s", s.OK, s.Failed, rps, Ms(s.P50), Ms(s.P99), Ms(s.Max))
}

// Ms formats d in milliseconds with three decimals.
func Ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value with at least p % of the samples
// at or below it. It returns 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
