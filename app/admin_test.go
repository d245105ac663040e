package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// adminRoutes are every route the admin listener may serve.
var adminRoutes = []string{
	"/metrics", "/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine",
	"/debug/pprof/heap", "/debug/pprof/symbol", "/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1",
}

// TestAdminTokenGuardsEveryRoute: with METRICS_TOKEN set, no admin route,
// profiles included, answers without the token, and a wrong one is refused
// alike.
func TestAdminTokenGuardsEveryRoute(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	h := adminHandler(metrics, "scrape-secret", true)
	for _, path := range append(adminRoutes, "/nothing-here") {
		for _, auth := range []string{"", "Bearer wrong", "scrape-secret", "Bearer scrape-secret "} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" ||
				rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("GET %s with Authorization %q = %d %q, want a 401 JSON error with WWW-Authenticate",
					path, auth, rec.Code, rec.Header().Get("Content-Type"))
			}
		}
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer scrape-secret")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s with the token = %d, want 200", path, rec.Code)
		}
	}
}

// TestPprofIsOffByDefault: the profiles are served only when PPROF=true.
func TestPprofIsOffByDefault(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	for _, on := range []bool{false, true} {
		h := adminHandler(metrics, "", on)
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			want := http.StatusNotFound
			if on {
				want = http.StatusOK
			}
			if rec.Code != want {
				t.Errorf("PPROF=%v: GET %s = %d, want %d", on, path, rec.Code, want)
			}
		}
	}
}
