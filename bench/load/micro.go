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
// code; naive_full, the tutorials' composition of the same signals through
// the same libraries, which the goals compare the kit with; the tutorials'
// instrumentation without (naive) and with (naive_metered) the metrics the
// kit records; and no observability (plain for logs, bare for HTTP).
var variants = []string{"kit", "naive_full", "naive", "naive_metered", "plain", "bare"}

// goals are the micro-benchmark goals (make/bench.mk MICRO_GOAL_*), all
// against naive_full.
type goals struct {
	middleware  float64 // middleware kit/naive_full, ns/op
	extraAllocs float64 // middleware allocs/op the kit may add to naive_full's
	log         float64 // log record kit/naive_full, ns/op
}

// runMicro writes the micro section of the results file from `go test
// -bench` output and benchstat's summary of it.
func runMicro(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("load micro", flag.ContinueOnError)
	in := fs.String("in", "bench/micro.txt", "`go test -bench` output")
	stat := fs.String("benchstat", "", "benchstat's output for -in")
	results := fs.String("results", "bench/RESULTS.md", "markdown file whose micro section is rewritten")
	var g goals
	fs.Float64Var(&g.middleware, "goal-middleware", 1.15, "middleware kit/naive_full ns/op ratio at or under which the goal is met")
	fs.Float64Var(&g.extraAllocs, "goal-extra-allocs", 6, "allocations per request the middleware may make beyond naive_full")
	fs.Float64Var(&g.log, "goal-log", 1.2, "log record kit/naive_full ns/op ratio at or under which the goal is met")
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
		return fmt.Errorf("%s: no benchmark with kit and another variant", *in)
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
		if r.median["kit"] != nil && len(r.median) > 1 {
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
		"kit is the kit's code (spans through an exporter of the environment, the log bridge on); naive_full the tutorials' " +
		"composition of the same signals through the same libraries (otelhttp with SDK tracer and meter, a JSON access line " +
		"with the trace IDs through slog.NewMultiHandler and the otelslog bridge, every exporter discarding); naive and " +
		"naive_metered the tutorials' instrumentation without and with otelhttp's metrics; plain (logs) and bare (HTTP) no " +
		"telemetry at all.\n\n")
	fmt.Fprintf(&b, "Goals (medians, against naive_full): middleware ≤ %.2f× in ns/op and at most %.0f allocations more; "+
		"log record ≤ %.2f× in ns/op (`make bench MICRO_GOAL_MIDDLEWARE=… MICRO_GOAL_EXTRA_ALLOCS=… MICRO_GOAL_LOG=…`).\n\n",
		g.middleware, g.extraAllocs, g.log)
	if len(rows) == 0 {
		b.WriteString("**No benchmark with kit and another variant found in bench/micro.txt.**\n")
	} else {
		b.WriteString(issueGoals(rows, g))
		b.WriteString("| benchmark | kit | kit/naive_full | kit/naive_metered | kit/plain | kit B/op, allocs/op |\n|---|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %.1f ns/op | %s | %s | %s | %.0f B, %.0f allocs |\n", r.name, r.median["kit"]["ns/op"],
				ratioCell(r, "naive_full"), ratioCell(r, "naive_metered"), ratioCell(r, "plain"),
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

// issueGoals judges the goals against naive_full: the middleware at most
// g.middleware× in ns/op with at most g.extraAllocs allocations more, the log
// record at most g.log× in ns/op.
func issueGoals(rows []microRow, g goals) string {
	var b strings.Builder
	b.WriteString("| goal | measured | |\n|---|---|---|\n")
	for _, r := range rows {
		if r.median["naive_full"] == nil {
			continue
		}
		k, n := r.median["kit"], r.median["naive_full"]
		switch {
		case strings.HasPrefix(r.name, "BenchmarkMiddleware"):
			if x, ok := r.ratio("naive_full", "ns/op"); ok {
				fmt.Fprintf(&b, "| middleware kit ≤ %.2f× naive_full in ns/op | %.3f× (%.0f vs %.0f) | %s |\n",
					g.middleware, x, k["ns/op"], n["ns/op"], verdict(x <= g.middleware))
			}
			fmt.Fprintf(&b, "| middleware kit: at most %.0f allocations more than naive_full | %.0f vs %.0f allocs/op | %s |\n",
				g.extraAllocs, k["allocs/op"], n["allocs/op"], verdict(k["allocs/op"] <= n["allocs/op"]+g.extraAllocs))
		case strings.HasPrefix(r.name, "BenchmarkLogRecord"):
			if x, ok := r.ratio("naive_full", "ns/op"); ok {
				fmt.Fprintf(&b, "| log record kit ≤ %.2f× naive_full in ns/op | %.3f× (%.0f vs %.0f ns) | %s |\n",
					g.log, x, k["ns/op"], n["ns/op"], verdict(x <= g.log))
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}
