package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// `load collector-tiers` sizes the two collector tiers of
// collector/gateway.yaml and collector/sampler.yaml: the spans per second
// each sustains, per core of CPU time, its RSS at that rate, and what the
// sampler's memory_limiter does when more traces wait for a decision than
// it may hold. telemetrygen offers the load; the shipped files run
// unchanged, their addresses set through their environment variables.

// tierScenarios run by default, in this order.
var tierScenarios = []string{"gateway", "sampler", "memory_limiter"}

// shippedDecisionWait is sampler.yaml's default tail_sampling decision_wait:
// a step is over once the sampler has decided on every trace of it.
const shippedDecisionWait = 10 * time.Second

// gatewaySamplerWait is the decision_wait of the sampler behind the
// measured gateway: one sampler holds what one gateway sends for this long
// instead of 10 s, so that its memory_limiter does not refuse first (in
// production one gateway feeds several samplers).
const gatewaySamplerWait = 2 * time.Second

// drainTimeout bounds the wait after a step's load for what is left to
// pass through.
const drainTimeout = shippedDecisionWait + 10*time.Second

// tiersOptions are the flags of `load collector-tiers`.
type tiersOptions struct {
	otelcol, telemetrygen, results string
	only                           string
	step                           time.Duration
	start, max                     int
	repeats                        int
	clients, workerRate            int
	childSpans, batchSize          int
	limitMiB, spikeMiB             int
	overload                       time.Duration
	overloadRate                   int
	decisionWait                   time.Duration
}

func runTiers(ctx context.Context, args []string, stdout io.Writer) error {
	var o tiersOptions
	fs := flag.NewFlagSet("collector-tiers", flag.ContinueOnError)
	fs.StringVar(&o.otelcol, "otelcol", "bin/otelcol", "the collector built by `make collector`")
	fs.StringVar(&o.telemetrygen, "telemetrygen", "bin/telemetrygen", "the load generator (`make bin/telemetrygen`)")
	fs.StringVar(&o.results, "results", "bench/RESULTS.md", "markdown file whose tiers section is rewritten")
	fs.StringVar(&o.only, "only", strings.Join(tierScenarios, ","), "comma-separated scenarios to run")
	fs.DurationVar(&o.step, "step", 10*time.Second, "how long telemetrygen runs at each offered rate")
	fs.IntVar(&o.start, "start", 2500, "first offered rate, spans/s; each step that keeps up doubles it")
	fs.IntVar(&o.max, "max", 80000, "highest offered rate, spans/s")
	fs.IntVar(&o.repeats, "repeats", 2, "extra runs at the highest rate that kept up, to show the variance")
	fs.IntVar(&o.clients, "clients", 4, "telemetrygen processes (the offered rate is split between them)")
	fs.IntVar(&o.workerRate, "worker-rate", 500, "most spans/s per telemetrygen worker (more are started for higher rates)")
	fs.IntVar(&o.childSpans, "child-spans", 4, "child spans per trace (a trace has 1 + this many spans)")
	fs.IntVar(&o.batchSize, "batch-size", 512, "spans per telemetrygen export (the Go SDK's default batch)")
	fs.IntVar(&o.limitMiB, "limit-mib", 64, "OTELCOL_MEMORY_LIMIT_MIB of the memory_limiter scenario")
	fs.IntVar(&o.spikeMiB, "spike-mib", 20, "OTELCOL_MEMORY_SPIKE_LIMIT_MIB of the memory_limiter scenario")
	fs.DurationVar(&o.overload, "overload", 45*time.Second, "load time of the memory_limiter scenario")
	fs.IntVar(&o.overloadRate, "overload-rate", 10000, "offered spans/s of the memory_limiter scenario")
	fs.DurationVar(&o.decisionWait, "decision-wait", 30*time.Second, "OTELCOL_TAIL_DECISION_WAIT of the memory_limiter scenario (traces pile up)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range strings.Split(o.only, ",") {
		if !slices.Contains(tierScenarios, s) {
			return fmt.Errorf("-only: unknown scenario %q (have %s)", s, strings.Join(tierScenarios, ", "))
		}
	}
	if o.step <= 0 || o.overload <= 0 || o.start < 1 || o.max < o.start || o.repeats < 0 || o.clients < 1 || o.workerRate < 1 ||
		o.childSpans < 0 || o.batchSize < 1 || o.limitMiB <= o.spikeMiB || o.spikeMiB < 1 || o.overloadRate < 1 {
		return errors.New("-step, -overload, -start, -clients, -worker-rate, -batch-size, -spike-mib and -overload-rate must be positive, " +
			"-max at least -start, -limit-mib above -spike-mib")
	}
	for _, f := range []string{"collector/gateway.yaml", "collector/sampler.yaml"} {
		if _, err := os.Stat(f); err != nil {
			return errors.New("run from the repository root (make load-collector)")
		}
	}
	for _, bin := range []string{o.otelcol, o.telemetrygen} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("%s: %w (make load-collector builds it)", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "otelstarter-tiers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	t := &tiers{o: o, dir: dir}
	report := t.run(ctx)
	return publish(stdout, o.results, "tiers", report, t.failed)
}

// tiers runs the scenarios, each with processes of its own.
type tiers struct {
	o      tiersOptions
	dir    string
	failed []string
	runs   int // processes started, for unique log file names
}

func (t *tiers) run(ctx context.Context) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Collector tiers\n\n%s\n\n", machine())
	fmt.Fprintf(&b, "Written by `make load-collector` (`go run ./bench/load %s`). "+
		"bin/otelcol runs the shipped collector/gateway.yaml and collector/sampler.yaml unchanged, on loopback ports set "+
		"through their environment variables. Downstream of the sampler a collector discarding everything (the file "+
		"exporter to /dev/null) stands in for Tempo and Loki; the gateway's Prometheus remote write goes to a handler "+
		"that answers 204; the gateway finds its one sampler through DNS (`OTELCOL_SAMPLER_HOSTNAME=localhost`).\n\n",
		strings.TrimSpace("collector-tiers "+strings.Join(os.Args[2:], " ")))
	fmt.Fprintf(&b, "Load: `telemetrygen traces` over OTLP/gRPC from %d processes, as from that many apps (each exports "+
		"one batch at a time, as an SDK does), with as many workers as keep each under %d spans/s (its rate limiter "+
		"falls behind above that), traces of %d spans (`--child-spans %d`), "+
		"%d spans per export (`--batch-size %d`), every span with %s.\n",
		t.o.clients, t.o.workerRate, t.o.childSpans+1, t.o.childSpans, t.o.batchSize, t.o.batchSize, describeAttributes())
	steps := []scenario{
		{"gateway", "Gateway: telemetrygen → gateway → sampler → sink", t.gateway},
		{"sampler", "Sampler: telemetrygen → sampler → sink", t.sampler},
		{"memory_limiter", "Sampler above its memory limit", t.memoryLimiter},
	}
	t.failed = append(t.failed, runScenarios(ctx, &b, t.o.only, steps)...)
	return b.String()
}

// spanAttributes are set on every generated span: what an HTTP server span
// of the app carries, so that transform/redact's patterns have string
// values to scan and span_metrics its dimensions.
var spanAttributes = []string{
	`http.request.method="GET"`,
	`http.route="/api/posts/{id}"`,
	`url.path="/api/posts/42"`,
	`http.response.status_code=200`,
	`server.address="blog-api.example.com"`,
	`user_agent.original="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36"`,
}

func describeAttributes() string {
	keys := make([]string, len(spanAttributes))
	for i, a := range spanAttributes {
		keys[i], _, _ = strings.Cut(a, "=")
	}
	return fmt.Sprintf("%d attributes (%s)", len(keys), strings.Join(keys, ", "))
}

// tierCol is bin/otelcol running one of the shipped files on free loopback
// ports.
type tierCol struct {
	proc    *process
	grpc    string // the OTLP/gRPC receiver
	health  string
	metrics string // its own /metrics
}

// startTier runs bin --config config with the listen addresses set and env
// after them, and waits until it is healthy.
func (t *tiers) startTier(ctx context.Context, name, config string, env ...string) (*tierCol, error) {
	addrs, err := freeAddrs(4)
	if err != nil {
		return nil, err
	}
	c := &tierCol{grpc: addrs[0], health: addrs[2], metrics: addrs[3]}
	_, port, _ := net.SplitHostPort(c.metrics)
	t.runs++
	c.proc, err = startProcess(name, t.o.otelcol, append([]string{
		"OTELCOL_OTLP_GRPC_ENDPOINT=" + c.grpc,
		"OTELCOL_OTLP_HTTP_ENDPOINT=" + addrs[1],
		"OTELCOL_HEALTH_ENDPOINT=" + c.health,
		"OTELCOL_METRICS_HOST=127.0.0.1",
		"OTELCOL_METRICS_PORT=" + port,
		"OTELCOL_LOG_LEVEL=warn",
	}, env...), filepath.Join(t.dir, fmt.Sprintf("%02d-%s.log", t.runs, name)), "--config", config)
	if err != nil {
		return nil, err
	}
	for _, url := range []string{"http://" + c.health + "/", "http://" + c.metrics + "/metrics"} {
		if err := waitHTTP(ctx, c.proc, url, 50*time.Millisecond, 30*time.Second); err != nil {
			c.proc.Kill()
			return nil, err
		}
	}
	return c, nil
}

// colStats are the counters of a collector's own metrics the scenarios read.
type colStats struct {
	accepted float64 // spans, by the OTLP receiver
	// refused by the receiver: the memory_limiter's refusals reach it as
	// errors, counted as refused or as failed spans by the error's kind;
	// either way the client was told to send them again.
	refused      float64
	sent         float64 // spans, by the trace exporter
	onMemory     float64 // traces waiting for a tail_sampling decision
	droppedEarly float64 // traces tail_sampling evicted before deciding (num_traces)
	heap         float64 // Go heap in use, bytes
}

func (c *tierCol) stats(ctx context.Context) (colStats, error) {
	text, _, err := scrape(ctx, "http://"+c.metrics+"/metrics")
	if err != nil {
		return colStats{}, err
	}
	fams, err := testproc.ParseMetricsText(text)
	if err != nil {
		return colStats{}, err
	}
	sum := func(name string) float64 {
		v, _ := testproc.Sum(fams, name)
		return v
	}
	return colStats{
		accepted:     sum("otelcol_receiver_accepted_spans"),
		refused:      sum("otelcol_receiver_refused_spans") + sum("otelcol_receiver_failed_spans"),
		sent:         sum("otelcol_exporter_sent_spans"),
		onMemory:     sum("otelcol_processor_tail_sampling_sampling_traces_on_memory"),
		droppedEarly: sum("otelcol_processor_tail_sampling_sampling_trace_dropped_too_early"),
		heap:         sum("otelcol_process_runtime_heap_alloc_bytes"),
	}, nil
}

// cpu is the CPU time of a process so far; 0 once it has gone.
func cpu(p *process) time.Duration {
	d, _ := testproc.CPUTime(p.pid())
	return d
}

// discardWrites serves Prometheus remote write: every request is read and
// answered 204, as Prometheus does.
func discardWrites() (url string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String() + "/api/v1/write", func() { _ = srv.Close() }, nil
}

// stack is the processes of one scenario: the tier measured, the sampler
// (the same process when the sampler is measured), the sink behind it.
type stack struct {
	measured, sampler *tierCol
	sink              *collector
	idleRSS           int64 // of the measured tier once it is up
	stops             []func()
}

func (s *stack) stop() {
	for _, f := range slices.Backward(s.stops) {
		f()
	}
}

// downstream are the processes besides the measured one, for their CPU.
func (s *stack) downstream() []*process {
	ps := []*process{s.sink.proc}
	if s.sampler != s.measured {
		ps = append(ps, s.sampler.proc)
	}
	return ps
}

// startSampler starts the sink and the sampler in front of it.
func (t *tiers) startSampler(ctx context.Context, s *stack, env ...string) error {
	dir := filepath.Join(t.dir, fmt.Sprintf("sink-%d", t.runs))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sink, err := newCollector(t.o.otelcol, dir)
	if err != nil {
		return err
	}
	if err := sink.start(ctx); err != nil {
		return err
	}
	s.sink = sink
	s.stops = append(s.stops, sink.stop)
	s.sampler, err = t.startTier(ctx, "sampler", "collector/sampler.yaml", append([]string{
		"TEMPO_OTLP_ENDPOINT=" + sink.grpc,
		"LOKI_OTLP_ENDPOINT=" + sink.endpoint(),
	}, env...)...)
	if err != nil {
		return err
	}
	s.stops = append(s.stops, s.sampler.proc.stop)
	return nil
}

// samplerStack is the sampler measured alone, in front of the sink.
func (t *tiers) samplerStack(ctx context.Context) (*stack, error) {
	s := &stack{}
	if err := t.startSampler(ctx, s); err != nil {
		return s, err
	}
	s.measured = s.sampler
	return s, nil
}

// gatewayStack is the gateway measured, in front of a sampler and the
// sink, its Prometheus remote write discarded.
func (t *tiers) gatewayStack(ctx context.Context) (*stack, error) {
	s := &stack{}
	if err := t.startSampler(ctx, s, "OTELCOL_TAIL_DECISION_WAIT="+gatewaySamplerWait.String()); err != nil {
		return s, err
	}
	promURL, stopProm, err := discardWrites()
	if err != nil {
		return s, err
	}
	s.stops = append(s.stops, stopProm)
	_, samplerPort, _ := net.SplitHostPort(s.sampler.grpc)
	if s.measured, err = t.startTier(ctx, "gateway", "collector/gateway.yaml",
		"OTELCOL_SAMPLER_HOSTNAME=localhost",
		"OTELCOL_SAMPLER_PORT="+samplerPort,
		"PROMETHEUS_REMOTE_WRITE_ENDPOINT="+promURL,
	); err != nil {
		return s, err
	}
	s.stops = append(s.stops, s.measured.proc.stop)
	return s, nil
}

func (t *tiers) gateway(ctx context.Context) (string, error) {
	steps, err := t.climb(ctx, t.gatewayStack)
	return t.stepsReport("gateway", steps, 0, "The gateway's receiver counts each span once (both trace pipelines share it). "+
		"Kept up: every span telemetrygen made accepted, none refused, all of them accepted by the sampler within the drain. "+
		"Other CPU: the sampler and the sink, which share the cores. The sampler behind the gateway runs with "+
		"`OTELCOL_TAIL_DECISION_WAIT="+gatewaySamplerWait.String()+"`: at the shipped 10s the memory_limiter of a "+
		"single sampler refuses below the rates the gateway passes on (see the sampler below), and that would be measured "+
		"here instead of the gateway; in production one gateway feeds several samplers."), err
}

func (t *tiers) sampler(ctx context.Context) (string, error) {
	steps, err := t.climb(ctx, t.samplerStack)
	return t.stepsReport("sampler", steps, shippedDecisionWait, fmt.Sprintf("Shipped tail_sampling: decision_wait %s, num_traces 50000; "+
		"shipped memory_limiter: limit_mib 400, spike_limit_mib 100 (refuses above 300 MiB of heap). "+
		"Each step's CPU and RSS include the decisions on its traces (the step ends once no trace waits). "+
		"Kept up: every span made accepted, none refused, no trace evicted before its decision. Other CPU: the sink.",
		shippedDecisionWait)), err
}

// step is one offered rate held for the step's length against the measured
// tier, and what the tier made of it.
type step struct {
	offered           int // spans/s asked of telemetrygen
	load              time.Duration
	generated         float64 // spans telemetrygen made
	accepted, refused float64 // by the measured tier's receiver
	forwarded         float64 // accepted by the sampler behind the gateway
	droppedEarly      float64
	cpu               time.Duration // of the measured tier, load and drain
	genCPU, otherCPU  time.Duration // of telemetrygen, and of the processes downstream
	maxRSS, idleRSS   int64         // of the measured tier: during the step, just after it started
	why               string        // why the step did not keep up; "" when it did
}

func (st step) keptUp() bool { return st.why == "" }

// perCore is the accepted spans per second of CPU time of the tier.
func (st step) perCore() float64 {
	if st.cpu <= 0 {
		return 0
	}
	return st.accepted / st.cpu.Seconds()
}

// judge sets why from the counts: a tier keeps up when it accepts every
// span that was made (telemetrygen's SDK queue drops what an overloaded
// tier does not take in time), refuses none, passes them on, and the
// generator itself made nearly what was asked: when it cannot, the
// collectors have taken the CPU it needed.
func (st *step) judge(gateway bool) {
	var why []string
	if st.generated < 0.9*float64(st.offered)*st.load.Seconds() {
		why = append(why, fmt.Sprintf("telemetrygen made only %.0f spans/s", st.generated/st.load.Seconds()))
	}
	if st.accepted < 0.99*st.generated {
		why = append(why, fmt.Sprintf("%.1f %% of the spans not accepted", 100*(1-st.accepted/max(st.generated, 1))))
	}
	if st.refused > 0 {
		why = append(why, fmt.Sprintf("%.0f refused", st.refused))
	}
	if gateway && st.forwarded < 0.99*st.accepted {
		why = append(why, fmt.Sprintf("%.0f not forwarded", st.accepted-st.forwarded))
	}
	if st.droppedEarly > 0 {
		why = append(why, fmt.Sprintf("%.0f traces evicted before their decision", st.droppedEarly))
	}
	st.why = strings.Join(why, "; ")
}

// climb runs the steps chosen by a rateSearch, then repeats the highest
// rate that kept up. A step that did not keep up leaves the tier refusing
// or its queues full, which would spoil the next: the processes are
// started afresh after it.
func (t *tiers) climb(ctx context.Context, start func(context.Context) (*stack, error)) ([]step, error) {
	s, err := t.startStack(ctx, start)
	defer func() { s.stop() }()
	if err != nil {
		return nil, err
	}
	var steps []step
	// run measures one step at rate and restarts the processes after a
	// step that did not keep up.
	run := func(rate int) (bool, error) {
		st, err := t.runStep(ctx, s, rate)
		if err != nil {
			return false, err
		}
		steps = append(steps, st)
		if !st.keptUp() {
			s.stop()
			s, err = t.startStack(ctx, start)
		}
		return st.keptUp(), err
	}
	search := rateSearch{start: t.o.start, max: t.o.max}
	for rate := search.first(); rate > 0; {
		keptUp, err := run(rate)
		if err != nil {
			return steps, err
		}
		rate = search.next(rate, keptUp)
	}
	for i := 0; i < t.o.repeats && search.best > 0; i++ {
		if _, err := run(search.best); err != nil {
			return steps, err
		}
	}
	return steps, nil
}

// startStack starts a scenario's processes and notes the measured tier's
// RSS before any load.
func (t *tiers) startStack(ctx context.Context, start func(context.Context) (*stack, error)) (*stack, error) {
	s, err := start(ctx)
	if err != nil {
		return s, err
	}
	s.idleRSS, err = testproc.RSS(s.measured.proc.pid())
	return s, err
}

// rateSearch chooses the offered rates: doubling from start while each
// step keeps up, up to max; after the first that does not, once the
// geometric middle between it and the highest that did.
type rateSearch struct {
	start, max   int
	best, failed int // highest rate that kept up, lowest that did not
	refined      bool
}

func (r *rateSearch) first() int { return r.start }

// next records how the step at rate went and returns the next rate, 0 when
// the search is over.
func (r *rateSearch) next(rate int, keptUp bool) int {
	if keptUp {
		r.best = max(r.best, rate)
	} else if r.failed == 0 || rate < r.failed {
		r.failed = rate
	}
	switch {
	case r.failed == 0:
		if rate*2 > r.max {
			return 0
		}
		return rate * 2
	case r.best == 0 || r.refined:
		return 0
	}
	r.refined = true
	mid := int(math.Round(math.Sqrt(float64(r.best)*float64(r.failed))/100)) * 100
	if mid <= r.best || mid >= r.failed {
		return 0
	}
	return mid
}

// runStep offers rate spans/s for the step's length, then waits until the
// tiers behind the receiver have passed everything on, and returns what the
// measured tier did with it.
func (t *tiers) runStep(ctx context.Context, s *stack, rate int) (step, error) {
	st := step{offered: rate, load: t.o.step, idleRSS: s.idleRSS}
	before, err := s.measured.stats(ctx)
	if err != nil {
		return st, err
	}
	samplerBefore, err := s.sampler.stats(ctx)
	if err != nil {
		return st, err
	}
	others := s.downstream()
	cpu0 := cpu(s.measured.proc)
	var others0 time.Duration
	for _, p := range others {
		others0 += cpu(p)
	}
	rss := watchRSS(s.measured.proc.pid(), 250*time.Millisecond)
	gen, err := t.telemetrygen(ctx, s.measured.grpc, rate, t.o.step)
	if err != nil {
		rss()
		return st, err
	}
	st.generated, st.genCPU = gen.spans, gen.cpu

	// The drain: the gateway flushes its batches within a second; the
	// sampler decides on a trace decision_wait after its first span. The
	// step is over once the sampler has every span and has decided on all.
	var after, samplerAfter colStats
	deadline := time.Now().Add(drainTimeout)
	for {
		if err := errors.Join(s.measured.proc.Exited(), s.sampler.proc.Exited()); err != nil {
			rss()
			return st, err
		}
		if after, err = s.measured.stats(ctx); err == nil {
			samplerAfter, err = s.sampler.stats(ctx)
		}
		if err != nil {
			rss()
			return st, err
		}
		forwarded := samplerAfter.accepted - samplerBefore.accepted
		drained := samplerAfter.onMemory == 0 && (s.sampler == s.measured || forwarded >= after.accepted-before.accepted)
		if drained || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			rss()
			return st, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	st.maxRSS = rss()
	st.cpu = cpu(s.measured.proc) - cpu0
	for _, p := range others {
		st.otherCPU += cpu(p)
	}
	st.otherCPU -= others0
	st.accepted = after.accepted - before.accepted
	st.refused = after.refused - before.refused
	st.forwarded = samplerAfter.accepted - samplerBefore.accepted
	st.droppedEarly = samplerAfter.droppedEarly - samplerBefore.droppedEarly
	st.judge(s.sampler != s.measured)
	logf("%s: %.0f of %.0f spans accepted, %.0f refused, %.0f spans per CPU second; kept up: %t %s",
		s.measured.proc.Name, st.accepted, st.generated, st.refused, st.perCore(), st.keptUp(), st.why)
	return st, nil
}

// watchRSS samples the RSS of pid every interval until the returned
// function is called; that returns the largest seen.
func watchRSS(pid int, every time.Duration) func() int64 {
	done, result := make(chan struct{}), make(chan int64)
	go func() {
		var peak int64
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if rss, err := testproc.RSS(pid); err == nil {
				peak = max(peak, rss)
			}
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-result
	}
}

// spanLoad is the telemetrygen processes offering one rate together, like
// that many apps: each exports one batch at a time, as an SDK's batch
// processor does, so one process alone would be limited by the tier's
// latency rather than its CPU.
type spanLoad struct {
	procs      []*process
	childSpans int
}

// startLoad starts -clients telemetrygen processes that together offer
// rate spans/s to the OTLP/gRPC receiver at endpoint for d.
func (t *tiers) startLoad(endpoint string, rate int, d time.Duration) (*spanLoad, error) {
	clients := min(t.o.clients, rate)
	perClient := float64(rate) / float64(clients)
	workers := int(math.Ceil(perClient / float64(t.o.workerRate)))
	args := []string{"traces",
		"--otlp-insecure", "--otlp-endpoint", endpoint,
		// --rate is per worker and counts spans.
		"--rate", strconv.FormatFloat(perClient/float64(workers), 'f', -1, 64),
		"--workers", strconv.Itoa(workers),
		"--duration", d.String(),
		"--child-spans", strconv.Itoa(t.o.childSpans),
		"--batch-size", strconv.Itoa(t.o.batchSize),
		"--service", "blog-api",
		// Refused exports are what the memory_limiter scenario provokes.
		"--allow-export-failures",
	}
	for _, a := range spanAttributes {
		args = append(args, "--telemetry-attributes", a)
	}
	logf("telemetrygen: %d spans/s from %d processes of %d workers for %s", rate, clients, workers, d)
	l := &spanLoad{childSpans: t.o.childSpans}
	for i := range clients {
		t.runs++
		p, err := startProcess(fmt.Sprintf("telemetrygen %d", i+1), t.o.telemetrygen, nil,
			filepath.Join(t.dir, fmt.Sprintf("%02d-telemetrygen.log", t.runs)), args...)
		if err != nil {
			l.kill()
			return nil, err
		}
		l.procs = append(l.procs, p)
	}
	return l, nil
}

// done reports whether every process has exited.
func (l *spanLoad) done() bool {
	for _, p := range l.procs {
		select {
		case <-p.Done():
		default:
			return false
		}
	}
	return true
}

func (l *spanLoad) kill() {
	for _, p := range l.procs {
		p.Kill()
	}
}

// generated is what telemetrygen made and the CPU it took.
type generated struct {
	spans float64
	cpu   time.Duration
}

// wait waits up to timeout for every process to flush and exit, and adds
// up what they report.
func (l *spanLoad) wait(ctx context.Context, timeout time.Duration) (generated, error) {
	deadline := time.After(timeout)
	var g generated
	for _, p := range l.procs {
		select {
		case <-p.Done():
		case <-ctx.Done():
			l.kill()
			return g, ctx.Err()
		case <-deadline:
			l.kill()
			return g, fmt.Errorf("%s still running after %s:\n%s", p.Name, timeout, p.tail(2000))
		}
		if err := p.Err(); err != nil {
			return g, fmt.Errorf("%s: %w\n%s", p.Name, err, p.tail(2000))
		}
		traces, err := tracesGenerated(p.tail(1 << 20))
		if err != nil {
			return g, err
		}
		ps := p.Cmd.ProcessState
		g.spans += traces * float64(l.childSpans+1)
		g.cpu += ps.UserTime() + ps.SystemTime()
	}
	return g, nil
}

// telemetrygen offers rate spans/s to endpoint for d and waits for the
// processes to flush (their SDK gives up after --timeout, 10 s) and exit.
func (t *tiers) telemetrygen(ctx context.Context, endpoint string, rate int, d time.Duration) (generated, error) {
	l, err := t.startLoad(endpoint, rate, d)
	if err != nil {
		return generated{}, err
	}
	return l.wait(ctx, d+30*time.Second)
}

// tracesGeneratedLine is what each telemetrygen worker logs at its end.
var tracesGeneratedLine = regexp.MustCompile(`traces generated\s+\{"worker": \d+, "traces": (\d+)\}`)

// tracesGenerated adds up the traces telemetrygen's workers report.
func tracesGenerated(output string) (float64, error) {
	ms := tracesGeneratedLine.FindAllStringSubmatch(output, -1)
	if len(ms) == 0 {
		return 0, fmt.Errorf("telemetrygen reported no \"traces generated\":\n%s", testproc.Tail(output, 2000))
	}
	var n float64
	for _, m := range ms {
		v, _ := strconv.ParseFloat(m[1], 64)
		n += v
	}
	return n, nil
}

// stepsReport renders a tier's steps and its figures: the highest offered
// rate it kept up with, its spans per core and RSS there. held is how long
// the tier keeps a span (the sampler's decision_wait; 0 for the gateway),
// to tell the RSS each waiting span costs.
func (t *tiers) stepsReport(tier string, steps []step, held time.Duration, note string) string {
	var b strings.Builder
	best := 0
	for _, st := range steps {
		if st.keptUp() {
			best = max(best, st.offered)
		}
	}
	if best > 0 {
		var perCore, perSpan []float64
		var rss []int64
		runs := 0
		for _, st := range steps {
			if st.offered != best {
				continue
			}
			runs++
			if st.keptUp() {
				perCore = append(perCore, st.perCore())
				rss = append(rss, st.maxRSS)
				if waiting := min(st.accepted, st.accepted/st.load.Seconds()*held.Seconds()); waiting > 0 {
					perSpan = append(perSpan, float64(st.maxRSS-st.idleRSS)/waiting)
				}
			}
		}
		fmt.Fprintf(&b, "**The %s kept up with %d spans/s** (the highest rate tried that it kept up with; %d of %d runs there): "+
			"**%.0f spans/s per core** of its CPU time (median, %.0f–%.0f), so %.2f cores at that rate; RSS up to **%s** there "+
			"(%s idle).", tier, best, len(perCore), runs, median(perCore), slices.Min(perCore), slices.Max(perCore),
			float64(best)/median(perCore), mib(slices.Max(rss)), mib(steps[0].idleRSS))
		if len(perSpan) > 0 {
			fmt.Fprintf(&b, " That is about **%.1f KiB of RSS per span waiting for its decision**: a sampler needs "+
				"roughly its idle RSS + spans/s × decision_wait × %.1f KiB, and its memory_limiter's limit_mib above that.",
				median(perSpan)/1024, median(perSpan)/1024)
		}
		b.WriteString("\n\n")
	} else if len(steps) > 0 {
		fmt.Fprintf(&b, "**The %s kept up with none of the rates tried** (from %d spans/s).\n\n", tier, steps[0].offered)
	}
	b.WriteString("| offered spans/s | made | accepted | refused | kept up | CPU | spans/s per core | max RSS | telemetrygen CPU | other CPU |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, st := range steps {
		kept := "yes"
		if !st.keptUp() {
			kept = "no: " + st.why
		}
		fmt.Fprintf(&b, "| %d | %.0f | %.0f | %.0f | %s | %.2f s | %.0f | %s | %.2f s | %.2f s |\n",
			st.offered, st.generated, st.accepted, st.refused, kept, st.cpu.Seconds(), st.perCore(), mib(st.maxRSS),
			st.genCPU.Seconds(), st.otherCPU.Seconds())
	}
	fmt.Fprintf(&b, "\nEach step: telemetrygen for %s, then until everything is passed on (at most %s). CPU is user + system "+
		"from /proc over the step; spans/s per core = accepted spans / CPU seconds. %s\n",
		t.o.step, drainTimeout, note)
	return b.String()
}

// limiterSample is the sampler's state at one moment of the overload.
type limiterSample struct {
	at    time.Duration
	rss   int64
	stats colStats
}

// memoryLimiter runs the sampler with a small memory limit and a long
// decision_wait, so that traces pile up beyond the limit, and records
// what it refuses, its RSS, and whether it lives through it.
func (t *tiers) memoryLimiter(ctx context.Context) (string, error) {
	s := &stack{}
	defer s.stop()
	if err := t.startSampler(ctx, s,
		"OTELCOL_MEMORY_LIMIT_MIB="+strconv.Itoa(t.o.limitMiB),
		"OTELCOL_MEMORY_SPIKE_LIMIT_MIB="+strconv.Itoa(t.o.spikeMiB),
		"OTELCOL_TAIL_DECISION_WAIT="+t.o.decisionWait.String(),
	); err != nil {
		return "", err
	}
	sampler := s.sampler
	logf("sampler: %d spans/s for %s with limit_mib %d", t.o.overloadRate, t.o.overload, t.o.limitMiB)
	gen, err := t.startLoad(sampler.grpc, t.o.overloadRate, t.o.overload)
	if err != nil {
		return "", err
	}
	defer gen.kill()
	var samples []limiterSample
	t0 := time.Now()
	const every, after = 2 * time.Second, 6 * time.Second
	var loadEnd time.Duration // when telemetrygen exited
	for {
		if err := sampler.proc.Exited(); err != nil {
			return limiterReport(t.o, samples, loadEnd, false, 0), err
		}
		st, err := sampler.stats(ctx)
		if err != nil {
			return limiterReport(t.o, samples, loadEnd, false, 0), err
		}
		rss, _ := testproc.RSS(sampler.proc.pid())
		samples = append(samples, limiterSample{at: time.Since(t0), rss: rss, stats: st})
		if loadEnd == 0 && gen.done() {
			loadEnd = time.Since(t0)
		}
		if loadEnd > 0 && time.Since(t0) > loadEnd+after {
			break
		}
		select {
		case <-ctx.Done():
			return limiterReport(t.o, samples, loadEnd, false, 0), ctx.Err()
		case <-time.After(every):
		}
	}
	alive := sampler.proc.Exited() == nil && testproc.HTTPOK("http://"+sampler.health+"/") == nil
	made, err := gen.wait(ctx, time.Second)
	return limiterReport(t.o, samples, loadEnd, alive, made.spans), err
}

// limiterReport renders the memory_limiter scenario; made is how many spans
// telemetrygen made (0 when not known).
func limiterReport(o tiersOptions, samples []limiterSample, loadEnd time.Duration, alive bool, made float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The sampler alone with `OTELCOL_MEMORY_LIMIT_MIB=%d OTELCOL_MEMORY_SPIKE_LIMIT_MIB=%d` "+
		"(the memory_limiter refuses above %d MiB of heap, forces a GC above %d MiB) and `OTELCOL_TAIL_DECISION_WAIT=%s`, "+
		"so traces wait %s for their decision: telemetrygen offers %d spans/s for %s, more than that much memory can hold. "+
		"Sampled every %s from its /metrics (heap: `otelcol_process_runtime_heap_alloc_bytes`) and /proc (RSS).\n\n",
		o.limitMiB, o.spikeMiB, o.limitMiB-o.spikeMiB, o.limitMiB, o.decisionWait, o.decisionWait,
		o.overloadRate, o.overload, 2*time.Second)
	if len(samples) == 0 {
		return b.String()
	}
	first, last := samples[0].stats, samples[len(samples)-1].stats
	var peakRSS int64
	var peakHeap float64
	for _, s := range samples {
		peakRSS, peakHeap = max(peakRSS, s.rss), max(peakHeap, s.stats.heap)
	}
	accepted, refused := last.accepted-first.accepted, last.refused-first.refused
	state := "dead or unhealthy"
	if alive {
		state = "alive, health check 200"
	}
	b.WriteString(goalTable([]goal{
		{"refuses spans above the limit", fmt.Sprintf("%.0f refused, %.0f accepted", refused, accepted), refused > 0},
		{"no OOM: alive and healthy after the load", state, alive},
	}))
	fmt.Fprintf(&b, "\nRSS at most **%s** against limit_mib %d (heap at most %s); %.0f traces evicted before their decision "+
		"(num_traces 50000).", mib(peakRSS), o.limitMiB, mib(int64(peakHeap)), last.droppedEarly-first.droppedEarly)
	if made > 0 {
		fmt.Fprintf(&b, " telemetrygen made %.0f spans: %.0f were neither accepted nor refused, because after a refusal its "+
			"OTLP exporter backs off and retries the same batch, and its SDK's queue drops what is made meanwhile "+
			"(as the Go SDK in the app does).", made, made-accepted-refused)
	}
	b.WriteString("\n\n")
	b.WriteString("| t | RSS | heap | accepted | refused | traces waiting | evicted early |\n|---|---|---|---|---|---|---|\n")
	for _, s := range samples {
		phase := ""
		if loadEnd > 0 && s.at > loadEnd {
			phase = " (load over)"
		}
		fmt.Fprintf(&b, "| %s%s | %s | %s | %.0f | %.0f | %.0f | %.0f |\n", s.at.Round(time.Second), phase, mib(s.rss),
			mib(int64(s.stats.heap)), s.stats.accepted-first.accepted, s.stats.refused-first.refused, s.stats.onMemory,
			s.stats.droppedEarly-first.droppedEarly)
	}
	return b.String()
}
