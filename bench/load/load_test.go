package main

import (
	"strings"
	"testing"
	"time"
)

// The load itself never runs under `go test`: it needs PostgreSQL, Redis,
// the collector and minutes (`make load`). These are its pure parts.

func TestMergeSection(t *testing.T) {
	micro := "<!-- micro:start -->\nold micro\n<!-- micro:end -->"
	load := "<!-- load:start -->\nold load\n<!-- load:end -->"
	for _, tc := range []struct {
		name, doc, section, body, want string
	}{
		{"new file gets the title", "", "load", "L",
			resultsTitle + "\n" + "<!-- load:start -->\nL\n<!-- load:end -->\n"},
		{"appended after the other section", "# R\n\n" + micro + "\n", "load", "L\n\n",
			"# R\n\n" + micro + "\n\n<!-- load:start -->\nL\n<!-- load:end -->\n"},
		{"replaced in place, the other kept", "# R\n\n" + micro + "\n\n" + load + "\n\nfooter\n", "micro", "new micro",
			"# R\n\n<!-- micro:start -->\nnew micro\n<!-- micro:end -->\n\n" + load + "\n\nfooter\n"},
		{"load replaced", "# R\n\n" + micro + "\n\n" + load + "\n", "load", "new load",
			"# R\n\n" + micro + "\n\n<!-- load:start -->\nnew load\n<!-- load:end -->\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mergeSection(tc.doc, tc.section, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	for _, doc := range []string{"<!-- load:start -->\nno end", "<!-- load:end -->\n<!-- load:start -->", "<!-- load:end -->"} {
		if _, err := mergeSection(doc, "load", "x"); err == nil {
			t.Errorf("mergeSection(%q): no error for broken markers", doc)
		}
	}
}

func TestMicroRatios(t *testing.T) {
	const out = `goos: linux
pkg: example.com/otelstarter/telemetry
BenchmarkMiddleware/kit-2         	  100000	      2000 ns/op	     500 B/op	       5 allocs/op
BenchmarkMiddleware/kit-2         	  100000	      2200 ns/op	     500 B/op	       5 allocs/op
BenchmarkMiddleware/kit-2         	  100000	      9000 ns/op	     500 B/op	       5 allocs/op
BenchmarkMiddleware/naive-2       	  100000	      4000 ns/op	    1500 B/op	      15 allocs/op
BenchmarkMiddleware/naive_metered-2	  100000	      2000 ns/op	    1500 B/op	       5 allocs/op
BenchmarkMiddleware/naive_full-2	  100000	      2000 ns/op	    1500 B/op	       2 allocs/op
BenchmarkMiddleware/plain-2       	  100000	      1000 ns/op	     100 B/op	       1 allocs/op
BenchmarkLogRecord/attrs=4/impl=kit-2  	 1000000	       300 ns/op
BenchmarkLogRecord/attrs=4/impl=naive-2	 1000000	       600 ns/op
BenchmarkOther-2                  	 1000000	       1.5 ns/op
PASS
`
	bench, err := parseBench(strings.NewReader(out), "micro.txt")
	if err != nil {
		t.Fatal(err)
	}
	rows := microRatios(bench)
	if len(rows) != 2 {
		t.Fatalf("rows = %+v, want 2", rows)
	}
	log, mw := rows[0], rows[1]
	if log.name != "BenchmarkLogRecord/attrs=4/impl=*" || mw.name != "BenchmarkMiddleware/*" {
		t.Fatalf("names = %q, %q", log.name, mw.name)
	}
	check := func(r microRow, other string, want float64, ok bool) {
		t.Helper()
		got, gotOK := r.ratio(other, "ns/op")
		if gotOK != ok || got != want {
			t.Errorf("%s kit/%s = %v, %v; want %v, %v", r.name, other, got, gotOK, want, ok)
		}
	}
	check(mw, "naive", 0.55, true) // median 2200 of the three kit runs
	check(mw, "naive_full", 1.1, true)
	check(mw, "naive_metered", 1.1, true)
	check(mw, "plain", 2.2, true)
	check(log, "naive", 0.5, true)
	check(log, "plain", 0, false)

	report := microReport(rows, "benchstat table", goals{middleware: 1.15, extraAllocs: 2, log: 1.2})
	for _, want := range []string{
		"| BenchmarkMiddleware/* | 2200.0 ns/op | 1.100× (2000.0 ns/op) | 1.100× (2000.0 ns/op) | 2.200× (1000.0 ns/op) | 500 B, 5 allocs |",
		"| middleware kit ≤ 1.15× naive_full in ns/op | 1.100× (2200 vs 2000) | met |",
		"| middleware kit: at most 2 allocations more than naive_full | 5 vs 2 allocs/op | **not met** |",
		"benchstat table",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

func TestMetricText(t *testing.T) {
	const text = `# HELP otelcol_receiver_accepted_spans_total Number of spans.
# TYPE otelcol_receiver_accepted_spans_total counter
otelcol_receiver_accepted_spans_total{receiver="otlp",transport="http"} 12
otelcol_receiver_accepted_spans_total{receiver="otlp",transport="grpc"} 3
# TYPE go_goroutines gauge
go_goroutines 42
# TYPE otel_sdk_exporter_span_exported_total counter
otel_sdk_exporter_span_exported_total{error_type="*errors.joinError",otel_component_name="otlp_http_span_exporter/0"} 8192
# TYPE otel_sdk_processor_span_processed_total counter
otel_sdk_processor_span_processed_total{otel_component_name="batching_span_processor/0"} 100
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{http_route="/api/posts",le="0.1"} 1
http_server_request_duration_seconds_bucket{http_route="/api/posts",le="+Inf"} 2
http_server_request_duration_seconds_sum{http_route="/api/posts"} 0.3
http_server_request_duration_seconds_count{http_route="/api/posts"} 2

`
	ids, fams, err := seriesIDs(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 9 || fams[0] != (family{"http_server_request_duration_seconds", 4}) {
		t.Errorf("series = %d (want 9), families %v", len(ids), fams)
	}
	got := sdkCounters(text)
	want := []sdkCounter{
		{"otel_sdk_exporter_span_exported_total", "otlp_http_span_exporter/0", "*errors.joinError", "", 8192},
		{"otel_sdk_processor_span_processed_total", "batching_span_processor/0", "", "", 100},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("sdkCounters = %+v, want %+v", got, want)
	}
	if l := lost(got); l["span"] != 8192 || l["log"] != 0 {
		t.Errorf("lost = %v, want 8192 spans", l)
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 1..4 = %v, want 2.5", got)
	}
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median of 1..3 = %v, want 2", got)
	}
	if got := median[int](nil); got != 0 {
		t.Errorf("median of nothing = %v, want 0", got)
	}
}
