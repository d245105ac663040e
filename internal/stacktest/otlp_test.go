package stacktest

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// A tiny OTLP/HTTP JSON client and reader for the collector's file exporter
// output: enough to send a span or a log record with chosen attributes, and
// to read back what the collector forwarded. Field names follow the OTLP JSON
// encoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).

type otlpValue struct {
	StringValue *string `json:"stringValue,omitempty"`
	IntValue    *string `json:"intValue,omitempty"`
	BoolValue   *bool   `json:"boolValue,omitempty"`
}

func (v otlpValue) String() string {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		return *v.IntValue
	case v.BoolValue != nil:
		return strconv.FormatBool(*v.BoolValue)
	}
	return ""
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

type attrs []otlpKV

func (a attrs) get(key string) (string, bool) {
	for _, kv := range a {
		if kv.Key == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}

func strAttrs(m map[string]string) attrs {
	var out attrs
	for k, v := range m {
		out = append(out, otlpKV{Key: k, Value: otlpValue{StringValue: &v}})
	}
	return out
}

type otlpSpan struct {
	TraceID           string `json:"traceId"`
	SpanID            string `json:"spanId"`
	ParentSpanID      string `json:"parentSpanId,omitempty"`
	Name              string `json:"name"`
	Kind              int    `json:"kind"`
	StartTimeUnixNano string `json:"startTimeUnixNano"`
	EndTimeUnixNano   string `json:"endTimeUnixNano"`
	Attributes        attrs  `json:"attributes,omitempty"`
	Status            struct {
		Code int `json:"code,omitempty"`
	} `json:"status"`
}

type otlpLog struct {
	TimeUnixNano   string    `json:"timeUnixNano"`
	SeverityNumber int       `json:"severityNumber,omitempty"`
	SeverityText   string    `json:"severityText,omitempty"`
	Body           otlpValue `json:"body"`
	Attributes     attrs     `json:"attributes,omitempty"`
	TraceID        string    `json:"traceId,omitempty"`
	SpanID         string    `json:"spanId,omitempty"`
}

type otlpResource struct {
	Attributes attrs `json:"attributes,omitempty"`
}

type tracesData struct {
	ResourceSpans []struct {
		Resource   otlpResource `json:"resource"`
		ScopeSpans []struct {
			Spans []otlpSpan `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

type logsData struct {
	ResourceLogs []struct {
		Resource  otlpResource `json:"resource"`
		ScopeLogs []struct {
			LogRecords []otlpLog `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

// span is a forwarded span with its service name.
type span struct {
	otlpSpan
	Service string
}

type logRecord struct {
	otlpLog
	Service string
}

const (
	spanKindServer = 2
	spanKindClient = 3
	statusError    = 2
)

// The OTLP/HTTP JSON client and the file-exporter reader are shared.
var (
	postOTLP      = testproc.PostOTLP
	readJSONLines = testproc.ReadJSONLines
)

func sendSpans(ctx context.Context, base, service string, spans ...otlpSpan) error {
	return postOTLP(ctx, base, "traces", map[string]any{
		"resourceSpans": []any{map[string]any{
			"resource":   map[string]any{"attributes": strAttrs(map[string]string{"service.name": service})},
			"scopeSpans": []any{map[string]any{"scope": map[string]string{"name": "stacktest"}, "spans": spans}},
		}},
	})
}

func sendLogs(ctx context.Context, base, service string, logs ...otlpLog) error {
	return postOTLP(ctx, base, "logs", map[string]any{
		"resourceLogs": []any{map[string]any{
			"resource":  map[string]any{"attributes": strAttrs(map[string]string{"service.name": service})},
			"scopeLogs": []any{map[string]any{"scope": map[string]string{"name": "stacktest"}, "logRecords": logs}},
		}},
	})
}

func nanos(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// readSpans reads every span the file exporter wrote so far.
func readSpans(path string) ([]span, error) {
	var out []span
	err := readJSONLines(path, func(line []byte) error {
		var td tracesData
		if err := json.Unmarshal(line, &td); err != nil {
			return err
		}
		for _, rs := range td.ResourceSpans {
			svc, _ := rs.Resource.Attributes.get("service.name")
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, span{otlpSpan: s, Service: svc})
				}
			}
		}
		return nil
	})
	return out, err
}

// readLogs reads every log record the file exporter wrote so far.
func readLogs(path string) ([]logRecord, error) {
	var out []logRecord
	err := readJSONLines(path, func(line []byte) error {
		var ld logsData
		if err := json.Unmarshal(line, &ld); err != nil {
			return err
		}
		for _, rl := range ld.ResourceLogs {
			svc, _ := rl.Resource.Attributes.get("service.name")
			for _, sl := range rl.ScopeLogs {
				for _, l := range sl.LogRecords {
					out = append(out, logRecord{otlpLog: l, Service: svc})
				}
			}
		}
		return nil
	})
	return out, err
}
