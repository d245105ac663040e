package stacktest

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"example.com/otelstarter/internal/testproc"
)

// collectorFile is the part of a collector config the tier tests read.
type collectorFile struct {
	Extensions map[string]any `yaml:"extensions"`
	Receivers  map[string]any `yaml:"receivers"`
	Processors map[string]any `yaml:"processors"`
	Connectors map[string]any `yaml:"connectors"`
	Exporters  map[string]any `yaml:"exporters"`
	Service    struct {
		Pipelines map[string]struct {
			Receivers  []string `yaml:"receivers"`
			Processors []string `yaml:"processors"`
			Exporters  []string `yaml:"exporters"`
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

func readCollectorFile(t *testing.T, name string) collectorFile {
	t.Helper()
	raw, err := os.ReadFile(testproc.RepoPath(t, "collector", name))
	if err != nil {
		t.Fatal(err)
	}
	var c collectorFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("collector/%s: %v", name, err)
	}
	return c
}

// TestCollectorTiersShareConfig keeps the gateway and sampler in step with
// the one-host collector: what the tiers take from collector/config.yaml
// (redaction, probe filtering, span metrics, the sampling policies, the
// exporters to the backends) is the same configuration, not a copy that
// drifts.
func TestCollectorTiersShareConfig(t *testing.T) {
	one := readCollectorFile(t, "config.yaml")
	gateway := readCollectorFile(t, "gateway.yaml")
	sampler := readCollectorFile(t, "sampler.yaml")

	same := func(tier string, got, want map[string]any, section string, ids ...string) {
		t.Helper()
		for _, id := range ids {
			if want[id] == nil {
				t.Fatalf("collector/config.yaml has no %s %s", section, id)
			}
			if !reflect.DeepEqual(got[id], want[id]) {
				t.Errorf("collector/%s: %s %s differs from collector/config.yaml's:\n got  %v\n want %v", tier, section, id, got[id], want[id])
			}
		}
	}
	for tier, c := range map[string]collectorFile{"gateway.yaml": gateway, "sampler.yaml": sampler} {
		same(tier, c.Extensions, one.Extensions, "extension", "health_check")
		same(tier, c.Receivers, one.Receivers, "receiver", "otlp")
		same(tier, c.Processors, one.Processors, "processor", "memory_limiter")
	}
	same("gateway.yaml", gateway.Processors, one.Processors, "processor", "filter/health", "transform/redact")
	same("gateway.yaml", gateway.Connectors, one.Connectors, "connector", "span_metrics")
	same("gateway.yaml", gateway.Exporters, one.Exporters, "exporter", "prometheus_remote_write")
	same("sampler.yaml", sampler.Processors, one.Processors, "processor", "tail_sampling")
	same("sampler.yaml", sampler.Exporters, one.Exporters, "exporter", "otlp_grpc/tempo", "otlp_http/loki")

	// Sampling happens once, in the sampler; span metrics and redaction
	// once, in the gateway, before any span is dropped.
	if _, ok := gateway.Processors["tail_sampling"]; ok {
		t.Error("collector/gateway.yaml must not tail-sample: it sees only part of each trace")
	}
	for _, p := range []string{"transform/redact", "filter/health"} {
		if _, ok := sampler.Processors[p]; ok {
			t.Errorf("collector/sampler.yaml runs %s, which the gateway already ran", p)
		}
	}
}

// TestCollectorTiersShape pins how the gateway hands traces to the samplers.
func TestCollectorTiersShape(t *testing.T) {
	gateway := readCollectorFile(t, "gateway.yaml")
	sampler := readCollectorFile(t, "sampler.yaml")
	for name, c := range map[string]collectorFile{"gateway.yaml": gateway, "sampler.yaml": sampler} {
		for p, pl := range c.Service.Pipelines {
			if len(pl.Processors) == 0 || pl.Processors[0] != "memory_limiter" {
				t.Errorf("collector/%s pipeline %s: memory_limiter must come first, got %v", name, p, pl.Processors)
			}
		}
	}

	lb, _ := gateway.Exporters["load_balancing"].(map[string]any)
	if lb == nil {
		t.Fatal("collector/gateway.yaml has no load_balancing exporter")
	}
	if lb["routing_key"] != "traceID" {
		t.Errorf("load_balancing.routing_key = %v, want traceID (tail sampling needs whole traces)", lb["routing_key"])
	}
	resolver, _ := lb["resolver"].(map[string]any)
	dns, _ := resolver["dns"].(map[string]any)
	if len(resolver) != 1 || dns == nil {
		t.Errorf("load_balancing.resolver = %v, want only dns (a headless Service or a Compose service)", resolver)
	}
	for key, env := range map[string]string{"hostname": "OTELCOL_SAMPLER_HOSTNAME", "port": "OTELCOL_SAMPLER_PORT"} {
		if v, _ := dns[key].(string); !strings.HasPrefix(v, "${env:"+env+":-") {
			t.Errorf("load_balancing.resolver.dns.%s = %v, want ${env:%s:-default}", key, dns[key], env)
		}
	}

	p := gateway.Service.Pipelines
	for _, name := range []string{"traces", "logs"} {
		if !slices.Equal(p[name].Exporters, []string{"load_balancing"}) {
			t.Errorf("gateway pipeline %s exports to %v, want only load_balancing", name, p[name].Exporters)
		}
	}
	if !slices.Contains(p["traces/spanmetrics"].Exporters, "span_metrics") || !slices.Contains(p["metrics"].Receivers, "span_metrics") {
		t.Error("the gateway must count every span (traces/spanmetrics -> span_metrics -> metrics) before routing")
	}
	if !slices.Contains(p["traces"].Processors, "transform/redact") || !slices.Contains(p["logs"].Processors, "transform/redact") {
		t.Error("the gateway must redact traces and logs before they leave it")
	}
	s := sampler.Service.Pipelines
	if !slices.Contains(s["traces"].Processors, "tail_sampling") || !slices.Equal(s["traces"].Exporters, []string{"otlp_grpc/tempo"}) {
		t.Errorf("sampler traces pipeline = %+v, want tail_sampling then Tempo", s["traces"])
	}
	if !slices.Equal(s["logs"].Exporters, []string{"otlp_http/loki"}) {
		t.Errorf("sampler logs pipeline = %+v, want Loki", s["logs"])
	}
}
