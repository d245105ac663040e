package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"example.com/otelstarter/app/internal/config"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// testApp is the whole service behind an httptest.Server, with every
// telemetry sink captured.
type testApp struct {
	*httptest.Server
	tel *telemetrytest.Capture
	app *application
}

// newTestApp builds the service with env on top of a private SQLite
// database and no Redis.
func newTestApp(tb testing.TB, env map[string]string) *testApp {
	tb.Helper()
	base := map[string]string{
		"DATABASE_URL": "sqlite:" + filepath.Join(tb.TempDir(), "blog.db"),
		"FRONTEND_DIR": filepath.Join(tb.TempDir(), "no-frontend"),
		"LOG_LEVEL":    "debug",
		"BCRYPT_COST":  "4",
		// Tests register many users from one address; the limit's own
		// tests set it.
		"RATE_LIMIT_REGISTER": "0",
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.Load(func(k string) string { return base[k] })
	if err != nil {
		tb.Fatal(err)
	}
	tel := telemetrytest.New(tb, telemetryOptions(cfg)...)
	a, err := build(context.Background(), cfg, tel.Telemetry)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(a.handler)
	tb.Cleanup(func() {
		a.hub.Close()
		srv.Close()
		a.close()
	})
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	go a.hub.Run(ctx)
	return &testApp{Server: srv, tel: tel, app: a}
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// do sends a request with a JSON body (a string is sent as is) and an
// optional bearer token.
func (a *testApp) do(tb testing.TB, method, path string, body any, token string, hdr ...string) response {
	tb.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.URL+path, r)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			tb.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return out
}

// errCode returns error.code of a JSON error body.
func (r response) errCode() string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// field returns error.fields[name].
func (r response) field(name string) string {
	e, _ := r.Body["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	s, _ := f[name].(string)
	return s
}

func (r response) num(key string) int64 {
	f, _ := r.Body[key].(float64)
	return int64(f)
}

// register and login a user, returning the user ID and token.
func (a *testApp) user(tb testing.TB, email, password string) (int64, string) {
	tb.Helper()
	r := a.do(tb, "POST", "/api/users", map[string]string{"email": email, "password": password}, "")
	if r.Status != http.StatusCreated {
		tb.Fatalf("register %s: %d %s", email, r.Status, r.Raw)
	}
	l := a.do(tb, "POST", "/api/login", map[string]string{"email": email, "password": password}, "")
	if l.Status != http.StatusOK {
		tb.Fatalf("login %s: %d %s", email, l.Status, l.Raw)
	}
	return r.num("id"), l.Body["token"].(string)
}

// post creates a post and returns its ID.
func (a *testApp) post(tb testing.TB, token, title string) int64 {
	tb.Helper()
	r := a.do(tb, "POST", "/api/posts", map[string]string{"title": title, "body": "body of " + title}, token)
	if r.Status != http.StatusCreated {
		tb.Fatalf("create post: %d %s", r.Status, r.Raw)
	}
	return r.num("id")
}

// wantStatus fails unless r has the status and, for errors, the code.
func wantStatus(tb testing.TB, r response, status int, code string) {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("status = %d, want %d (body %s)", r.Status, status, r.Raw)
	}
	if code != "" && r.errCode() != code {
		tb.Fatalf("error code = %q, want %q (body %s)", r.errCode(), code, r.Raw)
	}
	if status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		tb.Fatalf("error answered with Content-Type %q, want JSON", r.Header.Get("Content-Type"))
	}
}
