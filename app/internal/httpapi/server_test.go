package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/feed"
	"example.com/otelstarter/app/internal/health"
	"example.com/otelstarter/app/internal/httpapi"
)

// fakeBlog answers every call with err, or with fixed values when err is
// nil; it records the user ID the handlers pass.
type fakeBlog struct {
	err      error
	tokenErr error // returned by Authenticate; nil accepts "good-token" as user 7
	mu       sync.Mutex
	authorID int64
}

var _ httpapi.Blog = (*fakeBlog)(nil)

func (f *fakeBlog) Register(context.Context, blog.Credentials) (blog.User, error) {
	return blog.User{ID: 1, Email: "ann@example.com"}, f.err
}

func (f *fakeBlog) Login(context.Context, blog.Credentials) (blog.LoginResult, error) {
	return blog.LoginResult{Token: "tok"}, f.err
}

func (f *fakeBlog) Authenticate(_ context.Context, token string) (int64, error) {
	if f.tokenErr != nil {
		return 0, f.tokenErr
	}
	if token != "good-token" {
		return 0, &blog.Error{Code: blog.CodeUnauthorized, Message: "invalid or expired token"}
	}
	return 7, nil
}

func (f *fakeBlog) ListPosts(_ context.Context, p blog.Page) (blog.PostList, error) {
	return blog.PostList{Page: p.Page, PerPage: p.PerPage}, f.err
}

func (f *fakeBlog) Post(_ context.Context, id int64) (blog.Post, error) {
	return blog.Post{ID: id, Title: "t"}, f.err
}

func (f *fakeBlog) CreatePost(_ context.Context, authorID int64, in blog.PostInput) (blog.Post, error) {
	f.mu.Lock()
	f.authorID = authorID
	f.mu.Unlock()
	return blog.Post{ID: 9, Title: in.Title, AuthorID: authorID}, f.err
}

func (f *fakeBlog) UpdatePost(_ context.Context, userID, id int64, in blog.PostInput) (blog.Post, error) {
	return blog.Post{ID: id, Title: in.Title, AuthorID: userID}, f.err
}

func (f *fakeBlog) DeletePost(context.Context, int64, int64) error { return f.err }

// fakeHealth reports a fixed result.
type fakeHealth struct {
	report health.Report
	ready  bool
}

var _ httpapi.Health = (*fakeHealth)(nil)

func (f *fakeHealth) Run(context.Context) health.Report { return f.report }
func (f *fakeHealth) Ready(context.Context) bool        { return f.ready }

// fakeLimiter refuses the keys in deny, for wait.
type fakeLimiter struct {
	deny map[string]bool
	wait time.Duration
}

var _ httpapi.Limiter = (*fakeLimiter)(nil)

func (f *fakeLimiter) Allow(_ context.Context, key string) (bool, time.Duration) {
	if f.deny[key] {
		return false, f.wait
	}
	return true, 0
}

// newAPI returns the Server of cfg, with healthy fakes for the
// dependencies cfg leaves out.
func newAPI(tb testing.TB, cfg httpapi.Config) *httpapi.Server {
	tb.Helper()
	if cfg.Service == nil {
		cfg.Service = &fakeBlog{}
	}
	if cfg.Feed == nil {
		cfg.Feed = feed.New(nil, 0)
	}
	if cfg.Health == nil {
		cfg.Health = &fakeHealth{report: health.Report{Status: health.StatusOK, Checks: map[string]string{}}, ready: true}
	}
	s, err := httpapi.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

type answer struct {
	status int
	header http.Header
	body   string
}

// call sends one request to h, with a JSON body when body is not empty.
func call(tb testing.TB, h http.Handler, method, target, body string, hdr ...string) answer {
	tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Header(), rec.Body.String()}
}

func errBody(code, message string) string {
	return fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, code, message) + "\n"
}

// TestRoutingErrorsAreJSON: unknown paths are 404 and known paths with
// another method 405 with Allow, both in the API's error shape; /metrics
// is never served here.
func TestRoutingErrorsAreJSON(t *testing.T) {
	t.Parallel()
	s := newAPI(t, httpapi.Config{})
	tests := []struct {
		method, path string
		status       int
		body         string
		allow        []string
	}{
		{"PATCH", "/api/posts/1", 405, errBody("method_not_allowed", "method PATCH is not allowed here"), []string{"GET", "PUT", "DELETE"}},
		{"DELETE", "/api/users", 405, errBody("method_not_allowed", "method DELETE is not allowed here"), []string{"POST"}},
		{"BREW", "/api/users", 405, errBody("method_not_allowed", "method BREW is not allowed here"), []string{"POST"}},
		{"GET", "/api/nope", 404, errBody("not_found", "no such resource"), nil},
		{"GET", "/nope", 404, errBody("not_found", "no such resource"), nil},
		{"GET", "/metrics", 404, errBody("not_found", "no such resource"), nil},
		{"POST", "/api/sentry-tunnel", 404, errBody("not_found", "no such resource"), nil}, // no tunnel configured
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			a := call(t, s, tt.method, tt.path, "")
			if a.status != tt.status || a.body != tt.body {
				t.Errorf("answer = %d %q, want %d %q", a.status, a.body, tt.status, tt.body)
			}
			if got := a.header.Values("Allow"); fmt.Sprint(got) != fmt.Sprint(tt.allow) {
				t.Errorf("Allow = %v, want %v", got, tt.allow)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

// TestServiceErrors: the service's errors become their status and safe
// message; only unexpected ones are reported to error tracking, and their
// text never reaches the client.
func TestServiceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		status   int
		body     string
		reported bool
	}{
		{"not found", &blog.Error{Code: blog.CodeNotFound, Message: "no such post"}, 404, errBody("not_found", "no such post"), false},
		{"wrapped domain error", fmt.Errorf("store: %w", &blog.Error{Code: blog.CodeForbidden, Message: "not yours"}), 403, errBody("forbidden", "not yours"), false},
		{"unavailable", fmt.Errorf("ping: %w: connection refused", blog.ErrUnavailable), 503, errBody("unavailable", "a dependency is unavailable, try again later"), false},
		{"deadline", context.DeadlineExceeded, 503, errBody("unavailable", "a dependency is unavailable, try again later"), false},
		{"unexpected", errors.New("pq: secret table exploded"), 500, errBody("internal", "internal server error"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reported []error
			s := newAPI(t, httpapi.Config{
				Service:     &fakeBlog{err: tt.err},
				ReportError: func(_ context.Context, err error) { reported = append(reported, err) },
			})
			a := call(t, s, "GET", "/api/posts/3", "")
			if a.status != tt.status || a.body != tt.body {
				t.Errorf("answer = %d %q, want %d %q", a.status, a.body, tt.status, tt.body)
			}
			if got := len(reported) == 1 && reported[0] == tt.err; got != tt.reported {
				t.Errorf("reported %v, want reported = %v", reported, tt.reported)
			}
		})
	}
}

// TestAuthentication: a missing or bad token is 401 with the matching
// Bearer challenge; a good one reaches the service with its user ID.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	svc := &fakeBlog{}
	s := newAPI(t, httpapi.Config{Service: svc})
	body := `{"title":"t","body":"b"}`

	none := call(t, s, "POST", "/api/posts", body)
	if none.status != 401 || none.body != errBody("unauthorized", "a valid bearer token is required") ||
		none.header.Get("WWW-Authenticate") != `Bearer realm="blog"` {
		t.Errorf("no token = %d %q %q", none.status, none.body, none.header.Get("WWW-Authenticate"))
	}
	bad := call(t, s, "POST", "/api/posts", body, "Authorization", "Bearer forged")
	if bad.status != 401 || bad.header.Get("WWW-Authenticate") != `Bearer realm="blog", error="invalid_token"` {
		t.Errorf("bad token = %d %q", bad.status, bad.header.Get("WWW-Authenticate"))
	}
	good := call(t, s, "POST", "/api/posts", body, "Authorization", "Bearer good-token")
	if good.status != 201 || good.header.Get("Location") != "/api/posts/9" {
		t.Errorf("good token = %d %q, Location %q", good.status, good.body, good.header.Get("Location"))
	}
	if svc.authorID != 7 {
		t.Errorf("CreatePost got author %d, want the token's user 7", svc.authorID)
	}

	// A failing session store is not a bad token: no invalid_token challenge.
	down := newAPI(t, httpapi.Config{Service: &fakeBlog{tokenErr: blog.ErrUnavailable}})
	a := call(t, down, "DELETE", "/api/posts/1", "", "Authorization", "Bearer good-token")
	if a.status != 503 || a.header.Get("WWW-Authenticate") != "" {
		t.Errorf("store down = %d, WWW-Authenticate %q; want 503 without a challenge", a.status, a.header.Get("WWW-Authenticate"))
	}
}

// TestSentryTunnelRoute: the tunnel is mounted at POST /api/sentry-tunnel
// behind its own limiter, which refuses before the tunnel reads anything.
func TestSentryTunnelRoute(t *testing.T) {
	t.Parallel()
	var calls int
	tun := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusNoContent)
	})
	lim := &fakeLimiter{deny: map[string]bool{}, wait: 30 * time.Second}
	s := newAPI(t, httpapi.Config{SentryTunnel: tun, TunnelLimiter: lim})

	if a := call(t, s, "POST", "/api/sentry-tunnel", "{}"); a.status != 204 || calls != 1 {
		t.Fatalf("tunnel = %d after %d calls, want 204 after 1", a.status, calls)
	}
	lim.deny["192.0.2.1"] = true
	a := call(t, s, "POST", "/api/sentry-tunnel", "{}")
	if a.status != 429 || a.body != errBody("rate_limited", "too many requests; retry in 30s") || a.header.Get("Retry-After") != "30" || calls != 1 {
		t.Errorf("limited = %d %q, Retry-After %q, tunnel called %d times", a.status, a.body, a.header.Get("Retry-After"), calls)
	}
	if a := call(t, s, "GET", "/api/sentry-tunnel", ""); a.status != 405 {
		t.Errorf("GET tunnel = %d, want 405", a.status)
	}
}

// TestHealthAndReadiness: /api/health answers the report with 200 only
// when it is ok; /readyz follows the critical checks and, once draining,
// fails whatever they say; /livez answers as long as the process runs.
func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	h := &fakeHealth{
		report: health.Report{Status: health.StatusDegraded, Checks: map[string]string{"database": "ok", "redis": "error"}},
		ready:  true,
	}
	s := newAPI(t, httpapi.Config{Health: h})
	want := func(target string, status int, body string) {
		t.Helper()
		if a := call(t, s, "GET", target, ""); a.status != status || a.body != body {
			t.Errorf("GET %s = %d %q, want %d %q", target, a.status, a.body, status, body)
		}
	}
	want("/api/health", 503, `{"status":"degraded","checks":{"database":"ok","redis":"error"}}`+"\n")
	want("/readyz", 200, `{"status":"ready"}`+"\n")
	h.report = health.Report{Status: health.StatusOK, Checks: map[string]string{"database": "ok"}}
	want("/api/health", 200, `{"status":"ok","checks":{"database":"ok"}}`+"\n")
	h.ready = false
	want("/readyz", 503, `{"status":"unavailable"}`+"\n")
	h.ready = true
	s.Drain()
	want("/readyz", 503, `{"status":"draining"}`+"\n")
	want("/livez", 200, `{"status":"ok"}`+"\n")
}

// TestWebSocketAfterShutdown: once the feed is closed, a new client gets a
// 503 JSON error instead of an upgrade.
func TestWebSocketAfterShutdown(t *testing.T) {
	t.Parallel()
	hub := feed.New(nil, 0)
	hub.Close()
	s := newAPI(t, httpapi.Config{Feed: hub})
	a := call(t, s, "GET", "/api/ws", "")
	if a.status != 503 || a.body != errBody("unavailable", "the server is shutting down") {
		t.Errorf("answer = %d %q", a.status, a.body)
	}
}

// TestFrontendConfig: /api/config is the configured value as JSON, never
// cached, so that a changed DSN is picked up at the next page load.
func TestFrontendConfig(t *testing.T) {
	t.Parallel()
	s := newAPI(t, httpapi.Config{Frontend: httpapi.FrontendConfig{Sentry: httpapi.FrontendSentry{
		DSN: "https://browserkey@o1.ingest.example.com/42", Environment: "production", TracesSampleRate: 0.1,
	}}})
	a := call(t, s, "GET", "/api/config", "")
	want := `{"sentry":{"dsn":"https://browserkey@o1.ingest.example.com/42","environment":"production","tracesSampleRate":0.1}}` + "\n"
	if a.status != 200 || a.body != want || a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("answer = %d %q, Cache-Control %q", a.status, a.body, a.header.Get("Cache-Control"))
	}
}

// TestNonCanonicalIDs: a post has one address; other spellings of its ID
// are refused as invalid, not served as the same post.
func TestNonCanonicalIDs(t *testing.T) {
	t.Parallel()
	s := newAPI(t, httpapi.Config{})
	for _, id := range []string{"+1", "011", "0", "-1", "0x1", "1e0", "1.0", "%201", "1%20", "%EF%BC%91", "99999999999999999999", "9223372036854775808"} {
		if a := call(t, s, "GET", "/api/posts/"+id, ""); a.status != 400 || !strings.Contains(a.body, `"code":"invalid_request"`) {
			t.Errorf("GET /api/posts/%s = %d %s, want 400 invalid_request", id, a.status, a.body)
		}
	}
	for _, id := range []string{"1", "11", "9223372036854775807"} {
		if a := call(t, s, "GET", "/api/posts/"+id, ""); a.status != 200 {
			t.Errorf("GET /api/posts/%s = %d, want 200", id, a.status)
		}
	}
	for _, q := range []string{"page=+1", "page=01", "per_page=+5", "per_page=05", "page=%201"} {
		if a := call(t, s, "GET", "/api/posts?"+q, ""); a.status != 400 {
			t.Errorf("GET /api/posts?%s = %d, want 400", q, a.status)
		}
	}
}

// TestDecodeErrors: request bodies are refused with the client error that
// names the problem, before the service is called.
func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	s := newAPI(t, httpapi.Config{Service: &fakeBlog{err: errors.New("the service must not be called")}})
	tests := []struct {
		name, body, ct string
		status         int
		code           string
	}{
		{"malformed", `{"email": `, "", 400, "invalid_request"},
		{"two objects", `{"email":"a@example.com"} {}`, "", 400, "invalid_request"},
		{"unknown field", `{"email":"a@example.com","admin":true}`, "", 422, "validation_failed"},
		{"wrong type", `{"email":5}`, "", 422, "validation_failed"},
		{"form", `email=a`, "application/x-www-form-urlencoded", 415, "unsupported_media"},
		{"text/plain, JSON body", `{"email":"a@example.com"}`, "text/plain", 415, "unsupported_media"},
		{"no Content-Type", `{"email":"a@example.com"}`, "none", 415, "unsupported_media"},
		{"empty Content-Type", `{"email":"a@example.com"}`, " ", 415, "unsupported_media"},
		{"multipart", `{"email":"a@example.com"}`, "multipart/form-data; boundary=x", 415, "unsupported_media"},
		{"json with charset, malformed", `{"email": `, "Application/JSON; charset=utf-8", 400, "invalid_request"},
		{"json in another charset", `{"email":"a@example.com"}`, "application/json; charset=iso-8859-1", 415, "unsupported_media"},
		{"json with a bad parameter", `{"email":"a@example.com"}`, "application/json; charset", 415, "unsupported_media"},
		{"too large", `{"email":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`, "", 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/users", bytes.NewReader([]byte(tt.body)))
			req.Header.Set("Content-Type", "application/json")
			switch tt.ct {
			case "":
			case "none":
				req.Header.Del("Content-Type")
			default:
				req.Header.Set("Content-Type", tt.ct)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), `"code":"`+tt.code+`"`) {
				t.Errorf("answer = %d %q, want %d %s", rec.Code, rec.Body, tt.status, tt.code)
			}
		})
	}
}
