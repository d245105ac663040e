package stacktest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"example.com/otelstarter/internal/k8svalues"
	"example.com/otelstarter/internal/testproc"
)

// The values files under deploy/kubernetes/values/ for the official charts.
// No chart repository is reachable here, so none of them is rendered by helm
// in these tests: they check what can be checked without the charts (the
// collector configs, rules and dashboards are the repository's files, the
// addresses between releases agree, versions are pinned in one place).
// deploy/kubernetes/README.md lists what stays unproven.

const k8sValuesDir = "deploy/kubernetes/values"

func readYAMLMap(t *testing.T, rel string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(testproc.RepoPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if m == nil {
		t.Fatalf("%s is empty", rel)
	}
	return m
}

// digAny walks nested maps; nil when a key is missing.
func digAny(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func digString(v any, keys ...string) string {
	s, _ := digAny(v, keys...).(string)
	return s
}

// extraEnv is a collector values file's extraEnvs as a map.
func extraEnv(t *testing.T, values map[string]any, file string) map[string]string {
	t.Helper()
	list, ok := values["extraEnvs"].([]any)
	if !ok {
		t.Fatalf("%s: no extraEnvs list", file)
	}
	env := map[string]string{}
	for _, e := range list {
		name, value := digString(e, "name"), digString(e, "value")
		if name == "" {
			t.Fatalf("%s: extraEnvs entry without name: %v", file, e)
		}
		env[name] = value
	}
	return env
}

// chartsEnv parses deploy/kubernetes/charts.env (NAME=value lines).
func chartsEnv(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(testproc.RepoPath(t, "deploy", "kubernetes", "charts.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(k, " \t:?+") {
			t.Fatalf("charts.env: %q is not NAME=value", line)
		}
		vars[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vars
}

var exactChartVersion = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// TestK8sChartsPinned: every chart has an exact version in charts.env, the
// only place versions are written; the install target uses those variables;
// each values file says which chart and version it was written for, and that
// is the pinned one.
func TestK8sChartsPinned(t *testing.T) {
	vars := chartsEnv(t)
	repos := map[string]bool{}
	for k, v := range vars {
		if strings.HasSuffix(k, "_REPO_NAME") {
			repos[v] = true
			if !strings.HasPrefix(vars[strings.TrimSuffix(k, "_NAME")+"_URL"], "https://") {
				t.Errorf("charts.env: %s has no https %s_URL", k, strings.TrimSuffix(k, "_NAME"))
			}
		}
	}
	pinned := map[string]string{} // chart -> version
	for k, chart := range vars {
		prefix, ok := strings.CutSuffix(k, "_CHART")
		if !ok {
			continue
		}
		version := vars[prefix+"_VERSION"]
		if !exactChartVersion.MatchString(version) {
			t.Errorf("charts.env: %s_VERSION = %q, want an exact x.y.z version (no range)", prefix, version)
		}
		repo, _, _ := strings.Cut(chart, "/")
		if !repos[repo] {
			t.Errorf("charts.env: %s = %s, but no *_REPO_NAME is %q", k, chart, repo)
		}
		pinned[chart] = version
	}
	if len(pinned) != 6 {
		t.Errorf("charts.env pins %v, want the collector, kube-prometheus-stack, loki, tempo, pyroscope and grafana charts", pinned)
	}

	mk, err := os.ReadFile(testproc.RepoPath(t, "make", "k8s-install.mk"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(mk, []byte("include deploy/kubernetes/charts.env")) {
		t.Error("make/k8s-install.mk does not include deploy/kubernetes/charts.env")
	}
	if m := regexp.MustCompile(`--version +[0-9]`).Find(mk); m != nil {
		t.Errorf("make/k8s-install.mk writes a version literally (%q): use charts.env's variables", m)
	}
	for k := range vars {
		if p, ok := strings.CutSuffix(k, "_CHART"); ok && !bytes.Contains(mk, []byte("$("+p+"_VERSION)")) {
			t.Errorf("make/k8s-install.mk never installs %s at $(%s_VERSION)", vars[k], p)
		}
	}

	chartLine := regexp.MustCompile(`(?m)^# Chart: (\S+) (\S+) \(deploy/kubernetes/charts\.env\)`)
	files, _ := filepath.Glob(testproc.RepoPath(t, k8sValuesDir, "*.yaml"))
	for _, f := range files {
		if filepath.Base(f) == "app.yaml" { // the kit's own chart, in the tree
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := chartLine.FindSubmatch(raw)
		if m == nil {
			t.Errorf("%s: no \"# Chart: <repo/chart> <version> (deploy/kubernetes/charts.env)\" line", filepath.Base(f))
			continue
		}
		if want, ok := pinned[string(m[1])]; !ok || want != string(m[2]) {
			t.Errorf("%s is written for %s %s, charts.env pins %q", filepath.Base(f), m[1], m[2], want)
		}
	}
}

// TestK8sValuesParse: every values file is YAML, and no hand-written file
// carries a collector config of the gateway or sampler (that is generated).
func TestK8sValuesParse(t *testing.T) {
	for _, pattern := range []string{"*.yaml", "generated/*.yaml"} {
		files, _ := filepath.Glob(testproc.RepoPath(t, k8sValuesDir, pattern))
		if len(files) == 0 {
			t.Fatalf("no %s/%s", k8sValuesDir, pattern)
		}
		for _, f := range files {
			rel, _ := filepath.Rel(testproc.RepoRoot(t), f)
			readYAMLMap(t, rel)
		}
	}
	for _, f := range []string{"otel-gateway.yaml", "otel-sampler.yaml"} {
		v := readYAMLMap(t, k8sValuesDir+"/"+f)
		for _, k := range []string{"config", "alternateConfig"} {
			if _, ok := v[k]; ok {
				t.Errorf("%s sets %s: the collector config comes from generated/ only (make k8s-values)", f, k)
			}
		}
	}
}

// TestK8sValuesGenerated: generated/ holds exactly what `make k8s-values`
// writes for the sources in the tree.
func TestK8sValuesGenerated(t *testing.T) {
	files, err := k8svalues.Generate(testproc.RepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		got, err := os.ReadFile(testproc.RepoPath(t, k8svalues.Dir, f.Name))
		if err != nil {
			t.Errorf("%v (run make k8s-values)", err)
			continue
		}
		if !bytes.Equal(got, f.Body) {
			t.Errorf("%s/%s is out of date: run make k8s-values", k8svalues.Dir, f.Name)
		}
	}
	onDisk, _ := filepath.Glob(testproc.RepoPath(t, k8svalues.Dir, "*"))
	for _, p := range onDisk {
		if !slices.Contains(names, filepath.Base(p)) {
			t.Errorf("%s/%s is not generated by make k8s-values: remove it", k8svalues.Dir, filepath.Base(p))
		}
	}
}

// TestK8sCollectorConfigsAreTheFiles: the config the gateway and sampler
// releases run is the parsed collector/gateway.yaml and sampler.yaml.
func TestK8sCollectorConfigsAreTheFiles(t *testing.T) {
	for gen, src := range map[string]string{
		"otel-gateway-config.yaml": "collector/gateway.yaml",
		"otel-sampler-config.yaml": "collector/sampler.yaml",
	} {
		values := readYAMLMap(t, k8svalues.Dir+"/"+gen)
		if len(values) != 1 || values["alternateConfig"] == nil {
			t.Errorf("%s: want only alternateConfig, got keys %v", gen, keysOf(values))
		}
		if want := readYAMLMap(t, src); !reflect.DeepEqual(values["alternateConfig"], any(want)) {
			t.Errorf("%s alternateConfig differs from %s (run make k8s-values)", gen, src)
		}
	}
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func mib(t *testing.T, quantity string) int {
	t.Helper()
	for suffix, factor := range map[string]int{"Mi": 1, "Gi": 1024} {
		if n, ok := strings.CutSuffix(quantity, suffix); ok {
			v, err := strconv.Atoi(n)
			if err == nil {
				return v * factor
			}
		}
	}
	t.Fatalf("memory %q: want NMi or NGi", quantity)
	return 0
}

// TestK8sCollectorTiers: the releases find each other, run the builder's
// collector version, and size memory_limiter from the container's limit.
func TestK8sCollectorTiers(t *testing.T) {
	builder := readBuilder(t)
	agent := readYAMLMap(t, k8sValuesDir+"/otel-agent.yaml")
	gateway := readYAMLMap(t, k8sValuesDir+"/otel-gateway.yaml")
	sampler := readYAMLMap(t, k8sValuesDir+"/otel-sampler.yaml")
	gatewayCfg := readYAMLMap(t, "collector/gateway.yaml")
	samplerCfg := readYAMLMap(t, "collector/sampler.yaml")
	svc := func(v map[string]any) string {
		return digString(v, "fullnameOverride") + "." + k8svalues.Namespace + ".svc.cluster.local"
	}

	for name, v := range map[string]map[string]any{"otel-agent": agent, "otel-gateway": gateway, "otel-sampler": sampler} {
		if got := digString(v, "fullnameOverride"); got != name {
			t.Errorf("%s.yaml fullnameOverride = %q, want %q (the Service names below depend on it)", name, got, name)
		}
		if repo, tag := digString(v, "image", "repository"), digString(v, "image", "tag"); repo != "otel/opentelemetry-collector-contrib" || tag != builder.Dist.Version {
			t.Errorf("%s.yaml runs %s:%s, want otel/opentelemetry-collector-contrib:%s (collector/builder.yaml)", name, repo, tag, builder.Dist.Version)
		}
		if digString(v, "command", "name") != "otelcol-contrib" {
			t.Errorf("%s.yaml command.name = %q, want the contrib image's otelcol-contrib", name, digString(v, "command", "name"))
		}
		for _, p := range []string{"jaeger-compact", "jaeger-thrift", "jaeger-grpc", "zipkin"} {
			if digAny(v, "ports", p, "enabled") != false {
				t.Errorf("%s.yaml: the chart's %s port is not disabled", name, p)
			}
		}
	}
	if digString(agent, "mode") != "daemonset" || digString(gateway, "mode") != "deployment" {
		t.Errorf("modes: agent %q gateway %q, want daemonset and deployment", digString(agent, "mode"), digString(gateway, "mode"))
	}
	if m := digString(sampler, "mode"); m != "statefulset" && m != "deployment" {
		t.Errorf("sampler mode = %q", m)
	}

	// Agent -> gateway Service.
	if ep := digString(agent, "alternateConfig", "exporters", "otlp_grpc/gateway", "endpoint"); ep != svc(gateway)+":4317" {
		t.Errorf("agent exports to %q, want the gateway Service %s:4317", ep, svc(gateway))
	}
	for port, host := range map[string]int{"otlp": 4317, "otlp-http": 4318} {
		if digAny(agent, "ports", port, "hostPort") != host {
			t.Errorf("agent port %s hostPort = %v, want %d (the app sends to $(HOST_IP))", port, digAny(agent, "ports", port, "hostPort"), host)
		}
	}

	// Gateway -> the sampler's headless Service.
	genv := extraEnv(t, gateway, "otel-gateway.yaml")
	if h := genv["OTELCOL_SAMPLER_HOSTNAME"]; h != svc(sampler) || h != k8svalues.SamplerService {
		t.Errorf("gateway OTELCOL_SAMPLER_HOSTNAME = %q, want the sampler release's Service %s", h, svc(sampler))
	}
	if ip := digString(sampler, "service", "clusterIP"); ip != "None" {
		t.Errorf("sampler service.clusterIP = %q, want None (headless: DNS must return every sampler pod)", ip)
	}
	if p := genv["OTELCOL_SAMPLER_PORT"]; p != "4317" || digAny(sampler, "ports", "otlp", "enabled") != true {
		t.Errorf("gateway sends to sampler port %q; want 4317 with the sampler's otlp port enabled", p)
	}
	if digAny(sampler, "autoscaling", "enabled") != false {
		t.Error("sampler autoscaling must be off: every change of the sampler set re-routes traces")
	}
	if n, _ := digAny(gateway, "autoscaling", "minReplicas").(int); n < 2 || digAny(gateway, "autoscaling", "enabled") != true {
		t.Errorf("gateway autoscaling = %v, want enabled with minReplicas >= 2", digAny(gateway, "autoscaling"))
	}
	if n, _ := gateway["replicaCount"].(int); n < 2 {
		t.Errorf("gateway replicaCount = %v, want >= 2", gateway["replicaCount"])
	}
	if digAny(gateway, "podDisruptionBudget", "enabled") != true || digAny(sampler, "podDisruptionBudget", "enabled") != true {
		t.Error("gateway and sampler need a PodDisruptionBudget")
	}

	// Endpoints to the backends, and the backends' releases serving them.
	prom := readYAMLMap(t, k8sValuesDir+"/prometheus.yaml")
	loki := readYAMLMap(t, k8sValuesDir+"/loki.yaml")
	tempo := readYAMLMap(t, k8sValuesDir+"/tempo.yaml")
	if got, want := genv["PROMETHEUS_REMOTE_WRITE_ENDPOINT"], "http://"+k8svalues.PrometheusService+":9090/api/v1/write"; got != want {
		t.Errorf("gateway PROMETHEUS_REMOTE_WRITE_ENDPOINT = %q, want %q", got, want)
	}
	if digString(prom, "fullnameOverride")+"-prometheus."+k8svalues.Namespace+".svc.cluster.local" != k8svalues.PrometheusService {
		t.Errorf("prometheus.yaml fullnameOverride %q does not make the Service %s", digString(prom, "fullnameOverride"), k8svalues.PrometheusService)
	}
	senv := extraEnv(t, sampler, "otel-sampler.yaml")
	if got := senv["TEMPO_OTLP_ENDPOINT"]; got != k8svalues.TempoService+":4317" || svc(tempo) != k8svalues.TempoService {
		t.Errorf("sampler TEMPO_OTLP_ENDPOINT = %q, tempo release Service %s", got, svc(tempo))
	}
	if digAny(tempo, "tempo", "receivers", "otlp", "protocols", "grpc", "endpoint") != "0.0.0.0:4317" {
		t.Error("tempo.yaml does not receive OTLP/gRPC on 4317")
	}
	if got := senv["LOKI_OTLP_ENDPOINT"]; got != "http://"+k8svalues.LokiService+":3100/otlp" || svc(loki) != k8svalues.LokiService {
		t.Errorf("sampler LOKI_OTLP_ENDPOINT = %q, loki release Service %s", got, svc(loki))
	}
	if digAny(loki, "gateway", "enabled") != false {
		t.Error("loki.yaml: with the Loki gateway on, port 3100 of the loki Service is not Loki itself")
	}

	// Every variable a values file sets is read by its config (no typos),
	// and memory_limiter fits inside the container's memory limit.
	for name, c := range map[string]struct {
		env map[string]string
		cfg map[string]any
		val map[string]any
	}{"otel-gateway": {genv, gatewayCfg, gateway}, "otel-sampler": {senv, samplerCfg, sampler}} {
		raw, _ := yaml.Marshal(c.cfg)
		for k := range c.env {
			if !bytes.Contains(raw, []byte("${env:"+k+":-")) {
				t.Errorf("%s.yaml sets %s, which its collector config never reads", name, k)
			}
		}
		limit := mib(t, digString(c.val, "resources", "limits", "memory"))
		lim, err1 := strconv.Atoi(c.env["OTELCOL_MEMORY_LIMIT_MIB"])
		spike, err2 := strconv.Atoi(c.env["OTELCOL_MEMORY_SPIKE_LIMIT_MIB"])
		if err1 != nil || err2 != nil {
			t.Errorf("%s.yaml: OTELCOL_MEMORY_LIMIT_MIB / _SPIKE_LIMIT_MIB must be numbers", name)
			continue
		}
		if lim < limit*70/100 || lim > limit*80/100 || spike <= 0 || spike >= lim {
			t.Errorf("%s.yaml: memory_limiter %d MiB (spike %d) for a %d MiB container: want 70-80%% of the limit, below the chart's GOMEMLIMIT (80%%)", name, lim, spike, limit)
		}
	}

	// The same for the app's values: it reports to this Prometheus namespace.
	app := readYAMLMap(t, k8sValuesDir+"/app.yaml")
	if digAny(app, "serviceMonitor", "enabled") != true || digString(app, "networkPolicy", "admin", "monitoringNamespace") != k8svalues.Namespace {
		t.Errorf("app.yaml: want serviceMonitor.enabled and networkPolicy.admin.monitoringNamespace %q", k8svalues.Namespace)
	}
	if digAny(prom, "prometheus", "prometheusSpec", "serviceMonitorSelectorNilUsesHelmValues") != false ||
		digAny(prom, "prometheus", "prometheusSpec", "ruleSelectorNilUsesHelmValues") != false {
		t.Error("prometheus.yaml must select every ServiceMonitor and PrometheusRule (the app chart's, the collectors')")
	}
	if digAny(prom, "prometheus", "prometheusSpec", "enableRemoteWriteReceiver") != true {
		t.Error("prometheus.yaml: the remote-write receiver is off; the gateway's span metrics would be refused")
	}
	if f, _ := digAny(prom, "prometheus", "prometheusSpec", "enableFeatures").([]any); !slices.Contains(f, any("exemplar-storage")) {
		t.Error("prometheus.yaml: exemplar-storage is not enabled")
	}
	mod := goModVersion(t, "github.com/prometheus/prometheus")
	if tag := digString(prom, "prometheus", "prometheusSpec", "image", "tag"); tag != prometheusRelease(t, mod) {
		t.Errorf("prometheus.yaml runs Prometheus %s, the tests run %s", tag, prometheusRelease(t, mod))
	}
}

// TestK8sCollectorValidate runs `otelcol validate` on the configs the three
// releases run, with the environment their values set. The agent's
// k8s_attributes processor (configured by the chart's preset, and not in
// bin/otelcol) is left out of its pipelines for the check.
func TestK8sCollectorValidate(t *testing.T) {
	bin := testproc.Otelcol(t)
	dir := t.TempDir()
	write := func(name string, cfg any) string {
		raw, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tier := range []string{"gateway", "sampler"} {
		values := readYAMLMap(t, k8sValuesDir+"/otel-"+tier+".yaml")
		gen := readYAMLMap(t, k8svalues.Dir+"/otel-"+tier+"-config.yaml")
		var env []string
		for k, v := range extraEnv(t, values, tier) {
			env = append(env, k+"="+v)
		}
		path := write(tier+".yaml", gen["alternateConfig"])
		if out, err := otelcolValidate(t, bin, path, env); err != nil {
			t.Errorf("otelcol validate the %s release's config: %v\n%s", tier, err, out)
		}
	}

	agent := readYAMLMap(t, k8sValuesDir+"/otel-agent.yaml")
	cfg, _ := agent["alternateConfig"].(map[string]any)
	pipelines, _ := digAny(cfg, "service", "pipelines").(map[string]any)
	if len(pipelines) != 3 {
		t.Fatalf("agent pipelines = %v, want traces, logs and metrics", keysOf(pipelines))
	}
	for name, p := range pipelines {
		procs, _ := digAny(p, "processors").([]any)
		if len(procs) == 0 || procs[0] != "memory_limiter" || !slices.Contains(procs, any("k8s_attributes")) {
			t.Errorf("agent pipeline %s processors = %v, want memory_limiter first, then k8s_attributes", name, procs)
		}
		p.(map[string]any)["processors"] = slices.DeleteFunc(procs, func(v any) bool { return v == "k8s_attributes" })
	}
	if out, err := otelcolValidate(t, bin, write("agent.yaml", cfg), []string{"MY_POD_IP=127.0.0.1"}); err != nil {
		t.Errorf("otelcol validate the agent's config: %v\n%s", err, out)
	}
}

// TestK8sGrafanaProvisioning: the grafana release gets the provisioning
// files' datasources (same UIDs, same links; only the URL is the cluster's)
// and every dashboard of grafana/dashboards unchanged.
func TestK8sGrafanaProvisioning(t *testing.T) {
	gen := readYAMLMap(t, k8svalues.Dir+"/grafana-provisioning.yaml")
	src := readYAMLMap(t, "grafana/provisioning/datasources/datasources.yaml")
	got, _ := digAny(gen, "datasources", "datasources.yaml", "datasources").([]any)
	want, _ := src["datasources"].([]any)
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("grafana release has %d datasources, grafana/provisioning %d", len(got), len(want))
	}
	var uids []string
	for i := range want {
		g, w := got[i].(map[string]any), want[i].(map[string]any)
		uid, _ := w["uid"].(string)
		uids = append(uids, uid)
		if g["uid"] != uid {
			t.Errorf("datasource %d uid = %v, grafana/provisioning has %q", i, g["uid"], uid)
		}
		if g["url"] != k8svalues.DatasourceURLs[uid] {
			t.Errorf("datasource %s url = %v, want %s", uid, g["url"], k8svalues.DatasourceURLs[uid])
		}
		gc, wc := map[string]any{}, map[string]any{}
		for k, v := range g {
			gc[k] = v
		}
		for k, v := range w {
			wc[k] = v
		}
		delete(gc, "url")
		delete(wc, "url")
		if !reflect.DeepEqual(gc, wc) {
			t.Errorf("datasource %s differs from grafana/provisioning beyond its url (run make k8s-values)", uid)
		}
	}
	slices.Sort(uids)
	if !slices.Equal(uids, []string{"alertmanager", "loki", "prometheus", "pyroscope", "tempo"}) {
		t.Errorf("datasource uids = %v, want alertmanager, loki, prometheus, pyroscope, tempo", uids)
	}

	boards, _ := digAny(gen, "dashboards", "otelstarter").(map[string]any)
	files, _ := filepath.Glob(testproc.RepoPath(t, "grafana", "dashboards", "*.json"))
	if len(boards) != len(files) {
		t.Errorf("grafana release has %d dashboards, grafana/dashboards %d", len(boards), len(files))
	}
	for _, f := range files {
		key := strings.TrimSuffix(filepath.Base(f), ".json")
		inline := digString(boards, key, "json")
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal([]byte(inline), &a); err != nil {
			t.Errorf("dashboard %s in the grafana values: %v", key, err)
			continue
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("dashboard %s differs from grafana/dashboards/%s.json (run make k8s-values)", key, key)
		}
	}
	providers, _ := digAny(gen, "dashboardProviders", "dashboardproviders.yaml", "providers").([]any)
	if len(providers) != 1 || digString(providers[0], "options", "path") != k8svalues.DashboardsPath("otelstarter") {
		t.Errorf("dashboard providers = %v, want one reading %s", providers, k8svalues.DashboardsPath("otelstarter"))
	}
	values := readYAMLMap(t, k8sValuesDir+"/grafana.yaml")
	home := digString(values, "grafana.ini", "dashboards", "default_home_dashboard_path")
	if rel, ok := strings.CutPrefix(home, k8svalues.DashboardsPath("otelstarter")+"/"); !ok || boards[strings.TrimSuffix(rel, ".json")] == nil {
		t.Errorf("grafana.yaml home dashboard %q is not one of the provisioned dashboards", home)
	}
	compose := loadCompose(t)
	if _, tag, _ := strings.Cut(compose.Services["grafana"].Image, ":"); digString(values, "image", "tag") != tag {
		t.Errorf("grafana.yaml runs Grafana %s, docker-compose.yml %s", digString(values, "image", "tag"), tag)
	}
	for name, key := range map[string][]string{"loki": {"loki", "image", "tag"}, "tempo": {"tempo", "tag"}} {
		v := readYAMLMap(t, k8sValuesDir+"/"+name+".yaml")
		if _, tag, _ := strings.Cut(compose.Services[name].Image, ":"); digString(v, key...) != tag {
			t.Errorf("%s.yaml runs %s %s, docker-compose.yml %s", name, name, digString(v, key...), tag)
		}
	}
}

// TestK8sPrometheusRules: the kube-prometheus-stack release gets every
// prometheus/rules/*.yml, groups unchanged, one PrometheusRule per file.
func TestK8sPrometheusRules(t *testing.T) {
	gen := readYAMLMap(t, k8svalues.Dir+"/prometheus-rules.yaml")
	rules, _ := gen["additionalPrometheusRulesMap"].(map[string]any)
	files, _ := filepath.Glob(testproc.RepoPath(t, "prometheus", "rules", "*.yml"))
	if len(rules) != len(files) || len(files) == 0 {
		t.Errorf("release has rule sets %v for %d rule files", keysOf(rules), len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yml")
		src := readYAMLMap(t, "prometheus/rules/"+filepath.Base(f))
		if !reflect.DeepEqual(digAny(rules, name, "groups"), src["groups"]) {
			t.Errorf("rule set %s differs from %s (run make k8s-values)", name, fmt.Sprint("prometheus/rules/", filepath.Base(f)))
		}
	}
}
