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

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// RequestIDHeader carries the trace ID of the request on every response.
const RequestIDHeader = "X-Request-Id"

// unmatchedRoute is the http.route of requests no route pattern matched, so
// that clients sending random paths cannot grow the number of series.
const unmatchedRoute = "unmatched"

// Middleware instruments next, normally an [http.ServeMux] with Go 1.22
// patterns. It is [otelhttp.NewHandler] configured with the providers of t,
// with a thin layer inside it:
//   - a server span per request, continuing the caller's W3C trace context,
//     named after the matched route pattern ("GET /api/posts/{id}"), and the
//     OTel HTTP server metrics, labelled with http.route; requests that match
//     no pattern get http.route "unmatched";
//   - the [RequestIDHeader] response header set to the trace ID (an inbound
//     X-Request-Id is never echoed; a well-formed one is kept on the span);
//   - one access log line ("http.request": method, route, status,
//     duration_ms, bytes) per request;
//   - panic recovery: the error recorded on the span, sent to Sentry and
//     logged with the stack and the trace, and a 500 written by the handler
//     of [WithPanicResponse].
//
// Put Middleware outermost, around everything else. The route is the
// pattern the router set on the request ([http.Request.Pattern]), as
// [http.ServeMux] does. When next is the router, nothing more is needed.
// When other handlers sit between Middleware and the router (middleware
// that passes on a copy of the request, [http.TimeoutHandler],
// [http.StripPrefix], a router that wraps ServeMux), the router sees a
// copy of the request and Middleware cannot: wrap the router with
// [Router]. Without it such requests are labelled "unmatched", and the
// first one answered with a success status logs a warning that says so.
//
// Requests to the untraced paths (see [WithUntracedPaths]) get a request ID
// and recovery but no span or metrics, and their access line is at debug
// level.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.serve(w, r, next) })
	if t.sdkDisabled {
		// Nothing records: otelhttp would still build and sort attribute
		// sets for no-op instruments on every request.
		return inner
	}
	return otelhttp.NewHandler(inner, "",
		otelhttp.WithTracerProvider(t.TracerProvider),
		otelhttp.WithMeterProvider(t.MeterProvider),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithFilter(func(r *http.Request) bool { return !t.cfg.untraced[r.URL.Path] }),
	)
}

// Router returns router wrapped so that [Telemetry.Middleware] learns the
// route of each request however the request travelled from the middleware
// to the router. router is an [http.ServeMux], or any router that sets
// [http.Request.Pattern] on the request it dispatches, as ServeMux does;
// the pattern it leaves there when it returns is the route, so a handler
// that clears it marks the request as unmatched. When the handler
// Middleware wraps is itself a router that matched a pattern, that pattern
// is the route.
//
// The handlers between Middleware and Router may copy the request, serve
// it on another goroutine ([http.TimeoutHandler]) or change its path
// ([http.StripPrefix]: the route is then the router's pattern, without the
// prefix); they must pass on the request's context, or a context derived
// from it, as every standard handler does. The route travels in that
// context on otelhttp's own channel for handlers, the [otelhttp.Labeler],
// which also puts it on the metrics.
//
// A router with a Handler(*http.Request) (http.Handler, string) method, as
// ServeMux has, is asked for the pattern before it serves too, so that a
// request that [http.TimeoutHandler] answers while its handler still runs
// keeps its route. Outside Middleware, Router only calls router.
func Router(router http.Handler) http.Handler {
	lookup, _ := router.(interface {
		Handler(*http.Request) (http.Handler, string)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l, ok := otelhttp.LabelerFromContext(r.Context())
		if !ok {
			router.ServeHTTP(w, r)
			return
		}
		if lookup != nil {
			_, pattern := lookup.Handler(r)
			l.Add(semconv.HTTPRoute(routeOf(pattern)))
		}
		// Deferred, so that a panicking handler's request keeps its route.
		defer func() { l.Add(semconv.HTTPRoute(routeOf(r.Pattern))) }()
		router.ServeHTTP(w, r)
	})
}

// routerRoute returns the last route [Router] added to l, if it added one.
func routerRoute(l *otelhttp.Labeler) (route string, ok bool) {
	for _, kv := range l.Get() {
		if kv.Key == semconv.HTTPRouteKey {
			route, ok = kv.Value.AsString(), true
		}
	}
	return route, ok
}

// serve is the kit's layer inside otelhttp's. r is otelhttp's own request,
// which it reads after serve returns: the route is set on it as its
// pattern, and otelhttp names the span and labels the metrics from that.
func (t *Telemetry) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	start := time.Now()
	span := trace.SpanFromContext(r.Context())
	sc := span.SpanContext()
	served := r
	if !sc.IsValid() {
		// An untraced path, or the SDK disabled and otelhttp left out: the
		// request still gets an ID, which its log lines carry (the
		// caller's trace ID when it sent one and the SDK is disabled), and
		// a labeler for Router.
		ctx := r.Context()
		if t.sdkDisabled {
			ctx = t.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
		if sc = trace.SpanContextFromContext(ctx); !sc.IsValid() {
			sc = randomSpanContext()
			ctx = trace.ContextWithSpanContext(ctx, sc)
		}
		served = r.WithContext(otelhttp.ContextWithLabeler(ctx, &otelhttp.Labeler{}))
		// net/http removes the temporary files of a parsed multipart
		// form only when it finds the form on its own request.
		defer func() {
			if served.MultipartForm != nil {
				r.MultipartForm = served.MultipartForm
			}
		}()
	}
	w.Header().Set(RequestIDHeader, sc.TraceID().String())
	if in := r.Header.Get(RequestIDHeader); in != "" && span.IsRecording() && validRequestID(in) {
		// The ID's alphabet allows an IPv4 address, which maskSpan masks.
		span.SetAttributes(attribute.String("http.request.header.x-request-id", in))
	}

	rw := &responseWriter{ResponseWriter: w}
	panicked := t.serveRecovering(rw, served, next, span)

	route, routed := routeOf(served.Pattern), served.Pattern != ""
	labeler, _ := otelhttp.LabelerFromContext(served.Context())
	if !routed {
		route, routed = routerRoute(labeler)
	}
	switch {
	case !routed:
		// otelhttp labels metrics with the route only when a pattern
		// matched (a Router has labelled them itself).
		route = unmatchedRoute
		labeler.Add(semconv.HTTPRoute(unmatchedRoute))
	case route != unmatchedRoute && r.Pattern == "":
		r.Pattern = route // for otelhttp: "GET" and route name the span
	}
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPRoute(route))
	}
	status := rw.status
	switch {
	case panicked:
		status = http.StatusInternalServerError
	case status == 0:
		status = http.StatusOK
	}
	if !routed && status < 400 {
		t.warnRouteLost(served.Context())
	}
	t.logAccess(served, route, status, time.Since(start), rw.written)
}

// serveRecovering runs next and recovers a panic in it, reporting whether
// one happened.
func (t *Telemetry) serveRecovering(w *responseWriter, r *http.Request, next http.Handler, span trace.Span) (panicked bool) {
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
		if w.status == 0 && w.written == 0 {
			t.cfg.panicResponse.ServeHTTP(w, r)
		}
	}()
	next.ServeHTTP(w, r)
	return false
}

// warnRouteLost logs, once per Telemetry, that a request answered with a
// success status reached the middleware without a route: the sign of a
// router hidden behind middleware that copies the request.
func (t *Telemetry) warnRouteLost(ctx context.Context) {
	if t.routeLostWarned.Swap(true) {
		return
	}
	t.Logger.LogAttrs(ctx, slog.LevelWarn, "telemetry.route_unknown",
		slog.String("hint", "no route pattern reached the telemetry middleware for a request its handler served, "+
			"so http.route is \"unmatched\"; if other handlers sit between the middleware and the router, "+
			"wrap the router with telemetry.Router"))
}

func (t *Telemetry) logAccess(r *http.Request, route string, status int, d time.Duration, written int64) {
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
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.Int64("bytes", written),
	)
}

func (t *Telemetry) recovered(ctx context.Context, span trace.Span, v any) {
	err := fmt.Errorf("panic: %v", v)
	stack := debug.Stack()
	recordException(span, err, stack) // masked as the span ends
	span.SetStatus(codes.Error, "panic")
	t.sendToSentry(ctx, err)
	t.Logger.LogAttrs(ctx, slog.LevelError, "http.panic",
		slog.String("error", err.Error()), slog.String("stack", string(stack)))
}

// routeOf returns the path part of a route pattern ("/api/posts/{id}" for
// "GET /api/posts/{id}"), or unmatchedRoute for none.
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return unmatchedRoute
}

// validRequestID reports whether an inbound X-Request-Id is safe to keep as
// a span attribute: 1 to 64 characters of [A-Za-z0-9._-].
func validRequestID(s string) bool {
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
