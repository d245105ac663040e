package stacktest

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
)

// The two-tier topology of collector/gateway.yaml and collector/sampler.yaml,
// run live on loopback with the shipped files unchanged:
//
//	telemetrygen --> gateway --load_balancing, DNS "otel-sampler"--> sampler 127.0.0.2 --> sink 0
//	                                                             \-> sampler 127.0.0.3 --> sink 1
//
// The gateway's DNS resolver needs a name with one address per sampler, as a
// headless Service or a Compose service with replicas gives it. Here the
// gateway runs in a mount namespace of its own whose /etc/hosts maps
// otel-sampler to both samplers' addresses; nothing else differs from a
// cluster but the names.

const (
	samplerHost   = "otel-sampler"
	spansPerTrace = 4 // telemetrygen --child-spans 3: a root and three children
	// decisionWait is the samplers' OTELCOL_TAIL_DECISION_WAIT, short so the
	// test is quick; the policies are the shipped ones.
	decisionWait = 2 * time.Second
	// samplePercent is collector/sampler.yaml's default baseline share.
	samplePercent = 10
)

// tier is one sampler and the sink standing in for its Tempo and Loki.
type tier struct {
	addr     string // the sampler's OTLP/gRPC address, one of otel-sampler's
	env      []string
	sinkDir  string
	sampler  *testproc.Process
	bin, cfg string
}

// start starts the sampler again, on the ports of its first start.
func (s *tier) start(t *testing.T) {
	t.Helper()
	p, healthy := s.launch(t)
	testproc.WaitFor(t, "sampler "+s.addr+" health", 30*time.Second, healthy, p)
}

// launch starts the sampler with s.env and returns it with its health check.
func (s *tier) launch(t *testing.T) (*testproc.Process, func() error) {
	t.Helper()
	s.sampler = testproc.Start(t, "sampler "+s.addr, s.env, s.bin, "--config", s.cfg)
	health := envValue(s.env, "OTELCOL_HEALTH_ENDPOINT")
	return s.sampler, func() error { return testproc.HTTPOK("http://" + health + "/") }
}

// envValue returns the last value env gives key, as exec would.
func envValue(env []string, key string) string {
	for _, kv := range slices.Backward(env) {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// TestTwoTierCollector proves the property the gateway tier exists for:
// every trace reaches exactly one sampler, whole, so tail sampling sees it
// entire. Error and slow traces are all kept, the rest near the configured
// share, and traces stay whole and are not lost while a sampler restarts
// (the gateway queues them for that sampler and retries).
func TestTwoTierCollector(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five collectors; not with -short")
	}
	bin := testproc.Otelcol(t)
	telemetrygen := stackProgram(t, "telemetrygen")
	if out, err := exec.Command("unshare", "-m", "true").CombinedOutput(); err != nil {
		missing(t, "a private mount namespace (unshare -m, as root)",
			fmt.Sprintf("the gateway's DNS resolver is given its own /etc/hosts that way (%v: %s)", err, out))
	}

	// One port free on both sampler addresses: the DNS resolver has one port
	// for every address it resolves, as in a cluster.
	port := freePortOn(t, "127.0.0.2", "127.0.0.3")
	sink := testproc.RepoPath(t, "internal", "stacktest", "testdata", "sink.yaml")
	tiers := make([]*tier, 2)
	for i := range tiers {
		dir := filepath.Join(t.TempDir(), "sink"+strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// The collectors log neither their health port nor their metrics
		// port: ports picked in advance, anew when one was taken meanwhile.
		var sinkGRPC, sinkHTTP string
		testproc.StartOnFreePorts(t, "sink "+strconv.Itoa(i), 30*time.Second, func() (*testproc.Process, func() error) {
			var sinkHealth string
			sinkGRPC, sinkHTTP, sinkHealth = testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
			sp := testproc.Start(t, "sink "+strconv.Itoa(i), []string{
				"SINK_GRPC_ENDPOINT=" + sinkGRPC, "SINK_HTTP_ENDPOINT=" + sinkHTTP,
				"SINK_HEALTH_ENDPOINT=" + sinkHealth, "SINK_DIR=" + dir,
			}, bin, "--config", sink)
			return sp, func() error { return testproc.HTTPOK("http://" + sinkHealth + "/") }
		})

		// The OTLP/gRPC address stays: it is the one the gateway resolves.
		addr := net.JoinHostPort("127.0.0."+strconv.Itoa(2+i), port)
		tiers[i] = &tier{addr: addr, sinkDir: dir, bin: bin, cfg: testproc.RepoPath(t, "collector", "sampler.yaml")}
		tiers[i].sampler = testproc.StartOnFreePorts(t, "sampler "+addr, 30*time.Second, func() (*testproc.Process, func() error) {
			tiers[i].env = []string{
				"OTELCOL_OTLP_GRPC_ENDPOINT=" + addr,
				"OTELCOL_OTLP_HTTP_ENDPOINT=" + testenv.FreeAddr(t),
				"OTELCOL_HEALTH_ENDPOINT=" + testenv.FreeAddr(t),
				"OTELCOL_METRICS_HOST=127.0.0.1",
				"OTELCOL_METRICS_PORT=" + freePort(t),
				"OTELCOL_TAIL_DECISION_WAIT=" + decisionWait.String(),
				"TEMPO_OTLP_ENDPOINT=" + sinkGRPC,
				"LOKI_OTLP_ENDPOINT=http://" + sinkHTTP,
			}
			return tiers[i].launch(t)
		})
	}

	// Prometheus stands in as a remote-write endpoint that counts writes:
	// span metrics leave from the gateway, before any sampling.
	var writes atomic.Int64
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		writes.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(prom.Close)

	hosts := filepath.Join(t.TempDir(), "hosts")
	hostsText := "127.0.0.1 localhost\n127.0.0.2 " + samplerHost + "\n127.0.0.3 " + samplerHost + "\n"
	if err := os.WriteFile(hosts, []byte(hostsText), 0o644); err != nil {
		t.Fatal(err)
	}
	var gwGRPC string
	gateway := testproc.StartOnFreePorts(t, "gateway", 30*time.Second, func() (*testproc.Process, func() error) {
		var gwHealth string
		gwGRPC, gwHealth = testenv.FreeAddr(t), testenv.FreeAddr(t)
		p := testproc.Start(t, "gateway", []string{
			"OTELCOL_OTLP_GRPC_ENDPOINT=" + gwGRPC,
			"OTELCOL_OTLP_HTTP_ENDPOINT=" + testenv.FreeAddr(t),
			"OTELCOL_HEALTH_ENDPOINT=" + gwHealth,
			"OTELCOL_METRICS_HOST=127.0.0.1",
			"OTELCOL_METRICS_PORT=" + freePort(t),
			"OTELCOL_SAMPLER_HOSTNAME=" + samplerHost,
			"OTELCOL_SAMPLER_PORT=" + port,
			"OTELCOL_SPANMETRICS_FLUSH_INTERVAL=1s",
			"PROMETHEUS_REMOTE_WRITE_ENDPOINT=" + prom.URL + "/api/v1/write",
		}, "unshare", "-m", "sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`,
			hosts, bin, "--config", testproc.RepoPath(t, "collector", "gateway.yaml"))
		return p, func() error { return testproc.HTTPOK("http://" + gwHealth + "/") }
	})

	send := func(service string, traces int, flags ...string) {
		t.Helper()
		args := append([]string{"traces", "--otlp-insecure", "--otlp-endpoint", gwGRPC,
			"--service", service, "--traces", strconv.Itoa(traces), "--child-spans", strconv.Itoa(spansPerTrace - 1),
			// Spans per second: unthrottled, telemetrygen's SDK fills its
			// span queue (2048) and drops spans before they leave.
			"--rate", "2000"}, flags...)
		if out, err := run(t, t.TempDir(), telemetrygen, args...); err != nil {
			t.Fatalf("telemetrygen %v: %v\n%s", args, err, testproc.Tail(out, 2000))
		}
	}

	// Steady traffic: a share of plain traces, and errors and slow ones
	// that the policies must all keep.
	sent := map[string]int{"plain": 2000, "error": 150, "slow": 80}
	send("plain", sent["plain"])
	send("error", sent["error"], "--status-code", "Error")
	send("slow", sent["slow"], "--span-duration", "600ms") // over the 500 ms threshold

	// A restart of sampler 0 with traffic on both sides of it, error traces
	// only so every one must arrive: before (decided and exported before the
	// stop), while it is down (queued in the gateway) and after.
	const wave = 100
	send("before-restart", wave, "--status-code", "Error")
	time.Sleep(decisionWait + 2*time.Second)
	tiers[0].sampler.Stop()
	send("during-restart", wave, "--status-code", "Error")
	time.Sleep(2 * time.Second)
	tiers[0].start(t)
	send("after-restart", wave, "--status-code", "Error")
	sent["before-restart"], sent["during-restart"], sent["after-restart"] = wave, wave, wave

	// Logs follow their trace ID through the gateway to one sampler, and on
	// to Loki.
	const logTraces, logsPerTrace = 6, 5
	logIDs := make([]string, logTraces)
	for i := range logIDs {
		logIDs[i] = testproc.RandomHex(16)
		args := []string{"logs", "--otlp-insecure", "--otlp-endpoint", gwGRPC, "--service", "logs",
			"--logs", strconv.Itoa(logsPerTrace), "--rate", "0", "--trace-id", logIDs[i], "--span-id", testproc.RandomHex(8)}
		if out, err := run(t, t.TempDir(), telemetrygen, args...); err != nil {
			t.Fatalf("telemetrygen %v: %v\n%s", args, err, testproc.Tail(out, 2000))
		}
	}

	mustKeep := []string{"error", "slow", "before-restart", "during-restart", "after-restart"}
	var got traceCensus
	testproc.Poll(t, "every error and slow trace in a sink", time.Second, 90*time.Second, func() error {
		var err error
		if got, err = readCensus(tiers); err != nil {
			return err
		}
		for _, svc := range mustKeep {
			if n := got.traces(svc); n < sent[svc] {
				return fmt.Errorf("%s: %d of %d traces", svc, n, sent[svc])
			}
		}
		return nil
	}, gateway)
	// The plain traces share batches with the rest; one more export interval
	// lets the last of them land before they are counted.
	time.Sleep(6 * time.Second)
	got, err := readCensus(tiers)
	if err != nil {
		t.Fatal(err)
	}

	for id, tr := range got.byTrace {
		if len(tr.sinks) != 1 {
			t.Errorf("trace %s (%s) reached %d samplers, want exactly one", id, tr.service, len(tr.sinks))
		}
		if tr.spans != spansPerTrace || tr.distinct != spansPerTrace {
			t.Errorf("trace %s (%s): %d spans (%d distinct), want %d: not whole", id, tr.service, tr.spans, tr.distinct, spansPerTrace)
		}
	}
	for _, svc := range mustKeep {
		if n := got.traces(svc); n != sent[svc] {
			t.Errorf("%s traces kept: %d of %d, want all", svc, n, sent[svc])
		}
	}
	// The baseline policy keeps each plain trace with probability p: allow
	// four standard deviations either side.
	n, p := float64(sent["plain"]), samplePercent/100.0
	mean, sd := n*p, math.Sqrt(n*p*(1-p))
	if k := float64(got.traces("plain")); math.Abs(k-mean) > 4*sd {
		t.Errorf("plain traces kept: %.0f of %.0f, want %.0f ± %.0f (%d%%)", k, n, mean, 4*sd, samplePercent)
	}
	// Routing is by trace, not by service: each service's traces are spread
	// over both samplers (a service-keyed route would also keep these
	// one-service traces whole, but send all of a service to one sampler).
	for _, svc := range []string{"plain", "error", "during-restart"} {
		for i, k := range got.perServiceSink[svc] {
			if share := float64(k) / float64(got.traces(svc)); share < 0.25 {
				t.Errorf("sampler %d got %d of %d kept %s traces (%.0f%%): the gateway does not spread traces", i, k, got.traces(svc), svc, share*100)
			}
		}
	}
	logSinks := map[string]map[int]int{}
	testproc.WaitFor(t, "every log record in a sink", 30*time.Second, func() error {
		clear(logSinks)
		n := 0
		for i, s := range tiers {
			recs, err := testproc.ReadLogs(filepath.Join(s.sinkDir, "logs.jsonl"))
			if err != nil {
				return err
			}
			for _, r := range recs {
				id := r.HexTraceID()
				if logSinks[id] == nil {
					logSinks[id] = map[int]int{}
				}
				logSinks[id][i]++
				n++
			}
		}
		if n < logTraces*logsPerTrace {
			return fmt.Errorf("%d of %d log records", n, logTraces*logsPerTrace)
		}
		return nil
	})
	for _, id := range logIDs {
		if len(logSinks[id]) != 1 {
			t.Errorf("the logs of trace %s reached samplers %v, want exactly one", id, logSinks[id])
		}
	}
	if writes.Load() == 0 {
		t.Error("the gateway wrote no span metrics to Prometheus")
	}
	t.Logf("two-tier run: sent %v; kept %v; per sampler %v (by service %v); split traces %d, partial traces %d; remote writes %d",
		sent, got.perService, got.perSink, got.perServiceSink, got.split(), got.partial(), writes.Load())
}

// traceCensus is what the sinks hold, trace by trace.
type traceCensus struct {
	byTrace    map[string]*traceSeen
	perService map[string]int // traces per service
	perSink    []int          // traces per sampler
	// traces per service per sampler
	perServiceSink map[string][]int
}

type traceSeen struct {
	service  string
	sinks    map[int]bool
	spans    int
	distinct int
	spanIDs  map[string]bool
}

func (c traceCensus) traces(service string) int { return c.perService[service] }

func (c traceCensus) split() (n int) {
	for _, tr := range c.byTrace {
		if len(tr.sinks) > 1 {
			n++
		}
	}
	return n
}

func (c traceCensus) partial() (n int) {
	for _, tr := range c.byTrace {
		if tr.spans != spansPerTrace {
			n++
		}
	}
	return n
}

func readCensus(tiers []*tier) (traceCensus, error) {
	c := traceCensus{
		byTrace: map[string]*traceSeen{}, perService: map[string]int{},
		perSink: make([]int, len(tiers)), perServiceSink: map[string][]int{},
	}
	for i, s := range tiers {
		spans, err := testproc.ReadSpans(filepath.Join(s.sinkDir, "traces.jsonl"))
		if err != nil {
			return c, err
		}
		for _, sp := range spans {
			id := sp.HexTraceID()
			tr := c.byTrace[id]
			if tr == nil {
				tr = &traceSeen{service: sp.Service, sinks: map[int]bool{}, spanIDs: map[string]bool{}}
				c.byTrace[id] = tr
				c.perService[sp.Service]++
			}
			if !tr.sinks[i] {
				tr.sinks[i] = true
				c.perSink[i]++
				if c.perServiceSink[sp.Service] == nil {
					c.perServiceSink[sp.Service] = make([]int, len(tiers))
				}
				c.perServiceSink[sp.Service][i]++
			}
			tr.spans++
			if sid := string(sp.SpanId); !tr.spanIDs[sid] {
				tr.spanIDs[sid] = true
				tr.distinct++
			}
		}
	}
	return c, nil
}

// freePortOn returns a TCP port that is free on every one of hosts.
func freePortOn(t *testing.T, hosts ...string) string {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			missing(t, "loopback address "+hosts[0], err.Error())
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		ok := true
		for _, h := range hosts[1:] {
			o, err := net.Listen("tcp", net.JoinHostPort(h, port))
			if err != nil {
				ok = false
				break
			}
			_ = o.Close()
		}
		_ = l.Close()
		if ok {
			return port
		}
	}
	t.Fatalf("no port free on all of %v", hosts)
	return ""
}

// freePort returns a free loopback TCP port number.
func freePort(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(testenv.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return port
}
