package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestUsers(t *testing.T) {
	a := newTestApp(t, nil)
	r := a.do(t, "POST", "/api/users", map[string]string{"email": "  Ann@Example.COM ", "password": "correct horse"}, "")
	wantStatus(t, r, http.StatusCreated, "")
	if r.Body["email"] != "ann@example.com" || r.num("id") <= 0 {
		t.Fatalf("created user = %v", r.Body)
	}
	if _, ok := r.Body["password_hash"]; ok || strings.Contains(r.Raw, "$2a$") {
		t.Fatalf("the password hash leaked into the answer: %s", r.Raw)
	}

	tests := []struct {
		name   string
		body   any
		ct     string
		status int
		code   string
		field  string
	}{
		{"duplicate email, other case", map[string]string{"email": "ANN@example.com", "password": "another one"}, "", 409, "email_taken", ""},
		{"missing email", map[string]string{"password": "long enough"}, "", 422, "validation_failed", "email"},
		{"bad email", map[string]string{"email": "not-an-email", "password": "long enough"}, "", 422, "validation_failed", "email"},
		{"email without domain dot", map[string]string{"email": "a@b", "password": "long enough"}, "", 422, "validation_failed", "email"},
		{"short password", map[string]string{"email": "b@example.com", "password": "short"}, "", 422, "validation_failed", "password"},
		{"password over 72 bytes", map[string]string{"email": "b@example.com", "password": strings.Repeat("é", 40)}, "", 422, "validation_failed", "password"},
		{"wrong type", `{"email": 5, "password": "long enough"}`, "", 422, "validation_failed", "email"},
		{"unknown field", `{"email": "c@example.com", "password": "long enough", "admin": true}`, "", 422, "validation_failed", "admin"},
		{"malformed JSON", `{"email": `, "", 400, "invalid_request", ""},
		{"syntax error", `{"email" "x"}`, "", 400, "invalid_request", ""},
		{"not an object", `[1,2]`, "", 400, "invalid_request", ""},
		{"two objects", `{"email":"d@example.com","password":"long enough"} {}`, "", 400, "invalid_request", ""},
		{"empty body", ``, "", 400, "invalid_request", ""},
		{"form content type", `email=a`, "application/x-www-form-urlencoded", 415, "unsupported_media", ""},
		{"too large", `{"email":"` + strings.Repeat("a", 70<<10) + `"}`, "", 413, "body_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.ct != "" {
				hdr = []string{"Content-Type", tt.ct}
			}
			r := a.do(t, "POST", "/api/users", tt.body, "", hdr...)
			wantStatus(t, r, tt.status, tt.code)
			if tt.field != "" && r.field(tt.field) == "" {
				t.Fatalf("no message for field %q in %s", tt.field, r.Raw)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	a := newTestApp(t, nil)
	a.user(t, "lee@example.com", "a fine password")

	ok := a.do(t, "POST", "/api/login", map[string]string{"email": "LEE@example.com", "password": "a fine password"}, "")
	wantStatus(t, ok, 200, "")
	if tok, _ := ok.Body["token"].(string); len(tok) != 43 || ok.Body["expires_at"] == nil {
		t.Fatalf("login answer = %s", ok.Raw)
	}

	wrong := a.do(t, "POST", "/api/login", map[string]string{"email": "lee@example.com", "password": "not the password"}, "")
	unknown := a.do(t, "POST", "/api/login", map[string]string{"email": "nobody@example.com", "password": "not the password"}, "")
	wantStatus(t, wrong, 401, "invalid_credentials")
	wantStatus(t, unknown, 401, "invalid_credentials")
	if wrong.Raw != unknown.Raw {
		t.Fatalf("login answers differ for unknown email (enumeration oracle):\n%s\n%s", wrong.Raw, unknown.Raw)
	}
	wantStatus(t, a.do(t, "POST", "/api/login", `{"email":1}`, ""), 422, "validation_failed")
}

func TestPosts(t *testing.T) {
	a := newTestApp(t, nil)
	_, alice := a.user(t, "alice@example.com", "alice's password")
	bobID, bob := a.user(t, "bob@example.com", "bob's password")

	t.Run("create needs a token", func(t *testing.T) {
		body := map[string]string{"title": "t", "body": "b"}
		r := a.do(t, "POST", "/api/posts", body, "")
		wantStatus(t, r, 401, "unauthorized")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 without WWW-Authenticate")
		}
		wantStatus(t, a.do(t, "POST", "/api/posts", body, "forged-token"), 401, "unauthorized")
		wantStatus(t, a.do(t, "POST", "/api/posts", body, strings.Repeat("A", 43)), 401, "unauthorized")
		wantStatus(t, a.do(t, "POST", "/api/posts", body, "", "Authorization", "Basic YTpi"), 401, "unauthorized")
	})

	t.Run("validation", func(t *testing.T) {
		for _, tc := range []struct {
			body  any
			field string
		}{
			{map[string]string{"title": "", "body": "b"}, "title"},
			{map[string]string{"title": "   ", "body": "b"}, "title"},
			{map[string]string{"title": strings.Repeat("x", 201), "body": "b"}, "title"},
			{map[string]string{"title": "two\nlines", "body": "b"}, "title"},
			{map[string]string{"title": "t", "body": strings.Repeat("x", 10001)}, "body"},
			{map[string]string{"title": "t"}, "body"},
			{`{"title": ["x"], "body": "b"}`, "title"},
		} {
			r := a.do(t, "POST", "/api/posts", tc.body, alice)
			wantStatus(t, r, 422, "validation_failed")
			if r.field(tc.field) == "" {
				t.Errorf("%v: no message for %s: %s", tc.body, tc.field, r.Raw)
			}
		}
	})

	id := a.post(t, alice, "First")
	r := a.do(t, "GET", fmt.Sprintf("/api/posts/%d", id), nil, "")
	wantStatus(t, r, 200, "")
	if r.Body["title"] != "First" || r.Body["body"] != "body of First" {
		t.Fatalf("post = %s", r.Raw)
	}

	t.Run("only the author edits", func(t *testing.T) {
		path := fmt.Sprintf("/api/posts/%d", id)
		upd := map[string]string{"title": "Changed", "body": "new body"}
		wantStatus(t, a.do(t, "PUT", path, upd, bob), 403, "forbidden")
		wantStatus(t, a.do(t, "DELETE", path, nil, bob), 403, "forbidden")
		wantStatus(t, a.do(t, "PUT", path, upd, ""), 401, "unauthorized")
		wantStatus(t, a.do(t, "DELETE", path, nil, ""), 401, "unauthorized")
		if got := a.do(t, "GET", path, nil, ""); got.Body["title"] != "First" {
			t.Fatalf("a refused edit changed the post: %s", got.Raw)
		}
		r := a.do(t, "PUT", path, upd, alice)
		wantStatus(t, r, 200, "")
		if r.Body["title"] != "Changed" {
			t.Fatalf("update answer = %s", r.Raw)
		}
		if got := a.do(t, "GET", path, nil, ""); got.Body["title"] != "Changed" {
			t.Fatalf("read after update = %s", got.Raw)
		}
		wantStatus(t, a.do(t, "DELETE", path, nil, alice), 204, "")
		wantStatus(t, a.do(t, "GET", path, nil, ""), 404, "not_found")
		wantStatus(t, a.do(t, "DELETE", path, nil, alice), 404, "not_found")
		wantStatus(t, a.do(t, "PUT", path, upd, alice), 404, "not_found")
	})

	t.Run("ids", func(t *testing.T) {
		for _, p := range []string{"/api/posts/abc", "/api/posts/0", "/api/posts/-1", "/api/posts/99999999999999999999"} {
			wantStatus(t, a.do(t, "GET", p, nil, ""), 400, "invalid_request")
		}
		wantStatus(t, a.do(t, "GET", "/api/posts/424242", nil, ""), 404, "not_found")
	})

	t.Run("pagination", func(t *testing.T) {
		for i := range 25 {
			a.post(t, bob, fmt.Sprintf("post %02d", i))
		}
		r := a.do(t, "GET", "/api/posts?page=3&per_page=10", nil, "")
		wantStatus(t, r, 200, "")
		posts := r.Body["posts"].([]any)
		if len(posts) != 5 || r.num("total") != 25 || r.num("page") != 3 || r.num("per_page") != 10 {
			t.Fatalf("page 3 = %d posts, total %d: %s", len(posts), r.num("total"), r.Raw)
		}
		first := a.do(t, "GET", "/api/posts", nil, "")
		if p := first.Body["posts"].([]any)[0].(map[string]any); p["title"] != "post 24" || int64(p["author_id"].(float64)) != bobID {
			t.Fatalf("newest first: got %v", p)
		}
		if n := len(first.Body["posts"].([]any)); n != 20 {
			t.Fatalf("default page size = %d, want 20", n)
		}
		empty := a.do(t, "GET", "/api/posts?page=99", nil, "")
		if empty.Raw == "" || !strings.Contains(empty.Raw, `"posts":[]`) {
			t.Fatalf("past the end = %s, want an empty list", empty.Raw)
		}
		for _, q := range []string{"page=0", "page=x", "per_page=0", "per_page=101", "per_page=1e3"} {
			r := a.do(t, "GET", "/api/posts?"+q, nil, "")
			wantStatus(t, r, 400, "invalid_request")
		}
	})
}

func TestRequestIDOnEveryResponse(t *testing.T) {
	a := newTestApp(t, nil)
	for _, p := range []string{"/api/posts", "/api/posts/1", "/livez", "/readyz", "/api/health", "/api/nope", "/api/config"} {
		r := a.do(t, "GET", p, nil, "", "X-Request-Id", "<script>alert(1)</script>")
		id := r.Header.Get("X-Request-Id")
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Errorf("%s: X-Request-Id = %q, want 32 hex digits", p, id)
		}
		if strings.Contains(fmt.Sprint(r.Header), "script") {
			t.Errorf("%s: inbound X-Request-Id was echoed", p)
		}
	}
}

func TestHealth(t *testing.T) {
	a := newTestApp(t, nil)
	r := a.do(t, "GET", "/api/health", nil, "")
	wantStatus(t, r, 200, "")
	if r.Raw != `{"status":"ok","checks":{"database":"ok","redis":"disabled"}}`+"\n" {
		t.Fatalf("health = %s", r.Raw)
	}
	wantStatus(t, a.do(t, "GET", "/livez", nil, ""), 200, "")
	wantStatus(t, a.do(t, "GET", "/readyz", nil, ""), 200, "")

	// Probes stay out of traces, and their access lines are debug only.
	for _, s := range a.tel.Spans.Ended() {
		if strings.Contains(s.Name(), "health") || strings.Contains(s.Name(), "z") {
			t.Errorf("probe traced: span %q", s.Name())
		}
	}
	for _, l := range a.tel.LinesWith(t, "http.request") {
		if r, _ := l["route"].(string); (r == "/api/health" || r == "/livez" || r == "/readyz") && l["level"] != "DEBUG" {
			t.Errorf("probe access line at %v: %v", l["level"], l)
		}
	}

	a.app.api.Drain()
	wantStatus(t, a.do(t, "GET", "/readyz", nil, ""), 503, "")
	wantStatus(t, a.do(t, "GET", "/livez", nil, ""), 200, "")
}

func TestFrontendConfig(t *testing.T) {
	a := newTestApp(t, map[string]string{
		"SENTRY_FRONTEND_DSN": "https://browserkey@o1.ingest.example.com/42",
		"SENTRY_ENVIRONMENT":  "production",
	})
	r := a.do(t, "GET", "/api/config", nil, "")
	wantStatus(t, r, 200, "")
	want := `{"sentry":{"dsn":"https://browserkey@o1.ingest.example.com/42","environment":"production","tracesSampleRate":0.1}}` + "\n"
	if r.Raw != want {
		t.Fatalf("config = %s, want %s", r.Raw, want)
	}
}
