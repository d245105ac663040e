package stacktest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// Grafana's side of the profiles: the Pyroscope datasource, Tempo's link to
// it, and the queries of the flame-graph panels.

// goProfileTypes are the profile types the Go client (pyroscope-go) sends, as
// Pyroscope and Grafana name them: name:sample type:sample unit:period
// type:period unit.
var goProfileTypes = []string{
	"process_cpu:cpu:nanoseconds:cpu:nanoseconds",
	"memory:alloc_objects:count:space:bytes",
	"memory:alloc_space:bytes:space:bytes",
	"memory:inuse_objects:count:space:bytes",
	"memory:inuse_space:bytes:space:bytes",
	"goroutine:goroutine:count:goroutine:count",
	"mutex:contentions:count:contentions:count",
	"mutex:delay:nanoseconds:contentions:count",
	"block:contentions:count:contentions:count",
	"block:delay:nanoseconds:contentions:count",
}

// checkProfileQuery checks a Pyroscope query (GrafanaPyroscopeDataQuery): a
// profile type the Go client sends, a query type Grafana knows, and a label
// selector that parses as a Prometheus series selector in braces, which is
// the syntax Pyroscope's selectors share ("Label selector syntax", Grafana's
// Pyroscope query editor page).
func checkProfileQuery(tg target, selector string) error {
	if !slices.Contains(goProfileTypes, tg.ProfileTypeID) {
		return fmt.Errorf("profile type %q is not one the Go client sends", tg.ProfileTypeID)
	}
	if !slices.Contains([]string{"profile", "metrics", "both"}, tg.QueryType) {
		return fmt.Errorf("query type %q, want profile, metrics or both", tg.QueryType)
	}
	if !strings.HasPrefix(strings.TrimSpace(selector), "{") {
		return fmt.Errorf("label selector %q: want {label=\"value\", …}, no metric name", selector)
	}
	matchers, err := parser.NewParser(parser.Options{}).ParseMetricSelector(selector)
	if err != nil {
		return fmt.Errorf("label selector %q: %w", selector, err)
	}
	for _, m := range matchers {
		if m.Name == model.MetricNameLabel {
			return fmt.Errorf("label selector %q selects a metric name", selector)
		}
	}
	return nil
}

func TestProfileQueryChecker(t *testing.T) {
	cpu := "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
	for _, c := range []struct {
		profileType, queryType, selector string
		ok                               bool
	}{
		{cpu, "profile", `{service_name="blog-api"}`, true},
		{cpu, "both", `{service_name="blog-api", deployment_environment_name=~"dev.*"}`, true},
		{"goroutine:goroutine:count:goroutine:count", "metrics", `{service_name!="x"}`, true},
		{cpu, "profile", `{service_name=blog-api}`, false},
		{cpu, "profile", `service_name="blog-api"`, false},
		{cpu, "profile", `process_cpu{service_name="blog-api"}`, false},
		{cpu, "profile", `{service_name="blog-api"`, false},
		{"process_cpu:cpu", "profile", `{service_name="blog-api"}`, false},
		{cpu, "flamegraph", `{service_name="blog-api"}`, false},
	} {
		err := checkProfileQuery(target{ProfileTypeID: c.profileType, QueryType: c.queryType}, c.selector)
		if (err == nil) != c.ok {
			t.Errorf("%s %s %s: err = %v, want ok=%v", c.profileType, c.queryType, c.selector, err, c.ok)
		}
	}
}

// TestTracesToProfiles: Grafana queries the compose stack's Pyroscope, and
// Tempo's link to profiles queries a profile type the app sends, mapping
// service.name to the label Pyroscope stores it under.
func TestTracesToProfiles(t *testing.T) {
	_, list := readDatasources(t)
	want := fmt.Sprintf("http://pyroscope:%d", pyroscopePort)
	if i := slices.IndexFunc(list, func(d provisionedDatasource) bool { return d.UID == "pyroscope" }); i < 0 || list[i].URL != want {
		t.Errorf("Grafana's pyroscope datasource does not query %s", want)
	}
	i := slices.IndexFunc(list, func(d provisionedDatasource) bool { return d.UID == "tempo" })
	if i < 0 {
		t.Fatal("no tempo datasource")
	}
	ttp, _ := list[i].JSONData["tracesToProfiles"].(map[string]any)
	if ttp == nil {
		t.Fatal("tempo has no jsonData.tracesToProfiles")
	}
	for k := range ttp {
		// The keys of Grafana's provisioning example ("Provision the Tempo
		// data source", Grafana 13).
		if !slices.Contains([]string{"datasourceUid", "tags", "profileTypeId", "customQuery", "query"}, k) {
			t.Errorf("tracesToProfiles.%s: not a documented key", k)
		}
	}
	if pt, _ := ttp["profileTypeId"].(string); !slices.Contains(goProfileTypes, pt) {
		t.Errorf("tracesToProfiles.profileTypeId %q is not one the Go client sends", pt)
	}
	if uid, _ := ttp["datasourceUid"].(string); datasourceTypes[uid] != pyroscopeType {
		t.Errorf("tracesToProfiles.datasourceUid %q is not the Pyroscope datasource", uid)
	}
	// With customQuery off, Grafana builds {service_name="…"} from the
	// mapped tags; a custom query must then carry the span's tags itself.
	if ttp["customQuery"] != false {
		t.Errorf("tracesToProfiles.customQuery = %v, want false (the tags build the selector)", ttp["customQuery"])
	}
}
