package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// redactingSpanProcessor masks sensitive span attributes as spans start,
// before any other processor or exporter sees them. Instrumentation such as
// otelhttp records the client's address (client.address, from
// X-Forwarded-For, and network.peer.address) at span start; the kit's
// promise is that no client IP leaves the process.
type redactingSpanProcessor struct{}

var _ sdktrace.SpanProcessor = redactingSpanProcessor{}

// OnStart implements [sdktrace.SpanProcessor]. The kit's own HTTP server
// spans start with redacted attributes (see serverStartCtx) and are left
// alone: reading the attributes back costs a copy of them now and another
// when attributes are added later.
func (redactingSpanProcessor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if startsRedacted(parent) {
		return
	}
	var fix []attribute.KeyValue
	for _, kv := range s.Attributes() {
		if r, ok := redactAttribute(kv); ok {
			fix = append(fix, r)
		}
	}
	if len(fix) > 0 {
		s.SetAttributes(fix...) // same keys: the values are replaced
	}
}

// OnEnd implements [sdktrace.SpanProcessor].
func (redactingSpanProcessor) OnEnd(sdktrace.ReadOnlySpan) {}

// Shutdown implements [sdktrace.SpanProcessor].
func (redactingSpanProcessor) Shutdown(context.Context) error { return nil }

// ForceFlush implements [sdktrace.SpanProcessor].
func (redactingSpanProcessor) ForceFlush(context.Context) error { return nil }

// redactAttribute returns the masked form of kv and true when kv's key is
// sensitive or its string value holds something sensitive.
func redactAttribute(kv attribute.KeyValue) (attribute.KeyValue, bool) {
	if IsSensitiveKey(string(kv.Key)) {
		if kv.Value.Type() == attribute.STRING && kv.Value.AsString() == Redacted {
			return kv, false
		}
		return attribute.String(string(kv.Key), Redacted), true
	}
	switch kv.Value.Type() {
	case attribute.STRING:
		s := kv.Value.AsString()
		if r := RedactString(s); r != s {
			return attribute.String(string(kv.Key), r), true
		}
	case attribute.STRINGSLICE:
		vs := kv.Value.AsStringSlice()
		changed := false
		for i, s := range vs {
			if r := RedactString(s); r != s {
				vs[i], changed = r, true
			}
		}
		if changed {
			return attribute.StringSlice(string(kv.Key), vs), true
		}
	}
	return kv, false
}
