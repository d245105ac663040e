package telemetry

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/trace"
)

// newLogHandler builds the logger's handler: redaction first, then the line
// handler of slog with trace_id and span_id added and, when logs are
// exported, the OpenTelemetry bridge next to it through
// [slog.NewMultiHandler]. The bridge takes the trace from the context
// itself, so it must not get the IDs as attributes too.
func (t *Telemetry) newLogHandler() (slog.Handler, error) {
	lines, err := newLineHandler(t.cfg.logFormat, t.cfg.logWriter, t.cfg.logLevel)
	if err != nil {
		return nil, err
	}
	var h slog.Handler = &traceHandler{next: lines}
	if t.logBridged {
		bridge := otelslog.NewHandler(ScopeName, otelslog.WithLoggerProvider(t.LoggerProvider))
		h = slog.NewMultiHandler(h, &levelHandler{level: t.cfg.logLevel, next: bridge})
	}
	return NewRedactingHandler(h), nil
}

func newLineHandler(format string, w io.Writer, level slog.Leveler) (slog.Handler, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(format) {
	case "", "json":
		return slog.NewJSONHandler(w, opts), nil
	case "text":
		return slog.NewTextHandler(w, opts), nil
	}
	return nil, fmt.Errorf("telemetry: log format %q: want json or text", format)
}

// NewRedactingHandler returns a handler that passes every record to next
// with its message and attributes redacted by [Redact]: use it to protect
// any other sink.
func NewRedactingHandler(next slog.Handler) *RedactingHandler {
	return &RedactingHandler{next: next}
}

// RedactingHandler is a [slog.Handler] that masks secrets and personal data
// before the next handler sees a record. See [Redact].
type RedactingHandler struct {
	next slog.Handler
}

// Enabled implements [slog.Handler].
func (h *RedactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements [slog.Handler]. It copies the record only when
// something must be masked, which is rare: most lines pass untouched.
func (h *RedactingHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := RedactString(r.Message)
	dirty := msg != r.Message
	if !dirty {
		r.Attrs(func(a slog.Attr) bool {
			_, dirty = redact(a)
			return !dirty
		})
	}
	if !dirty {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(Redact(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements [slog.Handler]; the attributes are redacted once, here.
func (h *RedactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = Redact(a)
	}
	return &RedactingHandler{next: h.next.WithAttrs(red)}
}

// WithGroup implements [slog.Handler].
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	return &RedactingHandler{next: h.next.WithGroup(name)}
}

// traceHandler adds trace_id and span_id of the context's span to each
// record, at the top level and before the record's own attributes. So that
// the IDs stay at the top level inside [slog.Logger.WithGroup] too, it opens
// groups itself: next has only the attributes added before the first group,
// and groups holds the groups opened since, each with its attributes.
type traceHandler struct {
	next   slog.Handler
	groups []logGroup
}

type logGroup struct {
	name  string
	attrs []slog.Attr
}

func (h *traceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
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
	if len(h.groups) == 0 {
		r.Attrs(func(a slog.Attr) bool {
			out.AddAttrs(a)
			return true
		})
		return h.next.Handle(ctx, out)
	}
	// Nest the record's attributes in the open groups, innermost first.
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	for i := len(h.groups) - 1; i >= 0; i-- {
		g := h.groups[i]
		inner := append(append(make([]slog.Attr, 0, len(g.attrs)+len(attrs)), g.attrs...), attrs...)
		attrs = []slog.Attr{{Key: g.name, Value: slog.GroupValue(inner...)}}
	}
	out.AddAttrs(attrs...)
	return h.next.Handle(ctx, out)
}

func (h *traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	if len(h.groups) == 0 {
		return &traceHandler{next: h.next.WithAttrs(attrs)}
	}
	groups := append([]logGroup(nil), h.groups...)
	last := &groups[len(groups)-1]
	last.attrs = append(append([]slog.Attr(nil), last.attrs...), attrs...)
	return &traceHandler{next: h.next, groups: groups}
}

func (h *traceHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	groups := append(append([]logGroup(nil), h.groups...), logGroup{name: name})
	return &traceHandler{next: h.next, groups: groups}
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
