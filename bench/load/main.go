// Command load measures what observability costs the real app: throughput
// and latency with telemetry exporting versus switched off, behaviour while
// the collector is unreachable, cold start, and the /metrics scrape and its
// cardinality. It writes the figures to the load section of
// bench/RESULTS.md. `load micro` turns the telemetry micro-benchmarks into
// the micro section of the same file; `load collector-tiers` sizes the
// gateway and sampler collectors (collector/gateway.yaml, sampler.yaml) into
// the tiers section.
//
// Run it from the repository root, through `make load` and `make bench`;
// bench/README.md says what each measurement needs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "micro":
		err = runMicro(os.Args[2:], os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == "collector-tiers":
		err = runTiers(ctx, os.Args[2:], os.Stdout)
	default:
		err = runLoad(ctx, os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// options are the load harness's flags.
type options struct {
	duration, warmup    time.Duration
	runs, workers       int
	outage, steady      time.Duration
	rate                int
	coldStarts          int
	flood, floodWorkers int
	only                string
	otelcol, results    string
	baseline            string
}

// scenarios run by default; "baseline" joins them when -baseline names a revision.
var scenarios = []string{"throughput", "outage", "coldstart", "metrics"}

func runLoad(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each throughput run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each throughput run")
	fs.IntVar(&o.runs, "runs", 2, "throughput runs per variant (alternating telemetry on, off)")
	fs.IntVar(&o.workers, "workers", 8, "concurrent keep-alive connections of the throughput runs")
	fs.DurationVar(&o.outage, "outage", 5*time.Minute, "how long the collector stays down")
	fs.DurationVar(&o.steady, "steady", time.Minute, "steady load before the outage and after the collector is back")
	fs.IntVar(&o.rate, "rate", 200, "requests per second of the outage test's open-loop load")
	fs.IntVar(&o.coldStarts, "coldstarts", 10, "cold starts to time")
	fs.IntVar(&o.flood, "flood", 100_000, "requests to unknown URLs in the cardinality test")
	fs.IntVar(&o.floodWorkers, "flood-workers", 16, "concurrency of those requests")
	fs.StringVar(&o.only, "only", strings.Join(scenarios, ","), "comma-separated scenarios to run")
	fs.StringVar(&o.otelcol, "otelcol", "bin/otelcol", "the collector built by `make collector`")
	fs.StringVar(&o.results, "results", "bench/RESULTS.md", "markdown file whose load section is rewritten")
	fs.StringVar(&o.baseline, "baseline", "", "a git revision whose app to compare CPU per request with (adds the baseline scenario)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	only := strings.Split(o.only, ",")
	if o.baseline != "" && !slices.Contains(only, "baseline") {
		only = append(only, "baseline")
		o.only = strings.Join(only, ",")
	}
	for _, s := range only {
		if !slices.Contains(scenarios, s) && s != "baseline" {
			return fmt.Errorf("-only: unknown scenario %q (have %s, baseline)", s, strings.Join(scenarios, ", "))
		}
	}
	if slices.Contains(only, "baseline") && o.baseline == "" {
		return errors.New("-only baseline needs -baseline <git revision>")
	}
	if o.runs < 1 || o.workers < 1 || o.rate < 1 || o.coldStarts < 1 || o.floodWorkers < 1 {
		return errors.New("-runs, -workers, -rate, -coldstarts and -flood-workers must be positive")
	}
	if _, err := os.Stat("app/main.go"); err != nil {
		return errors.New("run from the repository root (make load)")
	}
	if _, err := os.Stat(o.otelcol); err != nil {
		return fmt.Errorf("%s: %w (build it with `make collector`)", o.otelcol, err)
	}
	h, err := newHarness(ctx, o)
	if h != nil {
		defer h.close()
	}
	if err != nil {
		return err
	}
	report := h.run(ctx)
	return publish(stdout, o.results, "load", report, h.failed)
}

// publish writes report as section of the results file and to stdout, and
// fails when a scenario did not complete.
func publish(stdout io.Writer, results, section, report string, failed []string) error {
	if err := writeSection(results, section, report); err != nil {
		return err
	}
	fmt.Fprintln(stdout, report)
	if len(failed) > 0 {
		return fmt.Errorf("%s did not complete (see the report)", strings.Join(failed, ", "))
	}
	return nil
}

// harness holds what every scenario shares: the built app, the databases
// and the collector.
type harness struct {
	o        options
	dir      string
	bin      string
	baseBin  string // the -baseline revision's app
	baseRev  string // and its abbreviated commit
	pgURL    string
	redisURL string
	col      *collector
	cleanups []func()
	failed   []string
	postID   int64
	seeded   bool
}

func newHarness(ctx context.Context, o options) (*harness, error) {
	h := &harness{o: o}
	dir, err := os.MkdirTemp("", "otelstarter-load-")
	if err != nil {
		return nil, err
	}
	h.dir = dir
	h.cleanups = append(h.cleanups, func() { os.RemoveAll(dir) })
	logf("building ./app into bin/app-bench")
	if h.bin, err = buildApp(ctx); err != nil {
		return h, err
	}
	if h.bin, err = filepath.Abs(h.bin); err != nil {
		return h, err
	}
	if o.baseline != "" {
		logf("building %s's ./app in a temporary git worktree", o.baseline)
		if h.baseBin, h.baseRev, err = buildBaseline(ctx, o.baseline, dir); err != nil {
			return h, err
		}
	}
	need := func(s string) bool { return strings.Contains(o.only, s) }
	if need("throughput") || need("outage") || need("metrics") || need("baseline") {
		pg, drop, err := postgresDB(ctx)
		if err != nil {
			return h, err
		}
		h.pgURL = pg
		h.cleanups = append(h.cleanups, drop)
		rd, flush, err := redisDB(ctx)
		if err != nil {
			return h, err
		}
		h.redisURL = rd
		h.cleanups = append(h.cleanups, flush)
		if h.col, err = newCollector(o.otelcol, dir); err != nil {
			return h, err
		}
		if err := h.col.start(ctx); err != nil {
			return h, err
		}
		h.cleanups = append(h.cleanups, h.col.stop)
	}
	return h, nil
}

func (h *harness) close() {
	for _, f := range slices.Backward(h.cleanups) {
		f()
	}
}

// run runs each chosen scenario and returns the markdown report.
func (h *harness) run(ctx context.Context) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Load and macro measurements\n\n%s\n\n", machine())
	fmt.Fprintf(&b, "Written by `make load` (`go run ./bench/load %s`). "+
		"The load generator runs on the same cores as the app: figures are comparable with each other, not with production.\n",
		strings.Join(os.Args[1:], " "))
	steps := []scenario{
		{"throughput", "1. Throughput and latency: telemetry exporting vs OTEL_SDK_DISABLED", h.throughput},
		{"outage", "2. Collector unreachable under steady load", h.outage},
		{"coldstart", "3. Cold start", h.coldStart},
		{"metrics", "4. /metrics scrape and cardinality", h.metrics},
		{"baseline", "5. App CPU per request: the working tree vs " + h.o.baseline, h.baselineCPU},
	}
	h.failed = append(h.failed, runScenarios(ctx, &b, h.o.only, steps)...)
	return b.String()
}

// scenario is one measurement of a report: its -only name, its heading,
// and what writes its section.
type scenario struct {
	name, title string
	f           func(context.Context) (string, error)
}

// runScenarios writes the section of each scenario named in only (a comma
// list) to b, and returns the names of those that did not complete.
func runScenarios(ctx context.Context, b *strings.Builder, only string, steps []scenario) (failed []string) {
	for _, s := range steps {
		if !slices.Contains(strings.Split(only, ","), s.name) {
			continue
		}
		fmt.Fprintf(b, "\n### %s\n\n", s.title)
		if ctx.Err() != nil {
			failed = append(failed, s.name)
			b.WriteString("Not run: interrupted.\n")
			continue
		}
		logf("scenario %s", s.name)
		body, err := s.f(ctx)
		b.WriteString(body)
		if err != nil {
			failed = append(failed, s.name)
			fmt.Fprintf(b, "\n**Did not complete:** %s\n", strings.ReplaceAll(err.Error(), "\n", "\n    "))
			logf("scenario %s: %v", s.name, err)
		}
	}
	return failed
}

// appEnv is the app's environment for PostgreSQL and Redis, with telemetry
// exporting OTLP to the collector, or switched off.
func (h *harness) appEnv(telemetry bool) []string {
	env := []string{
		"DATABASE_URL=" + h.pgURL,
		"REDIS_URL=" + h.redisURL,
		"OTEL_SERVICE_NAME=blog-api-bench",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + h.col.endpoint(),
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_LOGS_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=prometheus",
		"OTEL_TRACES_SAMPLER=parentbased_always_on",
		"BCRYPT_COST=4", // the seeding logins; no measured request hashes
	}
	if !telemetry {
		env = append(env, "OTEL_SDK_DISABLED=true")
	}
	return env
}

// startSeeded starts the app and, the first time, seeds a user and a post;
// it reads the post once so it is in the Redis cache.
func (h *harness) startSeeded(ctx context.Context, bin, name string, env []string) (*app, error) {
	a, err := startApp(ctx, bin, h.dir, name, 20*time.Millisecond, env)
	if err != nil {
		return nil, err
	}
	if !h.seeded {
		if _, h.postID, err = seed(ctx, a.url, "bench@example.com"); err != nil {
			a.proc.stop()
			return nil, fmt.Errorf("seed: %w", err)
		}
		h.seeded = true
	}
	if _, err := get(ctx, newClient(1), h.postURL(a), ""); err != nil {
		a.proc.stop()
		return nil, fmt.Errorf("GET the seeded post: %w", err)
	}
	return a, nil
}

func (h *harness) postURL(a *app) string { return fmt.Sprintf("%s/api/posts/%d", a.url, h.postID) }

// logf reports progress on stderr; the report goes to stdout.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s load: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// goal is one line of a scenario's goal table.
type goal struct {
	name, measured string
	met            bool
}

func goalTable(goals []goal) string {
	var b strings.Builder
	b.WriteString("| goal | measured | |\n|---|---|---|\n")
	for _, g := range goals {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", g.name, g.measured, verdict(g.met))
	}
	return b.String()
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
