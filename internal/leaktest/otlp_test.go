package leaktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// A tiny OTLP/HTTP JSON client, and a reader of the file exporter's output
// (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).

type kv struct {
	Key   string `json:"key"`
	Value struct {
		StringValue *string `json:"stringValue,omitempty"`
	} `json:"value"`
}

type attrs []kv

func strAttrs(pairs ...string) attrs {
	var out attrs
	for i := 0; i+1 < len(pairs); i += 2 {
		v := pairs[i+1]
		a := kv{Key: pairs[i]}
		a.Value.StringValue = &v
		out = append(out, a)
	}
	return out
}

func (a attrs) get(key string) (string, bool) {
	for _, x := range a {
		if x.Key == key && x.Value.StringValue != nil {
			return *x.Value.StringValue, true
		}
	}
	return "", false
}

type otlpEvent struct {
	TimeUnixNano string `json:"timeUnixNano"`
	Name         string `json:"name"`
	Attributes   attrs  `json:"attributes,omitempty"`
}

type otlpSpan struct {
	TraceID           string      `json:"traceId"`
	SpanID            string      `json:"spanId"`
	Name              string      `json:"name"`
	Kind              int         `json:"kind"`
	StartTimeUnixNano string      `json:"startTimeUnixNano"`
	EndTimeUnixNano   string      `json:"endTimeUnixNano"`
	Attributes        attrs       `json:"attributes,omitempty"`
	Events            []otlpEvent `json:"events,omitempty"`
	Status            struct {
		Code int `json:"code,omitempty"`
	} `json:"status"`
}

type otlpLog struct {
	TimeUnixNano   string `json:"timeUnixNano"`
	SeverityNumber int    `json:"severityNumber,omitempty"`
	SeverityText   string `json:"severityText,omitempty"`
	Body           struct {
		StringValue *string `json:"stringValue,omitempty"`
	} `json:"body"`
	Attributes attrs  `json:"attributes,omitempty"`
	TraceID    string `json:"traceId,omitempty"`
	SpanID     string `json:"spanId,omitempty"`
}

func postOTLP(base, signal string, payload any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return testproc.PostOTLP(ctx, base, signal, payload)
}

func resource(service string) map[string]any {
	return map[string]any{"attributes": strAttrs("service.name", service)}
}

func sendSpans(base, service string, spans ...otlpSpan) error {
	return postOTLP(base, "traces", map[string]any{"resourceSpans": []any{map[string]any{
		"resource":   resource(service),
		"scopeSpans": []any{map[string]any{"scope": map[string]string{"name": "leaktest"}, "spans": spans}},
	}}})
}

func sendLogs(base, service string, logs ...otlpLog) error {
	return postOTLP(base, "logs", map[string]any{"resourceLogs": []any{map[string]any{
		"resource":  resource(service),
		"scopeLogs": []any{map[string]any{"scope": map[string]string{"name": "leaktest"}, "logRecords": logs}},
	}}})
}

// readSpans returns every span in a file exporter's traces file.
func readSpans(path string) []otlpSpan {
	var out []otlpSpan
	_ = testproc.ReadJSONLines(path, func(line []byte) error {
		var td struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []otlpSpan `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		if json.Unmarshal(line, &td) != nil {
			return nil // a line being written; read it next time
		}
		for _, rs := range td.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
		return nil
	})
	return out
}

// readLogs returns every record in a file exporter's logs file.
func readLogs(path string) []otlpLog {
	var out []otlpLog
	_ = testproc.ReadJSONLines(path, func(line []byte) error {
		var ld struct {
			ResourceLogs []struct {
				ScopeLogs []struct {
					LogRecords []otlpLog `json:"logRecords"`
				} `json:"scopeLogs"`
			} `json:"resourceLogs"`
		}
		if json.Unmarshal(line, &ld) != nil {
			return nil
		}
		for _, rl := range ld.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				out = append(out, sl.LogRecords...)
			}
		}
		return nil
	})
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func nanos(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
