package stacktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// TestSLORulesUpToDate regenerates the SLO rules from the SLO spec with
// sloth, as `make slo` does (make/slo.mk), and fails when the committed
// prometheus/rules/slo.yml differs: the spec is the one place the SLIs,
// objectives and burn-rate alerts are written.
func TestSLORulesUpToDate(t *testing.T) {
	goBin := needProgram(t, "go", "install Go (https://go.dev/dl/)")
	root := testproc.RepoRoot(t)

	// By folder, not by name, as make/slo.mk: `make rename` rewrites the
	// service name in file contents but not in file names.
	specs, _ := filepath.Glob(filepath.Join(root, "prometheus", "slo", "*.yml"))
	if len(specs) != 1 {
		t.Fatalf("want one SLO spec in prometheus/slo/*.yml, got %v", specs)
	}
	spec, err := filepath.Rel(root, specs[0])
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join(root, "prometheus", "rules", "slo.yml"))
	if err != nil {
		t.Fatalf("%v: run `make slo`", err)
	}

	// The first run builds sloth (two minutes on two cores with a cold build
	// cache), so not run()'s two-minute limit.
	out := filepath.Join(t.TempDir(), "slo.yml")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "tool", "-modfile=prometheus/slo/sloth.mod", "sloth",
		"generate", "--no-log", "-i", spec, "-o", out)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = errors.New("timed out")
		}
		t.Fatalf("sloth generate -i %s: %v\n%s", spec, err, msg)
	}
	generated, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(generated, []byte("DO NOT EDIT")) || !bytes.Contains(generated, []byte("slo:sli_error:ratio_rate5m")) {
		t.Fatalf("sloth's output does not look like generated SLO rules:\n%s", testproc.Tail(string(generated), 20))
	}
	if !bytes.Equal(generated, committed) {
		t.Errorf("prometheus/rules/slo.yml is not what sloth generates from %s: run `make slo` (and edit the spec, never the generated file)\n%s",
			spec, firstDifference(string(committed), string(generated)))
	}
}

// firstDifference names the first line where the two files differ.
func firstDifference(committed, generated string) string {
	c, g := strings.Split(committed, "\n"), strings.Split(generated, "\n")
	for i := 0; i < max(len(c), len(g)); i++ {
		var cl, gl string
		if i < len(c) {
			cl = c[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if cl != gl || i >= len(c) || i >= len(g) {
			return fmt.Sprintf("first difference at line %d:\n  committed: %s\n  generated: %s", i+1, cl, gl)
		}
	}
	return "no line differs (line endings?)"
}
