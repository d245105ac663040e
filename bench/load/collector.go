package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// collectorConfig receives OTLP over gRPC and HTTP and throws it away (the
// file exporter writing to /dev/null: builder.yaml has no debug or nop
// exporter), so what is measured is the app's side of exporting. The
// collector's own metrics count what it accepted, which is how the outage
// test sees export resume.
const collectorConfig = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${env:BENCH_OTLP_GRPC}
      http:
        endpoint: ${env:BENCH_OTLP_HTTP}
processors:
  batch:
exporters:
  file/discard:
    path: /dev/null
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${env:BENCH_METRICS_PORT}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [file/discard]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [file/discard]
`

// collector is bin/otelcol on fixed loopback ports, so it can be killed
// and started again where the app expects it.
type collector struct {
	bin, dir   string
	grpc, http string // OTLP receiver addresses
	metrics    string // the collector's own /metrics
	proc       *process
	starts     int
}

func newCollector(bin, dir string) (*collector, error) {
	addrs, err := freeAddrs(3)
	if err != nil {
		return nil, err
	}
	c := &collector{bin: bin, dir: dir, grpc: addrs[0], http: addrs[1], metrics: addrs[2]}
	return c, os.WriteFile(filepath.Join(dir, "otelcol.yaml"), []byte(collectorConfig), 0o644)
}

// endpoint is what OTEL_EXPORTER_OTLP_ENDPOINT points at (OTLP/HTTP).
func (c *collector) endpoint() string { return "http://" + c.http }

// start runs the collector and waits until its receiver and metrics answer.
func (c *collector) start(ctx context.Context) error {
	_, port, _ := strings.Cut(c.metrics, ":")
	c.starts++
	p, err := startProcess("otelcol", c.bin, []string{
		"BENCH_OTLP_GRPC=" + c.grpc, "BENCH_OTLP_HTTP=" + c.http, "BENCH_METRICS_PORT=" + port,
	}, filepath.Join(c.dir, fmt.Sprintf("otelcol-%d.log", c.starts)), "--config", filepath.Join(c.dir, "otelcol.yaml"))
	if err != nil {
		return err
	}
	c.proc = p
	if err := waitHTTP(ctx, p, "http://"+c.metrics+"/metrics", 50*time.Millisecond, 30*time.Second); err != nil {
		p.Kill()
		return err
	}
	// The receiver answers 405 to GET: up is enough.
	return waitTCP(ctx, c.http, 10*time.Second)
}

// accepted returns how many spans and log records the collector's receiver
// accepted since it started.
func (c *collector) accepted(ctx context.Context) (spans, logs float64, err error) {
	text, _, err := scrape(ctx, "http://"+c.metrics+"/metrics")
	if err != nil {
		return 0, 0, err
	}
	fams, err := testproc.ParseMetricsText(text)
	if err != nil {
		return 0, 0, err
	}
	spans, _ = testproc.Sum(fams, "otelcol_receiver_accepted_spans")
	logs, _ = testproc.Sum(fams, "otelcol_receiver_accepted_log_records")
	return spans, logs, nil
}

func (c *collector) stop() {
	if c.proc != nil {
		c.proc.stop()
	}
}

// scrape GETs a Prometheus text endpoint and returns its body and how long
// the whole exchange took.
func scrape(ctx context.Context, url string) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t0 := time.Now()
	status, b, err := testproc.Get(ctx, url)
	d := time.Since(t0)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET %s: status %d", url, status)
	}
	return string(b), d, err
}
