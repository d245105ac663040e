package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value with at least p % of the samples
// at or below it. It returns 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summary is what one measurement of request latencies comes down to.
type summary struct {
	Requests int           // answered 200
	Failed   int           // any other status, or no answer
	Elapsed  time.Duration // the measured window
	P50, P99 time.Duration
	Max      time.Duration
}

// summarize sorts lat in place and summarises it; failed requests are
// counted but their latencies are not in lat.
func summarize(lat []time.Duration, failed int, elapsed time.Duration) summary {
	slices.Sort(lat)
	s := summary{Requests: len(lat), Failed: failed, Elapsed: elapsed,
		P50: percentile(lat, 50), P99: percentile(lat, 99)}
	if len(lat) > 0 {
		s.Max = lat[len(lat)-1]
	}
	return s
}

// RPS is successful requests per second over the window.
func (s summary) RPS() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Elapsed.Seconds()
}

func (s summary) String() string {
	return fmt.Sprintf("%d ok, %d failed in %s: %.0f req/s, p50 %s, p99 %s, max %s",
		s.Requests, s.Failed, s.Elapsed.Round(time.Millisecond), s.RPS(), ms(s.P50), ms(s.P99), ms(s.Max))
}

// ms formats d in milliseconds with three significant decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

// median returns the middle value of xs (the mean of the two middle ones
// for an even count, as benchstat does), leaving xs unsorted.
func median[T int | int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		var zero T
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	return (s[(n-1)/2] + s[n/2]) / 2
}

// verdict renders whether a goal was met.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}
