package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/trace"
)

// newLogHandler builds the handler chain: redaction first, then a fan-out to
// the line writer (with trace_id/span_id added) and, when logs are exported,
// the OpenTelemetry bridge (which takes the trace from the context itself).
func (t *Telemetry) newLogHandler() slog.Handler {
	opts := &slog.HandlerOptions{Level: t.cfg.logLevel}
	var h slog.Handler
	if strings.EqualFold(t.cfg.logFormat, "text") {
		h = &traceHandler{next: slog.NewTextHandler(t.cfg.logWriter, opts)}
	} else {
		h = newJSONHandler(t.cfg.logWriter, t.cfg.logLevel)
	}
	if t.logBridged {
		bridge := otelslog.NewHandler(ScopeName, otelslog.WithLoggerProvider(t.LoggerProvider))
		h = &fanoutHandler{handlers: []slog.Handler{h, &levelHandler{level: t.cfg.logLevel, next: bridge}}}
	}
	return &RedactingHandler{next: h}
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
// something must be masked.
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

// traceHandler puts trace_id and span_id of the context's span first among
// the attributes of each record.
type traceHandler struct {
	next slog.Handler
	// After WithGroup the IDs must still be added before the group opens,
	// which only works through WithAttrs: next stays the handler from before
	// the first group, groups and attrs remember what was opened and added
	// since, and records with a span get a handler rebuilt from them (rare in
	// practice). grouped is next with all of that applied, for records
	// without a span.
	grouped slog.Handler
	groups  []string
	attrs   [][]slog.Attr
}

func (h *traceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		if h.grouped != nil {
			return h.grouped.Handle(ctx, r)
		}
		return h.next.Handle(ctx, r)
	}
	// Both IDs in one string: one allocation instead of two.
	var buf [48]byte
	tr, sp := sc.TraceID(), sc.SpanID()
	appendHex(appendHex(buf[:0], tr[:]), sp[:])
	hex := string(buf[:])
	ids := [2]slog.Attr{slog.String("trace_id", hex[:32]), slog.String("span_id", hex[32:])}
	if len(h.groups) > 0 {
		// Rebuild the handler so the IDs sit at the top level.
		next := h.next.WithAttrs(ids[:])
		for i, g := range h.groups {
			next = next.WithGroup(g)
			if len(h.attrs[i]) > 0 {
				next = next.WithAttrs(h.attrs[i])
			}
		}
		return next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(ids[:]...)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	if len(h.groups) == 0 {
		return &traceHandler{next: h.next.WithAttrs(attrs)}
	}
	c := h.clone()
	c.attrs[len(c.attrs)-1] = append(c.attrs[len(c.attrs)-1], attrs...)
	c.grouped = h.grouped.WithAttrs(attrs)
	return c
}

func (h *traceHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := h.clone()
	c.groups = append(c.groups, name)
	c.attrs = append(c.attrs, nil)
	if h.grouped != nil {
		c.grouped = h.grouped.WithGroup(name)
	} else {
		c.grouped = h.next.WithGroup(name)
	}
	return c
}

func (h *traceHandler) clone() *traceHandler {
	c := &traceHandler{next: h.next, grouped: h.grouped, groups: append([]string(nil), h.groups...)}
	for _, a := range h.attrs {
		c.attrs = append(c.attrs, append([]slog.Attr(nil), a...))
	}
	return c
}

const hexDigits = "0123456789abcdef"

// fanoutHandler sends each record to every handler that is enabled for it.
type fanoutHandler struct {
	handlers []slog.Handler
}

func (h *fanoutHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, x := range h.handlers {
		if x.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (h *fanoutHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, x := range h.handlers {
		if x.Enabled(ctx, r.Level) {
			errs = append(errs, x.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (h *fanoutHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Handler, len(h.handlers))
	for i, x := range h.handlers {
		out[i] = x.WithAttrs(attrs)
	}
	return &fanoutHandler{handlers: out}
}

func (h *fanoutHandler) WithGroup(name string) slog.Handler {
	out := make([]slog.Handler, len(h.handlers))
	for i, x := range h.handlers {
		out[i] = x.WithGroup(name)
	}
	return &fanoutHandler{handlers: out}
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
