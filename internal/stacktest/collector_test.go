package stacktest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"example.com/otelstarter/internal/testproc"
)

// collectorConfigs are the shipped collector configs: one host, and the
// gateway and sampler tiers past one machine.
var collectorConfigs = []string{"collector/config.yaml", "collector/gateway.yaml", "collector/sampler.yaml"}

// TestCollectorValidate runs the collector's own validation of the shipped
// config and of the test sink config.
func TestCollectorValidate(t *testing.T) {
	bin := testproc.Otelcol(t)
	root := testproc.RepoRoot(t)
	for _, f := range collectorConfigs {
		if out, err := run(t, root, bin, "validate", "--config", f); err != nil {
			t.Fatalf("otelcol validate %s: %v\n%s", f, err, out)
		}
	}
	cmd := []string{"validate", "--config", "internal/stacktest/testdata/sink.yaml"}
	t.Setenv("SINK_GRPC_ENDPOINT", "127.0.0.1:0")
	t.Setenv("SINK_HTTP_ENDPOINT", "127.0.0.1:0")
	t.Setenv("SINK_HEALTH_ENDPOINT", "127.0.0.1:0")
	t.Setenv("SINK_DIR", t.TempDir())
	if out, err := run(t, root, bin, cmd...); err != nil {
		t.Fatalf("otelcol validate sink.yaml: %v\n%s", err, out)
	}
}

// TestCollectorComponents keeps builder.yaml to exactly the components the
// configs use: what `otelcol components` reports equals what config.yaml,
// the test sink and the load benchmark's collector (bench/load, which runs
// bin/otelcol with the batch processor) reference.
func TestCollectorComponents(t *testing.T) {
	bin := testproc.Otelcol(t)
	out, err := run(t, testproc.RepoRoot(t), bin, "components")
	if err != nil {
		t.Fatalf("otelcol components: %v\n%s", err, out)
	}
	var comps map[string]any
	if err := yaml.Unmarshal([]byte(out), &comps); err != nil {
		t.Fatal(err)
	}
	built := map[string]bool{}
	for _, kind := range []string{"receivers", "processors", "exporters", "connectors", "extensions"} {
		list, _ := comps[kind].([]any)
		for _, c := range list {
			name, _ := c.(map[string]any)["name"].(string)
			built[kind+"/"+name] = true
		}
	}
	configs := map[string][]byte{}
	for _, f := range append(slices.Clone(collectorConfigs), "internal/stacktest/testdata/sink.yaml") {
		raw, err := os.ReadFile(testproc.RepoPath(t, f))
		if err != nil {
			t.Fatal(err)
		}
		configs[f] = raw
	}
	const benchFile = "bench/load/collector.go"
	configs[benchFile+" collectorConfig"] = []byte(goStringConst(t, testproc.RepoPath(t, benchFile), "collectorConfig"))
	used := map[string]bool{}
	for f, raw := range configs {
		var cfg map[string]any
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, kind := range []string{"receivers", "processors", "exporters", "connectors", "extensions"} {
			section, _ := cfg[kind].(map[string]any)
			for id := range section {
				typ, _, _ := strings.Cut(id, "/")
				used[kind+"/"+typ] = true
			}
		}
	}
	keys := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	if b, u := keys(built), keys(used); !slices.Equal(b, u) {
		t.Errorf("builder.yaml builds %v\nbut the configs use %v", b, u)
	}
}

// goStringConst returns the value of the string constant name declared in
// the Go file path.
func goStringConst(t *testing.T, path, name string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name != name || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: %s is not a string literal", path, name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
	}
	t.Fatalf("%s declares no constant %s", path, name)
	return ""
}

// TestCollectorConfigShape pins the parts of collector/config.yaml the rest of
// the stack relies on.
func TestCollectorConfigShape(t *testing.T) {
	raw, err := os.ReadFile(testproc.RepoPath(t, "collector", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := readCollectorFile(t, "config.yaml")
	for name, p := range cfg.Service.Pipelines {
		if len(p.Processors) == 0 || p.Processors[0] != "memory_limiter" {
			t.Errorf("pipeline %s: memory_limiter must come first, got %v", name, p.Processors)
		}
	}
	text := string(raw)
	for _, want := range []string{
		"${env:TEMPO_OTLP_ENDPOINT:-tempo:4317}",
		"${env:LOKI_OTLP_ENDPOINT:-http://loki:3100/otlp}",
		"${env:PROMETHEUS_REMOTE_WRITE_ENDPOINT:-http://prometheus:9090/api/v1/write}",
		"0.0.0.0:4317", "0.0.0.0:4318", "0.0.0.0:13133", "8888",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("collector/config.yaml lacks %s", want)
		}
	}
	p := cfg.Service.Pipelines
	if !slices.Contains(p["traces/sampling"].Processors, "tail_sampling") || !slices.Contains(p["traces/spanmetrics"].Exporters, "span_metrics") {
		t.Errorf("traces must fan out to span_metrics and to tail sampling: %+v", p)
	}
	if !slices.Contains(p["metrics"].Receivers, "span_metrics") {
		t.Error("the metrics pipeline must receive from span_metrics")
	}
}

// noSendingQueue names the exporter types of collector/config.yaml that have
// no exporterhelper sending_queue, with the queue they have instead.
// prometheus_remote_write's README: it "doesn't support sending_queue but
// provides remote_write_queue", and that queue does no batching.
var noSendingQueue = map[string]string{
	"prometheus_remote_write": "remote_write_queue",
	"prometheusremotewrite":   "remote_write_queue", // the type's former name
}

// TestCollectorExporterBatching pins batching in the exporters rather than in
// a batch processor (collector issue #13766): no processor of type batch, and
// every exporter with a sending_queue has it enabled, bounded and batching.
// `otelcol validate` does not catch all of this: otlp_http and
// prometheus_remote_write accept keys they do not know, so a sending_queue on
// prometheus_remote_write, or a misspelt one on otlp_http, would be ignored
// without a word.
func TestCollectorExporterBatching(t *testing.T) {
	for _, f := range collectorConfigs {
		raw, err := os.ReadFile(testproc.RepoPath(t, f))
		if err != nil {
			t.Fatal(err)
		}
		problems, err := exporterBatchingProblems(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", f, p)
		}
	}

	// The check itself: the old shape (a batch processor, queues without
	// batching, a sending_queue where it is ignored) fails on every count.
	old := `
processors:
  batch:
    timeout: 5s
exporters:
  otlp_grpc/tempo:
    sending_queue:
      enabled: true
      queue_size: 5000
  otlp_http/loki:
    sending_queue:
      enabled: true
      batch:
        flush_timeout: 5s
  prometheus_remote_write:
    sending_queue:
      batch: {}
service:
  pipelines:
    logs:
      processors: [memory_limiter, batch]
`
	problems, err := exporterBatchingProblems([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"processors: batch is defined",
		"pipeline logs uses the batch processor",
		"exporter otlp_grpc/tempo: sending_queue has no batch section",
		"exporter otlp_http/loki: sending_queue.queue_size",
		"exporter otlp_http/loki: sending_queue.batch.sizer",
		"exporter prometheus_remote_write: has no sending_queue",
		"exporter prometheus_remote_write: remote_write_queue must be enabled",
	} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("the check misses %q in a config with the old shape; it found %q", want, problems)
		}
	}
}

// exporterBatchingProblems lists what keeps a collector config from batching
// in its exporters only.
func exporterBatchingProblems(raw []byte) ([]string, error) {
	var cfg struct {
		Processors map[string]any            `yaml:"processors"`
		Exporters  map[string]map[string]any `yaml:"exporters"`
		Service    struct {
			Pipelines map[string]struct {
				Processors []string `yaml:"processors"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	typeOf := func(id string) string {
		typ, _, _ := strings.Cut(id, "/")
		return typ
	}
	// A positive whole number, as the YAML decoder gives it.
	positive := func(v any) bool {
		switch n := v.(type) {
		case int:
			return n > 0
		case int64:
			return n > 0
		case uint64:
			return n > 0
		}
		return false
	}

	for id := range cfg.Processors {
		if typeOf(id) == "batch" {
			bad("processors: %s is defined; batch in the exporters' sending_queue instead", id)
		}
	}
	for name, p := range cfg.Service.Pipelines {
		for _, id := range p.Processors {
			if typeOf(id) == "batch" {
				bad("pipeline %s uses the %s processor; batch in the exporters' sending_queue instead", name, id)
			}
		}
	}
	if len(cfg.Exporters) == 0 {
		bad("no exporters")
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Exporters)) {
		exp := cfg.Exporters[id]
		if typeOf(id) == "load_balancing" {
			// It makes one OTLP exporter per backend from protocol.otlp:
			// batching there happens after routing, so a batch is for one
			// backend. (Its own top-level queue is off: a retry there would
			// resend a whole batch to every backend.)
			proto, _ := exp["protocol"].(map[string]any)
			exp, _ = proto["otlp"].(map[string]any)
			if _, has := cfg.Exporters[id]["sending_queue"]; has {
				bad("exporter %s: batch in protocol.otlp.sending_queue, not in the exporter's own queue", id)
			}
		}
		if own, ok := noSendingQueue[typeOf(id)]; ok {
			if _, has := exp["sending_queue"]; has {
				bad("exporter %s: has no sending_queue (it would be ignored); its queue is %s", id, own)
			}
			q, _ := exp[own].(map[string]any)
			if q["enabled"] != true || !positive(q["queue_size"]) {
				bad("exporter %s: %s must be enabled with a bounded queue_size, got %v", id, own, q)
			}
			continue
		}
		q, ok := exp["sending_queue"].(map[string]any)
		if !ok {
			bad("exporter %s: no sending_queue", id)
			continue
		}
		if q["enabled"] != true {
			bad("exporter %s: sending_queue.enabled = %v, want true", id, q["enabled"])
		}
		if !positive(q["queue_size"]) {
			bad("exporter %s: sending_queue.queue_size = %v, want a bound", id, q["queue_size"])
		}
		b, ok := q["batch"].(map[string]any)
		if !ok {
			bad("exporter %s: sending_queue has no batch section", id)
			continue
		}
		if b["flush_timeout"] == nil {
			bad("exporter %s: sending_queue.batch.flush_timeout is not set", id)
		}
		// With sending_queue.sizer set, an unset batch.sizer inherits it, and
		// batching takes only items or bytes: say which.
		if sz := b["sizer"]; sz != "items" && sz != "bytes" {
			bad("exporter %s: sending_queue.batch.sizer = %v, want items or bytes", id, sz)
		}
	}
	return problems, nil
}
