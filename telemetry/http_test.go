package telemetry_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"example.com/otelstarter/telemetry"
)

func spanAttr(tb testing.TB, attrs []attribute.KeyValue, key attribute.Key) (attribute.Value, bool) {
	tb.Helper()
	for _, kv := range attrs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func TestMiddlewareSpanNamedAfterRoute(t *testing.T) {
	h := newHarness(t)
	w := h.get(t, "/api/posts/42")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", w.Code)
	}
	span := h.onlySpan(t)
	if got, want := span.Name(), "GET /api/posts/{id}"; got != want {
		t.Errorf("span name %q, want %q", got, want)
	}
	tests := []struct {
		key  attribute.Key
		want attribute.Value
	}{
		{semconv.HTTPRouteKey, attribute.StringValue("/api/posts/{id}")},
		{semconv.HTTPResponseStatusCodeKey, attribute.IntValue(200)},
		{semconv.HTTPRequestMethodKey, attribute.StringValue("GET")},
	}
	for _, tt := range tests {
		t.Run(string(tt.key), func(t *testing.T) {
			got, ok := spanAttr(t, span.Attributes(), tt.key)
			if !ok || got != tt.want {
				t.Errorf("%s = %v (present %v), want %v", tt.key, got.String(), ok, tt.want.String())
			}
		})
	}
	if span.SpanKind().String() != "server" {
		t.Errorf("span kind %v, want server", span.SpanKind())
	}
}

func TestMiddlewareUnmatchedRouteOnMetrics(t *testing.T) {
	h := newHarness(t)
	if w := h.get(t, "/no/such/path/123"); w.Code != http.StatusNotFound {
		t.Fatalf("status %d, want 404", w.Code)
	}
	span := h.onlySpan(t)
	if span.Name() != "GET" {
		t.Errorf("span name %q, want the bare method for an unmatched path", span.Name())
	}
	sets := durationAttrs(t, h.metrics)
	if len(sets) != 1 {
		t.Fatalf("got %d data points, want 1", len(sets))
	}
	route, ok := sets[0].Value(semconv.HTTPRouteKey)
	if !ok || route.AsString() != telemetry.UnmatchedRoute {
		t.Errorf("http.route = %q (present %v), want %q", route.AsString(), ok, telemetry.UnmatchedRoute)
	}
	for _, kv := range sets[0].ToSlice() {
		if strings.Contains(kv.Value.String(), "/no/such") {
			t.Errorf("metric attribute %s carries the raw path %q", kv.Key, kv.Value.String())
		}
	}
}

func TestMiddlewareMetricCardinalityBounded(t *testing.T) {
	h := newHarness(t)
	handler := h.handler()
	for i := range 100 {
		path := fmt.Sprintf("/random/%d/%x", i, rand.Uint64())
		if i%2 == 0 {
			path = fmt.Sprintf("/api/posts/%d", rand.IntN(1e6))
		}
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Host = fmt.Sprintf("host-%x.example:%d", rand.Uint64(), 1000+i)
		serve(t, handler, r)
	}
	sets := durationAttrs(t, h.metrics)
	// One series for the route, one for unmatched (both GET, 200 and 404).
	if len(sets) != 2 {
		for _, s := range sets {
			t.Log(s.Encoded(attribute.DefaultEncoder()))
		}
		t.Fatalf("100 requests with random paths and hosts made %d series, want 2", len(sets))
	}
	for _, s := range sets {
		for _, key := range []attribute.Key{semconv.ServerAddressKey, semconv.ServerPortKey, semconv.URLPathKey, semconv.ClientAddressKey} {
			if s.HasValue(key) {
				t.Errorf("metric attributes contain %s", key)
			}
		}
	}
}

func TestMiddlewareRequestID(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		path     string
		inbound  string
		wantKept bool
		traced   bool
	}{
		{name: "traced route", path: "/api/posts/1", traced: true},
		{name: "untraced probe", path: "/livez"},
		{name: "not found", path: "/nope", traced: true},
		{name: "sdk disabled", env: []string{"OTEL_SDK_DISABLED=true"}, path: "/api/posts/1"},
		{name: "valid inbound kept", path: "/api/posts/1", inbound: "req-123_abc.DEF", wantKept: true, traced: true},
		{name: "CRLF", path: "/api/posts/1", inbound: "abc\r\nSet-Cookie: x=1", traced: true},
		{name: "too long", path: "/api/posts/1", inbound: strings.Repeat("a", 65), traced: true},
		{name: "markup", path: "/api/posts/1", inbound: "<script>alert(1)</script>", traced: true},
		{name: "64 chars kept", path: "/api/posts/1", inbound: strings.Repeat("b", 64), wantKept: true, traced: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearOTelEnv(t)
			setenv(t, tt.env...)
			h := newHarness(t)
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.inbound != "" {
				r.Header[telemetry.RequestIDHeader] = []string{tt.inbound}
			}
			w := serve(t, h.handler(), r)
			id := w.Header().Get(telemetry.RequestIDHeader)
			if !hex32.MatchString(id) || id == strings.Repeat("0", 32) {
				t.Fatalf("X-Request-Id %q, want 32 hex digits", id)
			}
			if tt.inbound != "" && id == tt.inbound {
				t.Errorf("inbound X-Request-Id echoed")
			}
			spans := h.spans.Ended()
			if !tt.traced {
				if len(spans) != 0 {
					t.Fatalf("got %d spans, want none", len(spans))
				}
				return
			}
			if len(spans) != 1 {
				t.Fatalf("got %d spans, want 1", len(spans))
			}
			if got := spans[0].SpanContext().TraceID().String(); got != id {
				t.Errorf("X-Request-Id %s, span trace ID %s", id, got)
			}
			v, ok := spanAttr(t, spans[0].Attributes(), "http.request.header.x-request-id")
			if ok != tt.wantKept || (ok && v.AsString() != tt.inbound) {
				t.Errorf("span attribute x-request-id = %q (present %v), want kept=%v", v.AsString(), ok, tt.wantKept)
			}
		})
	}
}

func TestValidRequestID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"abc", true},
		{"0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"a.b_c-d", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"a b", false},
		{"a\r\nb", false},
		{"<script>", false},
		{"é", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.12q", tt.in), func(t *testing.T) {
			if got := telemetry.ValidRequestID(tt.in); got != tt.want {
				t.Errorf("ValidRequestID(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestMiddlewareContinuesTraceparent(t *testing.T) {
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	h := newHarness(t)
	w := h.get(t, "/api/posts/7", "traceparent", "00-"+traceID+"-"+spanID+"-01")
	span := h.onlySpan(t)
	if got := span.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("trace ID %s, want the inbound %s", got, traceID)
	}
	if got := span.Parent().SpanID().String(); got != spanID || !span.Parent().IsRemote() {
		t.Errorf("parent span %s (remote %v), want remote %s", got, span.Parent().IsRemote(), spanID)
	}
	if got := w.Header().Get(telemetry.RequestIDHeader); got != traceID {
		t.Errorf("X-Request-Id %s, want %s", got, traceID)
	}
}

// jsonPanic is a WithPanicResponse handler in the demo app's error format.
var jsonPanic = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	io.WriteString(w, `{"error":{"code":"internal","message":"internal server error"}}`)
})

func TestMiddlewarePanicDefaultResponse(t *testing.T) {
	h := newHarness(t)
	w := h.get(t, "/panic")
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
	if got := strings.TrimSpace(w.Body.String()); got != "Internal Server Error" {
		t.Errorf("body %q, want the neutral default", got)
	}
}

func TestMiddlewarePanic(t *testing.T) {
	h := newHarness(t, telemetry.WithPanicResponse(jsonPanic))
	srv := httptest.NewServer(h.handler())
	defer srv.Close()

	res, err := http.Get(srv.URL + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", res.StatusCode)
	}
	var answer struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Error.Code != "internal" || answer.Error.Message == "" {
		t.Errorf("body %s (%v), want {\"error\":{\"code\":\"internal\",…}}", body, err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if strings.Contains(string(body), "boom") {
		t.Errorf("body leaks the panic value: %s", body)
	}

	span := h.onlySpan(t)
	traceID := span.SpanContext().TraceID().String()
	if res.Header.Get(telemetry.RequestIDHeader) != traceID {
		t.Errorf("X-Request-Id %q, want %s", res.Header.Get(telemetry.RequestIDHeader), traceID)
	}
	if span.Status().Code != codes.Error {
		t.Errorf("span status %v, want Error", span.Status())
	}
	var exceptions int
	for _, ev := range span.Events() {
		if ev.Name != semconv.ExceptionEventName {
			continue
		}
		exceptions++
		msg, _ := spanAttr(t, ev.Attributes, semconv.ExceptionMessageKey)
		if !strings.Contains(msg.AsString(), "boom") || strings.Contains(msg.AsString(), "alice@example.com") {
			t.Errorf("exception.message %q, want the redacted panic value", msg.AsString())
		}
		if st, ok := spanAttr(t, ev.Attributes, semconv.ExceptionStacktraceKey); !ok || !strings.Contains(st.AsString(), "goroutine") {
			t.Errorf("exception event without a stack trace")
		}
	}
	if exceptions != 1 {
		t.Errorf("%d exception events, want 1", exceptions)
	}

	events := h.sentry.Events()
	if len(events) != 1 {
		t.Fatalf("%d Sentry events, want 1", len(events))
	}
	if got := events[0].Contexts["trace"]["trace_id"]; got != traceID {
		t.Errorf("Sentry trace_id %v, want %s", got, traceID)
	}
	if got := events[0].Contexts["trace"]["span_id"]; got != span.SpanContext().SpanID().String() {
		t.Errorf("Sentry span_id %v, want %s", got, span.SpanContext().SpanID())
	}
	if len(events[0].Exception) == 0 || strings.Contains(events[0].Exception[0].Value, "alice@example.com") {
		t.Errorf("Sentry exception %+v, want one with the email masked", events[0].Exception)
	}

	l := mustLine(t, h.lines.String(), "http.panic")
	if l["trace_id"] != traceID || l["level"] != "ERROR" {
		t.Errorf("http.panic line %v, want level ERROR and trace_id %s", l, traceID)
	}
	if s, _ := l["stack"].(string); !strings.Contains(s, "goroutine") {
		t.Errorf("http.panic line without a stack")
	}
	if a := mustLine(t, h.lines.String(), "http.request"); a["status"] != 500.0 || a["level"] != "ERROR" {
		t.Errorf("access line %v, want status 500 at ERROR", a)
	}

	// The server keeps serving.
	res, err = http.Get(srv.URL + "/api/posts/1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("after a panic: status %d, want 200", res.StatusCode)
	}
}

func TestMiddlewarePanicAfterWriteHeader(t *testing.T) {
	h := newHarness(t)
	w := h.get(t, "/panic-late")
	if w.Code != http.StatusAccepted {
		t.Errorf("status %d, want the 202 already sent", w.Code)
	}
	if strings.Contains(w.Body.String(), "internal") {
		t.Errorf("error body appended to a started response: %q", w.Body.String())
	}
	if a := mustLine(t, h.lines.String(), "http.request"); a["status"] != 500.0 {
		t.Errorf("access line status %v, want 500", a["status"])
	}
	if len(h.sentry.Events()) != 1 {
		t.Errorf("%d Sentry events, want 1", len(h.sentry.Events()))
	}
}

func TestMiddlewareRepanicsErrAbortHandler(t *testing.T) {
	h := newHarness(t)
	got := func() (v any) {
		defer func() { v = recover() }()
		h.get(t, "/abort")
		return nil
	}()
	if got != http.ErrAbortHandler {
		t.Fatalf("recovered %v, want http.ErrAbortHandler", got)
	}
	if n := len(h.sentry.Events()); n != 0 {
		t.Errorf("%d Sentry events for an aborted handler, want 0", n)
	}
	if l := line(t, h.lines.String(), "http.panic"); l != nil {
		t.Errorf("aborted handler logged as a panic: %v", l)
	}
}

func TestRoute(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"GET /api/posts/{id}", "/api/posts/{id}"},
		{"/api/", "/api/"},
		{"example.com/x", "/x"},
		{"", telemetry.UnmatchedRoute},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Pattern = tt.pattern
			if got := telemetry.RouteOf(r.Pattern); got != tt.want {
				t.Errorf("routeOf(%q) = %q, want %q", tt.pattern, got, tt.want)
			}
		})
	}
}
