package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"example.com/otelstarter/internal/loadgen"
	"example.com/otelstarter/internal/testproc"
)

// buildBaseline builds the app of git revision ref from a temporary git
// worktree under dir (removed again) and returns the binary and the
// revision's abbreviated commit.
func buildBaseline(ctx context.Context, ref, dir string) (bin, rev string, err error) {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", ref+"^{commit}").CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("-baseline %s: %v: %s", ref, err, strings.TrimSpace(string(out)))
	}
	rev = strings.TrimSpace(string(out))
	tree := filepath.Join(dir, "baseline-src")
	if out, err := exec.CommandContext(ctx, "git", "worktree", "add", "--detach", tree, rev).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("git worktree add %s: %v\n%s", rev, err, out)
	}
	defer func() {
		// The worktree is only the source of one build: gone with it.
		_ = exec.Command("git", "worktree", "remove", "--force", tree).Run()
	}()
	bin = filepath.Join(dir, "app-baseline")
	return bin, rev, testproc.GoBuildApp(ctx, tree, bin)
}

// maxBaselineRatio is the most CPU per request the working tree may use
// relative to the baseline revision: no regression beyond the noise.
const maxBaselineRatio = 1.05

// baselineCPU alternates the working tree's app and the -baseline
// revision's, each restarted for every run, on a cached and an uncached
// read, and compares the app CPU per request of the two.
func (h *harness) baselineCPU(ctx context.Context) (string, error) {
	tree, base := "working tree", h.o.baseline
	if base != h.baseRev {
		base += " (" + h.baseRev + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The app built from the working tree and from `%s` (commit %s, built from a temporary git worktree), "+
		"alternating, each restarted for every run, variant A's environment (telemetry exporting to the collector); "+
		"%d keep-alive workers in a closed loop, %s warm-up then %s measured, %d runs of each per route. "+
		"App CPU time per request (user + system from /proc/<pid>/stat over the measured window), the least of the runs.\n\n",
		h.o.baseline, h.baseRev, h.o.workers, h.o.warmup, h.o.duration, h.o.runs)
	var rows strings.Builder
	var goals []goal
	for _, rt := range h.routes() {
		var runs []run
		for i := range 2 * h.o.runs {
			variant, bin := tree, h.bin
			if i%2 == 1 {
				variant, bin = base, h.baseBin
			}
			a, err := h.startSeeded(ctx, bin, fmt.Sprintf("app-baseline-%d", i), h.appEnv(true))
			if err != nil {
				return b.String(), fmt.Errorf("%s: %w", variant, err)
			}
			r := h.measure(ctx, a, rt.url(a), variant)
			a.proc.stop()
			logf("baseline %s, %s run %d: %s; app CPU %s/request", rt.name, variant, i/2+1, r.s, r.perRequest())
			runs = append(runs, r)
			fmt.Fprintf(&rows, "| %s | %d | %s | %.0f | %s | %s | %d | %s |\n", rt.name, i/2+1, variant, r.s.RPS(),
				loadgen.Ms(r.s.P50), loadgen.Ms(r.s.P99), r.s.Failed, r.perRequest())
			if ctx.Err() != nil {
				return b.String(), ctx.Err()
			}
		}
		cb, ct := leastCPU(runs, base), leastCPU(runs, tree)
		goals = append(goals, goal{
			fmt.Sprintf("`%s` (%s): working tree ≤ %.2f × %s in CPU per request", rt.name, rt.what, maxBaselineRatio, base),
			fmt.Sprintf("%.0f vs %.0f µs = %.3f×", ct, cb, ct/cb),
			ct <= maxBaselineRatio*cb,
		})
	}
	b.WriteString(goalTable(goals))
	b.WriteString("\n| route | run | binary | req/s | p50 | p99 | failed | app CPU per request |\n|---|---|---|---|---|---|---|---|\n")
	b.WriteString(rows.String())
	return b.String(), nil
}
