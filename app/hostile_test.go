package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestHostileInput sends a corpus of hostile requests through the whole
// stack: every one gets a 4xx JSON error, none a 5xx, and nothing is stored
// that should not be.
func TestHostileInput(t *testing.T) {
	a := newTestApp(t, map[string]string{"RATE_LIMIT_LOGIN": "0"})
	_, tok := a.user(t, "owner@example.com", "owner password")
	_, other := a.user(t, "other@example.com", "other password")
	id := a.post(t, tok, "target")
	post := fmt.Sprintf("/api/posts/%d", id)

	payloads := []string{
		`' OR '1'='1`, `1; DROP TABLE posts; --`, `<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`,
		"\x00", "\xff\xfe\xfd", "../../etc/passwd", "${jndi:ldap://x}", "{{7*7}}", strings.Repeat("A", 100000),
		"\u202e\u0000", "%00", "\r\nSet-Cookie: a=b",
	}
	type req struct {
		method, path string
		body         any
		token        string
		hdr          []string
	}
	var corpus []req
	for _, p := range payloads {
		corpus = append(corpus,
			req{"POST", "/api/users", map[string]string{"email": p, "password": p}, "", nil},
			req{"POST", "/api/login", map[string]string{"email": p, "password": p}, "", nil},
			req{"POST", "/api/posts", map[string]any{"title": p, "body": 5}, tok, nil},
			req{"PUT", post, map[string]any{"title": []string{p}, "body": p}, tok, nil},
			req{"GET", "/api/posts/" + urlEscape(p), nil, "", nil},
			req{"GET", "/api/posts?page=" + urlEscape(p) + "&per_page=" + urlEscape(p), nil, "", nil},
			req{"POST", "/api/posts", map[string]string{"title": "ok", "body": "ok"}, urlEscapeToken(p), nil},
			req{"GET", "/api/posts", nil, "", []string{"traceparent", "00-" + hexish(p) + "-01", "baggage", urlEscapeToken(p), "X-Request-Id", urlEscapeToken(p)}},
			req{"POST", "/api/sentry-tunnel", p, "", nil},
		)
	}
	corpus = append(corpus,
		req{"POST", "/api/posts", `{"title":"a","body":"b"`, tok, nil},
		req{"POST", "/api/posts", `{"title":"a","body":"b","author_id":2}`, tok, nil},
		req{"POST", "/api/posts", `null`, tok, nil},
		req{"POST", "/api/posts", `"string"`, tok, nil},
		req{"POST", "/api/posts", `{"title":"\ud800","body":"x"}`, tok, nil},
		req{"PUT", post, map[string]string{"title": "stolen", "body": "stolen"}, other, nil},
		req{"DELETE", post, nil, other, nil},
		req{"DELETE", post, nil, "eyJhbGciOiJub25lIn0.eyJzdWIiOjF9.", nil},
		req{"TRACE", "/api/posts", nil, "", nil},
		req{"GET", "/api/posts", nil, "", []string{"traceparent", "ff-00000000000000000000000000000000-0000000000000000-01"}},
		req{"GET", "/api/posts", nil, "", []string{"traceparent", strings.Repeat("0", 5000)}},
		req{"GET", "/assets/../../../../etc/passwd", nil, "", nil},
		req{"GET", "/%2e%2e/%2e%2e/etc/passwd", nil, "", nil},
	)

	for i, c := range corpus {
		r := a.do(t, c.method, c.path, c.body, c.token, c.hdr...)
		if r.Status >= 500 || (r.Status >= 400 && r.errCode() == "") {
			t.Errorf("#%d %s %.60q: %d %.200s", i, c.method, c.path, r.Status, r.Raw)
		}
		if strings.Contains(r.Raw, "root:x:0:0") {
			t.Fatalf("#%d served a file outside the frontend", i)
		}
	}
	t.Logf("%d hostile requests, all answered 4xx JSON (or 2xx where the input is harmless)", len(corpus))

	// Nothing stored that should not be: the post is untouched and still
	// belongs to its author; no user was created from a payload.
	r := a.do(t, "GET", post, nil, "")
	if r.Body["title"] != "target" {
		t.Fatalf("post changed by hostile input: %s", r.Raw)
	}
	list := a.do(t, "GET", "/api/posts?per_page=100", nil, "")
	if n := list.num("total"); n != 1 {
		t.Fatalf("%d posts stored, want 1: %s", n, list.Raw)
	}
	var users int
	if err := a.app.store.DB().QueryRow("SELECT COUNT(*) FROM users").Scan(&users); err != nil || users != 2 {
		t.Fatalf("users = %d (%v), want 2", users, err)
	}
	_ = http.StatusOK
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && i < 3000; i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

// urlEscapeToken makes a header-safe token out of a payload.
func urlEscapeToken(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return 'x'
		}
		return r
	}, s)
	if len(s) > 4000 {
		s = s[:4000]
	}
	return s
}

func hexish(s string) string { return urlEscapeToken(s) }
