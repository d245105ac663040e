package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"example.com/otelstarter/internal/loadgen"
)

// coldStart times the embedded default (SQLite in a fresh directory, no
// Redis, no exporter) from process start to the first 200 from /readyz.
func (h *harness) coldStart(ctx context.Context) (string, error) {
	var times []time.Duration
	for i := range h.o.coldStarts {
		dir := filepath.Join(h.dir, fmt.Sprintf("cold-%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return "", err
		}
		a, err := startApp(ctx, h.bin, dir, "app-cold", 2*time.Millisecond,
			[]string{"DATABASE_URL=sqlite:" + filepath.Join(dir, "blog.db")})
		if err != nil {
			return "", err
		}
		a.proc.stop()
		times = append(times, a.ready)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
	best, med := slices.Min(times), median(times)
	var b strings.Builder
	fmt.Fprintf(&b, "From just before the process is started to the first 200 from `/readyz`, polled every 2 ms; "+
		"SQLite in a fresh directory (migrations included), no Redis, no exporter: only the listen addresses, "+
		"`DATABASE_URL`, `LOG_LEVEL=info` and a `FRONTEND_DIR` that does not exist are set (so bcrypt has its default cost, 10). %d runs.\n\n", len(times))
	b.WriteString(goalTable([]goal{
		{"cold start ≤ 300 ms", fmt.Sprintf("best %s, median %s", loadgen.Ms(best), loadgen.Ms(med)), med <= 300*time.Millisecond},
	}))
	b.WriteString("\nThe goal is judged on the median. Runs: ")
	for i, t := range times {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.1f", float64(t)/float64(time.Millisecond))
	}
	b.WriteString(" ms.\n")
	return b.String(), nil
}
