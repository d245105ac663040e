package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
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

// Middleware instruments next, normally an [http.ServeMux] with Go 1.22
// patterns:
//   - a server span per request, continuing the caller's W3C trace context,
//     named and attributed with the matched route pattern (http.route), and
//     the OTel HTTP server metrics labelled by it; requests that match no
//     pattern get http.route [UnmatchedRoute];
//   - the [RequestIDHeader] response header set to the trace ID (an inbound
//     X-Request-Id is never echoed; a well-formed one is kept on the span);
//   - one access log line ("http.request": method, route, status,
//     duration_ms, bytes) per request;
//   - panic recovery: a 500 JSON answer, the error recorded on the span,
//     sent to Sentry and logged with the stack and the trace.
//
// Requests to the untraced paths (see [WithUntracedPaths]) get a request ID
// and recovery but no span or metrics, and their access line is at debug
// level.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	return t.newHTTPServer(next)
}

func spanName(_ string, r *http.Request) string {
	route := Route(r)
	if route == UnmatchedRoute {
		return r.Method
	}
	// "GET /api/posts/{id}" is the pattern itself when it names the method.
	if p, m := r.Pattern, r.Method; len(p) == len(m)+1+len(route) && p[len(m)] == ' ' && strings.HasPrefix(p, m) {
		return p
	}
	return r.Method + " " + route
}

// Route returns the path part of the pattern that matched r ("/api/posts/{id}"
// for "GET /api/posts/{id}"), or [UnmatchedRoute].
func Route(r *http.Request) string {
	p := r.Pattern
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[i:]
		}
	}
	return UnmatchedRoute
}

// serve is the part of the middleware that runs for traced and untraced
// requests alike: request ID, panic recovery and the access log line.
func (t *Telemetry) serve(rw *respWriter, r *http.Request, next http.Handler, start time.Time) {
	ctx := r.Context()
	span := trace.SpanFromContext(ctx)
	sc := span.SpanContext()
	if !sc.IsValid() {
		// Untraced path or tracing off: still give the request an ID
		// that its log lines carry.
		sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: randomTraceID(), SpanID: randomSpanID()})
		ctx = trace.ContextWithSpanContext(ctx, sc)
		r = r.WithContext(ctx)
	}
	var tid [32]byte
	traceID := sc.TraceID()
	appendHex(tid[:0], traceID[:])
	rw.Header()[RequestIDHeader] = []string{string(tid[:])}
	if in := r.Header.Get(RequestIDHeader); in != "" && span.IsRecording() && ValidRequestID(in) {
		// The ID's alphabet allows an IPv4 address.
		span.SetAttributes(attribute.String("http.request.header.x-request-id", RedactString(in)))
	}
	w := rw.external()

	defer func() {
		status := rw.status
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			t.recovered(ctx, span, v)
			if status == 0 {
				writePanicResponse(w)
			}
			status = http.StatusInternalServerError
		}
		route := Route(r)
		if status == 0 {
			status = http.StatusOK
		}
		level := slog.LevelInfo
		switch {
		case t.cfg.skipRoutes[r.URL.Path]:
			level = slog.LevelDebug
		case status >= 500:
			level = slog.LevelError
		}
		rw.end = time.Now() // one clock reading for the log line and the metrics
		h := t.Logger.Handler()
		if !h.Enabled(ctx, level) {
			return
		}
		// Straight to the handler: Logger would also walk the stack for
		// the caller's PC, which no handler of the kit uses and which for
		// this line would only point here.
		rec := slog.NewRecord(rw.end, level, "http.request", 0)
		rec.AddAttrs(
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(rw.end.Sub(start).Microseconds())/1000),
			slog.Int64("bytes", rw.written),
		)
		_ = h.Handle(ctx, rec)
	}()
	next.ServeHTTP(w, r)
}

func (t *Telemetry) recovered(ctx context.Context, span trace.Span, v any) {
	err := fmt.Errorf("panic: %v", v)
	stack := debug.Stack()
	recordException(span, err, RedactString(err.Error()), stack)
	span.SetStatus(codes.Error, "panic")
	if t.sentry != nil {
		t.sentry.CaptureException(err, &sentry.EventHint{Context: ctx, OriginalException: err}, sentry.NewScope())
	}
	t.Logger.LogAttrs(ctx, slog.LevelError, "http.panic",
		slog.String("error", err.Error()), slog.String("stack", string(stack)))
}

func writePanicResponse(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte(`{"error":{"code":"internal","message":"internal server error"}}` + "\n"))
}

// ValidRequestID reports whether an inbound X-Request-Id is safe to keep as
// a span attribute: 1 to 64 characters of [A-Za-z0-9._-].
func ValidRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigitOrAlpha(c) || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func randomTraceID() trace.TraceID {
	var id trace.TraceID
	for id == (trace.TraceID{}) {
		a, b := rand.Uint64(), rand.Uint64()
		for i := range 8 {
			id[i], id[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
		}
	}
	return id
}

func randomSpanID() trace.SpanID {
	var id trace.SpanID
	for id == (trace.SpanID{}) {
		a := rand.Uint64()
		for i := range 8 {
			id[i] = byte(a >> (8 * i))
		}
	}
	return id
}
