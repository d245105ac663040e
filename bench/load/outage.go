package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"example.com/otelstarter/internal/loadgen"
	"example.com/otelstarter/internal/testproc"
)

// Phases of the outage test; nothing is measured while warming up.
const (
	warming int32 = iota - 1
	healthy
	down
	back
)

var phaseNames = []string{"healthy", "collector down", "collector back"}

func phaseName(p int32) string {
	if p == warming {
		return "warm-up"
	}
	return phaseNames[p]
}

// sample is the app's footprint at one moment of the outage test.
type sample struct {
	at         time.Duration
	phase      int32
	rss        int64
	goroutines float64
}

// outage keeps a steady open-loop load on the app while the collector it
// exports to is killed for o.outage and then started again on the same
// port.
func (h *harness) outage(ctx context.Context) (string, error) {
	o := h.o
	var b strings.Builder
	// OTEL_GO_X_OBSERVABILITY makes the SDK count what its batch processors
	// drop and its exporters fail to send (experimental in otel-go).
	a, err := h.startSeeded(ctx, h.bin, "app-outage", append(h.appEnv(true), "OTEL_GO_X_OBSERVABILITY=true"))
	if err != nil {
		return "", err
	}
	defer a.proc.stop()

	load := &openLoad{}
	load.phase.Store(warming)
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { load.run(lctx, h.postURL(a), o.rate, o.warmup+2*o.steady+o.outage+time.Minute) })
	var samples []sample
	wg.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for range int((o.warmup+2*o.steady+o.outage+time.Minute)/(5*time.Second)) + 1 {
			r, rerr := testproc.RSS(a.proc.pid())
			text, _, serr := scrape(lctx, a.admin+"/metrics")
			if rerr == nil && serr == nil {
				fams, _ := testproc.ParseMetricsText(text)
				g, _ := testproc.Sum(fams, "go_goroutines")
				samples = append(samples, sample{time.Since(start), load.phase.Load(), r, g})
			}
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
		}
	})
	finish := func() {
		stopLoad()
		wg.Wait()
	}
	sleep := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return a.proc.Exited()
		}
	}

	if err := sleep(o.warmup); err != nil {
		finish()
		return "", err
	}
	tHealthy := time.Now()
	load.phase.Store(healthy)
	logf("outage: %s healthy at %d req/s", o.steady, o.rate)
	if err := sleep(o.steady); err != nil {
		finish()
		return "", err
	}
	tKill := time.Now()
	h.col.proc.Kill()
	load.phase.Store(down)
	logf("outage: collector killed for %s", o.outage)
	if err := sleep(o.outage); err != nil {
		finish()
		return "", err
	}
	outageLen := time.Since(tKill)
	if err := h.col.start(ctx); err != nil {
		finish()
		return "", fmt.Errorf("restart the collector on the same ports: %w", err)
	}
	tBack := time.Now()
	load.phase.Store(back)
	logf("outage: collector back; %s more load", o.steady)
	var spansAt, logsAt time.Duration
	for range int(o.steady / (100 * time.Millisecond)) {
		if spans, logs, err := h.col.accepted(ctx); err == nil {
			if spansAt == 0 && spans > 0 {
				spansAt = time.Since(tBack)
			}
			if logsAt == 0 && logs > 0 {
				logsAt = time.Since(tBack)
			}
		}
		if (spansAt > 0 && logsAt > 0) || time.Since(tBack) >= o.steady {
			break
		}
		if err := sleep(100 * time.Millisecond); err != nil {
			finish()
			return "", err
		}
	}
	if err := sleep(o.steady - time.Since(tBack)); err != nil {
		finish()
		return "", err
	}
	finish()
	sdk, _, _ := scrape(ctx, a.admin+"/metrics")

	// Figures per phase.
	lens := []time.Duration{tKill.Sub(tHealthy), outageLen, o.steady}
	sums := make([]loadgen.Summary, len(phaseNames))
	for p := range phaseNames {
		sums[p] = load.result(int32(p), lens[p])
	}
	var base, firstDown, lastDown, final sample
	var maxRSS int64
	var maxG float64
	for _, s := range samples {
		switch s.phase {
		case healthy:
			base = s
		case down:
			if firstDown.at == 0 {
				firstDown = s
			}
			lastDown = s
		}
		if s.phase != healthy {
			maxRSS, maxG = max(maxRSS, s.rss), max(maxG, s.goroutines)
			final = s
		}
	}
	if base.at == 0 || final.at == 0 {
		return "", fmt.Errorf("too few samples (%d) for a healthy baseline and the outage", len(samples))
	}
	const goroutineSlack = 5 // connections come and go with the load
	recovered := func(d time.Duration) string {
		if d == 0 {
			return fmt.Sprintf("not within %s", o.steady)
		}
		return d.Round(100 * time.Millisecond).String()
	}
	recoverMet := spansAt > 0 && logsAt > 0 && spansAt <= 15*time.Second && logsAt <= 15*time.Second

	fmt.Fprintf(&b, "Open-loop `GET /api/posts/{id}` at %d req/s (latency counted from when each request was due), "+
		"%s warm-up, %s with the collector up, then the collector killed (SIGKILL) for %s, then started again on the same ports and "+
		"%s more load. App as variant A, plus `OTEL_GO_X_OBSERVABILITY=true` so the SDK counts what it drops. "+
		"RSS (`VmRSS`) and `go_goroutines` sampled every 5 s.\n\n", o.rate, o.warmup, o.steady, o.outage.Round(time.Second), o.steady)
	b.WriteString(goalTable([]goal{
		{"RSS growth ≤ 64 MiB", fmt.Sprintf("%s → max %s: +%s", mib(base.rss), mib(maxRSS), mib(maxRSS-base.rss)), maxRSS-base.rss <= 64<<20},
		{"outage p99 ≤ 1.1 × healthy p99", fmt.Sprintf("%s vs %s = %.3f×", loadgen.Ms(sums[down].P99), loadgen.Ms(sums[healthy].P99),
			float64(sums[down].P99)/float64(sums[healthy].P99)), float64(sums[down].P99) <= 1.1*float64(sums[healthy].P99)},
		{"no goroutine growth", fmt.Sprintf("healthy %.0f; outage %.0f → %.0f (max %.0f); after %.0f",
			base.goroutines, firstDown.goroutines, lastDown.goroutines, maxG, final.goroutines),
			final.goroutines <= base.goroutines+goroutineSlack && lastDown.goroutines <= firstDown.goroutines+goroutineSlack},
		{"export resumes within 15 s", fmt.Sprintf("spans %s, log records %s after the collector was ready", recovered(spansAt), recovered(logsAt)), recoverMet},
	}))
	fmt.Fprintf(&b, "\nNo growth means at most %d more goroutines at the end than before the outage, and at the end of the outage than at its start.\n", goroutineSlack)
	b.WriteString("\n| phase | length | ok | failed | p50 | p99 | max |\n|---|---|---|---|---|---|---|\n")
	for p, s := range sums {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %s |\n", phaseNames[p], lens[p].Round(time.Second),
			s.OK, s.Failed, loadgen.Ms(s.P50), loadgen.Ms(s.P99), loadgen.Ms(s.Max))
	}
	for p, s := range sums {
		if len(s.Errors) > 0 {
			fmt.Fprintf(&b, "\nFirst failure while %s: `%s`\n", phaseNames[p], s.Errors[0])
		}
	}
	b.WriteString("\nWhat the SDK counted (`otel_sdk_*` counters on the app's /metrics at the end; an `error.type` means those items were lost):\n\n")
	if rows := sdkCounters(sdk); len(rows) > 0 {
		l := lost(rows)
		fmt.Fprintf(&b, "Lost in all: **%.0f spans and %.0f log records** (about %.0f requests were served while the collector was down).\n\n",
			l["span"], l["log"], float64(sums[down].OK))
		b.WriteString("| counter | component | error.type | other labels | items |\n|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %.0f |\n", r.name, r.component, r.errorType, r.other, r.value)
		}
	} else {
		b.WriteString("None exposed: without `otel_sdk_*` counters on /metrics lost items cannot be counted. " +
			"The SDK's batch span and log processors and OTLP exporters would need their self-observability metrics " +
			"(`otel.sdk.processor.span.processed`, `otel.sdk.exporter.span.exported`, … with `error.type`) " +
			"registered with the MeterProvider that /metrics serves.\n")
	}
	b.WriteString("\n<details><summary>Samples</summary>\n\n| t | phase | RSS | goroutines |\n|---|---|---|---|\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f |\n", s.at.Round(time.Second), phaseName(s.phase), mib(s.rss), s.goroutines)
	}
	b.WriteString("\n</details>\n")
	return b.String(), nil
}

// sdkCounter is one series of the SDK's own counters.
type sdkCounter struct {
	name, component, errorType, other string // other: the labels that tell series apart
	value                             float64
}

// sdkCounters picks the SDK's own counters (otel_sdk_*_total) out of a
// Prometheus exposition, sorted by name and labels.
func sdkCounters(text string) []sdkCounter {
	fams, _ := testproc.ParseMetricsText(text)
	var out []sdkCounter
	for name, f := range fams {
		if !strings.HasPrefix(name, "otel_sdk_") || !strings.HasSuffix(name, "_total") {
			continue
		}
		for _, m := range f.GetMetric() {
			c := sdkCounter{name: name, value: m.GetCounter().GetValue()}
			var other []string
			for _, l := range m.GetLabel() {
				switch k, v := l.GetName(), l.GetValue(); {
				case k == "otel_component_name":
					c.component = v
				case k == "error_type":
					c.errorType = v
				case strings.HasPrefix(k, "otel_scope_") || k == "otel_component_type" || strings.HasPrefix(k, "server_"):
				default:
					other = append(other, k+"="+v)
				}
			}
			c.other = strings.Join(other, " ")
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b sdkCounter) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.component, b.component),
			strings.Compare(a.errorType, b.errorType), strings.Compare(a.other, b.other))
	})
	return out
}

// lost sums the items the SDK counted with an error, per kind of item
// (span, log): failed exports and processor drops.
func lost(cs []sdkCounter) map[string]float64 {
	out := map[string]float64{}
	for _, c := range cs {
		if c.errorType == "" {
			continue
		}
		for _, kind := range []string{"span", "log"} {
			if strings.Contains(c.name, "_"+kind+"_") {
				out[kind] += c.value
			}
		}
	}
	return out
}
