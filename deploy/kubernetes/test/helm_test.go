// Package test proves the app's Helm chart (deploy/kubernetes/chart) with the
// real helm: `helm lint --strict`, `helm template`, and every rendered
// manifest decoded strictly into its k8s.io/api type (an unknown field or
// kind fails), then the properties the app relies on asserted on the typed
// objects. A nested module, so that k8s.io modules stay out of the kit's
// go.mod.
package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

const (
	chartDir       = "../chart"
	productionFile = "../chart/values-production.example.yaml"
	releaseName    = "blog-api"
	namespace      = "blog"
)

// helm returns the helm binary: $HELM (make test-k8s sets it to bin/helm),
// else the repository's bin/helm, else helm on PATH. Missing: the test fails
// with CI=true and is skipped (loudly, and listed in $SKIP_REPORT) elsewhere.
func helm(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("HELM"), "../../../bin/helm"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
		if _, err := os.Stat(c); err == nil {
			p, _ := filepath.Abs(c)
			return p
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	msg := "helm not found (set HELM, or run `make bin/helm`); the Kubernetes chart is NOT proven"
	if inCI() {
		t.Fatal("CI=true: " + msg)
	}
	skip(t, "SKIPPING: "+msg)
	return ""
}

func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

// skip is internal/testenv.Skip (which a nested module cannot import): skip
// t with msg and append "TEST: first line of msg" to $SKIP_REPORT.
func skip(t *testing.T, msg string) {
	t.Helper()
	if path := os.Getenv("SKIP_REPORT"); path != "" {
		line, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			_, _ = fmt.Fprintf(f, "%s: %s\n", t.Name(), line)
			f.Close()
		}
	}
	t.Skip(msg)
}

// runHelm runs helm with args and returns its combined output.
func runHelm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	bin := helm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// No repositories, registries or plugins of the user's: the chart has no
	// dependencies and needs none.
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	err := cmd.Run()
	if err != nil {
		return append(stdout.Bytes(), stderr.Bytes()...), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

// template renders the chart with extra helm args (values files, --set).
func template(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", releaseName, chartDir, "--namespace", namespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func lint(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	return runHelm(t, append([]string{"lint", "--strict", chartDir, "--namespace", namespace}, args...)...)
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocuments cuts helm's multi-document output into the documents that
// hold more than comments.
func splitDocuments(out []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSeparator.Split(string(out), -1) {
		empty := true
		for _, line := range strings.Split(d, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// decodeStrict decodes one YAML document into v: duplicate keys (YAML) and
// unknown fields (JSON) are errors, and so is anything after the object.
func decodeStrict(doc []byte, v any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the object")
	}
	return nil
}

// TestLint: helm lint --strict passes with the default values, with the
// production example, and with the ServiceMonitor on.
func TestLint(t *testing.T) {
	helm(t) // one skip for the test, not one per subtest
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default", nil},
		{"production", []string{"-f", productionFile}},
		{"servicemonitor", []string{"--set", "serviceMonitor.enabled=true"}},
		{"single-replica", []string{"--set", "autoscaling.enabled=false", "--set", "replicaCount=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := lint(t, tc.args...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}
