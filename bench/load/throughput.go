package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"example.com/otelstarter/internal/loadgen"
	"example.com/otelstarter/internal/testproc"
)

// run is one throughput run.
type run struct {
	variant     string
	s           loadgen.Summary
	cpu, colCPU time.Duration // of the app and the collector in the measured window
}

// cpuPerRequest is the app's CPU time per measured request in µs.
func (r run) cpuPerRequest() float64 {
	return float64(r.cpu) / float64(time.Microsecond) / float64(max(r.s.OK, 1))
}

func (r run) perRequest() string { return fmt.Sprintf("%.0f µs", r.cpuPerRequest()) }

// colShare is the collector's CPU use in percent of one core.
func (r run) colShare() float64 { return 100 * r.colCPU.Seconds() / r.s.Elapsed.Seconds() }

// throughput alternates the app with telemetry exporting (A) and switched
// off (B), restarting it for each run, and compares the best run of each.
func (h *harness) throughput(ctx context.Context) (string, error) {
	var runs []run
	var b strings.Builder
	spans0, _, _ := h.col.accepted(ctx)
	for i := range 2 * h.o.runs {
		variant, on := "A", i%2 == 0
		if !on {
			variant = "B"
		}
		a, err := h.startSeeded(ctx, h.bin, fmt.Sprintf("app-throughput-%d-%s", i/2+1, variant), h.appEnv(on))
		if err != nil {
			return b.String(), err
		}
		r := h.measure(ctx, a, h.postURL(a), variant)
		a.proc.stop()
		logf("throughput %s run %d: %s; app CPU %s/request, collector CPU %.0f %% of a core",
			variant, i/2+1, r.s, r.perRequest(), r.colShare())
		runs = append(runs, r)
		if ctx.Err() != nil {
			return b.String(), ctx.Err()
		}
	}
	spans1, _, _ := h.col.accepted(ctx)

	best := func(v string) (rps float64, p99 time.Duration) {
		for _, r := range runs {
			if r.variant != v {
				continue
			}
			rps = max(rps, r.s.RPS())
			if p99 == 0 || r.s.P99 < p99 {
				p99 = r.s.P99
			}
		}
		return rps, p99
	}
	rpsA, p99A := best("A")
	rpsB, p99B := best("B")
	cpuPer := func(v string) float64 { return leastCPU(runs, v) }
	fmt.Fprintf(&b, "`GET /api/posts/{id}` (Redis cache hit, PostgreSQL behind it), %d keep-alive workers in a closed loop, "+
		"%s warm-up then %s measured per run, the app restarted for each run, A and B alternating. "+
		"A: traces and logs exported over OTLP/HTTP to a running collector, `parentbased_always_on`, metrics on /metrics. "+
		"B: the same binary and environment with `OTEL_SDK_DISABLED=true`. Best run of each.\n\n",
		h.o.workers, h.o.warmup, h.o.duration)
	b.WriteString(goalTable([]goal{
		{"A throughput ≥ 0.95 × B", fmt.Sprintf("%.0f vs %.0f req/s = %.3f×", rpsA, rpsB, rpsA/rpsB), rpsA >= 0.95*rpsB},
		{"A p99 ≤ 1.1 × B p99", fmt.Sprintf("%s vs %s = %.3f×", loadgen.Ms(p99A), loadgen.Ms(p99B), float64(p99A)/float64(p99B)), float64(p99A) <= 1.1*float64(p99B)},
	}))
	fmt.Fprintf(&b, "\nApp CPU time per request (least of the runs): A %.0f µs, B %.0f µs: telemetry costs %.0f µs of CPU per request.\n",
		cpuPer("A"), cpuPer("B"), cpuPer("A")-cpuPer("B"))
	b.WriteString("\n| run | variant | req/s | p50 | p99 | max | ok | failed | app CPU per request | collector CPU |\n" +
		"|---|---|---|---|---|---|---|---|---|---|\n")
	for i, r := range runs {
		fmt.Fprintf(&b, "| %d | %s | %.0f | %s | %s | %s | %d | %d | %s | %.0f %% of a core |\n",
			i+1, r.variant, r.s.RPS(), loadgen.Ms(r.s.P50), loadgen.Ms(r.s.P99), loadgen.Ms(r.s.Max), r.s.OK, r.s.Failed, r.perRequest(), r.colShare())
	}
	fmt.Fprintf(&b, "\nThe collector accepted %.0f spans during these runs (A's exports arrived). "+
		"It runs on the same cores: its CPU is taken from the app and the load generator in A runs only. "+
		"App CPU per request (user + system, from /proc) is the figure least disturbed by that and by other work on the machine.\n",
		spans1-spans0)
	return b.String(), nil
}

// measure runs the closed loop on url against a and returns it with the
// CPU time the app and the collector used in the measured window only (read
// when the warm-up ends).
func (h *harness) measure(ctx context.Context, a *app, url, variant string) run {
	cpu0 := make(chan [2]time.Duration, 1)
	time.AfterFunc(h.o.warmup, func() { cpu0 <- h.cpu(a) })
	s := closedLoop(ctx, url, h.o.workers, h.o.warmup, h.o.duration)
	c0, c1 := <-cpu0, h.cpu(a)
	return run{variant, s, c1[0] - c0[0], c1[1] - c0[1]}
}

// leastCPU is the least app CPU per request in µs of the runs of variant.
func leastCPU(runs []run, variant string) (least float64) {
	for _, r := range runs {
		if r.variant == variant && (least == 0 || r.cpuPerRequest() < least) {
			least = r.cpuPerRequest()
		}
	}
	return least
}

// cpu returns the CPU time used so far by the app and by the collector.
func (h *harness) cpu(a *app) [2]time.Duration {
	app, _ := testproc.CPUTime(a.proc.pid())
	col, _ := testproc.CPUTime(h.col.proc.pid())
	return [2]time.Duration{app, col}
}
