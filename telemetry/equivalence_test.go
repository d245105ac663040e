package telemetry_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/telemetry"
)

// otelhttpReference is the middleware as it was built on otelhttp v0.72:
// otelhttp's handler around the route attribute and the unmatched label.
func otelhttpReference(h *harness, next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if span := spanOf(r); span.IsRecording() {
			span.SetAttributes(semconv.HTTPRoute(telemetry.Route(r)))
		}
		if r.Pattern == "" {
			if l, ok := otelhttp.LabelerFromContext(r.Context()); ok {
				l.Add(semconv.HTTPRoute(telemetry.UnmatchedRoute))
			}
		}
	})
	return otelhttp.NewHandler(inner, "http.server",
		otelhttp.WithTracerProvider(h.tel.TracerProvider),
		otelhttp.WithMeterProvider(h.tel.MeterProvider),
		otelhttp.WithPropagators(h.tel.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if route := telemetry.Route(r); route != telemetry.UnmatchedRoute {
				return r.Method + " " + route
			}
			return r.Method
		}),
	)
}

// TestMiddlewareMatchesOtelhttp sends the same requests through the
// middleware and through otelhttp and compares spans and metrics.
func TestMiddlewareMatchesOtelhttp(t *testing.T) {
	mux := func() *http.ServeMux {
		m := http.NewServeMux()
		m.HandleFunc("GET /api/posts/{id}", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"id":"`+r.PathValue("id")+`"}`)
		})
		m.HandleFunc("POST /api/posts", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusCreated)
			w.Write(b)
		})
		m.HandleFunc("GET /fail", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		m.HandleFunc("GET /empty", func(http.ResponseWriter, *http.Request) {})
		m.HandleFunc("/any", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
		return m
	}
	tests := []struct {
		name   string
		method string
		target string
		body   string
		setup  func(r *http.Request)
	}{
		{name: "matched", method: "GET", target: "/api/posts/42"},
		{name: "unmatched", method: "GET", target: "/no/such"},
		{name: "post with body", method: "POST", target: "/api/posts", body: `{"title":"x"}`},
		{name: "5xx", method: "GET", target: "/fail"},
		{name: "empty", method: "GET", target: "/empty"},
		{name: "odd method", method: "purge", target: "/any"},
		{name: "lower-case method", method: "get", target: "/any"},
		{name: "headers", method: "GET", target: "/api/posts/1", setup: func(r *http.Request) {
			r.Host = "api.example.com:8443"
			r.RemoteAddr = "[2001:db8::1]:5555"
			r.Header.Set("User-Agent", "Mozilla/5.0 (X11) 1.2.3.4")
			r.Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.1")
			r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		}},
		{name: "tls http2", method: "GET", target: "/api/posts/2", setup: func(r *http.Request) {
			r.TLS = &tls.ConnectionState{}
			r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
			r.Host = "example.com:443"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(build func(*harness) http.Handler) (sdktrace.ReadOnlySpan, map[string][]attribute.Set) {
				h := newHarness(t)
				r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
				if tt.body == "" {
					r.Body = http.NoBody
				}
				if tt.setup != nil {
					tt.setup(r)
				}
				serve(t, build(h), r)
				return h.onlySpan(t), metricSets(t, h)
			}
			got, gotMetrics := run(func(h *harness) http.Handler { return h.tel.Middleware(mux()) })
			want, wantMetrics := run(func(h *harness) http.Handler { return otelhttpReference(h, referenceServe(mux())) })

			if got.Name() != want.Name() || got.SpanKind() != want.SpanKind() || got.Status() != want.Status() ||
				got.InstrumentationScope() != want.InstrumentationScope() {
				t.Errorf("span %q %v %v %v, otelhttp %q %v %v %v", got.Name(), got.SpanKind(), got.Status(), got.InstrumentationScope(),
					want.Name(), want.SpanKind(), want.Status(), want.InstrumentationScope())
			}
			if got.Parent().SpanID() != want.Parent().SpanID() {
				t.Errorf("parent %s, otelhttp %s", got.Parent().SpanID(), want.Parent().SpanID())
			}
			if g, w := attrText(got.Attributes()), attrText(want.Attributes()); g != w {
				t.Errorf("span attributes\n got %s\nwant %s", g, w)
			}
			for _, name := range []string{"http.server.request.duration", "http.server.request.body.size", "http.server.response.body.size"} {
				g, w := setsText(gotMetrics[name]), setsText(wantMetrics[name])
				if g != w || g == "" {
					t.Errorf("%s attributes\n got %s\nwant %s", name, g, w)
				}
			}
		})
	}
}

// referenceServe stands for the middleware's own layer (request ID and
// access log) under otelhttp; it adds the x-request-id attribute only.
func referenceServe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(telemetry.RequestIDHeader, spanOf(r).SpanContext().TraceID().String())
		next.ServeHTTP(w, r)
	})
}

func spanOf(r *http.Request) trace.Span { return trace.SpanFromContext(r.Context()) }

func attrText(kvs []attribute.KeyValue) string {
	var out []string
	for _, kv := range kvs {
		out = append(out, string(kv.Key)+"="+kv.Value.String())
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func setsText(sets []attribute.Set) string {
	var out []string
	for _, s := range sets {
		out = append(out, s.Encoded(attribute.DefaultEncoder()))
	}
	slices.Sort(out)
	return strings.Join(out, " | ")
}

// metricSets returns the attribute sets of every http.server.* metric, with
// the sum or count of each folded in, and checks their exemplars carry no
// attributes.
func metricSets(tb testing.TB, h *harness) map[string][]attribute.Set {
	tb.Helper()
	out := map[string][]attribute.Set{}
	for _, sm := range collect(tb, h.metrics).ScopeMetrics {
		for _, m := range sm.Metrics {
			if !strings.HasPrefix(m.Name, "http.server.") {
				continue
			}
			key := m.Name
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out[key] = append(out[key], withFacts(dp.Attributes, sm.Scope.Name, m.Unit, int64(dp.Count), len(dp.Bounds), -1))
					for _, e := range dp.Exemplars {
						if len(e.FilteredAttributes) != 0 {
							tb.Errorf("%s exemplar carries %v", m.Name, e.FilteredAttributes)
						}
					}
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					out[key] = append(out[key], withFacts(dp.Attributes, sm.Scope.Name, m.Unit, int64(dp.Count), len(dp.Bounds), dp.Sum))
				}
			default:
				tb.Fatalf("%s is %T", m.Name, m.Data)
			}
		}
	}
	return out
}

func withFacts(s attribute.Set, scope, unit string, count int64, bounds int, sum int64) attribute.Set {
	kvs := append(s.ToSlice(),
		attribute.String("~scope", scope), attribute.String("~unit", unit),
		attribute.Int64("~count", count), attribute.Int("~bounds", bounds), attribute.Int64("~sum", sum))
	return attribute.NewSet(kvs...)
}
