package stacktest

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"example.com/otelstarter/internal/testproc"
)

// The links in alerts and runbooks point at the local stack (Grafana on
// localhost:3000, docker-compose.yml) and at the kit's repository, whose
// path `make rename` rewrites with the rest.
const (
	runbookBase  = "https://github.com/example/otelstarter/blob/main/docs/runbooks/"
	localGrafana = "http://localhost:3000"
)

// updateRunbookLinks rewrites the Explore link under every query of the
// runbooks from the query itself, so that a runbook's author edits the
// readable query and never the URL-encoded JSON.
var updateRunbookLinks = flag.Bool("update-runbook-links", false,
	"rewrite the Grafana Explore link under each query block of docs/runbooks/*.md")

// alertingRule is an alerting rule of prometheus/rules/*.yml.
type alertingRule struct {
	file        string
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// loadAlertingRules returns every alerting rule of prometheus/rules/*.yml;
// sloth's page and ticket alerts of an SLO are two rules of one name.
func loadAlertingRules(tb testing.TB) []alertingRule {
	tb.Helper()
	files, _ := filepath.Glob(testproc.RepoPath(tb, "prometheus", "rules", "*.yml"))
	var out []alertingRule
	for _, f := range files {
		var file struct {
			Groups []struct {
				Rules []alertingRule `yaml:"rules"`
			} `yaml:"groups"`
		}
		readYAMLInto(tb, f, &file)
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					r.file = filepath.Base(f)
					out = append(out, r)
				}
			}
		}
	}
	if len(out) == 0 {
		tb.Fatal("no alerting rules in prometheus/rules/*.yml")
	}
	return out
}

// TestRunbooks holds the alerts to what a person paged at night needs: a
// route (severity, service), a runbook that exists, a dashboard that exists,
// and runbook queries that run. Loki and Tempo cannot run here, so their
// queries get the syntax checks the dashboards get (querylang_test.go).
func TestRunbooks(t *testing.T) {
	rules := loadAlertingRules(t)
	dashboards := map[string]dashboard{}
	for _, d := range loadDashboards(t) {
		dashboards[d.UID] = d
	}
	runbookDir := testproc.RepoPath(t, "docs", "runbooks")

	t.Run("every alert routes and links its runbook and dashboard", func(t *testing.T) {
		jobs := promScrapeJobs(t)
		for _, r := range rules {
			where := fmt.Sprintf("%s: %s (severity %s)", r.file, r.Alert, r.Labels["severity"])
			// Alertmanager routes on severity and groups and inhibits by
			// service (alertmanager/alertmanager.yml).
			if s := r.Labels["severity"]; s != "page" && s != "ticket" {
				t.Errorf("%s: label severity = %q, want page or ticket", where, s)
			}
			service := r.Labels["service"]
			if service != "{{ $labels.job }}" && !slices.Contains(jobs, service) {
				t.Errorf("%s: label service = %q, want a scrape job of prometheus/prometheus.yml %v or '{{ $labels.job }}'", where, service, jobs)
			}
			for _, a := range []string{"summary", "description", "runbook_url", "dashboard_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", where, a)
				}
			}
			if d := r.Annotations["description"]; d != "" && !strings.Contains(d, "$value") {
				t.Errorf("%s: the description does not give the current value ({{ $value }}): %q", where, d)
			}
			if got, want := r.Annotations["runbook_url"], runbookBase+r.Alert+".md"; got != want {
				t.Errorf("%s: runbook_url = %q, want %q", where, got, want)
			}
			if _, err := os.Stat(filepath.Join(runbookDir, r.Alert+".md")); err != nil {
				t.Errorf("%s: no runbook: %v", where, err)
			}
			if u := r.Annotations["dashboard_url"]; u != "" {
				if err := checkDashboardURL(u, service, dashboards); err != nil {
					t.Errorf("%s: dashboard_url %s: %v", where, u, err)
				}
			}
		}
	})

	runbooks, _ := filepath.Glob(filepath.Join(runbookDir, "*.md"))
	t.Run("every runbook belongs to an alert and is indexed", func(t *testing.T) {
		index, err := os.ReadFile(filepath.Join(runbookDir, "README.md"))
		if err != nil {
			t.Fatalf("docs/runbooks/README.md indexes the runbooks: %v", err)
		}
		for _, f := range runbooks {
			name := strings.TrimSuffix(filepath.Base(f), ".md")
			if name == "README" {
				continue
			}
			if !slices.ContainsFunc(rules, func(r alertingRule) bool { return r.Alert == name }) {
				t.Errorf("docs/runbooks/%s.md: no alert %s in prometheus/rules", name, name)
			}
			if !strings.Contains(string(index), "("+name+".md)") {
				t.Errorf("docs/runbooks/README.md does not link %s.md", name)
			}
		}
	})

	known := knownMetricNames(t)
	uids := provisionedDatasources(t)
	for _, f := range runbooks {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			doc := string(raw)
			if *updateRunbookLinks {
				doc = writeExploreLinks(t, doc)
				if doc != string(raw) {
					if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
						t.Fatal(err)
					}
					t.Logf("rewrote the Explore links of %s", filepath.Base(f))
				}
			}
			checkRunbook(t, doc, filepath.Base(f) != "README.md", known, uids, dashboards)
		})
	}
}

// checkRunbook checks the queries and links of one page of docs/runbooks;
// an alert's runbook (not the index) has queries of every signal.
func checkRunbook(t *testing.T, doc string, alertRunbook bool, known map[string]bool, uids map[string]string, dashboards map[string]dashboard) {
	t.Helper()
	blocks := queryBlocks(doc)
	langs := map[string]int{}
	for _, b := range blocks {
		langs[b.lang]++
		if err := checkRunbookQuery(b.lang, b.query, known); err != nil {
			t.Errorf("line %d, %s query %q: %v", b.line, b.lang, b.query, err)
		}
		// The link under the query is the query, so that one click runs
		// what the reader just read.
		want := exploreURL(b.lang, b.query)
		if b.link == "" {
			t.Errorf("line %d: no Explore link under the %s query; run go test ./internal/stacktest -run TestRunbooks -update-runbook-links", b.line, b.lang)
		} else if b.link != want {
			t.Errorf("line %d: the Explore link under the %s query runs %s; run go test ./internal/stacktest -run TestRunbooks -update-runbook-links",
				b.line, b.lang, exploreLinkQueries(b.link))
		}
	}
	for _, lang := range []string{"promql", "logql", "traceql"} {
		if alertRunbook && langs[lang] == 0 {
			t.Errorf("no %s query: a runbook starts from metrics, logs and traces", lang)
		}
	}
	// Every link into Grafana, wherever it is, decodes and opens something
	// that exists.
	for _, m := range grafanaLink.FindAllStringSubmatchIndex(doc, -1) {
		link := doc[m[2]:m[3]]
		line := strings.Count(doc[:m[0]], "\n") + 1
		var err error
		switch {
		case strings.HasPrefix(link, localGrafana+"/explore?"):
			err = checkExploreURL(link, uids, known)
		case strings.HasPrefix(link, localGrafana+"/d/"):
			err = checkDashboardURL(link, "", dashboards)
		default:
			err = fmt.Errorf("neither an Explore link nor a dashboard")
		}
		if err != nil {
			t.Errorf("line %d: %s: %v", line, link, err)
		}
	}
}

// grafanaLink is a Markdown link into the local Grafana. Explore links are
// URL-encoded (url.QueryEscape leaves no parenthesis or space), so the
// link ends at the first ")".
var grafanaLink = regexp.MustCompile(`\]\((` + regexp.QuoteMeta(localGrafana) + `/[^)\s]*)\)`)

// queryBlock is a fenced query of a runbook and the Explore link under it.
type queryBlock struct {
	lang, query string
	line        int // of the opening fence
	linkLine    int // index of the link's line, or -1
	link        string
}

// exploreLinkLine is the line under a query block.
var exploreLinkLine = regexp.MustCompile(`^\[Open in Grafana Explore\]\((` + regexp.QuoteMeta(localGrafana) + `/explore\?[^)\s]*)\)$`)

// queryBlocks returns the promql, logql and traceql fenced blocks of doc.
func queryBlocks(doc string) []queryBlock {
	lines := strings.Split(doc, "\n")
	var out []queryBlock
	for i := 0; i < len(lines); i++ {
		lang, ok := strings.CutPrefix(lines[i], "```")
		if !ok || lang == "" {
			continue
		}
		start := i
		for i++; i < len(lines) && lines[i] != "```"; i++ {
		}
		if lang != "promql" && lang != "logql" && lang != "traceql" {
			continue
		}
		b := queryBlock{lang: lang, query: strings.TrimSpace(strings.Join(lines[start+1:min(i, len(lines))], "\n")), line: start + 1, linkLine: -1}
		if i+1 < len(lines) {
			if m := exploreLinkLine.FindStringSubmatch(lines[i+1]); m != nil {
				b.linkLine, b.link = i+1, m[1]
			}
		}
		out = append(out, b)
	}
	return out
}

// writeExploreLinks puts under every query block of doc the Explore link
// that runs it.
func writeExploreLinks(tb testing.TB, doc string) string {
	tb.Helper()
	lines := strings.Split(doc, "\n")
	blocks := queryBlocks(doc)
	// From the end, so that inserted lines do not move the blocks still to do.
	for _, b := range slices.Backward(blocks) {
		link := "[Open in Grafana Explore](" + exploreURL(b.lang, b.query) + ")"
		if b.linkLine >= 0 {
			lines[b.linkLine] = link
			continue
		}
		end := b.line // the closing fence's index: the first "```" after the opening one
		for end < len(lines) && lines[end] != "```" {
			end++
		}
		if end == len(lines) {
			tb.Fatalf("line %d: unclosed %s block", b.line, b.lang)
		}
		lines = slices.Insert(lines, end+1, link)
	}
	return strings.Join(lines, "\n")
}

// explorePane is one pane of a Grafana Explore URL: its panes parameter is
// a JSON object of these by pane ID (schemaVersion=1).
type explorePane struct {
	Datasource string         `json:"datasource"`
	Queries    []exploreQuery `json:"queries"`
	Range      struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"range"`
}

type exploreQuery struct {
	RefID      string     `json:"refId"`
	Datasource datasource `json:"datasource"`
	Expr       string     `json:"expr,omitempty"`      // PromQL, LogQL
	Query      string     `json:"query,omitempty"`     // TraceQL
	QueryType  string     `json:"queryType,omitempty"` // "traceql" for Tempo
	Exemplar   bool       `json:"exemplar,omitempty"`  // Prometheus: show exemplars, links to traces
}

// datasourceOfLang is the provisioned datasource (uid = type) of each query
// language.
var datasourceOfLang = map[string]string{"promql": "prometheus", "logql": "loki", "traceql": "tempo"}

// exploreURL returns the Grafana Explore URL that runs one query over the
// last hour. Histogram queries ask for exemplars: their dots link to the
// traces of the requests they measured.
func exploreURL(lang, q string) string {
	uid := datasourceOfLang[lang]
	eq := exploreQuery{RefID: "A", Datasource: datasource{Type: uid, UID: uid}}
	switch lang {
	case "traceql":
		eq.Query, eq.QueryType = q, "traceql"
	case "promql":
		eq.Expr, eq.Exemplar = q, strings.Contains(q, "_bucket")
	default:
		eq.Expr = q
	}
	pane := explorePane{Datasource: uid, Queries: []exploreQuery{eq}}
	pane.Range.From, pane.Range.To = "now-1h", "now"
	panes, err := json.Marshal(map[string]explorePane{"a": pane})
	if err != nil {
		panic(err)
	}
	return localGrafana + "/explore?schemaVersion=1&panes=" + url.QueryEscape(string(panes)) + "&orgId=1"
}

// exploreLinkQueries describes what an Explore link runs, for a message.
func exploreLinkQueries(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return err.Error()
	}
	var panes map[string]explorePane
	if err := json.Unmarshal([]byte(u.Query().Get("panes")), &panes); err != nil {
		return "undecodable panes: " + err.Error()
	}
	var qs []string
	for _, p := range panes {
		for _, q := range p.Queries {
			qs = append(qs, fmt.Sprintf("%s %q", q.Datasource.UID, q.Expr+q.Query))
		}
	}
	return strings.Join(qs, ", ")
}

// checkExploreURL decodes an Explore URL as Grafana does and checks its
// panes' datasources and queries.
func checkExploreURL(link string, uids map[string]string, known map[string]bool) error {
	u, err := url.Parse(link)
	if err != nil {
		return err
	}
	q := u.Query()
	if q.Get("schemaVersion") != "1" {
		return fmt.Errorf("schemaVersion = %q, want 1 (the panes format)", q.Get("schemaVersion"))
	}
	var panes map[string]explorePane
	dec := json.NewDecoder(strings.NewReader(q.Get("panes")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&panes); err != nil {
		return fmt.Errorf("panes: %v", err)
	}
	if len(panes) == 0 {
		return fmt.Errorf("no pane")
	}
	for id, p := range panes {
		if len(p.Queries) == 0 {
			return fmt.Errorf("pane %s: no query", id)
		}
		if p.Range.From == "" || p.Range.To == "" {
			return fmt.Errorf("pane %s: no time range", id)
		}
		for _, eq := range p.Queries {
			if eq.Datasource.UID != p.Datasource {
				return fmt.Errorf("pane %s: query %s on datasource %q, the pane's is %q", id, eq.RefID, eq.Datasource.UID, p.Datasource)
			}
			if typ, ok := uids[eq.Datasource.UID]; !ok || typ != eq.Datasource.Type {
				return fmt.Errorf("pane %s: datasource %+v is not provisioned", id, eq.Datasource)
			}
			var lang, text string
			switch eq.Datasource.Type {
			case "prometheus":
				lang, text = "promql", eq.Expr
			case "loki":
				lang, text = "logql", eq.Expr
			case "tempo":
				lang, text = "traceql", eq.Query
				if eq.QueryType != "traceql" {
					return fmt.Errorf("pane %s: Tempo query type %q, want traceql", id, eq.QueryType)
				}
			default:
				return fmt.Errorf("pane %s: datasource type %q", id, eq.Datasource.Type)
			}
			if err := checkRunbookQuery(lang, text, known); err != nil {
				return fmt.Errorf("pane %s: %s %q: %v", id, lang, text, err)
			}
		}
	}
	return nil
}

// checkRunbookQuery parses a query of lang. PromQL must also name metrics the kit
// has: the app's, as the dashboards or the rules query them.
func checkRunbookQuery(lang, q string, known map[string]bool) error {
	switch lang {
	case "logql":
		return checkLogQL(q)
	case "traceql":
		return checkTraceQL(q)
	case "promql":
		e, err := parsePromQL(q)
		if err != nil {
			return err
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && err == nil && !known[vs.Name] {
				err = fmt.Errorf("metric %s is queried by no dashboard or rule; a typo?", vs.Name)
			}
			return nil
		})
		return err
	}
	return fmt.Errorf("unknown query language %q", lang)
}

// knownMetricNames returns the series names the dashboards and the rules
// query or record, and Prometheus's own: what a runbook may query.
func knownMetricNames(tb testing.TB) map[string]bool {
	tb.Helper()
	known := map[string]bool{"up": true, "ALERTS": true, "ALERTS_FOR_STATE": true}
	addNames := func(expr string) {
		e, err := parsePromQL(expandGrafanaVars(expr))
		if err != nil {
			return // reported by the dashboards' and rules' own tests
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				known[vs.Name] = true
			}
			return nil
		})
	}
	for _, q := range queries(tb, loadDashboards(tb), provisionedDatasources(tb)) {
		if q.lang == "promql" {
			addNames(q.expr)
		}
	}
	files, _ := filepath.Glob(testproc.RepoPath(tb, "prometheus", "rules", "*.yml"))
	for _, f := range files {
		var file struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
					Expr   string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		readYAMLInto(tb, f, &file)
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					known[r.Record] = true
				}
				addNames(r.Expr)
			}
		}
	}
	return known
}

// checkDashboardURL checks a link to a dashboard: the dashboard exists, it
// opens on service (when service is not empty), and the panel it views
// exists.
func checkDashboardURL(link, service string, dashboards map[string]dashboard) error {
	rest, ok := strings.CutPrefix(link, localGrafana+"/d/")
	if !ok {
		return fmt.Errorf("want %s/d/<dashboard uid>?var-service=<service>", localGrafana)
	}
	uid, rawQuery, _ := strings.Cut(rest, "?")
	uid, _, _ = strings.Cut(uid, "/") // /d/<uid>/<slug> is valid too
	d, ok := dashboards[uid]
	if !ok {
		return fmt.Errorf("no dashboard with uid %q in grafana/dashboards", uid)
	}
	// Alert templates ({{ $labels.job }}) are not URL-encoded; ParseQuery
	// takes them as they are.
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return err
	}
	if d.variable("service") != nil && q.Get("var-service") == "" {
		return fmt.Errorf("no var-service: the dashboard would open on its default service")
	}
	if service != "" && q.Get("var-service") != service {
		return fmt.Errorf("var-service = %q, want the alert's service %q", q.Get("var-service"), service)
	}
	if v := q.Get("viewPanel"); v != "" {
		id, err := strconv.Atoi(strings.TrimPrefix(v, "panel-"))
		if err != nil {
			return fmt.Errorf("viewPanel = %q, want panel-<id>", v)
		}
		if !slices.ContainsFunc(allPanels(d.Panels), func(p panel) bool { return p.ID == id && p.Type != "row" }) {
			return fmt.Errorf("viewPanel: %s has no panel %d", d.file, id)
		}
	}
	return nil
}

// promScrapeJobs returns the job names of prometheus/prometheus.yml: the
// services an alert can be about.
func promScrapeJobs(tb testing.TB) []string {
	tb.Helper()
	var cfg struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	readYAMLInto(tb, testproc.RepoPath(tb, "prometheus", "prometheus.yml"), &cfg)
	var jobs []string
	for _, s := range cfg.ScrapeConfigs {
		jobs = append(jobs, s.JobName)
	}
	return jobs
}
