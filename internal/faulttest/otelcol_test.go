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

// startCollector runs the collector with its OTLP HTTP receiver on addr
// ("": a free port; pass a collector's own again to restart it), writing to
// files in dir named after tag. The collector does not log its health
// port: ports are picked in advance, and anew when one was taken meanwhile
// (addr, when given, stays).
func startCollector(t *testing.T, addr, dir, tag string) *collector {
	t.Helper()
	bin := testproc.Otelcol(t)
	c := &collector{TracesFile: filepath.Join(dir, "traces-"+tag+".jsonl")}
	fixed := addr != ""
	c.Process = testproc.StartOnFreePorts(t, "collector "+tag, 30*time.Second, func() (*testproc.Process, func() error) {
		if !fixed {
			addr = testenv.FreeAddr(t)
		}
		c.Endpoint = "http://" + addr
		health := testenv.FreeAddr(t)
		env := append(baseEnv(),
			"FAULT_HEALTH_ENDPOINT="+health,
			"FAULT_OTLP_HTTP_ENDPOINT="+addr,
			"FAULT_TRACES_FILE="+c.TracesFile,
			"FAULT_LOGS_FILE="+filepath.Join(dir, "logs-"+tag+".jsonl"),
		)
		p := testproc.StartEnv(t, "collector "+tag, env, bin, "--config", testproc.RepoPath(t, "internal", "faulttest", "testdata", "collector.yaml"))
		return p, func() error { return testproc.HTTPOK("http://" + health + "/") }
	})
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
