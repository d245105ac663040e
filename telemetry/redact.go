package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Redacted replaces a secret or a piece of personal data.
const Redacted = "[REDACTED]"

// MaxLogValueLen bounds every string logged as an attribute value, in
// bytes, after redaction: a client can put kilobytes in a header or a
// method, and one log line per request must not grow with it. A panic's
// stack trace fits.
const MaxLogValueLen = 8 << 10

// truncated marks a value cut at MaxLogValueLen.
const truncated = "…[truncated]"

// capLength cuts s to MaxLogValueLen bytes, at a UTF-8 boundary, marked.
func capLength(s string) string {
	if len(s) <= MaxLogValueLen {
		return s
	}
	cut := MaxLogValueLen - len(truncated)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncated
}

// sensitiveKeys are attribute keys (normalised: lower case, without '-',
// '_' and '.') whose values are always replaced, whatever they look like.
var sensitiveKeys = map[string]bool{
	"authorization": true, "proxyauthorization": true, "cookie": true, "setcookie": true,
	"email": true, "emailaddress": true, "useremail": true, "mail": true,
	"ip": true, "clientip": true, "remoteip": true, "remoteaddr": true, "clientaddress": true,
	"clientaddr": true, "peeraddress": true, "networkpeeraddress": true, "sourceaddress": true,
	"xforwardedfor": true, "xrealip": true, "forwardedfor": true, "forwarded": true,
	"httpclientip": true, "netpeerip": true, "netsockpeeraddr": true,
	"body": true, "requestbody": true, "httprequestbody": true,
	"session": true, "sessionid": true, "dsn": true, "databaseurl": true, "redisurl": true,
	"pwd": true, "pass": true, "sid": true, "jsessionid": true, "phpsessid": true, "auth": true,
	"otp": true, "pin": true, "ssn": true, "cvv": true, "cvc": true,
}

// sensitiveParts are substrings of normalised keys that mark a secret:
// "user_password", "X-Api-Key", "refresh_token", "client_secret".
var sensitiveParts = [][]byte{
	[]byte("password"), []byte("passwd"), []byte("secret"), []byte("token"), []byte("apikey"),
	[]byte("credential"), []byte("privatekey"), []byte("cookie"), []byte("authorization"),
	[]byte("passphrase"), []byte("creditcard"), []byte("cardnumber"),
}

// IsSensitiveKey reports whether values logged under key are always
// redacted. Matching ignores case and the separators '-', '_' and '.'.
func IsSensitiveKey(key string) bool {
	if m := keyVerdicts.Load(); m != nil {
		if v, ok := (*m)[key]; ok {
			return v
		}
	}
	v := isSensitiveKey(key)
	if m := keyVerdicts.Load(); (m == nil || len(*m) < maxKeyVerdicts) && len(key) <= 64 {
		rememberKeyVerdict(key, v)
	}
	return v
}

// keyVerdicts remembers IsSensitiveKey for the keys seen, which are mostly
// the same few dozen (every span of otelhttp, every access line): a map
// read costs a third of the check. It is copied on write and bounded, so
// that keys a program makes up as it runs cannot grow it.
var (
	keyVerdicts   atomic.Pointer[map[string]bool]
	keyVerdictsMu sync.Mutex
)

const maxKeyVerdicts = 512

func rememberKeyVerdict(key string, v bool) {
	keyVerdictsMu.Lock()
	defer keyVerdictsMu.Unlock()
	m := map[string]bool{}
	if old := keyVerdicts.Load(); old != nil {
		if len(*old) >= maxKeyVerdicts { // filled while this caller waited
			return
		}
		m = maps.Clone(*old)
	}
	m[strings.Clone(key)] = v
	keyVerdicts.Store(&m)
}

func isSensitiveKey(key string) bool {
	var buf [64]byte
	n := buf[:0]
	for _, c := range []byte(key) {
		switch {
		case c == '-' || c == '_' || c == '.':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		n = append(n, c)
	}
	if sensitiveKeys[string(n)] { // the compiler does not allocate for this conversion
		return true
	}
	// One pass, trying only the parts that start with the byte at hand.
	for i, c := range n {
		for _, p := range sensitivePartsByFirst[c] {
			if bytes.HasPrefix(n[i:], p) {
				return true
			}
		}
	}
	return false
}

// sensitivePartsByFirst indexes sensitiveParts by their first byte.
var sensitivePartsByFirst = func() (idx [256][][]byte) {
	for _, p := range sensitiveParts {
		idx[p[0]] = append(idx[p[0]], p)
	}
	return idx
}()

// Redact returns a with its value masked: the whole value when the key is
// sensitive ([IsSensitiveKey]), the sensitive parts of strings and error
// messages otherwise ([RedactString]), recursively inside groups. Other
// kinds pass unchanged.
func Redact(a slog.Attr) slog.Attr {
	r, _ := redact(a)
	return r
}

// redact is [Redact] that also reports whether it changed a. Comparing
// attributes instead would panic on values of uncomparable types (slog's
// Value.Equal compares KindAny values with ==), such as slices and maps.
func redact(a slog.Attr) (slog.Attr, bool) {
	if a.Key != "" && IsSensitiveKey(a.Key) {
		if a.Value.Kind() == slog.KindGroup && len(a.Value.Group()) == 0 {
			return a, false
		}
		return slog.String(a.Key, Redacted), true
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if r := capLength(RedactString(s)); r != s {
			return slog.String(a.Key, r), true
		}
	case slog.KindGroup:
		if out, changed := redactEach(v.Group(), redact); changed {
			return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}, true
		}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, capLength(RedactString(x.Error()))), true
		case http.Header:
			out := make(http.Header, len(x))
			for k, vs := range x {
				out[k] = redactValues(k, vs)
			}
			return slog.Any(a.Key, out), true
		case map[string]string:
			out := make(map[string]string, len(x))
			for k, s := range x {
				out[k] = redactValues(k, []string{s})[0]
			}
			return slog.Any(a.Key, out), true
		case []string:
			if out, changed := redactEach(x, redactChanged); changed {
				return slog.Any(a.Key, out), true
			}
		}
	}
	if a.Value.Kind() == slog.KindLogValuer { // resolved to something plain
		return slog.Attr{Key: a.Key, Value: v}, true
	}
	return a, false
}

// redactEach applies f to each element, copying xs only once one changes.
func redactEach[T any](xs []T, f func(T) (T, bool)) ([]T, bool) {
	var out []T
	for i, x := range xs {
		r, changed := f(x)
		if out == nil && changed {
			out = append(make([]T, 0, len(xs)), xs[:i]...)
		}
		if out != nil {
			out = append(out, r)
		}
	}
	return out, out != nil
}

func redactChanged(s string) (string, bool) {
	r := RedactString(s)
	return r, r != s
}

// redactValues returns the values of a header or map entry, masked.
func redactValues(key string, vs []string) []string {
	out := make([]string, len(vs))
	sensitive := IsSensitiveKey(key)
	for i, v := range vs {
		if sensitive {
			out[i] = Redacted
		} else {
			out[i] = RedactString(v)
		}
	}
	return out
}

// maskSpan returns s with its secrets and personal data masked, as every
// processor and exporter behind the kit sees it: span attributes, event
// attributes (exception messages) and the status description, whenever they
// were set. Instrumentation such as otelhttp records the client's address
// (client.address, from X-Forwarded-For, and network.peer.address); the
// kit's promise is that no client IP leaves the process. s itself is
// returned, without allocating, when nothing needs masking.
func maskSpan(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	attrs, events, status := s.Attributes(), s.Events(), s.Status()
	maskedAttrs, attrsChanged := redactEach(attrs, redactAttribute)
	maskedEvents, eventsChanged := redactEach(events, maskEvent)
	desc := RedactString(status.Description)
	if !attrsChanged && !eventsChanged && desc == status.Description {
		return s
	}
	if attrsChanged {
		attrs = maskedAttrs
	}
	if eventsChanged {
		events = maskedEvents
	}
	status.Description = desc
	return &maskedSpan{ReadOnlySpan: s, attrs: attrs, events: events, status: status}
}

func maskEvent(e sdktrace.Event) (sdktrace.Event, bool) {
	attrs, changed := redactEach(e.Attributes, redactAttribute)
	if changed {
		e.Attributes = attrs
	}
	return e, changed
}

// maskedSpan is an ended span with masked attributes, events and status.
type maskedSpan struct {
	sdktrace.ReadOnlySpan
	attrs  []attribute.KeyValue
	events []sdktrace.Event
	status sdktrace.Status
}

func (s *maskedSpan) Attributes() []attribute.KeyValue { return s.attrs }
func (s *maskedSpan) Events() []sdktrace.Event         { return s.events }
func (s *maskedSpan) Status() sdktrace.Status          { return s.status }

// maskingProcessor hands next every ended span masked by [maskSpan]. It
// wraps the processors of [WithSpanProcessor]; the exporters of the
// environment get a [maskingExporter] instead, which masks on the batch
// processor's goroutine rather than the request's.
type maskingProcessor struct{ next sdktrace.SpanProcessor }

func (p maskingProcessor) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	p.next.OnStart(ctx, s)
}
func (p maskingProcessor) OnEnd(s sdktrace.ReadOnlySpan)        { p.next.OnEnd(maskSpan(s)) }
func (p maskingProcessor) Shutdown(ctx context.Context) error   { return p.next.Shutdown(ctx) }
func (p maskingProcessor) ForceFlush(ctx context.Context) error { return p.next.ForceFlush(ctx) }

// maskingExporter exports every span masked by [maskSpan].
type maskingExporter struct{ next sdktrace.SpanExporter }

func (e maskingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	masked := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		masked[i] = maskSpan(s)
	}
	return e.next.ExportSpans(ctx, masked)
}

func (e maskingExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

// redactAttribute returns the masked form of kv and true when kv's key is
// sensitive or its string value holds something sensitive.
func redactAttribute(kv attribute.KeyValue) (attribute.KeyValue, bool) {
	key := string(kv.Key)
	if IsSensitiveKey(key) {
		if kv.Value.Type() == attribute.STRING && kv.Value.AsString() == Redacted {
			return kv, false
		}
		return attribute.String(key, Redacted), true
	}
	switch kv.Value.Type() {
	case attribute.STRING:
		s := kv.Value.AsString()
		if r := RedactString(s); r != s {
			return attribute.String(key, r), true
		}
	case attribute.STRINGSLICE:
		if out, changed := redactEach(kv.Value.AsStringSlice(), redactChanged); changed {
			return attribute.StringSlice(key, out), true
		}
	}
	return kv, false
}
