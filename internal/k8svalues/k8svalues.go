// Package k8svalues turns the stack's own config files into Helm values for
// the official charts, so that Kubernetes runs the same files Compose runs
// and nobody keeps a third copy:
//
//   - collector/gateway.yaml and collector/sampler.yaml become the
//     opentelemetry-collector chart's alternateConfig (used as the whole
//     collector config, never merged with the chart's defaults);
//   - prometheus/rules/*.yml become kube-prometheus-stack's
//     additionalPrometheusRulesMap (one PrometheusRule per file);
//   - alertmanager/alertmanager.yml and alertmanager/templates/*.tmpl become
//     kube-prometheus-stack's alertmanager.config and templateFiles, with
//     the few changes a cluster needs (see [AlertmanagerSMTP]);
//   - grafana/provisioning and grafana/dashboards/*.json become the grafana
//     chart's datasources, dashboardProviders and dashboards, with only the
//     datasource URLs and the dashboard path changed for the cluster.
//
// `make k8s-values` (go run ./internal/cmd/k8svalues) writes the files under
// deploy/kubernetes/values/generated/; internal/stacktest fails when they are
// not what Generate returns for the sources in the tree.
package k8svalues

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Namespace is where `make k8s-install` installs the observability stack;
// the in-cluster addresses below are in it.
const Namespace = "observability"

// Dir is where the generated values files live, relative to the repository root.
const Dir = "deploy/kubernetes/values/generated"

// svc is the cluster-internal DNS name of a Service in Namespace.
func svc(name string) string { return name + "." + Namespace + ".svc.cluster.local" }

// The Services the releases create (each release sets fullnameOverride, so
// the names do not depend on the release name).
var (
	SamplerService    = svc("otel-sampler")   // headless: one A record per sampler pod
	GatewayService    = svc("otel-gateway")   // ClusterIP, what the agents send to
	PrometheusService = svc("kps-prometheus") // kube-prometheus-stack, fullnameOverride kps
	LokiService       = svc("loki")
	TempoService      = svc("tempo")
	// The pyroscope chart's single binary: its Service is the full name
	// (pyroscope.fullnameOverride), port 4040.
	PyroscopeService = svc("pyroscope")
	// kube-prometheus-stack's Alertmanager, which its Prometheus notifies.
	AlertmanagerService = svc("kps-alertmanager")
)

// DatasourceURLs maps each Grafana datasource UID of
// grafana/provisioning/datasources/datasources.yaml to its in-cluster URL.
var DatasourceURLs = map[string]string{
	"prometheus":   "http://" + PrometheusService + ":9090",
	"loki":         "http://" + LokiService + ":3100",
	"tempo":        "http://" + TempoService + ":3200",
	"pyroscope":    "http://" + PyroscopeService + ":4040",
	"alertmanager": "http://" + AlertmanagerService + ":9093",
}

// AlertmanagerTemplatesDir is where kube-prometheus-stack mounts
// alertmanager.templateFiles (next to the config it renders).
const AlertmanagerTemplatesDir = "/etc/alertmanager/config"

// AlertmanagerSMTP replaces the global SMTP settings of
// alertmanager/alertmanager.yml, which name the compose stack's Mailpit:
// a cluster has none, so the generated config names a placeholder server
// that the user's own values replace (deploy/kubernetes/README.md).
var AlertmanagerSMTP = map[string]string{
	"smtp_smarthost":   "smtp.example.com:587",
	"smtp_require_tls": "true",
}

// AlertmanagerNullAlerts are alerts of kube-prometheus-stack's own rules
// that are meant for no person: Watchdog always fires (a dead man's switch
// for an outside monitor to watch) and InfoInhibitor only inhibits. The
// generated config routes them to a receiver named "null" that notifies no
// one; every other alert of those rules, having no page or ticket
// severity, reaches the default receiver.
const AlertmanagerNullAlerts = "Watchdog|InfoInhibitor"

// DashboardsPath is where the grafana chart mounts the ConfigMap of a
// dashboard provider's inline dashboards.
func DashboardsPath(provider string) string { return "/var/lib/grafana/dashboards/" + provider }

// File is one generated values file.
type File struct {
	Name string // under Dir
	Body []byte
}

// Generate builds every generated values file from the sources under root.
func Generate(root string) ([]File, error) {
	var files []File
	for _, c := range []struct{ name, src string }{
		{"otel-gateway-config.yaml", "collector/gateway.yaml"},
		{"otel-sampler-config.yaml", "collector/sampler.yaml"},
	} {
		body, err := collectorValues(root, c.src)
		if err != nil {
			return nil, err
		}
		files = append(files, File{c.name, body})
	}
	rules, err := prometheusRules(root)
	if err != nil {
		return nil, err
	}
	files = append(files, File{"prometheus-rules.yaml", rules})
	am, err := alertmanagerValues(root)
	if err != nil {
		return nil, err
	}
	files = append(files, File{"alertmanager.yaml", am})
	graf, err := grafanaValues(root)
	if err != nil {
		return nil, err
	}
	files = append(files, File{"grafana-provisioning.yaml", graf})
	return files, nil
}

func header(sources ...string) string {
	return "# Code generated by `make k8s-values` (internal/cmd/k8svalues). DO NOT EDIT.\n" +
		"# Sources (edit these, then regenerate; internal/stacktest fails when\n" +
		"# this file and its sources differ):\n#   " + strings.Join(sources, "\n#   ") + "\n"
}

// readDoc parses the first YAML document of a file, comments and anchors kept.
func readDoc(root, rel string) (*yaml.Node, error) {
	raw, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", rel)
	}
	return doc.Content[0], nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func mapping(pairs ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: pairs}
}

func encode(head string, root *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(head)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// collectorValues is `alternateConfig: <the file>`: the chart renders it as
// the collector's whole config (through tpl, so the file must not contain
// "{{"), adding only what presets inject; the gateway and sampler enable none.
func collectorValues(root, src string) ([]byte, error) {
	cfg, err := readDoc(root, src)
	if err != nil {
		return nil, err
	}
	raw, _ := os.ReadFile(filepath.Join(root, src))
	if bytes.Contains(raw, []byte("{{")) {
		return nil, fmt.Errorf("%s contains {{, which the chart's tpl would evaluate", src)
	}
	cfg.HeadComment = ""
	return encode(header(src), mapping(scalar("alternateConfig"), cfg))
}

// prometheusRules is additionalPrometheusRulesMap with one entry per rules
// file (alerts, recording, slo), each holding the file's groups unchanged.
func prometheusRules(root string) ([]byte, error) {
	paths, err := filepath.Glob(filepath.Join(root, "prometheus", "rules", "*.yml"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no prometheus/rules/*.yml")
	}
	slices.Sort(paths)
	rulesMap := mapping()
	var srcs []string
	for _, p := range paths {
		rel := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		doc, err := readDoc(root, rel)
		if err != nil {
			return nil, err
		}
		groups := lookup(doc, "groups")
		if groups == nil {
			return nil, fmt.Errorf("%s has no groups", rel)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".yml")
		rulesMap.Content = append(rulesMap.Content, scalar(name), mapping(scalar("groups"), groups))
		srcs = append(srcs, rel)
	}
	return encode(header(srcs...), mapping(scalar("additionalPrometheusRulesMap"), rulesMap))
}

// lookup returns the value of key in a mapping node.
func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// lookupKey returns the key node of key in a mapping node, where the
// comments above the key live.
func lookupKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// clearComments removes every comment in n and below.
func clearComments(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		clearComments(c)
	}
}

func set(m *yaml.Node, key, value string) {
	if v := lookup(m, key); v != nil {
		v.Kind, v.Tag, v.Value, v.Style = yaml.ScalarNode, "!!str", value, 0
		return
	}
	m.Content = append(m.Content, scalar(key), scalar(value))
}

// grafanaValues is the grafana chart's datasources (the provisioning file,
// URLs pointed at the in-cluster Services), dashboardProviders (the
// provisioning file, path pointed at the chart's mount) and dashboards (each
// grafana/dashboards/*.json inline, under the provider's name).
func grafanaValues(root string) ([]byte, error) {
	const dsSrc = "grafana/provisioning/datasources/datasources.yaml"
	const dpSrc = "grafana/provisioning/dashboards/dashboards.yaml"
	ds, err := readDoc(root, dsSrc)
	if err != nil {
		return nil, err
	}
	raw, _ := os.ReadFile(filepath.Join(root, dsSrc))
	if bytes.Contains(raw, []byte("{{")) {
		return nil, fmt.Errorf("%s contains {{, which the chart's tpl would evaluate", dsSrc)
	}
	ds.HeadComment = ""
	list := lookup(ds, "datasources")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: no datasources list", dsSrc)
	}
	for _, d := range list.Content {
		uid := lookup(d, "uid")
		if uid == nil {
			return nil, fmt.Errorf("%s: a datasource has no uid", dsSrc)
		}
		url, ok := DatasourceURLs[uid.Value]
		if !ok {
			return nil, fmt.Errorf("%s: no in-cluster URL for datasource uid %q (add it to k8svalues.DatasourceURLs)", dsSrc, uid.Value)
		}
		set(d, "url", url)
	}

	dp, err := readDoc(root, dpSrc)
	if err != nil {
		return nil, err
	}
	dp.HeadComment = ""
	providers := lookup(dp, "providers")
	if providers == nil || len(providers.Content) != 1 {
		return nil, fmt.Errorf("%s: want exactly one dashboard provider", dpSrc)
	}
	provider := providers.Content[0]
	name := lookup(provider, "name")
	opts := lookup(provider, "options")
	if name == nil || opts == nil {
		return nil, fmt.Errorf("%s: the provider needs a name and options", dpSrc)
	}
	set(opts, "path", DashboardsPath(name.Value))

	paths, err := filepath.Glob(filepath.Join(root, "grafana", "dashboards", "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	boards := mapping()
	srcs := []string{dsSrc, dpSrc}
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		key := strings.TrimSuffix(filepath.Base(p), ".json")
		js := scalar(strings.TrimRight(string(body), "\n"))
		js.Style = yaml.LiteralStyle
		boards.Content = append(boards.Content, scalar(key), mapping(scalar("json"), js))
		srcs = append(srcs, "grafana/dashboards/"+filepath.Base(p))
	}
	if len(boards.Content) == 0 {
		return nil, fmt.Errorf("no grafana/dashboards/*.json")
	}

	out := mapping(
		scalar("datasources"), mapping(scalar("datasources.yaml"), ds),
		scalar("dashboardProviders"), mapping(scalar("dashboardproviders.yaml"), dp),
		scalar("dashboards"), mapping(scalar(name.Value), boards),
	)
	return encode(header(srcs...), out)
}

// alertmanagerValues is kube-prometheus-stack's alertmanager.config (the
// parsed alertmanager/alertmanager.yml, comments kept, with the templates
// where the chart mounts them, the SMTP placeholder of [AlertmanagerSMTP]
// and the null route of [AlertmanagerNullAlerts] first) and
// alertmanager.templateFiles (each alertmanager/templates/*.tmpl verbatim).
// The chart merges config into its default config map by map: every key its
// default sets (global, inhibit_rules, route, receivers, templates) is set
// here, so nothing of the chart's default routing remains.
func alertmanagerValues(root string) ([]byte, error) {
	const src = "alertmanager/alertmanager.yml"
	cfg, err := readDoc(root, src)
	if err != nil {
		return nil, err
	}
	cfg.HeadComment = ""

	tmplPaths, err := filepath.Glob(filepath.Join(root, "alertmanager", "templates", "*.tmpl"))
	if err != nil {
		return nil, err
	}
	if len(tmplPaths) == 0 {
		return nil, fmt.Errorf("no alertmanager/templates/*.tmpl")
	}
	slices.Sort(tmplPaths)
	templates := lookup(cfg, "templates")
	if templates == nil || templates.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: no templates list", src)
	}
	templates.Content = []*yaml.Node{scalar(AlertmanagerTemplatesDir + "/*.tmpl")}
	templates.Style = 0
	lookupKey(cfg, "templates").HeadComment = "# Where the chart mounts templateFiles (below)."

	global := lookup(cfg, "global")
	if global == nil || global.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: no global section", src)
	}
	keys := make([]string, 0, len(AlertmanagerSMTP))
	for k := range AlertmanagerSMTP {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if lookup(global, k) == nil {
			return nil, fmt.Errorf("%s: global has no %s to replace", src, k)
		}
		set(global, k, AlertmanagerSMTP[k])
		v := lookup(global, k)
		if v.Value == "true" || v.Value == "false" {
			v.Tag = "!!bool"
		}
		v.LineComment = "# placeholder: set yours (deploy/kubernetes/README.md)"
	}
	// The compose file's comment on these settings is about Mailpit.
	global.Content[0].HeadComment = "# alertmanager/alertmanager.yml sends to the compose stack's Mailpit; a\n" +
		"# cluster has none. Your values set the real server (README.md)."

	route := lookup(cfg, "route")
	receivers := lookup(cfg, "receivers")
	if route == nil || receivers == nil || receivers.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: no route or receivers", src)
	}
	routes := lookup(route, "routes")
	if routes == nil || routes.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: route has no routes", src)
	}
	matchers := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle,
		Content: []*yaml.Node{scalar(`alertname=~"` + AlertmanagerNullAlerts + `"`)}}
	matchers.Content[0].Style = yaml.SingleQuotedStyle
	null := mapping(scalar("matchers"), matchers, scalar("receiver"), scalar("null"))
	null.HeadComment = "# kube-prometheus-stack's own Watchdog and InfoInhibitor alerts: for no person."
	routes.Content = append([]*yaml.Node{null}, routes.Content...)
	// The commented alternatives in the receivers are compose's (.env,
	// files compose mounts); a cluster's come from the user's values.
	clearComments(receivers)
	lookupKey(cfg, "receivers").HeadComment = "# Email only, as in compose. A webhook or Slack receiver, and the real\n" +
		"# addresses, come from your values (deploy/kubernetes/README.md)."
	receivers.Content = append(receivers.Content, mapping(scalar("name"), scalar("null")))

	files := mapping()
	srcs := []string{src}
	for _, p := range tmplPaths {
		body, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		text := scalar(strings.TrimRight(string(body), "\n"))
		text.Style = yaml.LiteralStyle
		files.Content = append(files.Content, scalar(filepath.Base(p)), text)
		srcs = append(srcs, "alertmanager/templates/"+filepath.Base(p))
	}
	out := mapping(scalar("alertmanager"), mapping(
		scalar("config"), cfg,
		scalar("templateFiles"), files,
	))
	return encode(header(srcs...), out)
}
