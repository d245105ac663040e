package testproc_test

import (
	"testing"

	"example.com/otelstarter/internal/testproc"
)

func TestSum(t *testing.T) {
	fams, err := testproc.ParseMetricsText(`# TYPE otelcol_receiver_accepted_spans_total counter
otelcol_receiver_accepted_spans_total{transport="http"} 12
otelcol_receiver_accepted_spans_total{transport="grpc"} 3
# TYPE go_goroutines gauge
go_goroutines 42
`)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := testproc.Sum(fams, "otelcol_receiver_accepted_spans"); !ok || v != 15 {
		t.Errorf("accepted spans = %v, %v; want 15", v, ok)
	}
	if v, ok := testproc.Sum(fams, "go_goroutines"); !ok || v != 42 {
		t.Errorf("goroutines = %v, %v; want 42", v, ok)
	}
	if _, ok := testproc.Sum(fams, "go_threads"); ok {
		t.Error("a missing metric was found")
	}
}
