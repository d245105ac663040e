package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"example.com/otelstarter/telemetry"
)

type tenantKey struct{}

// copying is what every auth, tenant or locale middleware does: it passes
// on a copy of the request with a value added to its context.
func copying(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tenantKey{}, "t1")))
	})
}

// cloning passes on r.Clone, a deep copy.
func cloning(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.Clone(r.Context()))
	})
}

// chiStyle is a router in the style of chi or gorilla built on ServeMux:
// its own middleware stack runs first, on copies of the request, and the
// stdlib mux routes last.
type chiStyle struct {
	mux         http.Handler
	middlewares []func(http.Handler) http.Handler
}

func (c *chiStyle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := c.mux
	for i := len(c.middlewares) - 1; i >= 0; i-- {
		h = c.middlewares[i](h)
	}
	h.ServeHTTP(w, r)
}

// thingsMux is the router of the table below: "GET /api/things/{id}", a
// handler that clears the pattern it matched (as an app's catch-all 404
// does), and a panic.
func thingsMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(tenantKey{}) == nil && r.Header.Get("X-Want-Tenant") != "" {
			http.Error(w, "tenant lost", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"id":"`+r.PathValue("id")+`"}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		r.Pattern = "" // "not a route": the request is unmatched
		http.NotFound(w, r)
	})
	mux.HandleFunc("GET /api/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	return mux
}

// TestRouteSurvivesMiddleware is the route contract: whatever sits between
// Middleware and a router wrapped by Router, the span name, http.route on
// the span, the metrics and the access line carry the matched pattern, and
// requests no pattern matched are "unmatched".
func TestRouteSurvivesMiddleware(t *testing.T) {
	for _, tt := range routeCases {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			w := serve(t, h.tel.Middleware(tt.handler()), httptest.NewRequest(http.MethodGet, tt.path, nil))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			assertRoute(t, h, tt.span, tt.route)
			if l := line(t, h.lines.String(), "telemetry.route_unknown"); l != nil {
				t.Errorf("warned of a lost route: %v", l)
			}
		})
	}
}

// TestRouteWithSDKDisabled: with OTEL_SDK_DISABLED=true (no otelhttp, no
// spans, no metrics) the access line still carries the route.
func TestRouteWithSDKDisabled(t *testing.T) {
	for _, tt := range routeCases {
		t.Run(tt.name, func(t *testing.T) {
			clearOTelEnv(t)
			setenv(t, "OTEL_SDK_DISABLED=true")
			h := newHarness(t)
			w := serve(t, h.tel.Middleware(tt.handler()), httptest.NewRequest(http.MethodGet, tt.path, nil))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			l := mustLine(t, h.lines.String(), "http.request")
			if l["route"] != tt.route || l["trace_id"] != w.Header().Get(telemetry.RequestIDHeader) {
				t.Errorf("access line %v, want route %q and trace_id = X-Request-Id", l, tt.route)
			}
		})
	}
}

type routeCase struct {
	name   string
	chain  func(mux http.Handler) http.Handler // what sits inside Middleware
	router bool                                // wrap the mux with telemetry.Router
	path   string
	status int
	route  string
	span   string
}

// handler is the case's chain around thingsMux.
func (tt routeCase) handler() http.Handler {
	var mux http.Handler = thingsMux()
	if tt.router {
		mux = telemetry.Router(mux)
	}
	return tt.chain(mux)
}

var routeCases = []routeCase{
	{"mux alone", func(h http.Handler) http.Handler { return h }, false,
		"/api/things/7", 200, "/api/things/{id}", "GET /api/things/{id}"},
	{"mux alone, Router", func(h http.Handler) http.Handler { return h }, true,
		"/api/things/7", 200, "/api/things/{id}", "GET /api/things/{id}"},
	{"copying middleware", copying, true,
		"/api/things/7", 200, "/api/things/{id}", "GET /api/things/{id}"},
	{"r.Clone", cloning, true,
		"/api/things/7", 200, "/api/things/{id}", "GET /api/things/{id}"},
	{"three copying middlewares", func(h http.Handler) http.Handler { return copying(cloning(copying(h))) }, true,
		"/api/things/7", 200, "/api/things/{id}", "GET /api/things/{id}"},
	{"http.TimeoutHandler", func(h http.Handler) http.Handler { return http.TimeoutHandler(h, time.Minute, "") }, true,
		"/api/things/7", 200, "/api/things/{id}", "GET /api/things/{id}"},
	{"http.StripPrefix", func(h http.Handler) http.Handler { return http.StripPrefix("/v1", h) }, true,
		"/v1/api/things/7", 200, "/api/things/{id}", "GET /api/things/{id}"},
	{"chi-style router around ServeMux", func(h http.Handler) http.Handler {
		return &chiStyle{mux: h, middlewares: []func(http.Handler) http.Handler{copying, cloning}}
	}, true, "/api/things/7", 200, "/api/things/{id}", "GET /api/things/{id}"},
	{"unmatched, copying middleware", copying, true,
		"/no/such/thing", 404, "unmatched", "GET"},
	{"unmatched, mux alone", func(h http.Handler) http.Handler { return h }, false,
		"/no/such/thing", 404, "unmatched", "GET"},
	{"StripPrefix outside its prefix", func(h http.Handler) http.Handler { return http.StripPrefix("/v1", h) }, true,
		"/api/things/7", 404, "unmatched", "GET"},
	{"panic behind copying middleware", copying, true,
		"/api/boom", 500, "/api/boom", "GET /api/boom"},
}

// assertRoute checks the one request h served: span name, http.route on
// the span and the duration metric, and route on the access line.
func assertRoute(tb testing.TB, h *harness, spanName, route string) {
	tb.Helper()
	span := h.onlySpan(tb)
	if span.Name() != spanName {
		tb.Errorf("span name %q, want %q", span.Name(), spanName)
	}
	if v, ok := spanAttr(tb, span.Attributes(), semconv.HTTPRouteKey); !ok || v.AsString() != route {
		tb.Errorf("span http.route = %q (present %v), want %q", v.AsString(), ok, route)
	}
	sets := durationAttrs(tb, h.metrics)
	if len(sets) != 1 {
		tb.Fatalf("got %d data points, want 1", len(sets))
	}
	if v, ok := sets[0].Value(semconv.HTTPRouteKey); !ok || v.AsString() != route {
		tb.Errorf("metric http.route = %q (present %v), want %q", v.AsString(), ok, route)
	}
	if got := mustLine(tb, h.lines.String(), "http.request")["route"]; got != route {
		tb.Errorf("access line route %v, want %q", got, route)
	}
}

// TestRouteOfTimedOutRequest: a request http.TimeoutHandler answers while
// its handler still runs keeps its route, since Router asks ServeMux for
// the pattern before the handler starts.
func TestRouteOfTimedOutRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		release := make(chan struct{})
		done := make(chan struct{})
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/slow/{id}", func(w http.ResponseWriter, r *http.Request) {
			defer close(done)
			<-release
		})
		handler := h.tel.Middleware(http.TimeoutHandler(telemetry.Router(mux), time.Second, "too slow"))

		w := serve(t, handler, httptest.NewRequest(http.MethodGet, "/api/slow/1", nil))
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503 from the timeout", w.Code)
		}
		assertRoute(t, h, "GET /api/slow/{id}", "/api/slow/{id}")
		close(release)
		<-done
	})
}

// TestRouteLostIsWarnedOnce: without Router, a copying middleware hides the
// pattern; the request is "unmatched" (never the raw path), and the first
// such request answered with a success status logs one warning that names
// the fix.
func TestRouteLostIsWarnedOnce(t *testing.T) {
	h := newHarness(t)
	handler := h.tel.Middleware(copying(thingsMux()))
	for range 3 {
		if w := serve(t, handler, httptest.NewRequest(http.MethodGet, "/api/things/7", nil)); w.Code != http.StatusOK {
			t.Fatalf("status %d, want 200", w.Code)
		}
	}
	var warnings int
	for _, l := range jsonLines(t, h.lines.String()) {
		switch l["msg"] {
		case "telemetry.route_unknown":
			warnings++
			if hint, _ := l["hint"].(string); !strings.Contains(hint, "telemetry.Router") {
				t.Errorf("warning does not name telemetry.Router: %v", l)
			}
		case "http.request":
			if l["route"] != "unmatched" {
				t.Errorf("access line route %v, want unmatched", l["route"])
			}
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings, want 1", warnings)
	}
}

// TestRouterOutsideMiddleware: Router alone only serves.
func TestRouterOutsideMiddleware(t *testing.T) {
	w := serve(t, telemetry.Router(thingsMux()), httptest.NewRequest(http.MethodGet, "/api/things/7", nil))
	if w.Code != http.StatusOK || w.Body.String() != `{"id":"7"}` {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
}
