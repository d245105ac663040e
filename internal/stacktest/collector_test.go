package stacktest

import (
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"example.com/otelstarter/internal/testproc"
)

// TestCollectorValidate runs the collector's own validation of the shipped
// config and of the test sink config.
func TestCollectorValidate(t *testing.T) {
	bin := testproc.Otelcol(t)
	root := testproc.RepoRoot(t)
	if out, err := run(t, root, bin, "validate", "--config", "collector/config.yaml"); err != nil {
		t.Fatalf("otelcol validate collector/config.yaml: %v\n%s", err, out)
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
// configs use: what `otelcol components` reports equals what config.yaml and
// the test sink reference.
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
	used := map[string]bool{}
	for _, f := range []string{"collector/config.yaml", "internal/stacktest/testdata/sink.yaml"} {
		raw, err := os.ReadFile(testproc.RepoPath(t, f))
		if err != nil {
			t.Fatal(err)
		}
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

// TestCollectorConfigShape pins the parts of collector/config.yaml the rest of
// the stack relies on.
func TestCollectorConfigShape(t *testing.T) {
	raw, err := os.ReadFile(testproc.RepoPath(t, "collector", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Service struct {
			Pipelines map[string]struct {
				Receivers  []string `yaml:"receivers"`
				Processors []string `yaml:"processors"`
				Exporters  []string `yaml:"exporters"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
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
