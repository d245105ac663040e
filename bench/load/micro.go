package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// The variants the micro-benchmarks compare, as sub-benchmark names
// (BenchmarkMiddleware/kit or BenchmarkMiddleware/impl=kit): the kit's
// code, a naive implementation of the same thing without and with the
// metrics the kit records (naive, naive_metered), and no observability
// (plain for logs, bare for HTTP; kit/bare and kit/naive are not goals).
var variants = []string{"kit", "naive", "naive_metered", "plain", "bare"}

// goals are the micro-benchmark goals (make/bench.mk MICRO_GOAL_*).
type goals struct {
	metered     float64 // middleware kit/naive_metered, ns/op and allocs/op
	plain       float64 // log record kit/plain, ns/op
	extraAllocs float64 // log record allocs/op the kit may add to plain's
}

// runMicro writes the micro section of the results file from `go test
// -bench` output and benchstat's summary of it.
func runMicro(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("load micro", flag.ContinueOnError)
	in := fs.String("in", "bench/micro.txt", "`go test -bench` output")
	stat := fs.String("benchstat", "", "benchstat's output for -in")
	results := fs.String("results", "bench/RESULTS.md", "markdown file whose micro section is rewritten")
	var g goals
	fs.Float64Var(&g.metered, "goal-metered", 1.1, "middleware kit/naive_metered ratio (ns/op and allocs/op) at or under which the goal is met")
	fs.Float64Var(&g.plain, "goal-plain", 1.3, "log record kit/plain ns/op ratio at or under which the goal is met")
	fs.Float64Var(&g.extraAllocs, "goal-extra-allocs", 2, "allocations per log record the kit may make beyond plain")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	bench, err := parseBench(f, *in)
	if err != nil {
		return err
	}
	var statOut []byte
	if *stat != "" {
		if statOut, err = os.ReadFile(*stat); err != nil {
			return err
		}
	}
	rows := microRatios(bench)
	body := microReport(rows, string(statOut), g)
	if err := writeSection(*results, "micro", body); err != nil {
		return err
	}
	fmt.Fprintln(stdout, body)
	if len(rows) == 0 {
		return fmt.Errorf("%s: no benchmark with kit and naive, naive_metered or plain variants", *in)
	}
	return nil
}

// parseBench returns, for each benchmark (GOMAXPROCS suffix removed), every
// measured value per unit as `go test -bench` printed it ("ns/op", "B/op",
// …), one per -count run.
func parseBench(r io.Reader, fileName string) (map[string]map[string][]float64, error) {
	out := map[string]map[string][]float64{}
	br := benchfmt.NewReader(r, fileName)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // a syntax error (benchfmt reports and skips it) or unit metadata
		}
		base, parts := res.Name.Parts()
		if n := len(parts); n > 0 && bytes.HasPrefix(parts[n-1], []byte("-")) {
			parts = parts[:n-1]
		}
		// benchfmt drops the "Benchmark" prefix; the report keeps Go's names.
		name := "Benchmark" + string(base) + string(bytes.Join(parts, nil))
		if out[name] == nil {
			out[name] = map[string][]float64{}
		}
		for _, v := range res.Values {
			// benchfmt tidies ns/op into sec/op; the report speaks ns/op.
			unit, value := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, value = v.OrigUnit, v.OrigValue
			}
			out[name][unit] = append(out[name][unit], value)
		}
	}
	return out, br.Err()
}

// microRow compares the variants of one benchmark by their medians.
type microRow struct {
	name   string                        // the benchmark with the variant as *
	median map[string]map[string]float64 // variant → unit → median
}

// microRatios groups benchmarks that differ only in the variant segment.
func microRatios(bench map[string]map[string][]float64) []microRow {
	byName := map[string]*microRow{}
	for name, units := range bench {
		segs := strings.Split(name, "/")
		for i, seg := range segs {
			_, v, ok := strings.Cut(seg, "=")
			if !ok {
				v = seg
			}
			if !slices.Contains(variants, strings.ToLower(v)) {
				continue
			}
			key := strings.Join(slices.Concat(segs[:i], []string{strings.Replace(seg, v, "*", 1)}, segs[i+1:]), "/")
			r := byName[key]
			if r == nil {
				r = &microRow{name: key, median: map[string]map[string]float64{}}
				byName[key] = r
			}
			r.median[strings.ToLower(v)] = map[string]float64{}
			for unit, xs := range units {
				r.median[strings.ToLower(v)][unit] = median(xs)
			}
			break
		}
	}
	var rows []microRow
	for _, r := range byName {
		if r.median["kit"] != nil && (r.median["naive"] != nil || r.median["naive_metered"] != nil || r.median["plain"] != nil) {
			rows = append(rows, *r)
		}
	}
	slices.SortFunc(rows, func(a, b microRow) int { return strings.Compare(a.name, b.name) })
	return rows
}

// ratio is kit/other for unit, and whether both were measured.
func (r microRow) ratio(other, unit string) (float64, bool) {
	k, ok1 := r.median["kit"][unit]
	o, ok2 := r.median[other][unit]
	if !ok1 || !ok2 || o == 0 {
		return 0, false
	}
	return k / o, true
}

func microReport(rows []microRow, benchstat string, g goals) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Micro-benchmarks\n\n%s\n\n", machine())
	b.WriteString("Written by `make bench`: `go test -run '^$' -bench 'BenchmarkMiddleware|BenchmarkLogRecord' " +
		"-benchmem -count 6 ./telemetry/` into bench/micro.txt, summarised by benchstat. " +
		"kit is the kit's code, naive the hand-made instrumentation of the tutorials, naive_metered the same recording the metrics the kit records, " +
		"plain (logs) and bare (HTTP) no telemetry at all.\n\n")
	fmt.Fprintf(&b, "Goals (medians): middleware kit/naive_metered ≤ %.2f in ns/op and allocs/op; log record kit/plain ≤ %.2f in ns/op "+
		"with at most %.0f allocations more (`make bench MICRO_GOAL_METERED=… MICRO_GOAL_PLAIN=… MICRO_GOAL_EXTRA_ALLOCS=…`).\n\n",
		g.metered, g.plain, g.extraAllocs)
	if len(rows) == 0 {
		b.WriteString("**No benchmark with kit and naive, naive_metered or plain variants found in bench/micro.txt.**\n")
	} else {
		b.WriteString(issueGoals(rows, g))
		b.WriteString("| benchmark | kit | kit/naive | kit/naive_metered | | kit/plain | | kit B/op, allocs/op |\n|---|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %.1f ns/op | %s | %s | %s | %s | %s | %.0f B, %.0f allocs |\n", r.name, r.median["kit"]["ns/op"],
				ratioCell(r, "naive"), ratioCell(r, "naive_metered"), goalCell(r, "naive_metered", g.metered),
				ratioCell(r, "plain"), goalCell(r, "plain", g.plain), r.median["kit"]["B/op"], r.median["kit"]["allocs/op"])
		}
	}
	if benchstat = strings.TrimSpace(benchstat); benchstat != "" {
		b.WriteString("\nbenchstat:\n\n```\n" + benchstat + "\n```\n")
	}
	return b.String()
}

func ratioCell(r microRow, other string) string {
	x, ok := r.ratio(other, "ns/op")
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.3f× (%.1f ns/op)", x, r.median[other]["ns/op"])
}

func goalCell(r microRow, other string, limit float64) string {
	x, ok := r.ratio(other, "ns/op")
	if !ok {
		return ""
	}
	return verdict(x <= limit)
}

// issueGoals judges the goals: the middleware at most g.metered× naive_metered
// in ns/op and in allocs/op, the log record at most g.plain× plain in ns/op
// and with at most g.extraAllocs allocations more than plain.
func issueGoals(rows []microRow, g goals) string {
	var b strings.Builder
	b.WriteString("| goal | measured | |\n|---|---|---|\n")
	for _, r := range rows {
		switch {
		case strings.HasPrefix(r.name, "BenchmarkMiddleware"):
			for _, unit := range []string{"ns/op", "allocs/op"} {
				if x, ok := r.ratio("naive_metered", unit); ok {
					fmt.Fprintf(&b, "| middleware kit ≤ %.2f× naive_metered in %s | %.3f× (%.0f vs %.0f) | %s |\n",
						g.metered, unit, x, r.median["kit"][unit], r.median["naive_metered"][unit], verdict(x <= g.metered))
				}
			}
		case strings.HasPrefix(r.name, "BenchmarkLogRecord"):
			if x, ok := r.ratio("plain", "ns/op"); ok {
				fmt.Fprintf(&b, "| log record kit ≤ %.2f× plain in ns/op | %.3f× (%.0f vs %.0f ns) | %s |\n",
					g.plain, x, r.median["kit"]["ns/op"], r.median["plain"]["ns/op"], verdict(x <= g.plain))
			}
			if k, p := r.median["kit"]["allocs/op"], r.median["plain"]["allocs/op"]; r.median["plain"] != nil {
				fmt.Fprintf(&b, "| log record kit: at most %.0f allocations more than plain | %.0f vs %.0f allocs/op | %s |\n",
					g.extraAllocs, k, p, verdict(k <= p+g.extraAllocs))
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}
