package main

import (
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

// TestRegistrationIsRateLimited: registrations are limited per client
// address (RATE_LIMIT_REGISTER), conflicts and invalid ones included, so
// that one client cannot make the service hash passwords without end.
func TestRegistrationIsRateLimited(t *testing.T) {
	a := newTestApp(t, map[string]string{"RATE_LIMIT_REGISTER": "3"})
	wantStatus(t, a.do(t, "POST", "/api/users", map[string]string{"email": "r1@example.com", "password": "long enough 1"}, ""), 201, "")
	wantStatus(t, a.do(t, "POST", "/api/users", map[string]string{"email": "r1@example.com", "password": "long enough 1"}, ""), 409, "email_taken")
	wantStatus(t, a.do(t, "POST", "/api/users", map[string]string{"email": "r2@example.com", "password": "short"}, ""), 422, "validation_failed")
	r := a.do(t, "POST", "/api/users", map[string]string{"email": "r3@example.com", "password": "long enough 3"}, "")
	wantStatus(t, r, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}
