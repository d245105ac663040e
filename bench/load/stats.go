package main

import (
	"slices"
	"time"
)

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
