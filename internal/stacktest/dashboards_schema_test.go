package stacktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	sdkcog "github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	sdkdashboard "github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"example.com/otelstarter/internal/testproc"
)

// Grafana cannot run here, so the dashboards are checked against Grafana's
// own schema instead: the Go types of the Grafana Foundation SDK, generated
// from the CUE schemas Grafana validates dashboards with. Their
// UnmarshalJSONStrict fails on an unknown field, a field of the wrong type
// and a required field left out; a panel's options and
// fieldConfig.defaults.custom are decoded through the SDK's registry of
// panel plugins (plugins.RegisterDefaultPlugins) with that plugin's own
// types, and a query with its data source's types.

// sdkLacksPanel lists the panel types Grafana ships whose options the SDK
// has no types for: their options are only JSON to it. The test fails when
// the SDK gains one, so the list never hides a check that has become
// possible.
var sdkLacksPanel = map[string]string{
	"alertlist":  "Grafana's alert list panel has no CUE schema (no panelcfg), so no SDK variant",
	"flamegraph": "Grafana's flame graph panel has no CUE schema (no panelcfg), so no SDK variant",
}

// sdkDataqueryVariant maps a data source plugin ID to the name of its query
// variant in the SDK, where the two differ.
var sdkDataqueryVariant = map[string]string{
	"grafana-pyroscope-datasource": "grafanapyroscope",
}

// TestDashboardsGrafanaSchema decodes every shipped dashboard strictly
// with the SDK's types; each failure names the dashboard, the panel and
// the field.
func TestDashboardsGrafanaSchema(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, err := filepath.Glob(testproc.RepoPath(t, "grafana", "dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no dashboards in grafana/dashboards")
	}
	var total schemaCounts
	for _, path := range files {
		name := filepath.Base(path)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c, problems := checkDashboardSchema(raw)
		for _, p := range problems {
			t.Errorf("%s: %s", name, p)
		}
		total.add(c)
	}
	types := make([]string, 0, len(total.types))
	for typ, n := range total.types {
		types = append(types, fmt.Sprintf("%s %d", typ, n))
	}
	sort.Strings(types)
	t.Logf("%d dashboards: %d panels (%s), %d with options checked by their plugin's types, %d queries checked by their data source's types",
		len(files), total.panels, strings.Join(types, ", "), total.options, total.queries)
	if total.panels == 0 || total.queries == 0 {
		t.Errorf("decoded %d panels and %d queries: the dashboards were not read", total.panels, total.queries)
	}
}

// TestDashboardsGrafanaSchemaCatches keeps the check above honest: the
// strict decoder must reject what Grafana's schema rejects.
func TestDashboardsGrafanaSchemaCatches(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	stat := `{"type":"stat","title":"Up","gridPos":{"h":4,"w":6,"x":0,"y":0},
		"datasource":{"type":"prometheus","uid":"prometheus"},
		"targets":[{"refId":"A","expr":"up","datasource":{"type":"prometheus","uid":"prometheus"}}],
		"fieldConfig":{"defaults":{},"overrides":[]},
		"options":{"reduceOptions":{"calcs":["lastNotNull"],"fields":"","values":false},"colorMode":"value","graphMode":"area",
			"textMode":"auto","justifyMode":"auto","wideLayout":true,"showPercentChange":false,"percentChangeColorMode":"standard","orientation":"auto"}}`
	dashboard := func(panel string) []byte {
		return []byte(`{"title":"T","uid":"t","schemaVersion":41,"editable":false,"templating":{"list":[]},"annotations":{"list":[]},"panels":[` + panel + `]}`)
	}
	if _, problems := checkDashboardSchema(dashboard(stat)); len(problems) > 0 {
		t.Fatalf("a valid stat panel is rejected: %v", problems)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown option", `"colorMode":"value"`, `"colorMode":"value","colourMode":"value"`, `panel "Up" (stat): options.Options: unexpected field 'colourMode'`},
		{"option of the wrong type", `"wideLayout":true`, `"wideLayout":"yes"`, `panel "Up" (stat): options.wideLayout`},
		{"required option left out", `,"orientation":"auto"`, ``, `panel "Up" (stat): options.orientation: required field is missing`},
		{"unknown query field", `"expr":"up"`, `"expr":"up","exp":"up"`, `panel "Up" (stat): targets[0]: Dataquery: unexpected field 'exp'`},
		{"unknown field config", `"defaults":{}`, `"defaults":{"unitt":"s"}`, `panel "Up" (stat): fieldConfig.defaults.FieldConfig: unexpected field 'unitt'`},
		{"unknown panel field", `"title":"Up"`, `"title":"Up","tittle":"Up"`, `panel "Up" (stat): Panel: unexpected field 'tittle'`},
		{"query of a data source the SDK lacks", `"datasource":{"type":"prometheus","uid":"prometheus"}}]`, `"datasource":{"type":"no-such-datasource","uid":"x"}}]`, `no SDK types for data source "no-such-datasource"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(stat, tc.from) {
				t.Fatalf("%q is not in the sample panel", tc.from)
			}
			_, problems := checkDashboardSchema(dashboard(strings.Replace(stat, tc.from, tc.to, 1)))
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("problems %q, want one containing %q", problems, tc.want)
			}
		})
	}
	_, problems := checkDashboardSchema([]byte(`{"title":"T","uid":"t","schemaVersion":41,"templating":{"list":[]},"annotations":{"list":[]},"refreshh":"30s"}`))
	if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "unexpected field 'refreshh'") }) {
		t.Errorf("an unknown dashboard field passed: %q", problems)
	}
}

// TestDashboardsSDKLacksPanel fails when the SDK gains types for a panel
// listed in sdkLacksPanel: drop it from the list and its options get
// checked too.
func TestDashboardsSDKLacksPanel(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for typ := range sdkLacksPanel {
		if _, ok := sdkcog.ConfigForPanelcfgVariant(typ); ok {
			t.Errorf("the SDK now has types for panel %q: remove it from sdkLacksPanel", typ)
		}
	}
	for _, typ := range []string{"timeseries", "stat", "table", "logs"} {
		if cfg, ok := sdkcog.ConfigForPanelcfgVariant(typ); !ok || cfg.StrictOptionsUnmarshaler == nil {
			t.Errorf("the SDK has no strict options decoder for panel %q", typ)
		}
	}
}

// schemaCounts is what one dashboard's check decoded.
type schemaCounts struct {
	panels, options, queries int
	types                    map[string]int
}

func (c *schemaCounts) add(o schemaCounts) {
	c.panels += o.panels
	c.options += o.options
	c.queries += o.queries
	if c.types == nil {
		c.types = map[string]int{}
	}
	for k, v := range o.types {
		c.types[k] += v
	}
}

// checkDashboardSchema decodes one dashboard strictly and returns what does
// not decode, one line per field, naming the panel.
func checkDashboardSchema(raw []byte) (schemaCounts, []string) {
	c := schemaCounts{types: map[string]int{}}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return c, []string{"not a JSON object: " + err.Error()}
	}
	// The dashboard without its panels first, then each panel on its own,
	// so a failure names the panel rather than an index.
	var panels []json.RawMessage
	if p, ok := fields["panels"]; ok {
		if err := json.Unmarshal(p, &panels); err != nil {
			return c, []string{"panels: " + err.Error()}
		}
		delete(fields, "panels")
	}
	rest, err := json.Marshal(fields)
	if err != nil {
		return c, []string{err.Error()}
	}
	var problems []string
	// Deprecated in the SDK for dashboardv2, a different JSON model (the
	// v2 resource); these files are the classic model that Grafana's file
	// provisioning reads, whose type this is. (Both directives: staticcheck
	// alone reads the first, golangci-lint the second.)
	//lint:ignore SA1019 the shipped dashboards are the classic (v1) model
	var d sdkdashboard.Dashboard //nolint:staticcheck // the shipped dashboards are the classic (v1) model
	problems = append(problems, buildErrors("dashboard", d.UnmarshalJSONStrict(rest))...)
	for _, p := range panels {
		problems = append(problems, checkPanelSchema(p, &c)...)
	}
	return c, problems
}

// checkPanelSchema decodes one panel (a row's own panels too): the panel
// with its options through its plugin's types, its fieldConfig, and each
// query through its data source's types.
func checkPanelSchema(raw json.RawMessage, c *schemaCounts) []string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return []string{"a panel is not a JSON object: " + err.Error()}
	}
	var head struct {
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type string `json:"type"`
		} `json:"datasource"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return []string{"a panel: " + err.Error()}
	}
	where := fmt.Sprintf("panel %q (%s)", head.Title, head.Type)
	c.panels++
	c.types[head.Type]++

	var problems []string
	if head.Type == "row" {
		// A collapsed row holds its panels: each is checked on its own.
		if nested, ok := fields["panels"]; ok {
			var list []json.RawMessage
			if err := json.Unmarshal(nested, &list); err != nil {
				return []string{where + ": panels: " + err.Error()}
			}
			for _, p := range list {
				problems = append(problems, checkPanelSchema(p, c)...)
			}
			fields["panels"] = json.RawMessage("[]")
		}
		rest, _ := json.Marshal(fields)
		var row sdkdashboard.RowPanel
		return append(problems, buildErrors(where, row.UnmarshalJSONStrict(rest))...)
	}

	// The panel decoder reads fieldConfig leniently (but for its custom
	// part) and each query through the data source named in the query only
	// (the SDK's variant names differ from some plugin IDs): both are
	// checked here instead.
	targets := fields["targets"]
	delete(fields, "targets")
	rest, err := json.Marshal(fields)
	if err != nil {
		return []string{where + ": " + err.Error()}
	}
	var panel sdkdashboard.Panel
	problems = append(problems, buildErrors(where, panel.UnmarshalJSONStrict(rest))...)

	if _, hasOptions := fields["options"]; hasOptions {
		cfg, ok := sdkcog.ConfigForPanelcfgVariant(head.Type)
		switch {
		case ok && cfg.StrictOptionsUnmarshaler != nil:
			c.options++
		case sdkLacksPanel[head.Type] != "":
		default:
			problems = append(problems, fmt.Sprintf("%s: options: no SDK types for panel type %q, so they are not checked (add it to sdkLacksPanel with the reason if Grafana has no schema for it)", where, head.Type))
		}
	}
	if fc, ok := fields["fieldConfig"]; ok {
		var src sdkdashboard.FieldConfigSource
		if err := src.UnmarshalJSONStrict(fc); err != nil {
			problems = append(problems, buildErrors(where, sdkcog.MakeBuildErrors("fieldConfig", err))...)
		}
	}

	if targets != nil {
		var queries []json.RawMessage
		if err := json.Unmarshal(targets, &queries); err != nil {
			return append(problems, where+": targets: "+err.Error())
		}
		panelDS := ""
		if head.Datasource != nil {
			panelDS = head.Datasource.Type
		}
		for i, q := range queries {
			problems = append(problems, checkQuerySchema(q, panelDS, fmt.Sprintf("%s: targets[%d]", where, i), c)...)
		}
	}
	return problems
}

// checkQuerySchema decodes one query with its data source's types: its own
// datasource, or else the panel's.
func checkQuerySchema(raw json.RawMessage, panelDS, where string, c *schemaCounts) []string {
	var head struct {
		Datasource *struct {
			Type string `json:"type"`
		} `json:"datasource"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return []string{where + ": " + err.Error()}
	}
	ds := panelDS
	if head.Datasource != nil && head.Datasource.Type != "" {
		ds = head.Datasource.Type
	}
	if ds == "" {
		return []string{where + ": no data source type on the query or its panel: it cannot be checked"}
	}
	variant := ds
	if v, ok := sdkDataqueryVariant[ds]; ok {
		variant = v
	}
	// A typed decoder returns its (possibly empty) error list even when
	// it succeeds, and no query then; only the fallback for a data source
	// the SDK does not know returns an UnknownDataquery and a nil error.
	q, err := sdkcog.StrictUnmarshalDataquery(raw, variant)
	if problems := buildErrors(where, err); len(problems) > 0 {
		return problems
	}
	if _, unknown := q.(variants.UnknownDataquery); unknown && err == nil {
		return []string{fmt.Sprintf("%s: no SDK types for data source %q, so the query is not checked", where, ds)}
	}
	c.queries++
	return nil
}

// buildErrors turns the SDK's error list into one line per field, under
// prefix.
func buildErrors(prefix string, err error) []string {
	if err == nil {
		return nil
	}
	var list sdkcog.BuildErrors
	if errors.As(err, &list) {
		if len(list) == 0 {
			return nil
		}
		out := make([]string, 0, len(list))
		for _, e := range list {
			out = append(out, fmt.Sprintf("%s: %s: %s", prefix, e.Path, e.Message))
		}
		return out
	}
	return []string{fmt.Sprintf("%s: %v", prefix, err)}
}
