package stacktest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"example.com/otelstarter/internal/testproc"
)

// TestPromtool runs Prometheus's own checks on the shipped configuration, the
// rules and their unit tests (prometheus/tests/*.yml).
func TestPromtool(t *testing.T) {
	promtool := stackProgram(t, "promtool")
	root := testproc.RepoRoot(t)

	t.Run("check config", func(t *testing.T) {
		// prometheus.yml names the paths the compose container has; point them
		// at this checkout, and at an empty token file, for promtool.
		raw, err := os.ReadFile(filepath.Join(root, "prometheus", "prometheus.yml"))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		token := filepath.Join(dir, "metrics_token")
		if err := os.WriteFile(token, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := strings.NewReplacer(
			"/etc/prometheus/rules/", filepath.Join(root, "prometheus", "rules")+"/",
			"/etc/prometheus/metrics_token", token,
		).Replace(string(raw))
		if cfg == string(raw) {
			t.Fatal("prometheus.yml no longer mentions /etc/prometheus/rules or the token file; update this test")
		}
		path := filepath.Join(dir, "prometheus.yml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := run(t, dir, promtool, "check", "config", path); err != nil {
			t.Fatalf("promtool check config: %v\n%s", err, out)
		}
	})

	t.Run("check rules", func(t *testing.T) {
		rules, _ := filepath.Glob(filepath.Join(root, "prometheus", "rules", "*.yml"))
		if len(rules) != 2 {
			t.Fatalf("want recording.yml and alerts.yml, got %v", rules)
		}
		if out, err := run(t, root, promtool, append([]string{"check", "rules"}, rules...)...); err != nil {
			t.Fatalf("promtool check rules: %v\n%s", err, out)
		}
	})

	t.Run("test rules", func(t *testing.T) {
		tests, _ := filepath.Glob(filepath.Join(root, "prometheus", "tests", "*.yml"))
		if len(tests) == 0 {
			t.Fatal("no rule tests in prometheus/tests")
		}
		out, err := run(t, filepath.Join(root, "prometheus", "tests"), promtool, append([]string{"test", "rules"}, tests...)...)
		if err != nil {
			t.Fatalf("promtool test rules: %v\n%s", err, out)
		}
	})

	t.Run("every alert has a firing and a silent test", func(t *testing.T) {
		alerts, err := os.ReadFile(filepath.Join(root, "prometheus", "rules", "alerts.yml"))
		if err != nil {
			t.Fatal(err)
		}
		var tests strings.Builder
		files, _ := filepath.Glob(filepath.Join(root, "prometheus", "tests", "*.yml"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			tests.Write(b)
		}
		all := tests.String()
		for _, line := range strings.Split(string(alerts), "\n") {
			name, ok := strings.CutPrefix(strings.TrimSpace(line), "- alert: ")
			if !ok {
				continue
			}
			fires, silent := false, false
			for _, block := range strings.Split(all, "- alertname: "+name+"\n")[1:] {
				head, _, _ := strings.Cut(block, "- alertname:")
				if strings.Contains(head, "exp_alerts: []") {
					silent = true
				} else if strings.Contains(head, "exp_labels:") {
					fires = true
				}
			}
			if !fires || !silent {
				t.Errorf("alert %s: fires tested=%v, silent tested=%v; want both", name, fires, silent)
			}
		}
	})
}
