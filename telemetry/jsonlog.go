package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
)

// jsonHandler writes one JSON object per record, byte for byte what
// [slog.JSONHandler] (without options other than Level) writes, with
// trace_id and span_id of the context's span added after the top-level
// attributes and before the first group. It exists because slog.JSONHandler
// can only be given the IDs by copying every record (or rebuilding the
// handler when groups are open); writing them in place costs no allocation.
//
// Attribute values are encoded as slog encodes them: strings escaped the
// same way, durations as integer nanoseconds, floats as encoding/json
// formats them, errors as their message, anything else through
// encoding/json. TestJSONHandlerMatchesSlog keeps it honest.
type jsonHandler struct {
	level slog.Leveler
	out   *lockedWriter
	// top holds the attributes added by WithAttrs before any group, each
	// with its leading comma.
	top []byte
	// inner holds the groups opened by WithAttrs and the attributes added
	// inside them, as in `,"g":{"a":1`, without the closing braces.
	inner []byte
	// groups are all the groups opened by WithGroup; the first nOpen are
	// open in inner already.
	groups []string
	nOpen  int
}

// lockedWriter serialises the writes of a handler and of the handlers
// derived from it.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newJSONHandler(w io.Writer, level slog.Leveler) *jsonHandler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &jsonHandler{level: level, out: &lockedWriter{w: w}}
}

// Enabled implements [slog.Handler].
func (h *jsonHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// lineBufPool holds the buffers lines are built in. Buffers that grew past
// maxPooledLine (a record with a stack trace) are left to the collector so
// the pool does not keep them alive.
var lineBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledLine = 16 << 10

// Handle implements [slog.Handler].
func (h *jsonHandler) Handle(ctx context.Context, r slog.Record) error {
	bp := lineBufPool.Get().(*[]byte)
	buf := (*bp)[:0]

	buf = append(buf, '{')
	if !r.Time.IsZero() {
		buf = append(buf, `"time":`...)
		buf = appendRecordTime(buf, r.Time)
		buf = append(buf, ',')
	}
	buf = append(buf, `"level":`...)
	buf = appendJSONString(buf, r.Level.String())
	buf = append(buf, `,"msg":`...)
	buf = appendJSONString(buf, r.Message)
	buf = append(buf, h.top...)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		tr, sp := sc.TraceID(), sc.SpanID()
		buf = append(buf, `,"trace_id":"`...)
		buf = appendHex(buf, tr[:])
		buf = append(buf, `","span_id":"`...)
		buf = appendHex(buf, sp[:])
		buf = append(buf, '"')
	}
	buf = append(buf, h.inner...)
	open := h.nOpen
	if r.NumAttrs() > 0 {
		pos := len(buf)
		for _, g := range h.groups[h.nOpen:] {
			buf = appendGroupOpen(buf, g)
		}
		wrote := false
		r.Attrs(func(a slog.Attr) bool {
			var ok bool
			buf, ok = appendAttr(buf, a)
			wrote = wrote || ok
			return true
		})
		if wrote {
			open = len(h.groups)
		} else {
			buf = buf[:pos]
		}
	}
	for range open {
		buf = append(buf, '}')
	}
	buf = append(buf, '}', '\n')

	h.out.mu.Lock()
	_, err := h.out.w.Write(buf)
	h.out.mu.Unlock()

	if cap(buf) <= maxPooledLine {
		*bp = buf
		lineBufPool.Put(bp)
	}
	return err
}

// WithAttrs implements [slog.Handler]. The attributes are encoded once,
// here.
func (h *jsonHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	empty := true
	for _, a := range attrs {
		if !isEmptyGroup(a.Value) {
			empty = false
			break
		}
	}
	if empty {
		return h
	}
	c := h.clone()
	if len(c.groups) == 0 {
		c.top = appendAttrs(c.top, attrs)
		return c
	}
	pos := len(c.inner)
	for _, g := range c.groups[c.nOpen:] {
		c.inner = appendGroupOpen(c.inner, g)
	}
	before := len(c.inner)
	c.inner = appendAttrs(c.inner, attrs)
	if len(c.inner) == before {
		c.inner = c.inner[:pos]
	} else {
		c.nOpen = len(c.groups)
	}
	return c
}

// WithGroup implements [slog.Handler].
func (h *jsonHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := h.clone()
	c.groups = append(c.groups, name)
	return c
}

func (h *jsonHandler) clone() *jsonHandler {
	return &jsonHandler{
		level:  h.level,
		out:    h.out,
		top:    bytes.Clone(h.top),
		inner:  bytes.Clone(h.inner),
		groups: append([]string(nil), h.groups...),
		nOpen:  h.nOpen,
	}
}

func isEmptyGroup(v slog.Value) bool {
	return v.Kind() == slog.KindGroup && len(v.Group()) == 0
}

// isEmptyAttr reports whether a is the zero Attr, which slog elides.
func isEmptyAttr(a slog.Attr) bool {
	return a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil
}

// appendSep writes the comma before a key, unless it opens an object.
func appendSep(buf []byte) []byte {
	if n := len(buf); n > 0 && buf[n-1] == '{' {
		return buf
	}
	return append(buf, ',')
}

func appendGroupOpen(buf []byte, name string) []byte {
	buf = appendSep(buf)
	buf = appendJSONString(buf, name)
	return append(buf, ':', '{')
}

// appendAttrs appends attrs and reports through the length of the result
// whether anything was written.
func appendAttrs(buf []byte, attrs []slog.Attr) []byte {
	for _, a := range attrs {
		buf, _ = appendAttr(buf, a)
	}
	return buf
}

// appendAttr appends one attribute as slog's JSON handler does: resolved,
// elided when empty, groups inlined when their key is empty and left out
// when nothing in them is written. It reports whether it wrote something.
func appendAttr(buf []byte, a slog.Attr) ([]byte, bool) {
	a.Value = a.Value.Resolve()
	if isEmptyAttr(a) {
		return buf, false
	}
	if a.Value.Kind() != slog.KindGroup {
		buf = appendSep(buf)
		buf = appendJSONString(buf, a.Key)
		buf = append(buf, ':')
		return appendJSONValue(buf, a.Value), true
	}
	attrs := a.Value.Group()
	if len(attrs) == 0 {
		return buf, false
	}
	pos := len(buf)
	if a.Key != "" {
		buf = appendGroupOpen(buf, a.Key)
	}
	wrote := false
	for _, g := range attrs {
		var ok bool
		buf, ok = appendAttr(buf, g)
		wrote = wrote || ok
	}
	if !wrote {
		return buf[:pos], false
	}
	if a.Key != "" {
		buf = append(buf, '}')
	}
	return buf, true
}

func appendJSONValue(buf []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendJSONString(buf, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(buf, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(buf, v.Uint64(), 10)
	case slog.KindFloat64:
		return appendJSONFloat(buf, v.Float64())
	case slog.KindBool:
		return strconv.AppendBool(buf, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(buf, int64(v.Duration()), 10)
	case slog.KindTime:
		return appendJSONTime(buf, v.Time())
	default:
		return appendJSONAny(buf, v.Any())
	}
}

// appendJSONAny encodes errors by their message and anything else with
// encoding/json, turning a panic in the value's methods into a string as
// slog does.
func appendJSONAny(buf []byte, a any) (out []byte) {
	pos := len(buf)
	defer func() {
		if p := recover(); p != nil {
			out = buf[:pos]
			if v := reflect.ValueOf(a); v.Kind() == reflect.Pointer && v.IsNil() {
				out = appendJSONString(out, "<nil>")
				return
			}
			out = appendJSONString(out, fmt.Sprintf("!PANIC: %v", p))
		}
	}()
	_, marshaler := a.(json.Marshaler)
	if err, ok := a.(error); ok && !marshaler {
		return appendJSONString(buf, err.Error())
	}
	return appendJSONMarshal(buf, a)
}

type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonEncoderPool = sync.Pool{New: func() any {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

func appendJSONMarshal(buf []byte, v any) []byte {
	e := jsonEncoderPool.Get().(*jsonEncoder)
	defer func() {
		if e.buf.Cap() <= maxPooledLine {
			e.buf.Reset()
			jsonEncoderPool.Put(e)
		}
	}()
	if err := e.enc.Encode(v); err != nil {
		return appendJSONError(buf, err)
	}
	b := e.buf.Bytes()
	return append(buf, b[:len(b)-1]...) // without the encoder's newline
}

func appendJSONError(buf []byte, err error) []byte {
	return appendJSONString(buf, "!ERROR:"+err.Error())
}

// appendJSONFloat formats f as encoding/json does; NaN and infinities,
// which JSON cannot hold, become the error string slog writes.
func appendJSONFloat(buf []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendJSONError(buf, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)})
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	buf = strconv.AppendFloat(buf, f, format, -1, 64)
	if format == 'e' {
		// "1e-7", not "1e-07": encoding/json drops the exponent's
		// leading zero.
		if n := len(buf); n >= 4 && buf[n-4] == 'e' && buf[n-3] == '-' && buf[n-2] == '0' {
			buf[n-2] = buf[n-1]
			buf = buf[:n-1]
		}
	}
	return buf
}

func appendJSONTime(buf []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y >= 10000 {
		buf = appendJSONError(buf, errors.New("time.Time year outside of range [0,9999]"))
	}
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}

// secondText is a second formatted as RFC 3339: the date and time of day
// (19 bytes), then the zone.
type secondText struct {
	unix int64
	loc  *time.Location
	text []byte
}

// lastSecond is the second the previous record was written in: records
// come in bursts within the same second, and only the fraction differs.
var lastSecond atomic.Pointer[secondText]

// appendRecordTime appends t as appendJSONTime does, formatting the date,
// time of day and zone once per second.
func appendRecordTime(buf []byte, t time.Time) []byte {
	sec, loc := t.Unix(), t.Location()
	c := lastSecond.Load()
	if c == nil || c.unix != sec || c.loc != loc {
		if y := t.Year(); y < 0 || y >= 10000 {
			return appendJSONTime(buf, t)
		}
		c = &secondText{unix: sec, loc: loc, text: time.Unix(sec, 0).In(loc).AppendFormat(nil, time.RFC3339)}
		lastSecond.Store(c)
	}
	buf = append(buf, '"')
	buf = append(buf, c.text[:19]...)
	if ns := t.Nanosecond(); ns != 0 {
		// ".999999999": nine digits without the trailing zeros.
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		buf = append(buf, frac[:n]...)
	}
	buf = append(buf, c.text[19:]...)
	return append(buf, '"')
}

func appendHex(buf, src []byte) []byte {
	for _, b := range src {
		buf = append(buf, hexDigits[b>>4], hexDigits[b&0x0f])
	}
	return buf
}

// appendJSONString appends s quoted and escaped as slog escapes it: control
// characters, '"' and '\\' escaped, invalid UTF-8 as U+FFFD, and U+2028 and
// U+2029 escaped for JavaScript's sake; '<', '>' and '&' stay as they are.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[c&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
