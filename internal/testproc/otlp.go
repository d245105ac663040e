package testproc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// PostOTLP sends msg as one OTLP/HTTP protobuf request for signal
// ("traces", "logs", "metrics") to base (http://host:port). Protobuf, not
// JSON: the binary encoding is what SDKs send, and it has none of OTLP/JSON's
// departures from protojson (see [ReadJSONLines]).
func PostOTLP(ctx context.Context, base, signal string, msg proto.Message) error {
	b, err := proto.Marshal(msg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/"+signal, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v1/%s: %s", signal, resp.Status)
	}
	return nil
}

// SendSpans posts spans as one export of service (its service.name) with
// instrumentation scope scope.
func SendSpans(ctx context.Context, base, service, scope string, spans ...*tracepb.Span) error {
	return PostOTLP(ctx, base, "traces", &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   serviceResource(service),
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: scope}, Spans: spans}},
	}}})
}

// SendLogs posts records as one export of service with scope scope.
func SendLogs(ctx context.Context, base, service, scope string, records ...*logspb.LogRecord) error {
	return PostOTLP(ctx, base, "logs", &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  serviceResource(service),
		ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: scope}, LogRecords: records}},
	}}})
}

func serviceResource(service string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: StrAttrs("service.name", service)}
}

// StrAttrs returns string attributes from key, value pairs.
func StrAttrs(pairs ...string) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, &commonpb.KeyValue{Key: pairs[i], Value: StrValue(pairs[i+1])})
	}
	return out
}

// StrValue is s as an OTLP value.
func StrValue(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

// Attr returns the value of the attribute key as text, and whether it is there.
func Attr(attrs []*commonpb.KeyValue, key string) (string, bool) {
	for _, kv := range attrs {
		if kv.GetKey() == key {
			return Text(kv.GetValue()), true
		}
	}
	return "", false
}

// Text renders a scalar value the way the tests compare it; other kinds
// (arrays, maps, bytes) render as their protojson text.
func Text(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case nil:
		return ""
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	}
	return protojson.Format(v)
}

// Span is an exported span with the service.name of its resource.
type Span struct {
	*tracepb.Span
	Service string
}

// HexTraceID is the span's trace ID as the 32 hex digits of X-Request-Id.
func (s Span) HexTraceID() string { return hex.EncodeToString(s.TraceId) }

// LogRecord is an exported log record with the service.name of its resource.
type LogRecord struct {
	*logspb.LogRecord
	Service string
}

// HexTraceID is the record's trace ID in hex, "" when it has none.
func (r LogRecord) HexTraceID() string { return hex.EncodeToString(r.TraceId) }

// ReadSpans returns every span a collector's file exporter (format: json)
// has written to path so far.
func ReadSpans(path string) ([]Span, error) {
	var out []Span
	err := ReadJSONLines(path, func(td *tracepb.TracesData) {
		for _, rs := range td.ResourceSpans {
			svc, _ := Attr(rs.GetResource().GetAttributes(), "service.name")
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, Span{Span: s, Service: svc})
				}
			}
		}
	})
	return out, err
}

// ReadLogs returns every log record a collector's file exporter has written
// to path so far.
func ReadLogs(path string) ([]LogRecord, error) {
	var out []LogRecord
	err := ReadJSONLines(path, func(ld *logspb.LogsData) {
		for _, rl := range ld.ResourceLogs {
			svc, _ := Attr(rl.GetResource().GetAttributes(), "service.name")
			for _, sl := range rl.ScopeLogs {
				for _, r := range sl.LogRecords {
					out = append(out, LogRecord{LogRecord: r, Service: svc})
				}
			}
		}
	})
	return out, err
}

// ReadJSONLines decodes every line of a file a collector's file exporter
// writes (one OTLP/JSON TracesData, LogsData or MetricsData per line) into a
// new M and calls each with it. A missing file has no lines.
// Reading stops without error at a line that does not decode: the line
// being written right now may be incomplete, and is read next time.
//
// OTLP/JSON is protojson with one exception
// (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): trace
// and span IDs are hex strings, where protojson expects base64 for bytes
// fields. The IDs are rewritten to base64 before protojson reads the line.
func ReadJSONLines[M proto.Message](path string, each func(M)) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		b, err := hexIDsToBase64(line)
		if err != nil {
			return nil
		}
		var zero M
		m := zero.ProtoReflect().New().Interface().(M)
		if opts.Unmarshal(b, m) != nil {
			return nil
		}
		each(m)
	}
	return sc.Err()
}

// idFields are the OTLP/JSON fields that hold hex IDs, wherever they occur
// (spans, links, log records, exemplars).
var idFields = map[string]bool{"traceId": true, "spanId": true, "parentSpanId": true}

// hexIDsToBase64 rewrites the hex ID fields of an OTLP/JSON document to the
// base64 protojson reads. Numbers stay json.Number: OTLP/JSON writes 64-bit
// integers as strings, but a float64 round trip must not touch one that is not.
func hexIDsToBase64(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if err := rewriteIDs(v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func rewriteIDs(v any) error {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && idFields[k] {
				id, err := hex.DecodeString(s)
				if err != nil {
					return fmt.Errorf("%s %q: %w", k, s, err)
				}
				x[k] = base64.StdEncoding.EncodeToString(id)
				continue
			}
			if err := rewriteIDs(e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := rewriteIDs(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// RandomID returns n random bytes: a trace ID (16) or span ID (8) for
// synthetic telemetry.
func RandomID(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// RandomHex is [RandomID] in hex, as IDs appear in headers and logs.
func RandomHex(n int) string { return hex.EncodeToString(RandomID(n)) }
