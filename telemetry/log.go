package telemetry

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/trace"
)

// newLogHandler builds the logger's handler: one [RedactingHandler] in front,
// so every record is masked once whatever the number of sinks, then slog's
// line handler behind a [traceIDHandler] that adds trace_id and span_id and,
// when logs are exported, the OpenTelemetry bridge next to it through
// [slog.NewMultiHandler], without the IDs: the bridge takes the trace from
// the context itself.
func (t *Telemetry) newLogHandler() (slog.Handler, error) {
	lines, err := newLineHandler(t.cfg.logFormat, t.cfg.logWriter, t.cfg.logLevel)
	if err != nil {
		return nil, err
	}
	var h slog.Handler = &traceIDHandler{next: lines}
	if t.logBridged {
		bridge := otelslog.NewHandler(scopeName, otelslog.WithLoggerProvider(t.LoggerProvider))
		h = slog.NewMultiHandler(h, &levelHandler{level: t.cfg.logLevel, next: bridge})
	}
	return NewRedactingHandler(h), nil
}

func newLineHandler(format string, w io.Writer, level slog.Leveler) (slog.Handler, error) {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: readableDuration}
	switch strings.ToLower(format) {
	case "", "json":
		return slog.NewJSONHandler(w, opts), nil
	case "text":
		return slog.NewTextHandler(w, opts), nil
	}
	return nil, fmt.Errorf("telemetry: log format %q: want json or text", format)
}

// readableDuration writes a [time.Duration] as Go writes it ("20s",
// "1.5ms") instead of slog's default, an integer of nanoseconds in JSON.
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// NewRedactingHandler returns a handler that passes every record to next
// with its message and attributes redacted by [Redact]: use it to protect
// any other sink.
func NewRedactingHandler(next slog.Handler) *RedactingHandler {
	return &RedactingHandler{next: next}
}

// RedactingHandler is a [slog.Handler] that masks secrets and personal data
// before the next handler sees a record. See [Redact]. The logger of [Setup]
// has one in front of all its sinks.
type RedactingHandler struct {
	next slog.Handler
}

// Enabled implements [slog.Handler].
func (h *RedactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements [slog.Handler]. It walks the attributes once and copies
// the record only when something must be masked, which is rare.
func (h *RedactingHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := RedactString(r.Message)
	dirty := msg != r.Message
	// Gathered on the stack: a record has few attributes.
	var buf [8]slog.Attr
	attrs := buf[:0]
	r.Attrs(func(a slog.Attr) bool {
		red, changed := redact(a)
		dirty = dirty || changed
		attrs = append(attrs, red)
		return true
	})
	if !dirty {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	out.AddAttrs(attrs...)
	return h.next.Handle(ctx, out)
}

// WithAttrs implements [slog.Handler]; the attributes are redacted once, here.
func (h *RedactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = Redact(a)
	}
	return &RedactingHandler{next: h.next.WithAttrs(red)}
}

// WithGroup implements [slog.Handler].
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &RedactingHandler{next: h.next.WithGroup(name)}
}

// traceIDHandler adds trace_id and span_id of the context's span to each
// record, at the top level, before the record's own attributes. So that the
// IDs stay at the top level inside [slog.Logger.WithGroup] too, it opens
// groups itself: next has only the attributes added before the first group,
// and groups holds the groups opened since, each with its attributes.
type traceIDHandler struct {
	next   slog.Handler
	groups []logGroup
}

type logGroup struct {
	name  string
	attrs []slog.Attr
}

func (h *traceIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *traceIDHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() && len(h.groups) == 0 {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if sc.IsValid() {
		// Both IDs in one string: one allocation instead of two.
		var buf [2*len(trace.TraceID{}) + 2*len(trace.SpanID{})]byte
		tid, sid := sc.TraceID(), sc.SpanID()
		hex.Encode(buf[:], tid[:])
		hex.Encode(buf[2*len(tid):], sid[:])
		ids := string(buf[:])
		out.AddAttrs(slog.String("trace_id", ids[:2*len(tid)]), slog.String("span_id", ids[2*len(tid):]))
	}
	// Gathered on the stack and added at once: AddAttrs per attribute
	// costs more than the copy.
	var buf [8]slog.Attr
	attrs := buf[:0]
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	// Nest the record's attributes in the open groups, innermost first.
	for i := len(h.groups) - 1; i >= 0; i-- {
		g := h.groups[i]
		inner := append(append(make([]slog.Attr, 0, len(g.attrs)+len(attrs)), g.attrs...), attrs...)
		attrs = []slog.Attr{{Key: g.name, Value: slog.GroupValue(inner...)}}
	}
	out.AddAttrs(attrs...)
	return h.next.Handle(ctx, out)
}

func (h *traceIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	if len(h.groups) == 0 {
		return &traceIDHandler{next: h.next.WithAttrs(attrs)}
	}
	groups := slices.Clone(h.groups)
	last := &groups[len(groups)-1]
	last.attrs = append(slices.Clip(last.attrs), attrs...)
	return &traceIDHandler{next: h.next, groups: groups}
}

func (h *traceIDHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &traceIDHandler{next: h.next, groups: append(slices.Clip(h.groups), logGroup{name: name})}
}

// levelHandler applies the logger's level to the OTel bridge, which would
// otherwise export every level its provider accepts.
type levelHandler struct {
	level slog.Leveler
	next  slog.Handler
}

func (h *levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() && h.next.Enabled(ctx, l)
}
func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error { return h.next.Handle(ctx, r) }
func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &levelHandler{level: h.level, next: h.next.WithAttrs(attrs)}
}
func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{level: h.level, next: h.next.WithGroup(name)}
}
