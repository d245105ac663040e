package stacktest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v4"

	"example.com/otelstarter/internal/testproc"
)

// dashboard is the part of a Grafana dashboard JSON the tests read.
type dashboard struct {
	file       string
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Links []struct {
		Type        string   `json:"type"`
		Tags        []string `json:"tags"`
		IncludeVars bool     `json:"includeVars"`
	} `json:"links"`
}

// variable is one template variable of a dashboard.
type variable struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	Type       string          `json:"type"`
	Datasource *datasource     `json:"datasource"`
	Definition string          `json:"definition"`
	Query      json.RawMessage `json:"query"` // a string, or {"query": …} from the Prometheus editor
	Refresh    int             `json:"refresh"`
	Sort       int             `json:"sort"`
	IncludeAll bool            `json:"includeAll"`
	Multi      bool            `json:"multi"`
	Current    struct {
		Text  any `json:"text"`
		Value any `json:"value"`
	} `json:"current"`
}

// queryText returns the variable's query whichever form it is stored in.
func (v variable) queryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

func (d dashboard) variable(name string) *variable {
	for i := range d.Templating.List {
		if d.Templating.List[i].Name == name {
			return &d.Templating.List[i]
		}
	}
	return nil
}

type panel struct {
	ID         int                 `json:"id"`
	Type       string              `json:"type"`
	Title      string              `json:"title"`
	Datasource *datasource         `json:"datasource"`
	Targets    []target            `json:"targets"`
	Panels     []panel             `json:"panels"` // collapsed rows
	GridPos    *struct{ W, H int } `json:"gridPos"`
	Options    alertListOptions    `json:"options"`
}

// alertListOptions are the options of an alert list panel (type
// alertlist), which has no queries: Grafana asks the datasource named in
// Datasource for its alert rules and their alerts.
type alertListOptions struct {
	Datasource               string `json:"datasource"` // a datasource's name, not its uid
	AlertInstanceLabelFilter string `json:"alertInstanceLabelFilter"`
	StateFilter              struct {
		Firing, Pending bool
	} `json:"stateFilter"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string      `json:"refId"`
	Datasource *datasource `json:"datasource"`
	Expr       string      `json:"expr"`  // PromQL or LogQL
	Query      string      `json:"query"` // TraceQL
	QueryType  string      `json:"queryType"`
	Exemplar   bool        `json:"exemplar"`
	// A Pyroscope query (GrafanaPyroscopeDataQuery): a profile type and a
	// label selector; queryType is profile, metrics or both.
	ProfileTypeID string `json:"profileTypeId"`
	LabelSelector string `json:"labelSelector"`
}

// query is one expression of one panel. For a Pyroscope query, expr is the
// label selector and profile the rest of the query.
type query struct {
	dashboard, panel, lang, expr string
	profile                      *target
}

func (q query) String() string { return fmt.Sprintf("%s / %q: %s", q.dashboard, q.panel, q.expr) }

func loadDashboards(tb testing.TB) []dashboard {
	tb.Helper()
	files, err := filepath.Glob(testproc.RepoPath(tb, "grafana", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no dashboards in grafana/dashboards (%v)", err)
	}
	var out []dashboard
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		if err := dec.Decode(&d); err != nil {
			tb.Fatalf("%s is not valid JSON: %v", filepath.Base(f), err)
		}
		d.file = filepath.Base(f)
		out = append(out, d)
	}
	return out
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// queries returns every expression of every dashboard, by language.
func queries(tb testing.TB, ds []dashboard, uids map[string]string) []query {
	tb.Helper()
	var out []query
	for _, d := range ds {
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				src := tg.Datasource
				if src == nil {
					src = p.Datasource
				}
				if src == nil {
					continue
				}
				switch uids[src.UID] {
				case "prometheus":
					out = append(out, query{d.Title, p.Title, "promql", tg.Expr, nil})
				case "loki":
					out = append(out, query{d.Title, p.Title, "logql", tg.Expr, nil})
				case "tempo":
					out = append(out, query{d.Title, p.Title, "traceql", tg.Query, nil})
				case pyroscopeType:
					tg := tg
					out = append(out, query{d.Title, p.Title, "pyroscope", tg.LabelSelector, &tg})
				}
			}
		}
	}
	return out
}

// provisionedDatasource is one entry of the Grafana datasource provisioning file.
type provisionedDatasource struct {
	Name     string         `yaml:"name"`
	UID      string         `yaml:"uid"`
	Type     string         `yaml:"type"`
	URL      string         `yaml:"url"`
	JSONData map[string]any `yaml:"jsonData"`
}

// readDatasources returns the Grafana datasource provisioning file, raw and
// parsed.
func readDatasources(tb testing.TB) ([]byte, []provisionedDatasource) {
	tb.Helper()
	raw, err := os.ReadFile(testproc.RepoPath(tb, "grafana", "provisioning", "datasources", "datasources.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var f struct {
		Datasources []provisionedDatasource `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		tb.Fatalf("datasources.yaml: %v", err)
	}
	return raw, f.Datasources
}

// provisionedDatasources maps UID to type from the Grafana provisioning file.
func provisionedDatasources(tb testing.TB) map[string]string {
	tb.Helper()
	_, list := readDatasources(tb)
	out := map[string]string{}
	for _, d := range list {
		out[d.UID] = d.Type
	}
	return out
}

// pyroscopeType is the type of Grafana's Pyroscope datasource (a core
// plugin): the one datasource whose fixed UID is not its type.
const pyroscopeType = "grafana-pyroscope-datasource"

// datasourceTypes maps each fixed datasource UID to its type.
var datasourceTypes = map[string]string{
	"prometheus":   "prometheus",
	"loki":         "loki",
	"tempo":        "tempo",
	"alertmanager": "alertmanager",
	"pyroscope":    pyroscopeType,
}

func TestDatasourcesProvisioning(t *testing.T) {
	raw, list := readDatasources(t)
	byUID := map[string]map[string]any{}
	for _, d := range list {
		byUID[d.UID] = d.JSONData
		if want, ok := datasourceTypes[d.UID]; !ok || d.Type != want {
			t.Errorf("datasource %s has type %s; the fixed UIDs are %v", d.UID, d.Type, datasourceTypes)
		}
	}
	for uid := range datasourceTypes {
		if byUID[uid] == nil {
			t.Fatalf("no datasource with uid %q", uid)
		}
	}
	// The links between signals, read as Grafana reads them.
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, c := range []struct{ uid, key, want string }{
		{"prometheus", "exemplarTraceIdDestinations", `"datasourceUid":"tempo"`},
		{"prometheus", "exemplarTraceIdDestinations", `"name":"trace_id"`},
		{"loki", "derivedFields", `"datasourceUid":"tempo"`},
		{"loki", "derivedFields", `"matcherRegex":"trace_id"`},
		{"tempo", "tracesToLogsV2", `"datasourceUid":"loki"`},
		{"tempo", "tracesToLogsV2", `"filterByTraceID":true`},
		{"tempo", "tracesToMetrics", `"datasourceUid":"prometheus"`},
		{"tempo", "serviceMap", `"datasourceUid":"prometheus"`},
		{"tempo", "nodeGraph", `"enabled":true`},
		// "Profiles for this span": the span's service.name is Pyroscope's
		// service_name label, its CPU profile filtered by span ID.
		{"tempo", "tracesToProfiles", `"datasourceUid":"pyroscope"`},
		{"tempo", "tracesToProfiles", `"tags":[{"key":"service.name","value":"service_name"}]`},
		{"tempo", "tracesToProfiles", `"profileTypeId":"process_cpu:cpu:nanoseconds:cpu:nanoseconds"`},
		{"tempo", "tracesToProfiles", `"customQuery":false`},
		{"pyroscope", "minStep", `"15s"`},
		// Alertmanager's own API (not Mimir's or Grafana's).
		{"alertmanager", "implementation", `"prometheus"`},
	} {
		if got := js(byUID[c.uid][c.key]); !strings.Contains(got, c.want) {
			t.Errorf("%s jsonData.%s = %s, want it to contain %s", c.uid, c.key, got, c.want)
		}
	}
	// Grafana expands $VAR in provisioning files; literal $ must be written $$.
	if m := regexp.MustCompile(`[^$]\$\{__`).FindString(string(raw)); m != "" {
		t.Errorf("datasources.yaml has %q: Grafana would expand it as an environment variable; write $${__…}", m)
	}
	// The Tempo queries linking to metrics must parse.
	for _, q := range byUID["tempo"]["tracesToMetrics"].(map[string]any)["queries"].([]any) {
		expr := strings.ReplaceAll(q.(map[string]any)["query"].(string), "$$__tags", `service_name="x"`)
		if _, err := parsePromQL(expr); err != nil {
			t.Errorf("tracesToMetrics query %q: %v", expr, err)
		}
	}
}

func TestDashboardsProvisioning(t *testing.T) {
	raw, err := os.ReadFile(testproc.RepoPath(t, "grafana", "provisioning", "dashboards", "dashboards.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Providers) != 1 || f.Providers[0].Type != "file" {
		t.Fatalf("want one file provider, got %+v", f.Providers)
	}
	// The provider reads the directory compose mounts grafana/dashboards on.
	project := loadCompose(t)
	mounted := false
	for _, v := range project.Services["grafana"].Volumes {
		if v.Target == f.Providers[0].Options.Path && v.Source == testproc.RepoPath(t, "grafana", "dashboards") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("grafana/dashboards is not mounted at the provider path %s", f.Providers[0].Options.Path)
	}
}

func TestDashboardsStatic(t *testing.T) {
	uids := provisionedDatasources(t)
	_, provisioned := readDatasources(t)
	ds := loadDashboards(t)
	wantTitles := []string{"Blog API / Background jobs", "Blog API / Dependencies", "Blog API / Go runtime", "Blog API / Logs & errors", "Blog API / Service overview"}
	var titles []string
	seen := map[string]bool{}
	for _, d := range ds {
		titles = append(titles, d.Title)
		if d.UID == "" || seen[d.UID] {
			t.Errorf("%s: missing or duplicate uid %q", d.file, d.UID)
		}
		seen[d.UID] = true
		ids := map[int]bool{}
		for _, p := range allPanels(d.Panels) {
			if ids[p.ID] {
				t.Errorf("%s: duplicate panel id %d", d.file, p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				continue
			}
			if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("%s / %q: no gridPos", d.file, p.Title)
			}
			if p.Type == "alertlist" {
				if err := checkAlertList(p, provisioned); err != nil {
					t.Errorf("%s / %q: %v", d.file, p.Title, err)
				}
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s / %q: no queries", d.file, p.Title)
			}
			// A flame graph shows one profile: Pyroscope queries of type
			// profile (metrics would be a time series it cannot draw).
			if p.Type == "flamegraph" {
				for _, tg := range p.Targets {
					if src := cmp.Or(tg.Datasource, p.Datasource); src == nil || uids[src.UID] != pyroscopeType || tg.QueryType != "profile" {
						t.Errorf("%s / %q: flame graph query %s is not a Pyroscope query of type profile", d.file, p.Title, tg.RefID)
					}
				}
			}
			for _, src := range append([]*datasource{p.Datasource}, targetSources(p)...) {
				if src == nil {
					t.Errorf("%s / %q: a query without a datasource", d.file, p.Title)
					continue
				}
				if typ, ok := uids[src.UID]; !ok {
					t.Errorf("%s / %q: datasource uid %q is not provisioned", d.file, p.Title, src.UID)
				} else if src.Type != typ {
					t.Errorf("%s / %q: datasource %q has type %q, provisioned as %q", d.file, p.Title, src.UID, src.Type, typ)
				}
			}
		}
	}
	sort.Strings(titles)
	if strings.Join(titles, "|") != strings.Join(wantTitles, "|") {
		t.Errorf("dashboards = %v, want %v", titles, wantTitles)
	}

	qs := queries(t, ds, uids)
	langs := map[string]int{}
	for _, q := range qs {
		langs[q.lang]++
		var err error
		switch q.lang {
		case "promql":
			_, err = parsePromQL(expandGrafanaVars(q.expr))
			if err == nil && strings.Contains(q.expr, "rate(") && !strings.Contains(q.expr, "[") {
				err = fmt.Errorf("rate without a range")
			}
		case "logql":
			err = checkLogQL(expandGrafanaVars(q.expr))
		case "traceql":
			err = checkTraceQL(q.expr)
		case "pyroscope":
			err = checkProfileQuery(*q.profile, expandGrafanaVars(q.expr))
		}
		if err != nil {
			t.Errorf("%s\n\t%v", q, err)
		}
		if unknown := regexp.MustCompile(`\$[A-Za-z_{]+`).FindAllString(expandGrafanaVars(q.expr), -1); len(unknown) > 0 && q.lang != "traceql" {
			t.Errorf("%s: unknown variables %v", q, unknown)
		}
	}
	if langs["promql"] < 30 || langs["logql"] < 4 || langs["traceql"] < 1 || langs["pyroscope"] < 1 {
		t.Errorf("queries by language = %v; did a dashboard lose its panels?", langs)
	}
}

// checkAlertList checks an alert list panel: it lists the alerts of
// Prometheus's rules (the kit's alerts are Prometheus rules, not Grafana
// ones), by the name of a provisioned Prometheus datasource, for the
// selected service only, firing ones at least.
func checkAlertList(p panel, provisioned []provisionedDatasource) error {
	if len(p.Targets) > 0 || p.Datasource != nil {
		return fmt.Errorf("an alert list has no queries and no panel datasource; its options name the rules' datasource")
	}
	i := slices.IndexFunc(provisioned, func(d provisionedDatasource) bool { return d.Name == p.Options.Datasource })
	if i < 0 || provisioned[i].Type != "prometheus" {
		return fmt.Errorf("options.datasource %q is not the name of a provisioned Prometheus datasource", p.Options.Datasource)
	}
	if p.Options.AlertInstanceLabelFilter != `{service="$service"}` {
		return fmt.Errorf("options.alertInstanceLabelFilter %q, want {service=\"$service\"} (the alerts' service label is the dashboards' $service)", p.Options.AlertInstanceLabelFilter)
	}
	if !p.Options.StateFilter.Firing {
		return fmt.Errorf("options.stateFilter hides firing alerts")
	}
	return nil
}

func targetSources(p panel) []*datasource {
	var out []*datasource
	for _, t := range p.Targets {
		out = append(out, t.Datasource)
	}
	return out
}

// defaultService is the default of every dashboard's service variable.
const defaultService = "blog-api"

// grafanaVars are the values the tests give Grafana's built-in variables and
// the dashboards' own (the service variable's default; the trace-ID textbox
// is empty by default).
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__interval", "15s",
	"$__auto", "1m",
	"$__range", "5m",
	"${service}", defaultService,
	"$service", defaultService,
	"${trace_id}", "",
	"$trace_id", "",
)

func expandGrafanaVars(expr string) string { return grafanaVars.Replace(expr) }

// serviceSentinel stands in for $service where a test must tell the variable
// from a hard-coded service name.
const serviceSentinel = "service-variable-sentinel"

func expandWithSentinel(expr string) string {
	expr = strings.ReplaceAll(expr, "${service}", serviceSentinel)
	return expandGrafanaVars(strings.ReplaceAll(expr, "$service", serviceSentinel))
}

// serviceVarQuery is how the service variable must list services: the job
// label of a metric the dashboards query.
var serviceVarQuery = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*job\s*\)$`)

// TestDashboardsServiceVariable requires every dashboard to select its
// service through the service variable, never a hard-coded name.
func TestDashboardsServiceVariable(t *testing.T) {
	uids := provisionedDatasources(t)
	ds := loadDashboards(t)
	queried := map[string]bool{} // "metric|label" of every PromQL selector
	var first json.RawMessage
	for _, d := range ds {
		if v := d.variable("service"); v == nil {
			t.Errorf("%s: no service variable in templating.list", d.file)
		} else {
			checkServiceVariable(t, d.file, v, &first, uids)
		}
		for _, l := range d.Links {
			if l.Type == "dashboards" && !l.IncludeVars {
				t.Errorf("%s: dashboard link %v does not carry the service variable (includeVars)", d.file, l.Tags)
			}
		}
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				for _, e := range []string{tg.Expr, tg.Query, tg.LabelSelector} {
					if strings.Contains(e, defaultService) {
						t.Errorf("%s / %q: hard-coded %s in %s; use $service", d.file, p.Title, defaultService, e)
					}
					// Every variable a query uses is defined here or built in.
					for _, m := range regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(e, -1) {
						if !strings.HasPrefix(m[1], "__") && d.variable(m[1]) == nil {
							t.Errorf("%s / %q: $%s is not a variable of this dashboard", d.file, p.Title, m[1])
						}
					}
				}
			}
		}
		for _, q := range queries(t, []dashboard{d}, uids) {
			var err error
			switch q.lang {
			case "promql":
				err = promSelectsService(expandWithSentinel(q.expr), queried)
			case "logql":
				err = logSelectsService(expandWithSentinel(q.expr))
			case "traceql":
				if !regexp.MustCompile(`resource\.service\.name\s*=\s*"\$service"`).MatchString(q.expr) ||
					strings.Count(q.expr, "service.name") != 1 {
					err = fmt.Errorf(`want exactly one resource.service.name = "$service"`)
				}
			case "pyroscope":
				// Pyroscope labels profiles service_name, like Loki's streams.
				err = logSelectsService(expandWithSentinel(q.expr))
			}
			if err != nil {
				t.Errorf("%s\n\t%v", q, err)
			}
		}
	}
	// The variable lists the services of a metric the dashboards select by job.
	for _, d := range ds {
		if v := d.variable("service"); v != nil {
			if m := serviceVarQuery.FindStringSubmatch(v.queryText()); m != nil && !queried[m[1]+"|job"] {
				t.Errorf("%s: service variable lists job of %s, which no panel selects by job", d.file, m[1])
			}
		}
	}
}

// checkServiceVariable checks one dashboard's service variable; first holds
// the first dashboard's, which every other must equal.
func checkServiceVariable(t *testing.T, file string, v *variable, first *json.RawMessage, uids map[string]string) {
	t.Helper()
	if raw, _ := json.Marshal(v); *first == nil {
		*first = raw
	} else if string(raw) != string(*first) {
		t.Errorf("%s: service variable differs from the other dashboards':\n%s\n%s", file, raw, *first)
	}
	if v.Type != "query" || v.Datasource == nil || v.Datasource.UID != "prometheus" || uids[v.Datasource.UID] != "prometheus" {
		t.Errorf("%s: service variable must be a query variable on the prometheus datasource, got type %q datasource %+v", file, v.Type, v.Datasource)
	}
	if v.Label == "" {
		t.Errorf("%s: service variable has no label", file)
	}
	if q := v.queryText(); !serviceVarQuery.MatchString(q) || (v.Definition != "" && v.Definition != q) {
		t.Errorf("%s: service variable query %q (definition %q), want label_values(<metric>, job)", file, q, v.Definition)
	}
	if v.Current.Text != defaultService || v.Current.Value != defaultService {
		t.Errorf("%s: service variable defaults to %v/%v, want %s", file, v.Current.Text, v.Current.Value, defaultService)
	}
	if v.Refresh != 1 || v.Sort == 0 || v.IncludeAll || v.Multi {
		t.Errorf("%s: service variable: refresh=%d sort=%d includeAll=%v multi=%v; want refresh on load (1), sorted, one value",
			file, v.Refresh, v.Sort, v.IncludeAll, v.Multi)
	}
}

// promSelectsService checks that every series selector of a PromQL
// expression selects the service, by job or (span metrics) service_name, and
// only through the variable. It records metric|label of each selector.
func promSelectsService(expr string, seen map[string]bool) error {
	e, err := parsePromQL(expr)
	if err != nil {
		return err
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok || err != nil {
			return nil
		}
		var by []string
		for _, m := range vs.LabelMatchers {
			if m.Name != "job" && m.Name != "service_name" {
				continue
			}
			if m.Type != labels.MatchEqual || m.Value != serviceSentinel {
				err = fmt.Errorf("%s: %s must be selected with %s=\"$service\"", vs, m.Name, m.Name)
				return nil
			}
			by = append(by, m.Name)
		}
		if len(by) != 1 {
			err = fmt.Errorf("%s: selects the service %d times (job or service_name), want once", vs, len(by))
			return nil
		}
		seen[vs.Name+"|"+by[0]] = true
		return nil
	})
	return err
}

// logSelectsService checks that every stream selector of a LogQL expression
// has service_name="$service" and no other service_name matcher.
func logSelectsService(expr string) error {
	rest := expr
	for {
		sel, after, found, err := nextStreamSelector(rest)
		if !found || err != nil {
			return err
		}
		n := 0
		for _, m := range splitTopLevel(sel, ',') {
			if serviceNameMatcher.MatchString(m) {
				if strings.ReplaceAll(m, " ", "") != `service_name="`+serviceSentinel+`"` {
					return fmt.Errorf("{%s}: service_name must be selected with service_name=\"$service\"", sel)
				}
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("{%s}: want one service_name=\"$service\" matcher, got %d", sel, n)
		}
		rest = after
	}
}

var serviceNameMatcher = regexp.MustCompile(`^\s*service_name\s*` + matcherOp)

func parsePromQL(expr string) (parser.Expr, error) {
	return parser.NewParser(parser.Options{}).ParseExpr(expr)
}

// checkDashboardsLive runs every Prometheus panel query of every dashboard
// against the Prometheus of the end-to-end test and requires data from each.
func checkDashboardsLive(t *testing.T, s *stack) {
	uids := provisionedDatasources(t)
	var pending []query
	for _, q := range queries(t, loadDashboards(t), uids) {
		if q.lang != "promql" {
			continue
		}
		if !s.redis && strings.Contains(q.expr, `db_system="redis"`) {
			t.Logf("!!! not checked without Redis: %s", q)
			continue
		}
		pending = append(pending, q)
	}
	total := len(pending)
	ctx := context.Background()
	deadline := time.Now().Add(45 * time.Second)
	var last map[string]error
	for len(pending) > 0 {
		last = map[string]error{}
		var still []query
		for _, q := range pending {
			res, err := s.prom.query(ctx, expandGrafanaVars(q.expr))
			if err == nil && len(res) == 0 {
				err = fmt.Errorf("no data")
			}
			if err != nil {
				last[q.String()] = err
				still = append(still, q)
			}
		}
		pending = still
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	for q, err := range last {
		t.Errorf("%s\n\t%v", q, err)
	}
	t.Logf("%d of %d Prometheus panel queries returned data", total-len(pending), total)

	// The service variable offers its default and the worker (which serves
	// no HTTP): label_values(metric, job) is the job values of the series
	// of metric.
	for _, d := range loadDashboards(t) {
		v := d.variable("service")
		if v == nil {
			continue
		}
		m := serviceVarQuery.FindStringSubmatch(v.queryText())
		if m == nil {
			continue
		}
		var jobs []string
		if err := s.prom.get(ctx, "/api/v1/label/job/values", url.Values{"match[]": {m[1]}}, &jobs); err != nil {
			t.Errorf("%s: service variable %s: %v", d.file, v.queryText(), err)
		} else if !slices.Contains(jobs, defaultService) || !slices.Contains(jobs, workerServiceName) {
			t.Errorf("%s: service variable %s offers %v, want its default %s and the worker %s", d.file, v.queryText(), jobs, defaultService, workerServiceName)
		}
	}
}
