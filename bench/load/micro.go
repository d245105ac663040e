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
// code, a naive implementation of the same thing, and no observability
// (plain for logs, bare for HTTP; kit/bare is not a goal).
var variants = []string{"kit", "naive", "plain", "bare"}

// runMicro writes the micro section of the results file from `go test
// -bench` output and benchstat's summary of it.
func runMicro(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("load micro", flag.ContinueOnError)
	in := fs.String("in", "bench/micro.txt", "`go test -bench` output")
	stat := fs.String("benchstat", "", "benchstat's output for -in")
	results := fs.String("results", "bench/RESULTS.md", "markdown file whose micro section is rewritten")
	goalNaive := fs.Float64("goal-naive", 0.5, "kit/naive ratio (ns/op and allocs/op) at or under which the goal is met")
	goalPlain := fs.Float64("goal-plain", 1.2, "kit/plain ns/op ratio at or under which the goal is met")
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
	body := microReport(rows, string(statOut), *goalNaive, *goalPlain)
	if err := writeSection(*results, "micro", body); err != nil {
		return err
	}
	fmt.Fprintln(stdout, body)
	if len(rows) == 0 {
		return fmt.Errorf("%s: no benchmark with kit and naive or plain variants", *in)
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
		if r.median["kit"] != nil && (r.median["naive"] != nil || r.median["plain"] != nil) {
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

func microReport(rows []microRow, benchstat string, goalNaive, goalPlain float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Micro-benchmarks\n\n%s\n\n", machine())
	b.WriteString("Written by `make bench`: `go test -run '^$' -bench 'BenchmarkMiddleware|BenchmarkLogRecord' " +
		"-benchmem -count 6 ./telemetry/` into bench/micro.txt, summarised by benchstat. " +
		"kit is the kit's code, naive the hand-made instrumentation of the tutorials, plain (logs) and bare (HTTP) no telemetry at all.\n\n")
	fmt.Fprintf(&b, "Goals (medians of ns/op): kit/naive ≤ %.2f, kit/plain ≤ %.2f "+
		"(`make bench MICRO_GOAL_NAIVE=… MICRO_GOAL_PLAIN=…`).\n\n", goalNaive, goalPlain)
	if len(rows) == 0 {
		b.WriteString("**No benchmark with kit and naive or plain variants found in bench/micro.txt.**\n")
	} else {
		b.WriteString(issueGoals(rows, goalNaive, goalPlain))
		b.WriteString("| benchmark | kit | kit/naive | | kit/plain | | kit B/op, allocs/op |\n|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %.1f ns/op | %s | %s | %s | %s | %.0f B, %.0f allocs |\n", r.name, r.median["kit"]["ns/op"],
				ratioCell(r, "naive"), goalCell(r, "naive", goalNaive), ratioCell(r, "plain"), goalCell(r, "plain", goalPlain),
				r.median["kit"]["B/op"], r.median["kit"]["allocs/op"])
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

// issueGoals judges the four goals of the performance issue: the middleware
// at most goalNaive× naive in ns/op and in allocs/op, the log record at most
// goalPlain× plain in ns/op and with no allocation more than plain.
func issueGoals(rows []microRow, goalNaive, goalPlain float64) string {
	var b strings.Builder
	b.WriteString("| goal | measured | |\n|---|---|---|\n")
	for _, r := range rows {
		switch {
		case strings.HasPrefix(r.name, "BenchmarkMiddleware"):
			for _, unit := range []string{"ns/op", "allocs/op"} {
				if x, ok := r.ratio("naive", unit); ok {
					fmt.Fprintf(&b, "| middleware kit ≤ %.2f× naive in %s | %.3f× (%.0f vs %.0f) | %s |\n",
						goalNaive, unit, x, r.median["kit"][unit], r.median["naive"][unit], verdict(x <= goalNaive))
				}
			}
		case strings.HasPrefix(r.name, "BenchmarkLogRecord"):
			if x, ok := r.ratio("plain", "ns/op"); ok {
				fmt.Fprintf(&b, "| log record kit ≤ %.2f× plain in ns/op | %.3f× (%.0f vs %.0f ns) | %s |\n",
					goalPlain, x, r.median["kit"]["ns/op"], r.median["plain"]["ns/op"], verdict(x <= goalPlain))
			}
			if k, p := r.median["kit"]["allocs/op"], r.median["plain"]["allocs/op"]; r.median["plain"] != nil {
				fmt.Fprintf(&b, "| log record kit: no extra allocation | %.0f vs %.0f allocs/op | %s |\n", k, p, verdict(k <= p))
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}
