package testproc_test

import (
	"os"
	"path/filepath"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"example.com/otelstarter/internal/testproc"
)

// A line as the collector's file exporter writes it: hex IDs, 64-bit
// integers as strings, enums as numbers; then a line still being written.
const exported = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"blog-api"}}]},` +
	`"scopeSpans":[{"scope":{"name":"otelhttp"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",` +
	`"parentSpanId":"","name":"GET /api/posts/{id}","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",` +
	`"attributes":[{"key":"http.response.status_code","value":{"intValue":"200"}}],"links":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331"}],` +
	`"status":{"code":2},"aNewField":true}]}]}]}
{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8e`

func TestReadSpans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "traces.jsonl")
	if err := os.WriteFile(path, []byte(exported), 0o644); err != nil {
		t.Fatal(err)
	}
	spans, err := testproc.ReadSpans(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1 (the incomplete line skipped)", len(spans))
	}
	s := spans[0]
	if s.HexTraceID() != "5b8efff798038103d269b633813fc60c" || len(s.SpanId) != 8 || len(s.ParentSpanId) != 0 {
		t.Errorf("IDs: trace %s, span %x, parent %x", s.HexTraceID(), s.SpanId, s.ParentSpanId)
	}
	if s.Service != "blog-api" || s.Kind != tracepb.Span_SPAN_KIND_SERVER || s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("service %q, kind %v, status %v", s.Service, s.Kind, s.Status)
	}
	if s.StartTimeUnixNano != 1544712660000000000 {
		t.Errorf("start %d", s.StartTimeUnixNano)
	}
	if v, _ := testproc.Attr(s.Attributes, "http.response.status_code"); v != "200" {
		t.Errorf("status code attribute %q", v)
	}
	if len(s.Links) != 1 || len(s.Links[0].TraceId) != 16 {
		t.Errorf("links %v", s.Links)
	}
	if none, err := testproc.ReadSpans(filepath.Join(t.TempDir(), "missing.jsonl")); err != nil || none != nil {
		t.Errorf("a missing file: %v, %v", none, err)
	}
}
