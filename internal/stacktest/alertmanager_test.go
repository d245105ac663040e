package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"example.com/otelstarter/internal/k8svalues"
	"example.com/otelstarter/internal/testproc"
)

// The proofs of alertmanager/: the config as amtool reads it, the route of
// every alert rule, the inhibition, the notification templates rendered,
// and the real Alertmanager emailing a real Mailpit. The run from a failing
// app through Prometheus to a notification is the live stack test's.

// alertmanagerConfigPath is the shipped config, relative to the repository.
const alertmanagerConfigPath = "alertmanager/alertmanager.yml"

// receiverOf is the receiver each severity of the alert rules must reach.
var receiverOf = map[string]string{"page": "pager", "ticket": "ticket"}

// defaultReceiver gets every alert without a known severity.
const defaultReceiver = "default"

// alertmanagerVersion is ALERTMANAGER_VERSION of make/stack.mk.
func alertmanagerVersion(t *testing.T) string { return stackMkVersion(t, "ALERTMANAGER_VERSION") }

// amConfig is the part of alertmanager.yml the tests read.
type amConfig struct {
	Global       map[string]any `yaml:"global"`
	Templates    []string       `yaml:"templates"`
	Route        amRoute        `yaml:"route"`
	InhibitRules []struct {
		Name           string   `yaml:"name"`
		SourceMatchers []string `yaml:"source_matchers"`
		TargetMatchers []string `yaml:"target_matchers"`
		Equal          []string `yaml:"equal"`
	} `yaml:"inhibit_rules"`
	Receivers []struct {
		Name         string `yaml:"name"`
		EmailConfigs []struct {
			To           string            `yaml:"to"`
			SendResolved bool              `yaml:"send_resolved"`
			Headers      map[string]string `yaml:"headers"`
			Text         string            `yaml:"text"`
		} `yaml:"email_configs"`
	} `yaml:"receivers"`
}

type amRoute struct {
	Receiver       string    `yaml:"receiver"`
	GroupBy        []string  `yaml:"group_by"`
	Matchers       []string  `yaml:"matchers"`
	GroupWait      string    `yaml:"group_wait"`
	GroupInterval  string    `yaml:"group_interval"`
	RepeatInterval string    `yaml:"repeat_interval"`
	Routes         []amRoute `yaml:"routes"`
}

func readAlertmanagerConfig(t *testing.T) amConfig {
	t.Helper()
	var c amConfig
	readYAMLInto(t, testproc.RepoPath(t, alertmanagerConfigPath), &c)
	return c
}

// ruleServices are the services an alert of rule r can carry: the label as
// written, or for a label taken from the series ({{ $labels.job }}) the
// kit's two jobs, the API and the worker.
func ruleServices(r alertingRule) []string {
	if s := r.Labels["service"]; !strings.Contains(s, "{{") {
		return []string{s}
	}
	return []string{defaultService, workerServiceName}
}

// TestComposeAlertmanager: the alertmanager service runs the version the
// tests build, with the shipped config and templates where the config
// expects them, stays on the compose network, and is what Prometheus
// notifies; its email goes to the Mailpit service.
func TestComposeAlertmanager(t *testing.T) {
	project := loadCompose(t)
	am := project.Services["alertmanager"]
	version := alertmanagerVersion(t)
	if want := "prom/alertmanager:" + version; am.Image != want {
		t.Errorf("alertmanager image %s, want %s (ALERTMANAGER_VERSION in make/stack.mk, the bin/alertmanager and bin/amtool the tests run)", am.Image, want)
	}
	mod, err := os.ReadFile(testproc.RepoPath(t, "tools", "alertmanager", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^\s*github\.com/prometheus/alertmanager\s+(v\S+)`).FindSubmatch(mod); m == nil || string(m[1]) != version {
		t.Errorf("tools/alertmanager/go.mod requires alertmanager %q, ALERTMANAGER_VERSION is %s: upgrade both (make/stack.mk says how)", m, version)
	}

	cmd := strings.Join(am.Command, " ")
	for _, flag := range []string{"--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"} {
		if !strings.Contains(cmd, flag) {
			t.Errorf("alertmanager command %q lacks %s", cmd, flag)
		}
	}
	// A gossip cluster of one holds notifications back while it settles.
	if !slices.Contains(am.Command, "--cluster.listen-address=") {
		t.Errorf("alertmanager command %q: want --cluster.listen-address= (no cluster)", cmd)
	}
	if len(am.Ports) > 0 {
		t.Errorf("alertmanager publishes %+v: Grafana reaches it on the compose network", am.Ports)
	}
	if got := strings.Join(am.HealthCheck.Test, " "); got != "CMD wget -q -O /dev/null http://127.0.0.1:9093/-/ready" {
		t.Errorf("alertmanager healthcheck = %q, want wget of /-/ready (the image is busybox-based)", got)
	}

	// The config and the templates it names, relative to its directory.
	mounts := map[string]string{} // target -> source
	for _, v := range am.Volumes {
		mounts[v.Target] = v.Source
	}
	if src := mounts["/etc/alertmanager/alertmanager.yml"]; src != testproc.RepoPath(t, alertmanagerConfigPath) {
		t.Errorf("/etc/alertmanager/alertmanager.yml is mounted from %q, want %s", src, alertmanagerConfigPath)
	}
	cfg := readAlertmanagerConfig(t)
	for _, glob := range cfg.Templates {
		if filepath.IsAbs(glob) {
			t.Errorf("templates %q: want a path relative to the config (the same in compose, the tests and Kubernetes' generator)", glob)
			continue
		}
		dir := filepath.Dir(filepath.Join("/etc/alertmanager", glob))
		if src := mounts[dir]; src != testproc.RepoPath(t, "alertmanager", filepath.Dir(glob)) {
			t.Errorf("templates %q: %s is mounted from %q, want alertmanager/%s", glob, dir, src, filepath.Dir(glob))
		}
	}

	// Every secret file the config reads, commented alternatives included,
	// is a compose config filled from .env.
	raw, err := os.ReadFile(testproc.RepoPath(t, alertmanagerConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]string{} // target -> config source
	for _, c := range am.Configs {
		targets[c.Target] = c.Source
	}
	files := regexp.MustCompile(`(?m)^[\s#-]*[a-z_]+_file:\s*(\S+)`).FindAllSubmatch(raw, -1)
	if len(files) < 2 {
		t.Errorf("alertmanager.yml names %d secret files, want the webhook's url_file and Slack's api_url_file", len(files))
	}
	for _, m := range files {
		path := string(m[1])
		source, ok := targets[path]
		if !ok {
			t.Errorf("alertmanager.yml reads %s, which compose does not mount", path)
			continue
		}
		content := project.Configs[source].Content
		if !regexp.MustCompile(`^\$\{ALERTMANAGER_[A-Z_]+:-\}$`).MatchString(content) && content != "" {
			t.Errorf("config %s (mounted at %s) has content %q, want ${ALERTMANAGER_…:-} from .env", source, path, content)
		}
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if regexp.MustCompile(`^\s*(#\s*)?(-\s*)?(url|api_url|auth_password|smtp_auth_password):\s*\S`).MatchString(line) {
			t.Errorf("alertmanager.yml: %q: a secret in the committed file; read it from a file (url_file, api_url_file, …)", strings.TrimSpace(line))
		}
	}

	// Prometheus notifies it, and waits for it at start.
	var prom struct {
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
	}
	readYAMLInto(t, testproc.RepoPath(t, "prometheus", "prometheus.yml"), &prom)
	if a := prom.Alerting.Alertmanagers; len(a) != 1 || len(a[0].StaticConfigs) != 1 || !slices.Equal(a[0].StaticConfigs[0].Targets, []string{"alertmanager:9093"}) {
		t.Errorf("prometheus.yml alerting = %+v, want alertmanager:9093", prom.Alerting)
	}
	if _, ok := project.Services["prometheus"].DependsOn["alertmanager"]; !ok {
		t.Error("prometheus does not depend on alertmanager")
	}

	// Email to the Mailpit service's SMTP listener, in clear on the compose
	// network.
	_, smtpPort, err := net.SplitHostPort(deref(project.Services["mailpit"].Environment["MP_SMTP_BIND_ADDR"]))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Global["smtp_smarthost"]; got != "mailpit:"+smtpPort || cfg.Global["smtp_require_tls"] != false {
		t.Errorf("global smtp_smarthost %v smtp_require_tls %v, want mailpit:%s without TLS", got, cfg.Global["smtp_require_tls"], smtpPort)
	}

	for _, prog := range []string{"alertmanager", "amtool"} {
		t.Run("bin/"+prog+" is that version", func(t *testing.T) {
			bin := stackProgram(t, prog)
			out, err := exec.Command("go", "version", "-m", bin).Output()
			if err != nil {
				t.Fatalf("go version -m %s: %v", bin, err)
			}
			if !regexp.MustCompile(`(?m)^\s+mod\s+github.com/prometheus/alertmanager\s+` + regexp.QuoteMeta(version) + `\s`).Match(out) {
				t.Errorf("%s is not built from github.com/prometheus/alertmanager %s (rebuild: rm %s; make %s):\n%s", bin, version, bin, bin, out)
			}
			// The version the program reports (build_info, /api/v2/status).
			if v, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !strings.Contains(string(v), "version "+strings.TrimPrefix(version, "v")+" ") {
				t.Errorf("%s --version = %q (%v), want version %s", bin, v, err, strings.TrimPrefix(version, "v"))
			}
		})
	}
}

// amtool runs bin/amtool with args and returns its output.
func amtool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return run(t, testproc.RepoRoot(t), stackProgram(t, "amtool"), args...)
}

// TestAlertmanagerCheckConfig: amtool reads the config as Alertmanager
// does, templates included.
func TestAlertmanagerCheckConfig(t *testing.T) {
	out, err := amtool(t, "check-config", alertmanagerConfigPath)
	if err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	for _, want := range []string{"SUCCESS", " - 2 inhibit rules", " - 3 receivers", " - 1 templates"} {
		if !strings.Contains(out, want) {
			t.Errorf("amtool check-config says:\n%s\nwant %q", out, want)
		}
	}
	// amtool does not mind a glob that matches nothing; Alertmanager would
	// then fail at the first notification (template not defined).
	for _, glob := range readAlertmanagerConfig(t).Templates {
		if m, _ := filepath.Glob(filepath.Join(testproc.RepoPath(t, filepath.Dir(alertmanagerConfigPath)), glob)); len(m) == 0 {
			t.Errorf("templates %q matches no file next to alertmanager.yml", glob)
		}
	}
}

// routeCase is one `amtool config routes test` case.
type routeCase struct {
	labels   []string // name=value
	receiver string
}

// routeCases are the alerts of prometheus/rules (each with its severity and
// service) and the labels no rule should carry but someone may add.
func routeCases(t *testing.T) []routeCase {
	var cases []routeCase
	for _, r := range loadAlertingRules(t) {
		sev := r.Labels["severity"]
		want, ok := receiverOf[sev]
		if !ok {
			t.Errorf("rule %s has severity %q, want page or ticket: anything else reaches only the default receiver", r.Alert, sev)
			continue
		}
		for _, svc := range ruleServices(r) {
			cases = append(cases, routeCase{[]string{"alertname=" + r.Alert, "service=" + svc, "severity=" + sev}, want})
		}
	}
	return append(cases,
		routeCase{[]string{"alertname=SomethingNew", "service=" + defaultService, "severity=critical"}, defaultReceiver},
		routeCase{[]string{"alertname=SomethingNew", "service=" + defaultService}, defaultReceiver},
	)
}

// TestAlertmanagerRoutes: every alert rule reaches the receiver of its
// severity (`amtool config routes test`, the routing tree Alertmanager
// builds), anything else the default receiver; group_by keeps alert and
// service apart.
func TestAlertmanagerRoutes(t *testing.T) {
	cfg := readAlertmanagerConfig(t)
	if !slices.Equal(cfg.Route.GroupBy, []string{"alertname", "service"}) {
		t.Errorf("route group_by %v, want [alertname service]", cfg.Route.GroupBy)
	}
	if cfg.Route.Receiver != defaultReceiver {
		t.Errorf("route receiver %q, want %q", cfg.Route.Receiver, defaultReceiver)
	}
	for _, r := range loadAlertingRules(t) {
		if r.Labels["service"] == "" {
			t.Errorf("rule %s has no service label: it would be grouped, and inhibited, with every other such alert", r.Alert)
		}
	}
	// The page and ticket timings the issue asks for.
	for _, c := range []struct{ matcher, receiver, wait, repeat string }{
		{`severity="page"`, "pager", "10s", "1h"},
		{`severity="ticket"`, "ticket", "1m", "12h"},
	} {
		i := slices.IndexFunc(cfg.Route.Routes, func(r amRoute) bool { return slices.Equal(r.Matchers, []string{c.matcher}) })
		if i < 0 {
			t.Errorf("no route for %s", c.matcher)
			continue
		}
		r := cfg.Route.Routes[i]
		if r.Receiver != c.receiver || r.GroupWait != c.wait || r.RepeatInterval != c.repeat {
			t.Errorf("route %s: receiver %s group_wait %s repeat_interval %s, want %s %s %s", c.matcher, r.Receiver, r.GroupWait, r.RepeatInterval, c.receiver, c.wait, c.repeat)
		}
	}

	out, err := amtool(t, "config", "routes", "show", "--config.file="+alertmanagerConfigPath)
	if err != nil {
		t.Fatalf("amtool config routes show: %v\n%s", err, out)
	}
	t.Logf("amtool config routes show:\n%s", out)

	for _, c := range routeCases(t) {
		args := append([]string{"config", "routes", "test", "--config.file=" + alertmanagerConfigPath, "--verify.receivers=" + c.receiver}, c.labels...)
		out, err := amtool(t, args...)
		if err != nil {
			t.Errorf("%s: want receiver %s: %v\n%s", strings.Join(c.labels, " "), c.receiver, err, out)
			continue
		}
		t.Logf("%-75s -> %s", strings.Join(c.labels, " "), strings.TrimSpace(out))
	}
}

// TestAlertmanagerInhibitRules: the inhibition as written (routes test
// cannot evaluate it; TestAlertmanagerNotifiesMailpit runs it): BlogAPIDown
// silences the other alerts of its service, DependencyDown the burn-rate
// alerts of its service, and the rules those names stand for exist.
func TestAlertmanagerInhibitRules(t *testing.T) {
	cfg := readAlertmanagerConfig(t)
	type rule struct{ source, target string }
	want := map[rule]bool{
		{`alertname="BlogAPIDown"`, `alertname!="BlogAPIDown"`}:   true,
		{`alertname="DependencyDown"`, `alertname=~".+BurnRate"`}: true,
	}
	for _, r := range cfg.InhibitRules {
		if len(r.SourceMatchers) != 1 || len(r.TargetMatchers) != 1 {
			t.Errorf("inhibit rule %q: %v -> %v, want one matcher each", r.Name, r.SourceMatchers, r.TargetMatchers)
			continue
		}
		k := rule{r.SourceMatchers[0], r.TargetMatchers[0]}
		if !want[k] {
			t.Errorf("inhibit rule %q: %s silences %s: not one of %v", r.Name, k.source, k.target, want)
		}
		delete(want, k)
		// Without equal: [service] one service's outage would silence all.
		if !slices.Equal(r.Equal, []string{"service"}) {
			t.Errorf("inhibit rule %q: equal %v, want [service]", r.Name, r.Equal)
		}
	}
	for k := range want {
		t.Errorf("no inhibit rule %s silences %s", k.source, k.target)
	}

	names := map[string]bool{}
	burn := regexp.MustCompile(`^(?:.+BurnRate)$`) // Alertmanager anchors its regexps
	burning := 0
	for _, r := range loadAlertingRules(t) {
		names[r.Alert] = true
		if strings.Contains(r.Alert, "BurnRate") != burn.MatchString(r.Alert) {
			t.Errorf("rule %s: the DependencyDown inhibition's target .+BurnRate does not match it as it should", r.Alert)
		}
		if burn.MatchString(r.Alert) {
			burning++
		}
	}
	if !names["BlogAPIDown"] || !names["DependencyDown"] || burning == 0 {
		t.Errorf("the inhibition names BlogAPIDown, DependencyDown and *BurnRate; the rules have %v", keysOfBool(names))
	}
}

func keysOfBool(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// templateData is Alertmanager's template.Data, as amtool template render
// reads it (--template.data) and the notifiers pass it.
type templateData struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []templateAlert   `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
}

type templateAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// sampleAlert is a DependencyDown page of blog-api as Prometheus sends it.
func sampleAlert(startsAt time.Time) templateAlert {
	return templateAlert{
		Status: "firing",
		Labels: map[string]string{"alertname": "DependencyDown", "service": defaultService, "severity": "page",
			"check": "redis", "instance": "app:9464", "job": defaultService},
		Annotations: map[string]string{
			"summary":       "blog-api reports its redis dependency as failing",
			"description":   "The redis health check of app:9464 has failed for over 2 minutes (health_check_status is 0; 1 is ok).",
			"runbook_url":   "https://github.com/example/otelstarter/blob/main/docs/runbooks/DependencyDown.md",
			"dashboard_url": "http://localhost:3000/d/blog-api-dependencies?var-service=blog-api&viewPanel=panel-2",
		},
		StartsAt:     startsAt,
		GeneratorURL: "http://prometheus:9090/graph?g0.expr=health_check_status",
		Fingerprint:  "1b2c3d4e5f607182",
	}
}

// groupOf is the notification data of alerts grouped as the route groups
// them.
func groupOf(receiver string, alerts ...templateAlert) templateData {
	d := templateData{Receiver: receiver, Status: "resolved", Alerts: alerts, ExternalURL: "http://alertmanager:9093",
		GroupLabels: map[string]string{}, CommonLabels: map[string]string{}, CommonAnnotations: map[string]string{}}
	for _, a := range alerts {
		if a.Status == "firing" {
			d.Status = "firing"
		}
	}
	common := func(of func(templateAlert) map[string]string, into map[string]string) {
		for k, v := range of(alerts[0]) {
			if !slices.ContainsFunc(alerts, func(a templateAlert) bool { return of(a)[k] != v }) {
				into[k] = v
			}
		}
	}
	common(func(a templateAlert) map[string]string { return a.Labels }, d.CommonLabels)
	common(func(a templateAlert) map[string]string { return a.Annotations }, d.CommonAnnotations)
	for _, l := range []string{"alertname", "service"} {
		if v, ok := d.CommonLabels[l]; ok {
			d.GroupLabels[l] = v
		}
	}
	return d
}

// renderTemplate renders the template named name of alertmanager/templates
// with data, through amtool as Alertmanager's notifiers render them.
func renderTemplate(t *testing.T, name string, data templateData) string {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := amtool(t, "template", "render",
		"--template.glob="+testproc.RepoPath(t, "alertmanager", "templates", "*.tmpl"),
		"--template.data="+path,
		"--template.text={{ template \""+name+"\" . }}")
	if err != nil {
		t.Fatalf("amtool template render %s: %v\n%s", name, err, out)
	}
	return out
}

// grafanaURL is the template file's grafana.url, the one place the
// notifications' Grafana address is written.
func grafanaURL(t *testing.T) string {
	t.Helper()
	files, _ := filepath.Glob(testproc.RepoPath(t, "alertmanager", "templates", "*.tmpl"))
	var defs []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`\{\{ define "grafana\.url" \}\}(.*?)\{\{ end \}\}`).FindAllSubmatch(raw, -1) {
			defs = append(defs, string(m[1]))
		}
	}
	if len(defs) != 1 {
		t.Fatalf("grafana.url is defined %d times in alertmanager/templates (%q), want once", len(defs), defs)
	}
	return defs[0]
}

// notifyPane is one pane of a Grafana Explore URL's panes parameter.
type notifyPane struct {
	Datasource string `json:"datasource"`
	Queries    []struct {
		RefID      string     `json:"refId"`
		Datasource datasource `json:"datasource"`
		Expr       string     `json:"expr"`  // LogQL
		Query      string     `json:"query"` // TraceQL
		QueryType  string     `json:"queryType"`
	} `json:"queries"`
	Range struct{ From, To string } `json:"range"`
}

// linkAfter returns the URL on the line that starts with label.
func linkAfter(t *testing.T, text, label string) *url.URL {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `\s+(\S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %q line in:\n%s", label, text)
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatalf("%s %s: %v", label, m[1], err)
	}
	return u
}

// checkExploreLink decodes the Explore link of an alert of service that
// started at startsAt and checks that its panes query the provisioned Loki
// and Tempo for that service, with queries that parse, from 15 minutes
// before the alert to to.
func checkExploreLink(t *testing.T, u *url.URL, service string, startsAt time.Time, to string) {
	t.Helper()
	base := grafanaURL(t)
	if !strings.HasPrefix(u.String(), base+"/explore?") {
		t.Errorf("Explore link %s is not on %s (grafana.url)", u, base)
	}
	var panes map[string]notifyPane
	if err := json.Unmarshal([]byte(u.Query().Get("panes")), &panes); err != nil {
		t.Fatalf("Explore link panes %q: %v", u.Query().Get("panes"), err)
	}
	uids := provisionedDatasources(t)
	langs := map[string]bool{}
	for name, p := range panes {
		if len(p.Queries) != 1 || uids[p.Datasource] == "" || p.Queries[0].Datasource.UID != p.Datasource || uids[p.Datasource] != p.Queries[0].Datasource.Type {
			t.Errorf("pane %s: datasource %q queries %+v: want one query on a provisioned datasource (%v)", name, p.Datasource, p.Queries, uids)
			continue
		}
		if want := strconv.FormatInt(startsAt.Add(-15*time.Minute).UnixMilli(), 10); p.Range.From != want || p.Range.To != to {
			t.Errorf("pane %s: range %+v, want from %s (15m before the alert) to %s", name, p.Range, want, to)
		}
		q := p.Queries[0]
		langs[uids[p.Datasource]] = true
		switch uids[p.Datasource] {
		case "loki":
			if err := checkLogQL(q.Expr); err != nil {
				t.Errorf("pane %s LogQL %q: %v", name, q.Expr, err)
			}
			if !strings.Contains(q.Expr, `{service_name="`+service+`"}`) || !strings.Contains(q.Expr, "error") {
				t.Errorf("pane %s LogQL %q: want the error lines of service_name %q", name, q.Expr, service)
			}
		case "tempo":
			if err := checkTraceQL(q.Query); err != nil {
				t.Errorf("pane %s TraceQL %q: %v", name, q.Query, err)
			}
			if q.QueryType != "traceql" || !strings.Contains(q.Query, `resource.service.name = "`+service+`"`) || !strings.Contains(q.Query, "status = error") {
				t.Errorf("pane %s TraceQL %q (%s): want the error traces of %q", name, q.Query, q.QueryType, service)
			}
		}
	}
	if !langs["loki"] || !langs["tempo"] {
		t.Errorf("Explore link panes %v: want the logs (Loki) and the traces (Tempo)", keysOfBool(langs))
	}
}

// TestAlertmanagerTemplates renders the notification text with amtool, as
// Alertmanager does, and checks that it says what is wrong, since when,
// the value against its threshold (the description), and links to the
// runbook, the dashboard, the logs and traces, and a silence.
func TestAlertmanagerTemplates(t *testing.T) {
	startsAt := time.Now().Add(-12 * time.Minute).UTC().Truncate(time.Second)
	firing := sampleAlert(startsAt)
	resolved := firing
	resolved.Status, resolved.EndsAt = "resolved", startsAt.Add(9*time.Minute+30*time.Second)
	other := sampleAlert(startsAt.Add(time.Minute))
	other.Labels = map[string]string{"alertname": "DependencyDown", "service": defaultService, "severity": "page", "check": "database"}
	other.Annotations = map[string]string{"summary": "blog-api reports its database dependency as failing"}

	t.Run("firing", func(t *testing.T) {
		data := groupOf("pager", firing)
		if got, want := renderTemplate(t, "notify.subject", data), "[FIRING:1] DependencyDown on blog-api (page): "+firing.Annotations["summary"]; got != want {
			t.Errorf("subject = %q, want %q", got, want)
		}
		text := renderTemplate(t, "notify.text", data)
		t.Logf("notify.text:\n%s", text)
		for _, want := range []string{
			"FIRING: " + firing.Annotations["summary"],
			firing.Annotations["description"],
			"Since:     " + startsAt.Format("2006-01-02 15:04:05") + " UTC (firing for 12m",
			"Runbook:   " + firing.Annotations["runbook_url"],
			"Dashboard: " + firing.Annotations["dashboard_url"],
			"Labels:    check=redis, instance=app:9464, job=blog-api",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("notify.text lacks %q", want)
			}
		}
		checkExploreLink(t, linkAfter(t, text, "Explore:"), defaultService, startsAt, "now")

		silence := linkAfter(t, text, "Silence:")
		name := ""
		_, list := readDatasources(t)
		for _, d := range list {
			if d.UID == "alertmanager" {
				name = d.Name
			}
		}
		if silence.Path != "/alerting/silence/new" || silence.Query().Get("alertmanager") != name || name == "" ||
			!slices.Equal(silence.Query()["matcher"], []string{"alertname=DependencyDown", "service=blog-api"}) ||
			!strings.HasPrefix(silence.String(), grafanaURL(t)+"/") {
			t.Errorf("Silence link %s: want Grafana's new silence for alertname and service, on the Alertmanager datasource named %q", silence, name)
		}

		slack := renderTemplate(t, "notify.slack.text", data)
		for _, want := range []string{"*FIRING*: " + firing.Annotations["summary"], "<" + firing.Annotations["runbook_url"] + "|Runbook>",
			"<" + firing.Annotations["dashboard_url"] + "|Dashboard>", "|Logs and traces>"} {
			if !strings.Contains(slack, want) {
				t.Errorf("notify.slack.text lacks %q:\n%s", want, slack)
			}
		}
	})

	t.Run("resolved", func(t *testing.T) {
		data := groupOf("pager", resolved)
		if got, want := renderTemplate(t, "notify.subject", data), "[RESOLVED] DependencyDown on blog-api (page): "+firing.Annotations["summary"]; got != want {
			t.Errorf("subject = %q, want %q", got, want)
		}
		text := renderTemplate(t, "notify.text", data)
		for _, want := range []string{"RESOLVED: " + firing.Annotations["summary"],
			"Fired:     " + startsAt.Format("2006-01-02 15:04:05") + " UTC to " + resolved.EndsAt.Format("15:04:05") + " UTC (9m 30s)"} {
			if !strings.Contains(text, want) {
				t.Errorf("resolved notify.text lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "Silence:") {
			t.Errorf("resolved notify.text offers a silence:\n%s", text)
		}
		checkExploreLink(t, linkAfter(t, text, "Explore:"), defaultService, startsAt, strconv.FormatInt(resolved.EndsAt.Add(5*time.Minute).UnixMilli(), 10))
	})

	t.Run("a group of two, one resolved", func(t *testing.T) {
		data := groupOf("pager", other, resolved)
		if got, want := renderTemplate(t, "notify.subject", data), "[FIRING:1] DependencyDown on blog-api (page)"; got != want {
			t.Errorf("subject = %q, want %q (no summary common to both)", got, want)
		}
		text := renderTemplate(t, "notify.text", data)
		if !strings.HasPrefix(text, "1 firing, 1 resolved: DependencyDown on blog-api, severity page.") ||
			strings.Count(text, "Runbook:") != 1 || !strings.Contains(text, "FIRING: "+other.Annotations["summary"]) {
			t.Errorf("notify.text of a group of two:\n%s", text)
		}
	})

	// Every template alertmanager.yml names, the commented receivers'
	// too, renders (a missing one fails only at the first notification).
	raw, err := os.ReadFile(testproc.RepoPath(t, alertmanagerConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`template "([^"]+)"`).FindAllSubmatch(raw, -1) {
		named[string(m[1])] = true
	}
	for _, name := range []string{"notify.subject", "notify.text", "notify.slack.text"} {
		if !named[name] {
			t.Errorf("alertmanager.yml never uses template %s", name)
		}
	}
	for name := range named {
		for _, d := range []templateData{groupOf("pager", firing), groupOf(defaultReceiver, templateAlert{Status: "firing",
			Labels: map[string]string{"alertname": "Bare"}, StartsAt: startsAt})} {
			if out := renderTemplate(t, name, d); strings.TrimSpace(out) == "" {
				t.Errorf("template %s renders nothing for %+v", name, d.CommonLabels)
			}
		}
	}
}

// amAlert is an alert as Alertmanager's API v2 takes and returns it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt,omitzero"`
	EndsAt      time.Time         `json:"endsAt,omitzero"`
	Status      *struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
		SilencedBy  []string `json:"silencedBy"`
	} `json:"status,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// runningAlertmanager is a bin/alertmanager started by a test.
type runningAlertmanager struct {
	URL string // http://127.0.0.1:port
	*testproc.Process
}

// startAlertmanager runs bin/alertmanager with the config file at config
// (see shippedAlertmanagerConfig), on a loopback port of the kernel's
// choosing, its silences and notification log in the test's temporary
// directory, without a gossip cluster, and waits until /-/ready answers.
func startAlertmanager(t *testing.T, config string) *runningAlertmanager {
	t.Helper()
	bin := stackProgram(t, "alertmanager")
	p, addr := testproc.StartPromServer(t, "alertmanager", bin,
		"--config.file="+config,
		"--storage.path="+t.TempDir(),
		"--cluster.listen-address=",
		"--log.level=debug")
	am := &runningAlertmanager{URL: "http://" + addr, Process: p}
	testproc.WaitFor(t, "alertmanager ready", 30*time.Second, func() error { return testproc.HTTPOK(am.URL + "/-/ready") }, p)
	return am
}

// post sends alerts to POST /api/v2/alerts, as Prometheus does.
func (am *runningAlertmanager) post(t *testing.T, alerts ...amAlert) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, am.URL+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
}

// alerts returns GET /api/v2/alerts for the matchers (`service="x"`).
func (am *runningAlertmanager) alerts(t *testing.T, matchers ...string) []amAlert {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status, body, err := testproc.Get(ctx, am.URL+"/api/v2/alerts?"+url.Values{"filter": matchers}.Encode())
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /api/v2/alerts: %d %v %s", status, err, body)
	}
	var out []amAlert
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// shippedAlertmanagerConfig returns alertmanager/alertmanager.yml decoded,
// with its templates glob made absolute, for a test to point at its own
// receivers (global.smtp_smarthost, or receivers of its own) and write
// with writeYAMLFile for startAlertmanager.
func shippedAlertmanagerConfig(t *testing.T) map[string]any {
	t.Helper()
	cfg := readYAMLMap(t, alertmanagerConfigPath)
	globs, _ := cfg["templates"].([]any)
	for i, g := range globs {
		globs[i] = filepath.Join(testproc.RepoPath(t, filepath.Dir(alertmanagerConfigPath)), g.(string))
	}
	return cfg
}

// setRouteTimings sets group_wait and group_interval on the route and
// every route below it that sets them, so that a test need not wait the
// shipped minutes; routing, inhibition and receivers stay as shipped.
func setRouteTimings(route map[string]any, groupWait, groupInterval string) {
	route["group_wait"], route["group_interval"] = groupWait, groupInterval
	children, _ := route["routes"].([]any)
	for _, c := range children {
		setRouteTimings(c.(map[string]any), groupWait, groupInterval)
	}
}

// writeYAMLFile writes v to a YAML file in the test's temporary directory.
func writeYAMLFile(t *testing.T, v any) string {
	t.Helper()
	raw, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mailpitSubjects returns every message Mailpit holds, by subject, with the
// address it was sent to.
func mailpitSubjects(t *testing.T, mp *testproc.Mailpit) map[string]testproc.MailpitMessage {
	t.Helper()
	msgs, err := mp.Messages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]testproc.MailpitMessage{}
	for _, m := range msgs {
		out[m.Subject] = m
	}
	return out
}

func mailpitRead(t *testing.T, mp *testproc.Mailpit, id string) testproc.MailpitMessage {
	t.Helper()
	m, err := mp.Message(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAlertmanagerNotifiesMailpit runs the real Alertmanager with the
// shipped routing, inhibition, receivers and templates (only the SMTP
// server is the test's Mailpit, and the group waits are seconds), posts
// alerts as Prometheus would, and reads the emails back: each severity
// reaches its address, an inhibited alert sends nothing (and the API says
// what inhibits it), and the resolved notification follows.
func TestAlertmanagerNotifiesMailpit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Alertmanager and Mailpit")
	}
	stackProgram(t, "alertmanager")
	mp := testproc.StartMailpit(t)
	cfg := shippedAlertmanagerConfig(t)
	cfg["global"].(map[string]any)["smtp_smarthost"] = mp.SMTP
	setRouteTimings(cfg["route"].(map[string]any), "3s", "2s")
	am := startAlertmanager(t, writeYAMLFile(t, cfg))

	// Now, as Prometheus sends an alert's StartsAt (the time it fired): an
	// alert older than group_wait is flushed at once, before the inhibitor
	// may have seen the alert that inhibits it.
	startsAt := time.Now().UTC()
	alert := func(name, service, severity, summary string) amAlert {
		a := amAlert{Labels: map[string]string{"alertname": name, "service": service}, StartsAt: startsAt,
			Annotations: map[string]string{"summary": summary, "description": summary + ", in detail."}}
		if severity != "" {
			a.Labels["severity"] = severity
		}
		return a
	}
	dependency := alert("DependencyDown", defaultService, "page", "blog-api reports its redis dependency as failing")
	s := sampleAlert(startsAt)
	dependency.Annotations, dependency.Labels["check"] = s.Annotations, "redis"
	// Distinct services keep the inhibition cases apart (equal: [service]).
	sent := []amAlert{
		dependency,
		alert("JobsDiscarded", workerServiceName, "ticket", "blog-worker discarded jobs"),
		alert("SomethingNew", defaultService, "critical", "a rule without a page or ticket severity"),
		alert("BlogAPIDown", "down-svc", "page", "down-svc is down"),
		alert("BlogAPIAvailabilityBurnRate", "down-svc", "page", "down-svc burns its budget"),
		alert("JobsDiscarded", "down-svc", "ticket", "down-svc discarded jobs"),
		alert("DependencyDown", "dep-svc", "page", "dep-svc reports a failing dependency"),
		alert("BlogAPILatencyBurnRate", "dep-svc", "page", "dep-svc is slow, fast burn"),
		alert("BlogAPILatencyBurnRate", "dep-svc", "ticket", "dep-svc is slow, slow burn"),
		alert("BlogAPIAvailabilityBurnRate", "other-svc", "page", "other-svc burns its budget"),
	}
	am.post(t, sent...)

	subject := func(a amAlert, status string) string {
		s := "[" + status + "] " + a.Labels["alertname"] + " on " + a.Labels["service"]
		if status == "FIRING" {
			s = "[FIRING:1] " + a.Labels["alertname"] + " on " + a.Labels["service"]
		}
		if sev := a.Labels["severity"]; sev != "" {
			s += " (" + sev + ")"
		}
		return s + ": " + a.Annotations["summary"]
	}
	wantTo := map[string]string{ // subject -> address
		subject(sent[0], "FIRING"): "pager@blog.localhost",
		subject(sent[1], "FIRING"): "tickets@blog.localhost",
		subject(sent[2], "FIRING"): "alerts@blog.localhost",
		subject(sent[3], "FIRING"): "pager@blog.localhost",
		subject(sent[6], "FIRING"): "pager@blog.localhost",
		subject(sent[9], "FIRING"): "pager@blog.localhost", // BlogAPIDown of down-svc silences down-svc only
	}
	suppressed := []amAlert{sent[4], sent[5], sent[7], sent[8]}

	var got map[string]testproc.MailpitMessage
	began := time.Now()
	testproc.WaitFor(t, "the notifications in Mailpit", time.Minute, func() error {
		got = mailpitSubjects(t, mp)
		for s := range wantTo {
			if _, ok := got[s]; !ok {
				return fmt.Errorf("no email %q yet (have %v)", s, keysOfMessages(got))
			}
		}
		return nil
	}, am.Process, mp.Process)
	t.Logf("all %d notifications arrived %s after the alerts were posted", len(wantTo), time.Since(began).Round(100*time.Millisecond))
	for s, to := range wantTo {
		if m := got[s]; len(m.To) != 1 || m.To[0].Address != to {
			t.Errorf("%q went to %+v, want %s", s, m.To, to)
		}
	}

	// The inhibited alerts are held back, and the API says by which alert.
	for _, a := range suppressed {
		svc := a.Labels["service"]
		for _, st := range am.alerts(t, `service="`+svc+`"`, `alertname="`+a.Labels["alertname"]+`"`) {
			if st.Status == nil || st.Status.State != "suppressed" || len(st.Status.InhibitedBy) == 0 {
				t.Errorf("%s %v: status %+v, want suppressed, inhibited", a.Labels["alertname"], st.Labels, st.Status)
			}
		}
	}
	for _, src := range []amAlert{sent[3], sent[6], sent[9]} {
		for _, st := range am.alerts(t, `service="`+src.Labels["service"]+`"`, `alertname="`+src.Labels["alertname"]+`"`) {
			if st.Status == nil || st.Status.State != "active" {
				t.Errorf("%s %v: status %+v, want active", src.Labels["alertname"], st.Labels, st.Status)
			}
		}
	}
	// Two more group intervals: any notification of an inhibited alert
	// would have gone out by now.
	time.Sleep(5 * time.Second)
	got = mailpitSubjects(t, mp)
	for _, a := range suppressed {
		if _, ok := got[subject(a, "FIRING")]; ok {
			t.Errorf("inhibited %s of %s (%s) was notified", a.Labels["alertname"], a.Labels["service"], a.Labels["severity"])
		}
	}
	if len(got) != len(wantTo) {
		t.Errorf("Mailpit holds %d emails, want %d: %v", len(got), len(wantTo), keysOfMessages(got))
	}

	// The page as a person reads it.
	page := mailpitRead(t, mp, got[subject(sent[0], "FIRING")].ID)
	if page.From.Address != "alertmanager@blog.localhost" {
		t.Errorf("page from %q, want alertmanager@blog.localhost", page.From.Address)
	}
	for _, want := range []string{dependency.Annotations["description"], "Runbook:   " + dependency.Annotations["runbook_url"],
		"Dashboard: " + dependency.Annotations["dashboard_url"], "Since:     " + startsAt.Format("2006-01-02 15:04:05") + " UTC",
		"Explore:   " + grafanaURL(t) + "/explore?", "Silence:   " + grafanaURL(t) + "/alerting/silence/new?"} {
		if !strings.Contains(page.Text, want) {
			t.Errorf("the page's text lacks %q:\n%s", want, page.Text)
		}
	}

	// Recovery: Prometheus sends the alert with its end; the resolved email
	// follows within a group interval.
	resolved := sent[0]
	resolved.EndsAt = time.Now().UTC()
	am.post(t, resolved)
	began = time.Now()
	var done testproc.MailpitMessage
	testproc.WaitFor(t, "the resolved notification", 30*time.Second, func() error {
		m, ok := mailpitSubjects(t, mp)[subject(resolved, "RESOLVED")]
		if !ok {
			return fmt.Errorf("no resolved email yet")
		}
		done = m
		return nil
	}, am.Process, mp.Process)
	t.Logf("the resolved notification arrived %s after the alert ended", time.Since(began).Round(100*time.Millisecond))
	if text := mailpitRead(t, mp, done.ID).Text; !strings.Contains(text, "RESOLVED: "+dependency.Annotations["summary"]) || !strings.Contains(text, "Fired:") {
		t.Errorf("the resolved email's text:\n%s", text)
	}
}

func keysOfMessages(m map[string]testproc.MailpitMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestK8sAlertmanager: kube-prometheus-stack's Alertmanager runs the
// compose file's routing, inhibition, receivers and templates, changed only
// where a cluster differs (k8svalues: the templates' mount, the SMTP
// placeholder, the chart's own Watchdog and InfoInhibitor routed to no
// one), at the version the tests run; amtool accepts the result and routes
// it as compose's.
func TestK8sAlertmanager(t *testing.T) {
	gen := readYAMLMap(t, k8svalues.Dir+"/alertmanager.yaml")
	got, _ := digAny(gen, "alertmanager", "config").(map[string]any)
	if got == nil || len(gen) != 1 {
		t.Fatalf("%s: want alertmanager.config (and templateFiles) only, got keys %v", k8svalues.Dir+"/alertmanager.yaml", keysOf(gen))
	}

	want := readYAMLMap(t, alertmanagerConfigPath)
	want["templates"] = []any{k8svalues.AlertmanagerTemplatesDir + "/*.tmpl"}
	for k, v := range k8svalues.AlertmanagerSMTP {
		var val any = v
		if b, err := strconv.ParseBool(v); err == nil {
			val = b
		}
		want["global"].(map[string]any)[k] = val
	}
	route := want["route"].(map[string]any)
	route["routes"] = append([]any{map[string]any{
		"matchers": []any{`alertname=~"` + k8svalues.AlertmanagerNullAlerts + `"`},
		"receiver": "null",
	}}, route["routes"].([]any)...)
	want["receivers"] = append(want["receivers"].([]any), map[string]any{"name": "null"})
	if !reflect.DeepEqual(got, want) {
		a, _ := yaml.Marshal(got)
		b, _ := yaml.Marshal(want)
		t.Errorf("alertmanager.config is not alertmanager.yml with the cluster's changes (run make k8s-values):\n%s\nwant:\n%s", a, b)
	}

	files, _ := digAny(gen, "alertmanager", "templateFiles").(map[string]any)
	srcs, _ := filepath.Glob(testproc.RepoPath(t, "alertmanager", "templates", "*.tmpl"))
	if len(files) != len(srcs) || len(srcs) == 0 {
		t.Errorf("templateFiles %v, alertmanager/templates has %d files", keysOf(files), len(srcs))
	}
	dir := t.TempDir()
	for _, src := range srcs {
		body, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(src)
		if files[name] != strings.TrimRight(string(body), "\n") {
			t.Errorf("templateFiles[%s] differs from alertmanager/templates/%s (run make k8s-values)", name, name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	values := readYAMLMap(t, k8sValuesDir+"/prometheus.yaml")
	if digAny(values, "alertmanager", "enabled") != true {
		t.Error("prometheus.yaml: alertmanager.enabled is not true")
	}
	if tag := digString(values, "alertmanager", "alertmanagerSpec", "image", "tag"); tag != alertmanagerVersion(t) {
		t.Errorf("prometheus.yaml runs Alertmanager %s, the tests %s (ALERTMANAGER_VERSION)", tag, alertmanagerVersion(t))
	}
	if svc := digString(values, "fullnameOverride") + "-alertmanager." + k8svalues.Namespace + ".svc.cluster.local"; svc != k8svalues.AlertmanagerService ||
		k8svalues.DatasourceURLs["alertmanager"] != "http://"+svc+":9093" {
		t.Errorf("Grafana's alertmanager datasource %s, the release's Service %s:9093", k8svalues.DatasourceURLs["alertmanager"], svc)
	}
	mk, err := os.ReadFile(testproc.RepoPath(t, "make", "k8s-install.mk"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "$(K8S_GENERATED)/alertmanager.yaml") {
		t.Error("make/k8s-install.mk does not install the kps release with generated/alertmanager.yaml")
	}

	t.Run("amtool", func(t *testing.T) {
		got["templates"] = []any{filepath.Join(dir, "*.tmpl")}
		path := writeYAMLFile(t, got)
		if out, err := amtool(t, "check-config", path); err != nil {
			t.Fatalf("amtool check-config of the cluster's config: %v\n%s", err, out)
		}
		for _, c := range append(routeCases(t),
			routeCase{[]string{"alertname=Watchdog", "severity=none"}, "null"},
			routeCase{[]string{"alertname=InfoInhibitor", "severity=none"}, "null"},
			routeCase{[]string{"alertname=KubePodCrashLooping", "severity=warning", "namespace=blog"}, defaultReceiver},
		) {
			args := append([]string{"config", "routes", "test", "--config.file=" + path, "--verify.receivers=" + c.receiver}, c.labels...)
			if out, err := amtool(t, args...); err != nil {
				t.Errorf("%s: want receiver %s: %v\n%s", strings.Join(c.labels, " "), c.receiver, err, out)
			}
		}
	})
}
