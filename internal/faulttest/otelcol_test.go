package faulttest

import (
	"path/filepath"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
)

// collector is bin/otelcol running testdata/collector.yaml.
type collector struct {
	*testproc.Process
	Endpoint   string // http://host:port of the OTLP HTTP receiver
	TracesFile string
}

// startCollector runs the collector with its OTLP HTTP receiver on addr,
// writing to files in dir named after tag.
func startCollector(t *testing.T, addr, dir, tag string) *collector {
	t.Helper()
	bin := testproc.Otelcol(t)
	health := testenv.FreeAddr(t)
	c := &collector{Endpoint: "http://" + addr, TracesFile: filepath.Join(dir, "traces-"+tag+".jsonl")}
	env := append(baseEnv(),
		"FAULT_HEALTH_ENDPOINT="+health,
		"FAULT_OTLP_HTTP_ENDPOINT="+addr,
		"FAULT_TRACES_FILE="+c.TracesFile,
		"FAULT_LOGS_FILE="+filepath.Join(dir, "logs-"+tag+".jsonl"),
	)
	c.Process = testproc.StartEnv(t, "collector "+tag, env, bin, "--config", testproc.RepoPath(t, "internal", "faulttest", "testdata", "collector.yaml"))
	testproc.Poll(t, "collector health", pollEvery, 30*time.Second, func() error { return testproc.HTTPOK("http://" + health + "/") }, c.Process)
	return c
}

// readSpans returns the spans the collector's file exporter wrote so far.
func readSpans(t *testing.T, path string) []testproc.Span {
	t.Helper()
	spans, err := testproc.ReadSpans(path)
	if err != nil {
		t.Fatal(err)
	}
	return spans
}
