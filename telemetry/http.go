package telemetry

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/felixge/httpsnoop"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// RequestIDHeader carries the trace ID of the request on every response.
const RequestIDHeader = "X-Request-Id"

// UnmatchedRoute is the http.route of requests no route pattern matched, so
// that clients sending random paths cannot grow the number of series.
const UnmatchedRoute = "unmatched"

// Middleware instruments next, normally an [http.ServeMux] with Go 1.22
// patterns. It is [otelhttp.NewHandler] configured with the providers of t,
// with a thin layer inside it:
//   - a server span per request, continuing the caller's W3C trace context,
//     named after the matched route pattern ("GET /api/posts/{id}"), and the
//     OTel HTTP server metrics, labelled with http.route; requests that match
//     no pattern get http.route [UnmatchedRoute];
//   - the [RequestIDHeader] response header set to the trace ID (an inbound
//     X-Request-Id is never echoed; a well-formed one is kept on the span);
//   - one access log line ("http.request": method, route, status,
//     duration_ms, bytes) per request;
//   - panic recovery: the error recorded on the span, sent to Sentry and
//     logged with the stack and the trace, and a 500 written by the handler
//     of [WithPanicResponse].
//
// Requests to the untraced paths (see [WithUntracedPaths]) get a request ID
// and recovery but no span or metrics, and their access line is at debug
// level.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.serve(w, r, next) })
	return otelhttp.NewHandler(inner, "",
		otelhttp.WithTracerProvider(t.TracerProvider),
		otelhttp.WithMeterProvider(t.MeterProvider),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithFilter(func(r *http.Request) bool { return !t.cfg.untraced[r.URL.Path] }),
	)
}

// serve is the kit's layer inside otelhttp's. It hands next the request it
// was given, not a copy with a new context, whenever the request is traced:
// the mux sets the matched pattern on that request, and otelhttp reads it
// there to name the span and label the metrics.
func (t *Telemetry) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	span := trace.SpanFromContext(r.Context())
	sc := span.SpanContext()
	if !sc.IsValid() {
		// Untraced path or tracing off: the request still gets an ID,
		// which its log lines carry.
		sc = randomSpanContext()
		orig := r
		r = r.WithContext(trace.ContextWithSpanContext(r.Context(), sc))
		// net/http removes the temporary files of a parsed multipart form
		// only when it finds the form on its own request.
		defer func() { orig.MultipartForm = r.MultipartForm }()
	}
	w.Header().Set(RequestIDHeader, sc.TraceID().String())
	if in := r.Header.Get(RequestIDHeader); in != "" && span.IsRecording() && ValidRequestID(in) {
		// The ID's alphabet allows an IPv4 address.
		span.SetAttributes(attribute.String("http.request.header.x-request-id", RedactString(in)))
	}

	// Code stays 0 until the handler writes a status, which tells the
	// recovery whether a response has started.
	var m httpsnoop.Metrics
	panicked := false
	m.CaptureMetrics(w, func(w http.ResponseWriter) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to abort a response quietly
			}
			panicked = true
			t.recovered(r.Context(), span, v)
			if m.Code == 0 && m.Written == 0 {
				t.cfg.panicResponse.ServeHTTP(w, r)
			}
		}()
		next.ServeHTTP(w, r)
	})

	route := Route(r)
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPRoute(route))
	}
	if r.Pattern == "" {
		// otelhttp labels metrics with the route only when a pattern matched.
		if l, ok := otelhttp.LabelerFromContext(r.Context()); ok {
			l.Add(semconv.HTTPRoute(UnmatchedRoute))
		}
	}
	t.logAccess(r, route, m, panicked)
}

func (t *Telemetry) logAccess(r *http.Request, route string, m httpsnoop.Metrics, panicked bool) {
	status := m.Code
	switch {
	case panicked:
		status = http.StatusInternalServerError
	case status == 0:
		status = http.StatusOK
	}
	level := slog.LevelInfo
	switch {
	case t.cfg.untraced[r.URL.Path]:
		level = slog.LevelDebug
	case status >= 500:
		level = slog.LevelError
	}
	t.Logger.LogAttrs(r.Context(), level, "http.request",
		slog.String("method", knownMethod(r.Method)),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(m.Duration.Microseconds())/1000),
		slog.Int64("bytes", m.Written),
	)
}

func (t *Telemetry) recovered(ctx context.Context, span trace.Span, v any) {
	err := fmt.Errorf("panic: %v", v)
	stack := debug.Stack()
	recordException(span, err, RedactString(err.Error()), stack)
	span.SetStatus(codes.Error, "panic")
	t.sendToSentry(ctx, err)
	t.Logger.LogAttrs(ctx, slog.LevelError, "http.panic",
		slog.String("error", err.Error()), slog.String("stack", string(stack)))
}

// Route returns the path part of the pattern that matched r ("/api/posts/{id}"
// for "GET /api/posts/{id}"), or [UnmatchedRoute].
func Route(r *http.Request) string {
	if i := strings.IndexByte(r.Pattern, '/'); i >= 0 {
		return r.Pattern[i:]
	}
	return UnmatchedRoute
}

// ValidRequestID reports whether an inbound X-Request-Id is safe to keep as
// a span attribute: 1 to 64 characters of [A-Za-z0-9._-].
func ValidRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// randomSpanContext returns a span context with random IDs; the low bit set
// keeps each ID from being all zeros, which would make it invalid.
func randomSpanContext() trace.SpanContext {
	var tid trace.TraceID
	var sid trace.SpanID
	binary.BigEndian.PutUint64(tid[:8], rand.Uint64())
	binary.BigEndian.PutUint64(tid[8:], rand.Uint64()|1)
	binary.BigEndian.PutUint64(sid[:], rand.Uint64()|1)
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid})
}

func writePanicResponse(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// httpServerView keeps only bounded attributes on the HTTP server metrics:
// server.address comes from the client's Host header and would let clients
// create series at will. The SDK keeps filtered-out attributes on exemplars,
// which would put the Host header into every exemplar (and a long one over
// OpenMetrics' 128-rune limit for exemplar labels, dropping the exemplar and
// its trace link), so the reservoir is given none of them.
var httpServerView = sdkmetric.NewView(
	sdkmetric.Instrument{Name: "http.server.*"},
	sdkmetric.Stream{
		AttributeFilter: attribute.NewAllowKeysFilter(
			semconv.HTTPRequestMethodKey, semconv.HTTPRouteKey, semconv.HTTPResponseStatusCodeKey,
			semconv.URLSchemeKey, semconv.NetworkProtocolVersionKey, semconv.ErrorTypeKey,
		),
		ExemplarReservoirProviderSelector: func(agg sdkmetric.Aggregation) exemplar.ReservoirProvider {
			provider := sdkmetric.DefaultExemplarReservoirProviderSelector(agg)
			return func(attrs attribute.Set) exemplar.Reservoir {
				return withoutFilteredAttrs{provider(attrs)}
			}
		},
	},
)

// withoutFilteredAttrs is an exemplar reservoir that drops the attributes
// the view filtered out, keeping only the trace and span IDs.
type withoutFilteredAttrs struct{ exemplar.Reservoir }

func (r withoutFilteredAttrs) Offer(ctx context.Context, t time.Time, v exemplar.Value, _ []attribute.KeyValue) {
	r.Reservoir.Offer(ctx, t, v, nil)
}

// knownMethod is method when it is one of HTTP's, "_OTHER" otherwise, as
// the semantic conventions ask of http.request.method (and otelhttp does
// for spans and metrics): a client chooses the method, and any string goes.
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "_OTHER"
}
