// Package faulttest injects faults around the real app binary (the
// collector going away or hanging, PostgreSQL stopping, SIGTERM under load,
// slow clients) and asserts what users and operators would see. Every test
// starts what it needs on free loopback ports and stops it in t.Cleanup.
//
// The tests take about a minute and a half and need bin/otelcol and
// PostgreSQL's initdb and pg_ctl: they run from `make test-faults`, which sets
// FAULT_TESTS=1; `go test ./...` (make test) skips them.
package faulttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// appBin is the app built once by TestMain.
var appBin string

func enabled() bool { return os.Getenv("FAULT_TESTS") == "1" }

func TestMain(m *testing.M) {
	if !enabled() {
		// `make test` runs `go test ./...`: these minutes-long tests belong
		// to `make test-faults`. Each test says so when it skips.
		os.Exit(m.Run())
	}
	os.Exit(buildAndRun(m))
}

// buildAndRun builds the app once for every test, runs them and removes it.
func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "faulttest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	appBin = filepath.Join(dir, "app")
	root, err := testproc.FindRepoRoot()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err = testproc.GoBuildApp(ctx, root, appBin)
		cancel()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// need skips t unless the fault tests were asked for.
func need(t *testing.T) {
	t.Helper()
	if !enabled() {
		t.Skip("SKIPPING: fault-injection test; run `make test-faults` (sets FAULT_TESTS=1)")
	}
}

// pollEvery is how often the tests poll for a state: finely, because some
// of them report how long a recovery took.
const pollEvery = 100 * time.Millisecond

// errNotYet is what a polled check returns until it holds.
var errNotYet = errors.New("not yet")

// rss returns the resident set size of pid in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	n, err := testproc.RSS(pid)
	if err != nil {
		t.Fatalf("read RSS: %v", err)
	}
	return n
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
