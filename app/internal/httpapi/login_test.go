package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/httpapi"
	"example.com/otelstarter/app/internal/ratelimit"
)

// passwordBlog accepts one password for every account.
type passwordBlog struct{ fakeBlog }

func (*passwordBlog) Login(_ context.Context, c blog.Credentials) (blog.LoginResult, error) {
	if c.Password != "the right password" {
		return blog.LoginResult{}, &blog.Error{Code: blog.CodeCredentials, Message: "email or password is incorrect"}
	}
	return blog.LoginResult{Token: "tok"}, nil
}

const limit = 5

// newLoginAPI is the API with the service's login policy: limit attempts
// per client address, limit failures per account or per device.
func newLoginAPI(t *testing.T) http.Handler {
	t.Helper()
	return newAPI(t, httpapi.Config{
		Service:            &passwordBlog{},
		LoginLimiter:       ratelimit.New(ratelimit.Config{Name: "login", Limit: limit}),
		FailedLoginLimiter: ratelimit.New(ratelimit.Config{Name: "login-failures", Limit: limit}),
		DeviceCookies:      httpapi.NewDeviceCookies([]byte(strings.Repeat("k", 32)), time.Hour),
	})
}

// login posts the credentials from addr, with the cookies given.
func login(t *testing.T, h http.Handler, addr, email, password string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr + ":40000"
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func deviceCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == httpapi.DeviceCookieName {
			if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/api/login" {
				t.Errorf("device cookie %v: want HttpOnly, Secure, SameSite=Strict, Path=/api/login", c)
			}
			return c
		}
	}
	t.Fatalf("no device cookie after a successful login (status %d)", rec.Code)
	return nil
}

// TestStrangersCannotLockTheOwnerOut: failures from many addresses exhaust
// the account's budget, yet its owner, whose browser holds a device cookie
// from an earlier login, still logs in; anyone else gets 429.
func TestStrangersCannotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	h := newLoginAPI(t)
	const victim = "victim@example.com"
	owner := login(t, h, "198.51.100.7", victim, "the right password")
	if owner.Code != 200 {
		t.Fatalf("first login = %d %s", owner.Code, owner.Body)
	}
	cookie := deviceCookie(t, owner)

	for i := range 3 * limit {
		login(t, h, "203.0.113."+string(rune('1'+i%9)), " Victim@Example.com ", "guess")
	}
	if rec := login(t, h, "192.0.2.50", victim, "the right password"); rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("right password from a new address, no cookie = %d, want 429 with Retry-After", rec.Code)
	}
	if rec := login(t, h, "198.51.100.7", victim, "the right password", cookie); rec.Code != 200 {
		t.Errorf("owner with the device cookie = %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := login(t, h, "192.0.2.51", "other@example.com", "guess"); rec.Code != 401 {
		t.Errorf("another account = %d, want 401: only the attacked account is limited", rec.Code)
	}
}

// TestDeviceCookieIsBoundAndLimited: a cookie counts for the account it was
// issued for only, a forged or altered one counts for nothing, and a
// device's own failures are limited too.
func TestDeviceCookieIsBoundAndLimited(t *testing.T) {
	t.Parallel()
	h := newLoginAPI(t)
	mallory := deviceCookie(t, login(t, h, "203.0.113.9", "mallory@example.com", "the right password"))
	for range limit {
		login(t, h, "203.0.113.1", "victim@example.com", "guess")
	}
	forged := []*http.Cookie{
		mallory,
		{Name: httpapi.DeviceCookieName, Value: mallory.Value + "x"},
		{Name: httpapi.DeviceCookieName, Value: strings.Replace(mallory.Value, ".", "A.", 1)},
		{Name: httpapi.DeviceCookieName, Value: "garbage"},
	}
	for _, c := range forged {
		if rec := login(t, h, "203.0.113.2", "victim@example.com", "the right password", c); rec.Code != 429 {
			t.Errorf("victim's login with cookie %q = %d, want 429: the cookie is not the victim's", c.Value, rec.Code)
		}
	}
	// Mallory guesses through her own device: limited per device.
	for range limit {
		login(t, h, "203.0.113.3", "mallory@example.com", "guess", mallory)
	}
	if rec := login(t, h, "203.0.113.4", "mallory@example.com", "the right password", mallory); rec.Code != 429 {
		t.Errorf("a device past its failures = %d, want 429", rec.Code)
	}
}

// TestSuccessesDoNotCountAgainstTheAccount: only failures use the
// account's budget; each address keeps its limit on attempts.
func TestSuccessesDoNotCountAgainstTheAccount(t *testing.T) {
	t.Parallel()
	h := newLoginAPI(t)
	for i := range 3 * limit {
		addr := "198.51.100." + string(rune('1'+i%9))
		if rec := login(t, h, addr, "ann@example.com", "the right password"); rec.Code != 200 {
			t.Fatalf("success %d = %d, want 200", i+1, rec.Code)
		}
	}
	for range limit {
		login(t, h, "192.0.2.9", "someone@example.com", "guess")
	}
	if rec := login(t, h, "192.0.2.9", "ann@example.com", "the right password"); rec.Code != 429 {
		t.Errorf("an address past its attempts = %d, want 429", rec.Code)
	}
}
