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

// loadRoute is a route the throughput and baseline scenarios load, with the
// least throughput telemetry may leave of the SDK-disabled app's (the goals
// of issue 10, measured on 2026-12-03).
type loadRoute struct {
	name, what string
	url        func(*app) string
	goal       float64
}

func (h *harness) routes() []loadRoute {
	return []loadRoute{
		{"GET /api/posts/{id}", "Redis cache hit", h.postURL, 0.65},
		{"GET /api/posts", "PostgreSQL, no cache", func(a *app) string { return a.url + "/api/posts" }, 0.80},
	}
}

// throughput alternates, on each route, the app with telemetry exporting (A)
// and switched off (B), restarting it for each run, and compares the best
// run of each.
func (h *harness) throughput(ctx context.Context) (string, error) {
	var b, rows strings.Builder
	var goals []goal
	var cost []string
	spans0, _, _ := h.col.accepted(ctx)
	for _, rt := range h.routes() {
		var runs []run
		for i := range 2 * h.o.runs {
			variant, on := "A", i%2 == 0
			if !on {
				variant = "B"
			}
			a, err := h.startSeeded(ctx, h.bin, fmt.Sprintf("app-throughput-%d-%s", i/2+1, variant), h.appEnv(on))
			if err != nil {
				return b.String(), err
			}
			r := h.measure(ctx, a, rt.url(a), variant)
			a.proc.stop()
			logf("throughput %s %s run %d: %s; app CPU %s/request, collector CPU %.0f %% of a core",
				rt.name, variant, i/2+1, r.s, r.perRequest(), r.colShare())
			runs = append(runs, r)
			fmt.Fprintf(&rows, "| %s | %d | %s | %.0f | %s | %s | %s | %d | %d | %s | %.0f %% of a core |\n",
				rt.name, i/2+1, r.variant, r.s.RPS(), loadgen.Ms(r.s.P50), loadgen.Ms(r.s.P99), loadgen.Ms(r.s.Max),
				r.s.OK, r.s.Failed, r.perRequest(), r.colShare())
			if ctx.Err() != nil {
				return b.String(), ctx.Err()
			}
		}
		rpsA, p99A := bestRun(runs, "A")
		rpsB, p99B := bestRun(runs, "B")
		goals = append(goals, goal{
			fmt.Sprintf("%s (%s): A throughput ≥ %.2f × B", rt.name, rt.what, rt.goal),
			fmt.Sprintf("%.0f vs %.0f req/s = %.3f× (p99 %s vs %s)", rpsA, rpsB, rpsA/rpsB, loadgen.Ms(p99A), loadgen.Ms(p99B)),
			rpsA >= rt.goal*rpsB,
		})
		cost = append(cost, fmt.Sprintf("%s: A %.0f µs, B %.0f µs, telemetry %.0f µs",
			rt.name, leastCPU(runs, "A"), leastCPU(runs, "B"), leastCPU(runs, "A")-leastCPU(runs, "B")))
	}
	spans1, _, _ := h.col.accepted(ctx)

	fmt.Fprintf(&b, "Each route, %d keep-alive workers in a closed loop, "+
		"%s warm-up then %s measured per run, the app restarted for each run, A and B alternating. "+
		"A: traces and logs exported over OTLP/HTTP to a running collector, `parentbased_always_on`, metrics on /metrics. "+
		"B: the same binary and environment with `OTEL_SDK_DISABLED=true`. Best run of each.\n\n",
		h.o.workers, h.o.warmup, h.o.duration)
	b.WriteString(goalTable(goals))
	fmt.Fprintf(&b, "\nApp CPU time per request (least of the runs): %s.\n", strings.Join(cost, "; "))
	b.WriteString("\n| route | run | variant | req/s | p50 | p99 | max | ok | failed | app CPU per request | collector CPU |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|\n")
	b.WriteString(rows.String())
	fmt.Fprintf(&b, "\nThe collector accepted %.0f spans during these runs (A's exports arrived). "+
		"It runs on the same cores: its CPU is taken from the app and the load generator in A runs only. "+
		"App CPU per request (user + system, from /proc) is the figure least disturbed by that and by other work on the machine. "+
		"`bench/profile.sh` repeats the comparison with wrk and says where A's extra CPU goes.\n",
		spans1-spans0)
	return b.String(), nil
}

// bestRun returns the best throughput and p99 of the runs of variant.
func bestRun(runs []run, variant string) (rps float64, p99 time.Duration) {
	for _, r := range runs {
		if r.variant != variant {
			continue
		}
		rps = max(rps, r.s.RPS())
		if p99 == 0 || r.s.P99 < p99 {
			p99 = r.s.P99
		}
	}
	return rps, p99
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
