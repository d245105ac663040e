package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestLoginIsRateLimited(t *testing.T) {
	a := newTestApp(t, map[string]string{"RATE_LIMIT_LOGIN": "3"})
	a.user(t, "rl@example.com", "rate limited") // one login
	creds := map[string]string{"email": "rl@example.com", "password": "wrong password"}
	wantStatus(t, a.do(t, "POST", "/api/login", creds, ""), 401, "invalid_credentials")
	wantStatus(t, a.do(t, "POST", "/api/login", creds, ""), 401, "invalid_credentials")
	r := a.do(t, "POST", "/api/login", creds, "")
	wantStatus(t, r, 429, "rate_limited")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After = %q, want 1–60 seconds", r.Header.Get("Retry-After"))
	}
	// Other endpoints are not limited.
	wantStatus(t, a.do(t, "GET", "/api/posts", nil, ""), 200, "")
}

// TestLoginLimitPerEmail: guesses at one account from many addresses are
// limited too.
func TestLoginLimitPerEmail(t *testing.T) {
	a := newTestApp(t, map[string]string{"RATE_LIMIT_LOGIN": "2"})
	body := []byte(`{"email":"victim@example.com","password":"guess guess"}`)
	var last int
	for i := range 3 {
		req := httptest.NewRequest("POST", "/api/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "198.51.100." + strconv.Itoa(10+i) + ":5555"
		rec := httptest.NewRecorder()
		a.app.handler.ServeHTTP(rec, req)
		last = rec.Code
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("third guess from a third address = %d, want 429", last)
	}
}

func TestTunnelIsRateLimited(t *testing.T) {
	a := newTestApp(t, map[string]string{"RATE_LIMIT_TUNNEL": "2"})
	env := `{"dsn":"http://k@sentry.example.com/1"}` + "\n"
	wantStatus(t, a.do(t, "POST", "/api/sentry-tunnel", env, ""), 204, "")
	wantStatus(t, a.do(t, "POST", "/api/sentry-tunnel", env, ""), 204, "")
	r := a.do(t, "POST", "/api/sentry-tunnel", env, "")
	wantStatus(t, r, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}
