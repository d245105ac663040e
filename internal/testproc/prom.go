package testproc

import (
	"io"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ParseMetrics parses a Prometheus text exposition (what /metrics answers
// without an OpenMetrics Accept header) into its metric families.
func ParseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// ParseMetricsText is [ParseMetrics] of a string.
func ParseMetricsText(text string) (map[string]*dto.MetricFamily, error) {
	return ParseMetrics(strings.NewReader(text))
}

// Sum adds up every series of the counter, gauge or untyped metric name,
// or of name_total (how Prometheus exporters spell counters), and reports
// whether there was any.
func Sum(fams map[string]*dto.MetricFamily, name string) (float64, bool) {
	var sum float64
	found := false
	for _, n := range []string{name, name + "_total"} {
		for _, m := range fams[n].GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Untyped != nil:
				sum += m.Untyped.GetValue()
			default:
				continue
			}
			found = true
		}
	}
	return sum, found
}

// Series returns the identity (name and labels, the value left out) of
// every series in fams, each histogram bucket and summary quantile one
// series as Prometheus stores them, grouped by metric family.
func Series(fams map[string]*dto.MetricFamily) map[string][]string {
	out := map[string][]string{}
	for name, f := range fams {
		samples, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, f)
		if err != nil {
			continue // a family with no usable samples has no series either
		}
		for _, s := range samples {
			out[name] = append(out[name], s.Metric.String())
		}
	}
	return out
}
