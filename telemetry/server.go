package telemetry

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"
	"go.opentelemetry.io/otel/trace"
)

// httpServer is the server instrumentation of [Telemetry.Middleware]. It
// emits what otelhttp v0.72's handler emits (same scope, span name, kind,
// attributes and status, same metrics, instruments and attributes after
// [httpServerView]) at a fraction of its cost: one response writer wrapper
// instead of two httpsnoop ones, the span's attributes in one slice, and
// the metric attribute sets, which the view reduces to bounded keys, built
// once per series instead of once per request. equivalence_test.go compares
// the two.
type httpServer struct {
	t        *Telemetry
	next     http.Handler
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	duration metric.Float64Histogram
	reqSize  metric.Int64Histogram
	respSize metric.Int64Histogram

	sets  sync.Map // metricKey → metric.MeasurementOption
	nsets atomic.Int64
}

// maxCachedSets bounds the cache of metric attribute sets; the keys are
// bounded already (methods, route patterns, status codes), this is a guard.
const maxCachedSets = 4096

func (t *Telemetry) newHTTPServer(next http.Handler) *httpServer {
	meter := t.MeterProvider.Meter(otelhttp.ScopeName, metric.WithInstrumentationVersion(otelhttp.Version))
	s := &httpServer{
		t:      t,
		next:   next,
		tracer: t.TracerProvider.Tracer(otelhttp.ScopeName, trace.WithInstrumentationVersion(otelhttp.Version)),
		prop:   t.Propagator,
	}
	reqSize, err := httpconv.NewServerRequestBodySize(meter)
	handleErr(err)
	respSize, err := httpconv.NewServerResponseBodySize(meter)
	handleErr(err)
	duration, err := httpconv.NewServerRequestDuration(meter, metric.WithExplicitBucketBoundaries(
		0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
	))
	handleErr(err)
	s.reqSize, s.respSize, s.duration = reqSize.Inst(), respSize.Inst(), duration.Inst()
	return s
}

func handleErr(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

func (s *httpServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if s.t.cfg.skipRoutes[r.URL.Path] {
		rw := newRespWriter(w)
		s.t.serve(rw, r, s.next, start)
		return
	}

	ctx := s.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	labeler, found := otelhttp.LabelerFromContext(ctx)
	if !found {
		ctx = otelhttp.ContextWithLabeler(ctx, labeler)
	}
	ap := attrPool.Get().(*[]attribute.KeyValue)
	opts := make([]trace.SpanStartOption, 2, 3)
	attrs := requestTraceAttrs((*ap)[:0], r)
	opts[0] = trace.WithAttributes(attrs...)
	opts[1] = serverSpanKind
	if st := otelhttp.StartTimeFromContext(ctx); !st.IsZero() {
		opts = append(opts, trace.WithTimestamp(st))
		start = st
	}
	// The attributes are redacted already: tell redactingSpanProcessor,
	// which would otherwise read them back, through the context.
	sc := &serverStartCtx{Context: ctx}
	ctx, span := s.tracer.Start(sc, spanName("", r), opts...)
	sc.started.Store(true)
	// The SDK copied the attributes.
	clear(attrs)
	*ap = attrs[:0]
	attrPool.Put(ap)
	defer span.End()

	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &countingBody{ReadCloser: r.Body}
		orig, prev := r, r.Body
		r.Body = body
		defer func() { orig.Body = prev }()
	}

	rCtx := r.WithContext(ctx)
	defer func() {
		if rCtx.MultipartForm != nil {
			r.MultipartForm = rCtx.MultipartForm
		}
	}()
	rw := newRespWriter(w)
	s.t.serve(rw, rCtx, s.next, start)

	if rCtx.Pattern != "" {
		span.SetName(spanName("", rCtx))
	}
	code := rw.otelStatus
	span.SetStatus(serverStatus(code))
	var read int64
	if body != nil {
		read = body.read.Load()
	}
	var resp [4]attribute.KeyValue
	resp[0] = semconv.HTTPRoute(Route(rCtx))
	n := 1
	if read > 0 {
		resp[n] = semconv.HTTPRequestBodySize(int(read))
		n++
	}
	if rw.written > 0 {
		resp[n] = semconv.HTTPResponseBodySize(int(rw.written))
		n++
	}
	if code > 0 {
		resp[n] = semconv.HTTPResponseStatusCode(code)
		n++
	}
	span.SetAttributes(resp[:n]...)

	set := s.metricSet(rCtx, code, labeler.Get())
	s.reqSize.Record(ctx, read, set)
	s.respSize.Record(ctx, rw.written, set)
	s.duration.Record(ctx, float64(rw.end.Sub(start))/float64(time.Second), set)
}

// metricKey identifies a series after [httpServerView]: the attributes it
// keeps are all derived from these fields.
type metricKey struct {
	method, protoVersion, route string
	tls                         bool
	status                      int
}

// metricSet returns the attributes of the request's measurements. Without
// labeler attributes it returns a cached set of exactly the attributes
// [httpServerView] keeps of what otelhttp records (the others, such as
// server.address, would be dropped by the view and, through the exemplar
// reservoir of the view, from the exemplars too).
func (s *httpServer) metricSet(r *http.Request, status int, extra []attribute.KeyValue) metric.MeasurementOption {
	route := httpRoute(r.Pattern)
	if route == "" {
		// The bounded route the middleware has always given unmatched
		// requests (a labeler attribute under otelhttp).
		route = UnmatchedRoute
	}
	if len(extra) > 0 {
		return metric.WithAttributeSet(attribute.NewSet(fullMetricAttrs(r, status, route, extra)...))
	}
	_, version := netProtocol(r.Proto)
	key := metricKey{method: standardizeHTTPMethod(r.Method), protoVersion: version, route: route, tls: r.TLS != nil, status: status}
	if o, ok := s.sets.Load(key); ok {
		return o.(metric.MeasurementOption)
	}
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(key.method), urlScheme(key.tls))
	if version != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(version))
	}
	if status > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
	}
	attrs = append(attrs, semconv.HTTPRoute(route))
	o := metric.WithAttributeSet(attribute.NewSet(attrs...))
	if s.nsets.Load() < maxCachedSets {
		if _, loaded := s.sets.LoadOrStore(key, o); !loaded {
			s.nsets.Add(1)
		}
	}
	return o
}

// fullMetricAttrs is otelhttp's HTTPServer.MetricAttributes, with the
// labeler's attributes first.
func fullMetricAttrs(r *http.Request, status int, route string, extra []attribute.KeyValue) []attribute.KeyValue {
	host, p := splitHostPort(r.Host)
	attrs := make([]attribute.KeyValue, 0, len(extra)+8)
	attrs = append(attrs, extra...)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(standardizeHTTPMethod(r.Method)),
		urlScheme(r.TLS != nil),
		semconv.ServerAddress(host))
	if port := requiredHTTPPort(r.TLS != nil, p); port > 0 {
		attrs = append(attrs, semconv.ServerPort(port))
	}
	name, version := netProtocol(r.Proto)
	if name != "" {
		attrs = append(attrs, semconv.NetworkProtocolName(name))
	}
	if version != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(version))
	}
	if status > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
	}
	if r.Pattern != "" {
		attrs = append(attrs, semconv.HTTPRoute(route))
	} else {
		// otelhttp adds no route without a pattern; the middleware gave
		// these requests UnmatchedRoute through the labeler, first.
		attrs = append([]attribute.KeyValue{semconv.HTTPRoute(route)}, attrs...)
	}
	return attrs
}

// serverStatus is otelhttp's span status for a server response code: 4xx
// are the client's errors, not the server's.
func serverStatus(code int) (codes.Code, string) {
	if code < 100 || code >= 600 {
		return codes.Error, "Invalid HTTP status code " + strconv.Itoa(code)
	}
	if code >= 500 {
		return codes.Error, ""
	}
	return codes.Unset, ""
}

var serverSpanKind = trace.WithSpanKind(trace.SpanKindServer)

// serverStartCtx is the context the kit's server span starts in, with
// attributes redacted by requestTraceAttrs: redactingSpanProcessor leaves
// that span alone. The request's context derives from it, so the mark is
// only valid until the span has started: spans started later from the
// request's context are redacted as usual.
type serverStartCtx struct {
	context.Context
	started atomic.Bool
}

type serverStartKey struct{}

// Value implements [context.Context].
func (c *serverStartCtx) Value(key any) any {
	if key == (serverStartKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// startsRedacted reports whether a span starting in ctx is the kit's
// server span, whose start attributes are redacted already.
func startsRedacted(ctx context.Context) bool {
	c, ok := ctx.Value(serverStartKey{}).(*serverStartCtx)
	return ok && !c.started.Load()
}

// attrPool holds the slices the span start attributes are gathered in.
var attrPool = sync.Pool{New: func() any { s := make([]attribute.KeyValue, 0, 16); return &s }}

// requestTraceAttrs appends otelhttp's HTTPServer.RequestTraceAttrs without
// a configured server name, in the same order, redacted as
// redactingSpanProcessor would redact them.
func requestTraceAttrs(attrs []attribute.KeyValue, r *http.Request) []attribute.KeyValue {
	attrs = appendRequestTraceAttrs(attrs, r)
	for i, kv := range attrs {
		if red, ok := redactAttribute(kv); ok {
			attrs[i] = red
		}
	}
	return attrs
}

func appendRequestTraceAttrs(attrs []attribute.KeyValue, r *http.Request) []attribute.KeyValue {
	host, p := splitHostPort(r.Host)
	method, original := requestMethod(r.Method)
	attrs = append(attrs, semconv.ServerAddress(host), method, urlScheme(r.TLS != nil))
	if port := requiredHTTPPort(r.TLS != nil, p); port > 0 {
		attrs = append(attrs, semconv.ServerPort(port))
	}
	if original.Valid() {
		attrs = append(attrs, original)
	}
	peer, peerPort := splitHostPort(r.RemoteAddr)
	if peer != "" {
		// Never the address itself: requestTraceAttrs would mask it by
		// its key anyway, as it does client.address below.
		attrs = append(attrs, semconv.NetworkPeerAddress(Redacted))
		if peerPort > 0 {
			attrs = append(attrs, semconv.NetworkPeerPort(peerPort))
		}
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	clientIP := r.Header.Get("X-Forwarded-For")
	if i := strings.IndexByte(clientIP, ','); i >= 0 {
		clientIP = clientIP[:i]
	}
	if clientIP == "" {
		clientIP = peer
	}
	if clientIP != "" {
		attrs = append(attrs, semconv.ClientAddress(Redacted))
	}
	if r.URL != nil && r.URL.Path != "" {
		attrs = append(attrs, semconv.URLPath(r.URL.Path))
	}
	name, version := netProtocol(r.Proto)
	if name != "" && name != "http" {
		attrs = append(attrs, semconv.NetworkProtocolName(name))
	}
	if version != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(version))
	}
	if route := httpRoute(r.Pattern); route != "" {
		attrs = append(attrs, semconv.HTTPRoute(route))
	}
	return attrs
}

var (
	schemeHTTP  = semconv.URLScheme("http")
	schemeHTTPS = semconv.URLScheme("https")
)

func urlScheme(tls bool) attribute.KeyValue {
	if tls {
		return schemeHTTPS
	}
	return schemeHTTP
}

var methodLookup = map[string]attribute.KeyValue{
	http.MethodConnect: semconv.HTTPRequestMethodConnect,
	http.MethodDelete:  semconv.HTTPRequestMethodDelete,
	http.MethodGet:     semconv.HTTPRequestMethodGet,
	http.MethodHead:    semconv.HTTPRequestMethodHead,
	http.MethodOptions: semconv.HTTPRequestMethodOptions,
	http.MethodPatch:   semconv.HTTPRequestMethodPatch,
	http.MethodPost:    semconv.HTTPRequestMethodPost,
	http.MethodPut:     semconv.HTTPRequestMethodPut,
	http.MethodTrace:   semconv.HTTPRequestMethodTrace,
}

func requestMethod(method string) (attr, original attribute.KeyValue) {
	if method == "" {
		return semconv.HTTPRequestMethodOther, attribute.KeyValue{}
	}
	if attr, ok := methodLookup[method]; ok {
		return attr, attribute.KeyValue{}
	}
	original = semconv.HTTPRequestMethodOriginal(method)
	if attr, ok := methodLookup[strings.ToUpper(method)]; ok {
		return attr, original
	}
	return semconv.HTTPRequestMethodOther, original
}

func standardizeHTTPMethod(method string) string {
	if _, ok := methodLookup[method]; ok {
		return method
	}
	method = strings.ToUpper(method)
	if _, ok := methodLookup[method]; ok {
		return method
	}
	return "_OTHER"
}

// splitHostPort is otelhttp's: an empty host when there is none or it
// does not parse, a negative port when there is none or it does not parse.
func splitHostPort(hostport string) (host string, port int) {
	port = -1
	if strings.HasPrefix(hostport, "[") {
		end := strings.LastIndexByte(hostport, ']')
		if end < 0 {
			return host, port
		}
		if i := strings.LastIndexByte(hostport[end:], ':'); i < 0 {
			return hostport[1:end], port
		}
	} else if !strings.Contains(hostport, ":") {
		return hostport, port
	}
	host, ps, err := net.SplitHostPort(hostport)
	if err != nil {
		return host, port
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return host, port
	}
	return host, int(p)
}

func requiredHTTPPort(https bool, port int) int {
	if https {
		if port > 0 && port != 443 {
			return port
		}
	} else if port > 0 && port != 80 {
		return port
	}
	return -1
}

func httpRoute(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

func netProtocol(proto string) (name, version string) {
	name, version, _ = strings.Cut(proto, "/")
	switch name {
	case "HTTP":
		name = "http"
	case "QUIC":
		name = "quic"
	case "SPDY":
		name = "spdy"
	default:
		name = strings.ToLower(name)
	}
	return name, version
}

// countingBody counts the bytes the handler reads of the request body.
type countingBody struct {
	io.ReadCloser
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read.Add(int64(n))
	return n, err
}

// respWriter records the status and size of a response for the span,
// the metrics and the access log.
type respWriter struct {
	http.ResponseWriter
	// otelStatus follows otelhttp: the first status that is not
	// informational (101 counts), 200 when the handler writes none.
	otelStatus  int
	wroteHeader bool
	// status is the first status written at all (0 for none), as the
	// access log has always reported it.
	status  int
	written int64
	// end is when the handler returned, read once for the access log
	// line and the duration metric.
	end time.Time
}

// hijackRespWriter is a respWriter over a writer that can be hijacked
// (HTTP/1), so that type assertions keep finding [http.Hijacker].
type hijackRespWriter struct{ *respWriter }

func (w hijackRespWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.ResponseWriter.(http.Hijacker).Hijack()
}

func newRespWriter(w http.ResponseWriter) *respWriter {
	return &respWriter{ResponseWriter: w, otelStatus: http.StatusOK}
}

// external returns the writer handed to the handler.
func (w *respWriter) external() http.ResponseWriter {
	if _, ok := w.ResponseWriter.(http.Hijacker); ok {
		return hijackRespWriter{w}
	}
	return w
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.recordHeader(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) recordHeader(code int) {
	if w.wroteHeader || code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		return
	}
	w.wroteHeader, w.otelStatus = true, code
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if !w.wroteHeader {
		w.recordHeader(http.StatusOK)
		w.ResponseWriter.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's sendfile path. Like otelhttp and
// httpsnoop before it, it counts neither status nor bytes.
func (w *respWriter) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w}, src)
}

type writerOnly struct{ io.Writer }

// Flush implements [http.Flusher].
func (w *respWriter) Flush() {
	if !w.wroteHeader {
		w.recordHeader(http.StatusOK)
		w.ResponseWriter.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets [http.ResponseController] reach the underlying writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
