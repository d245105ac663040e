package main

import (
	"slices"
	"testing"
	"time"
)

// The collector tiers never run under `go test` (`make load-collector`
// takes minutes and bin/otelcol, bin/telemetrygen); these are its pure parts.

func TestRateSearch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keepsUp  func(rate int) bool
		want     []int
		wantBest int
	}{
		{"doubles up to max", func(int) bool { return true }, []int{2500, 5000, 10000, 20000}, 20000},
		{"refines once after the first failure", func(r int) bool { return r <= 7000 },
			[]int{2500, 5000, 10000, 7100}, 5000},
		{"refined step that keeps up is the best", func(r int) bool { return r <= 7100 },
			[]int{2500, 5000, 10000, 7100}, 7100},
		{"nothing kept up", func(int) bool { return false }, []int{2500}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := rateSearch{start: 2500, max: 20000}
			var got []int
			for rate := s.first(); rate > 0 && len(got) < 10; {
				got = append(got, rate)
				rate = s.next(rate, tc.keepsUp(rate))
			}
			if !slices.Equal(got, tc.want) || s.best != tc.wantBest {
				t.Errorf("rates %v best %d, want %v best %d", got, s.best, tc.want, tc.wantBest)
			}
		})
	}
}

func TestTracesGenerated(t *testing.T) {
	const out = "2026-12-03T22:12:14.454Z\tINFO\ttraces/worker.go:180\ttraces generated\t{\"worker\": 0, \"traces\": 972}\n" +
		"2026-12-03T22:12:14.454Z\tINFO\ttraces/worker.go:180\ttraces generated\t{\"worker\": 1, \"traces\": 973}\n" +
		"2026-12-03T22:12:14.454Z\tINFO\ttraces/traces.go:75\tstop the batch span processor\n"
	n, err := tracesGenerated(out)
	if err != nil || n != 1945 {
		t.Errorf("tracesGenerated = %v, %v; want 1945", n, err)
	}
	if _, err := tracesGenerated("no such line"); err == nil {
		t.Error("no error without a \"traces generated\" line")
	}
}

func TestStepJudge(t *testing.T) {
	ok := step{offered: 1000, load: 10 * time.Second, generated: 9800, accepted: 9800, forwarded: 9800}
	for _, tc := range []struct {
		name    string
		change  func(*step)
		gateway bool
		keptUp  bool
	}{
		{"all accepted and forwarded", func(*step) {}, true, true},
		{"generator short of the rate", func(s *step) { s.generated, s.accepted, s.forwarded = 8000, 8000, 8000 }, true, false},
		{"spans lost before the receiver", func(s *step) { s.accepted, s.forwarded = 9000, 9000 }, true, false},
		{"refusals", func(s *step) { s.refused = 512 }, true, false},
		{"gateway did not forward", func(s *step) { s.forwarded = 5000 }, true, false},
		{"forwarding does not matter for the sampler", func(s *step) { s.forwarded = 0 }, false, true},
		{"traces evicted before their decision", func(s *step) { s.droppedEarly = 3 }, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.change(&s)
			s.judge(tc.gateway)
			if s.keptUp() != tc.keptUp {
				t.Errorf("kept up %t (%q), want %t", s.keptUp(), s.why, tc.keptUp)
			}
		})
	}
}
