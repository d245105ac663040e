package depcheck

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"example.com/otelstarter/internal/testproc"
)

// config is the part of renovate.json the kit uses. Decoding rejects any
// other key, so a misspelt option (which Renovate would refuse) fails here.
type config struct {
	Schema            string          `json:"$schema"`
	Description       []string        `json:"description"`
	Extends           []string        `json:"extends"`
	Labels            []string        `json:"labels"`
	PostUpdateOptions []string        `json:"postUpdateOptions"`
	CustomManagers    []customManager `json:"customManagers"`
	PackageRules      []packageRule   `json:"packageRules"`
}

type customManager struct {
	Description         string   `json:"description"`
	CustomType          string   `json:"customType"`
	ManagerFilePatterns []string `json:"managerFilePatterns"`
	MatchStrings        []string `json:"matchStrings"`
	DatasourceTemplate  string   `json:"datasourceTemplate"`
}

type packageRule struct {
	Description       string   `json:"description"`
	GroupName         string   `json:"groupName"`
	MatchPackageNames []string `json:"matchPackageNames"`
}

// dep is one version a custom manager extracts.
type dep struct {
	file, datasource, depName, registryURL, currentValue string
	line                                                 int // 1-based line of currentValue
}

func loadConfig(t *testing.T) config {
	t.Helper()
	raw, err := os.ReadFile(testproc.RepoPath(t, "renovate.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c config
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("renovate.json: %v", err)
	}
	return c
}

// jsRegexp compiles a Renovate pattern written as /re/ or /re/flags.
// Renovate runs them as JavaScript (RE2 where it can); Go's RE2 syntax,
// which accepts (?<name>...), keeps the patterns in the common subset.
func jsRegexp(t *testing.T, pattern string) *regexp.Regexp {
	t.Helper()
	end := strings.LastIndex(pattern, "/")
	if !strings.HasPrefix(pattern, "/") || end < 1 {
		t.Fatalf("%q is not a /regex/ (the test evaluates exact names and /regex/ only)", pattern)
	}
	re, flags := pattern[1:end], pattern[end+1:]
	if flags == "i" {
		re = "(?i)" + re
	} else if flags != "" {
		t.Fatalf("%q: flags %q not supported here", pattern, flags)
	}
	r, err := regexp.Compile(re)
	if err != nil {
		t.Fatalf("%q: %v", pattern, err)
	}
	return r
}

// repoFiles lists the repository's files, relative and slash-separated, as
// Renovate sees them (what git tracks; built and installed trees left out).
func repoFiles(t *testing.T) []string {
	t.Helper()
	files, err := testproc.RepoFiles(testproc.RepoRoot(t), "")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// extract runs every custom manager over the files its patterns select, as
// Renovate does, and returns what they find.
func extract(t *testing.T, c config) []dep {
	t.Helper()
	files := repoFiles(t)
	var deps []dep
	for i, m := range c.CustomManagers {
		if m.CustomType != "regex" {
			t.Fatalf("customManagers[%d]: customType %q, want regex", i, m.CustomType)
		}
		var matched []string
		for _, p := range m.ManagerFilePatterns {
			re := jsRegexp(t, p)
			for _, f := range files {
				if re.MatchString(f) && !slices.Contains(matched, f) {
					matched = append(matched, f)
				}
			}
		}
		if len(matched) == 0 {
			t.Errorf("customManagers[%d] (%s): its managerFilePatterns select no file", i, m.Description)
		}
		for _, ms := range m.MatchStrings {
			re, err := regexp.Compile(ms)
			if err != nil {
				t.Fatalf("customManagers[%d]: matchString %q: %v", i, ms, err)
			}
			if re.SubexpIndex("currentValue") < 0 || re.SubexpIndex("depName") < 0 ||
				(re.SubexpIndex("datasource") < 0 && m.DatasourceTemplate == "") {
				t.Fatalf("customManagers[%d]: matchString %q needs currentValue, depName and datasource (or datasourceTemplate)", i, ms)
			}
			for _, f := range matched {
				raw, err := os.ReadFile(testproc.RepoPath(t, f))
				if err != nil {
					t.Fatal(err)
				}
				for _, idx := range re.FindAllSubmatchIndex(raw, -1) {
					group := func(name string) string {
						n := re.SubexpIndex(name)
						if n < 0 || idx[2*n] < 0 {
							return ""
						}
						return string(raw[idx[2*n]:idx[2*n+1]])
					}
					d := dep{file: f, datasource: group("datasource"), depName: group("depName"),
						registryURL: group("registryUrl"), currentValue: group("currentValue")}
					if d.datasource == "" {
						d.datasource = m.DatasourceTemplate
					}
					n := re.SubexpIndex("currentValue")
					d.line = 1 + bytes.Count(raw[:idx[2*n]], []byte("\n"))
					deps = append(deps, d)
				}
			}
		}
	}
	return deps
}

// TestRenovateConfig: renovate.json is what Renovate reads, and its regular
// expressions compile (in the syntax Go and JavaScript share).
func TestRenovateConfig(t *testing.T) {
	c := loadConfig(t)
	if c.Schema != "https://docs.renovatebot.com/renovate-schema.json" {
		t.Errorf("$schema = %q", c.Schema)
	}
	if !slices.Contains(c.Extends, "config:recommended") {
		t.Errorf("extends = %v, want config:recommended", c.Extends)
	}
	if len(c.CustomManagers) == 0 || len(c.PackageRules) == 0 {
		t.Fatal("renovate.json has no customManagers or no packageRules")
	}
	for i, r := range c.PackageRules {
		if len(r.MatchPackageNames) == 0 {
			t.Errorf("packageRules[%d] (%s) matches no package", i, r.GroupName)
		}
		for _, p := range r.MatchPackageNames {
			if strings.HasPrefix(p, "/") {
				jsRegexp(t, p)
			} else if strings.ContainsAny(p, "*?{}[]!") {
				t.Errorf("packageRules[%d]: %q is a glob; write an exact name or a /regex/ (what this test evaluates)", i, p)
			}
		}
	}
	deps := extract(t, c)
	for _, d := range deps {
		if !slices.Contains([]string{"go", "docker", "helm"}, d.datasource) {
			t.Errorf("%s:%d: %s: datasource %q", d.file, d.line, d.depName, d.datasource)
		}
		if d.datasource == "helm" && !strings.HasPrefix(d.registryURL, "https://") {
			t.Errorf("%s:%d: helm chart %s has no registryUrl", d.file, d.line, d.depName)
		}
	}
}

var (
	annotation = regexp.MustCompile(`#\s*renovate:`)
	// A version pinned in a variable: NAME_VERSION = v1.2.3 (make) or
	// NAME_VERSION=1.2.3 (charts.env). Derived ones ($(shell ...)) are not pins.
	versionVar = regexp.MustCompile(`^([A-Z0-9_]+_VERSION)\s*[:?]?=\s*(v?[0-9][^\s]*)\s*$`)
)

// TestEveryPinIsAnnotatedAndMatched: each literal version variable in
// make/*.mk and deploy/kubernetes/charts.env carries a `# renovate:`
// comment that a custom manager turns into a dependency at that very value,
// and no `# renovate:` comment anywhere goes unmatched.
func TestEveryPinIsAnnotatedAndMatched(t *testing.T) {
	deps := extract(t, loadConfig(t))
	at := map[string]dep{}
	for _, d := range deps {
		at[d.file+":"+itoa(d.line)] = d
	}

	mk, _ := filepath.Glob(testproc.RepoPath(t, "make", "*.mk"))
	files := []string{"deploy/kubernetes/charts.env"}
	for _, f := range mk {
		files = append(files, "make/"+filepath.Base(f))
	}
	pins := 0
	for _, f := range files {
		raw, err := os.ReadFile(testproc.RepoPath(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(raw), "\n") {
			m := versionVar.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			pins++
			d, ok := at[f+":"+itoa(i+1)]
			switch {
			case !ok:
				t.Errorf("%s:%d: %s has no `# renovate: datasource=... depName=...` line above it that renovate.json matches", f, i+1, m[1])
			case d.currentValue != m[2]:
				t.Errorf("%s:%d: %s = %s, but Renovate would read %q", f, i+1, m[1], m[2], d.currentValue)
			}
		}
	}
	if pins < 10 { // OCB, telemetrygen, Mailpit, Alertmanager, helm, six charts
		t.Errorf("found %d version variables, want at least 10: has the layout changed?", pins)
	}

	// Every annotation anywhere is consumed by a match.
	for _, f := range repoFiles(t) {
		if strings.HasSuffix(f, ".json") || strings.HasSuffix(f, ".md") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		raw, err := os.ReadFile(testproc.RepoPath(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(raw), "\n") {
			if !annotation.MatchString(line) {
				continue
			}
			if _, ok := at[f+":"+itoa(i+2)]; !ok {
				t.Errorf("%s:%d: this `# renovate:` comment is matched by no custom manager in renovate.json (wrong file, or the next line has no version)", f, i+1)
			}
		}
	}
}

// groupOf is the groupName Renovate gives a package: the last matching rule
// that sets one wins.
func groupOf(t *testing.T, c config, name string) string {
	t.Helper()
	group := ""
	for _, r := range c.PackageRules {
		for _, p := range r.MatchPackageNames {
			if p == name || (strings.HasPrefix(p, "/") && jsRegexp(t, p).MatchString(name)) {
				if r.GroupName != "" {
					group = r.GroupName
				}
				break
			}
		}
	}
	return group
}

// TestPinsThatMoveTogetherAreGrouped: the versions internal/stacktest
// requires to agree (each set below) are in one Renovate group, so a single
// pull request moves all of them and the drift tests stay green. Each name
// must also still be where the set says it is pinned.
func TestPinsThatMoveTogetherAreGrouped(t *testing.T) {
	c := loadConfig(t)
	deps := extract(t, c)
	annotated := func(file, depName string) bool {
		return slices.ContainsFunc(deps, func(d dep) bool { return d.file == file && d.depName == depName })
	}
	type pin struct{ name, file string }
	sets := map[string][]pin{
		"collector": {
			{"otel/opentelemetry-collector-contrib", "docker-compose.yml"},
			{"otel/opentelemetry-collector-contrib", "collector/builder.yaml"},
			{"otel/opentelemetry-collector-contrib", "deploy/kubernetes/values/otel-gateway.yaml"},
			{"go.opentelemetry.io/collector/cmd/builder", "make/stack.mk"},
			{"github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen", "make/stack.mk"},
			{"opentelemetry-collector", "deploy/kubernetes/charts.env"},
		},
		"prometheus": {
			{"prom/prometheus", "docker-compose.yml"},
			{"prom/prometheus", "deploy/kubernetes/values/prometheus.yaml"},
			{"github.com/prometheus/prometheus", "go.mod"},
		},
		"alertmanager": {
			{"prom/alertmanager", "docker-compose.yml"},
			{"prom/alertmanager", "deploy/kubernetes/values/prometheus.yaml"},
			{"github.com/prometheus/alertmanager", "tools/alertmanager/go.mod"},
			{"github.com/prometheus/alertmanager", "make/stack.mk"},
		},
		"mailpit": {
			{"axllent/mailpit", "docker-compose.yml"},
			{"github.com/axllent/mailpit", "make/stack.mk"},
		},
		"opentelemetry go": {
			{"go.opentelemetry.io/otel", "go.mod"},
			{"go.opentelemetry.io/otel/sdk", "go.mod"},
			{"go.opentelemetry.io/otel/exporters/prometheus", "go.mod"},
			{"go.opentelemetry.io/contrib/bridges/otelslog", "go.mod"},
			{"go.opentelemetry.io/contrib/exporters/autoexport", "go.mod"},
			{"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "go.mod"},
		},
		"sentry go":         {{"github.com/getsentry/sentry-go", "go.mod"}, {"github.com/getsentry/sentry-go/otel", "go.mod"}},
		"sentry javascript": {{"@sentry/react", "frontend/package.json"}},
		"grafana":           {{"grafana/grafana", "docker-compose.yml"}, {"grafana/grafana", "deploy/kubernetes/values/grafana.yaml"}},
		"loki":              {{"grafana/loki", "docker-compose.yml"}, {"grafana/loki", "deploy/kubernetes/values/loki.yaml"}},
		"tempo":             {{"grafana/tempo", "docker-compose.yml"}, {"grafana/tempo", "deploy/kubernetes/values/tempo.yaml"}},
		"pyroscope":         {{"grafana/pyroscope", "docker-compose.yml"}, {"grafana/pyroscope", "deploy/kubernetes/values/pyroscope.yaml"}, {"pyroscope", "deploy/kubernetes/charts.env"}},
	}
	// Every component collector/builder.yaml builds moves with the image.
	for _, d := range deps {
		if d.file == "collector/builder.yaml" && d.datasource == "go" {
			sets["collector"] = append(sets["collector"], pin{d.depName, d.file})
		}
	}
	if len(sets["collector"]) < 10 {
		t.Errorf("renovate.json finds %d collector pins, want the image, ocb, telemetrygen, the chart and every builder.yaml component", len(sets["collector"]))
	}

	groups := map[string]string{} // group -> set
	for set, pins := range sets {
		want := ""
		for _, p := range pins {
			raw, err := os.ReadFile(testproc.RepoPath(t, p.file))
			if err != nil {
				t.Fatal(err)
			}
			// A custom-manager file must annotate the name; elsewhere the
			// package manager finds it, so the name must be in the file.
			custom := strings.HasSuffix(p.file, ".mk") || strings.HasSuffix(p.file, ".env") ||
				strings.HasPrefix(p.file, "deploy/kubernetes/values/") || p.file == "collector/builder.yaml"
			if custom && !annotated(p.file, p.name) {
				t.Errorf("%s: renovate.json extracts no %s from it", p.file, p.name)
			} else if !custom && !bytes.Contains(raw, []byte(p.name)) {
				t.Errorf("%s no longer pins %s: update this test", p.file, p.name)
			}
			g := groupOf(t, c, p.name)
			switch {
			case g == "":
				t.Errorf("%s (%s, set %s) is in no Renovate group", p.name, p.file, set)
			case want == "":
				want = g
			case g != want:
				t.Errorf("set %s: %s is in group %q, the others in %q: one update would move only part of the set", set, p.name, g, want)
			}
		}
		if other, ok := groups[want]; ok && want != "" {
			t.Errorf("sets %s and %s share the group %q", set, other, want)
		}
		groups[want] = set
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
