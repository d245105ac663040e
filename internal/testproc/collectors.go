package testproc

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
)

// Collectors are two bin/otelcol processes on free loopback ports: the
// shipped collector/config.yaml, and a sink collector standing in for Tempo
// and Loki that writes what it receives to files.
type Collectors struct {
	CollectorHTTP string // URL of the OTLP/HTTP receiver of collector/config.yaml
	MetricsAddr   string // host:port where the collector serves its own metrics
	SinkDir       string // where the sink writes traces.jsonl, logs.jsonl and what else its config names
	Sink          *Process
	Collector     *Process
}

// StartCollectors runs bin with sinkConfig (which reads SINK_GRPC_ENDPOINT,
// SINK_HTTP_ENDPOINT, SINK_HEALTH_ENDPOINT and SINK_DIR) and with
// collector/config.yaml, whose downstream endpoints (the ${env:…} variables
// the file names) point at the sink for Tempo and Loki and at promWrite for
// Prometheus remote write. metricsAddr is where the collector serves its
// own metrics; "" picks one (anew on a collision), which c.MetricsAddr
// holds. env comes last in the collector's environment, so it overrides
// (OTELCOL_TAIL_SAMPLING_PERCENTAGE, …). It returns once both are healthy.
func StartCollectors(tb testing.TB, bin, sinkConfig, metricsAddr, promWrite string, env ...string) *Collectors {
	tb.Helper()
	c := &Collectors{SinkDir: filepath.Join(tb.TempDir(), "sink")}
	if err := os.MkdirAll(c.SinkDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	// The health_check extension and the collector's own metrics endpoint
	// do not log the port they bound: ports picked in advance, picked anew
	// when one was taken meanwhile.
	var sinkGRPC, sinkHTTP string
	c.Sink = StartOnFreePorts(tb, "sink collector", 30*time.Second, func() (*Process, func() error) {
		var sinkHealth string
		sinkGRPC, sinkHTTP, sinkHealth = testenv.FreeAddr(tb), testenv.FreeAddr(tb), testenv.FreeAddr(tb)
		p := Start(tb, "sink collector", []string{
			"SINK_GRPC_ENDPOINT=" + sinkGRPC, "SINK_HTTP_ENDPOINT=" + sinkHTTP,
			"SINK_HEALTH_ENDPOINT=" + sinkHealth, "SINK_DIR=" + c.SinkDir,
		}, bin, "--config", sinkConfig)
		return p, func() error { return HTTPOK("http://" + sinkHealth + "/") }
	})

	c.Collector = StartOnFreePorts(tb, "collector (collector/config.yaml)", 30*time.Second, func() (*Process, func() error) {
		colGRPC, colHTTP, colHealth := testenv.FreeAddr(tb), testenv.FreeAddr(tb), testenv.FreeAddr(tb)
		c.MetricsAddr = metricsAddr
		if c.MetricsAddr == "" {
			c.MetricsAddr = testenv.FreeAddr(tb)
		}
		_, metricsPort, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil {
			tb.Fatalf("metrics address %q: %v", c.MetricsAddr, err)
		}
		c.CollectorHTTP = "http://" + colHTTP
		p := Start(tb, "collector (collector/config.yaml)", append([]string{
			"OTELCOL_OTLP_GRPC_ENDPOINT=" + colGRPC,
			"OTELCOL_OTLP_HTTP_ENDPOINT=" + colHTTP,
			"OTELCOL_HEALTH_ENDPOINT=" + colHealth,
			"OTELCOL_METRICS_HOST=127.0.0.1",
			"OTELCOL_METRICS_PORT=" + metricsPort,
			"TEMPO_OTLP_ENDPOINT=" + sinkGRPC,
			"LOKI_OTLP_ENDPOINT=http://" + sinkHTTP,
			"PROMETHEUS_REMOTE_WRITE_ENDPOINT=" + promWrite,
		}, env...), bin, "--config", RepoPath(tb, "collector", "config.yaml"))
		return p, func() error { return HTTPOK("http://" + colHealth + "/") }
	})
	return c
}
