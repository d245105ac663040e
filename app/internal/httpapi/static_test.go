package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"example.com/otelstarter/app/internal/httpapi"
)

const (
	indexHTML = `<!doctype html><title>blog</title><div id="root"></div>`
	appJS     = `console.log("app-abc123")`
	favicon   = "ICO-BYTES"
	// secret is the content of the files outside the served tree: no
	// response may contain it.
	secret = "TOP-SECRET-OUTSIDE-THE-FRONTEND"

	immutable = "public, max-age=31536000, immutable"
)

func frontendFS() fstest.MapFS {
	return fstest.MapFS{
		"index.html":           {Data: []byte(indexHTML)},
		"assets/app-abc123.js": {Data: []byte(appJS)},
		"favicon.ico":          {Data: []byte(favicon)},
	}
}

// frontendDir writes the same frontend to dir/dist on disk, with secret
// files next to it (dir/secret.txt, dir/go.mod), and returns dir/dist.
func frontendDir(tb testing.TB) string {
	tb.Helper()
	root := tb.TempDir()
	dist := filepath.Join(root, "dist")
	for name, f := range frontendFS() {
		p := filepath.Join(dist, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for _, name := range []string{"secret.txt", "go.mod"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(secret), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dist
}

// newStatic returns the Static handler over fsys.
func newStatic(tb testing.TB, fsys fs.FS) http.Handler {
	tb.Helper()
	h, err := httpapi.Static(fsys)
	if err != nil {
		tb.Fatalf("Static: %v", err)
	}
	return h
}

// serve runs h behind an httptest.Server for the test.
func serve(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   string
}

// get sends "GET target" to srv exactly as written (no client-side
// cleaning or re-encoding of the path) and returns the answer.
func get(tb testing.TB, srv *httptest.Server, target string) response {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET "+target+" HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// wantNotFoundJSON checks that r is the API's 404 error body.
func wantNotFoundJSON(tb testing.TB, r response) {
	tb.Helper()
	if r.status != http.StatusNotFound {
		tb.Errorf("status %d, want 404", r.status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("Content-Type %q, want application/json", ct)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		tb.Fatalf("404 body %q is not JSON: %v", r.body, err)
	}
	if body.Error.Code != "not_found" || body.Error.Message == "" {
		tb.Errorf("404 body %q, want code not_found and a message", r.body)
	}
}

func TestStatic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path        string
		status      int
		cache       string
		body        string // exact body; empty for the 404 JSON
		contentType string // prefix
	}{
		{"/", 200, "no-cache", indexHTML, "text/html"},
		{"/index.html", 200, "no-cache", indexHTML, "text/html"},
		{"/posts/5", 200, "no-cache", indexHTML, "text/html"},
		{"/posts/5?tab=comments", 200, "no-cache", indexHTML, "text/html"},
		{"/login", 200, "no-cache", indexHTML, "text/html"},
		{"/posts/5/edit/", 200, "no-cache", indexHTML, "text/html"},
		{"/assets", 200, "no-cache", indexHTML, "text/html"},  // a directory: no listing
		{"/assets/", 200, "no-cache", indexHTML, "text/html"}, // idem
		{"/assets/app-abc123.js", 200, immutable, appJS, "text/javascript"},
		{"//assets//app-abc123.js", 200, immutable, appJS, "text/javascript"},
		{"/favicon.ico", 200, "no-cache", favicon, ""},
		{"/assets/x.js", 404, "no-store", "", "application/json"},
		{"/assets/app-abc124.js", 404, "no-store", "", "application/json"},
		{"/missing.png", 404, "no-store", "", "application/json"},
		{"/posts/5/missing.css", 404, "no-store", "", "application/json"},
	}
	srv := serve(t, newStatic(t, frontendFS()))
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := get(t, srv, tt.path)
			if tt.status == http.StatusNotFound {
				wantNotFoundJSON(t, r)
			} else {
				if r.status != tt.status {
					t.Errorf("status %d, want %d", r.status, tt.status)
				}
				if r.body != tt.body {
					t.Errorf("body %q, want %q", r.body, tt.body)
				}
			}
			if got := r.header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("Content-Type %q, want %q…", ct, tt.contentType)
			}
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
}

func TestStaticIndexHeaders(t *testing.T) {
	t.Parallel()
	srv := serve(t, newStatic(t, frontendFS()))
	r := get(t, srv, "/posts/1")
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY",
		"Referrer-Policy": "strict-origin-when-cross-origin",
		"Content-Type":    "text/html; charset=utf-8",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// traversalTargets try to leave the served tree.
var traversalTargets = []string{
	"/../../etc/passwd",
	"/%2e%2e/%2e%2e/etc/passwd",
	"/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
	"/assets/..%2f..%2fgo.mod",
	"/assets/../../go.mod",
	"/../secret.txt",
	"/%2e%2e/secret.txt",
	"/..%2fsecret.txt",
	"/assets/%2e%2e/%2e%2e/secret.txt",
	"/..%5csecret.txt",
	"/assets/..%5c..%5csecret.txt",
	"/.%2e/.%2e/etc/passwd",
	"/..;/secret.txt",
}

// wantContained checks that the answer to a traversal attempt is a 404, a
// redirect inside the site or index.html, and never an outside file.
func wantContained(tb testing.TB, target string, r response) {
	tb.Helper()
	if strings.Contains(r.body, secret) || strings.Contains(r.body, "root:") {
		tb.Fatalf("GET %s: status %d served a file from outside the frontend: %q", target, r.status, r.body)
	}
	switch {
	case r.status == http.StatusOK && r.body == indexHTML:
	case r.status == http.StatusNotFound:
	case r.status == http.StatusBadRequest:
	case r.status >= 300 && r.status < 400 && !strings.Contains(r.header.Get("Location"), ".."):
	default:
		tb.Errorf("GET %s: status %d, Location %q, body %q; want 404, a redirect or index.html",
			target, r.status, r.header.Get("Location"), r.body)
	}
}

// TestStaticTraversal sends the traversal targets to the handler over a
// MapFS and over a real directory with secret files beside it.
func TestStaticTraversal(t *testing.T) {
	t.Parallel()
	handlers := []struct {
		name string
		h    http.Handler
	}{
		{"MapFS", newStatic(t, frontendFS())},
		{"DirFS", newStatic(t, os.DirFS(frontendDir(t)))},
	}
	for _, hh := range handlers {
		srv := serve(t, hh.h)
		for _, target := range traversalTargets {
			t.Run(hh.name+target, func(t *testing.T) {
				wantContained(t, target, get(t, srv, target))
			})
		}
	}
}

// newServer calls httpapi.New, turning a panic into an error.
func newServer(cfg httpapi.Config) (s *httpapi.Server, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("httpapi.New panicked: %v", p)
		}
	}()
	return httpapi.New(cfg)
}

// TestServerWithStatic mounts Static in the Server, as app/serve.go does
// whenever FRONTEND_DIR holds a built frontend.
func TestServerWithStatic(t *testing.T) {
	t.Parallel()
	s, err := newServer(httpapi.Config{Static: newStatic(t, os.DirFS(frontendDir(t)))})
	if err != nil {
		t.Fatal("BUG: server.go routes registers \"GET /\" for Static next to \"/api/\", which " +
			"net/http.ServeMux rejects as conflicting patterns, so New panics whenever a frontend is built: " + err.Error())
	}
	srv := serve(t, s)

	tests := []struct {
		method, path string
		status       int
		body         string // exact body, or "" to skip
		cache        string
	}{
		{"GET", "/", 200, indexHTML, "no-cache"},
		{"GET", "/posts/5", 200, indexHTML, "no-cache"},
		{"GET", "/assets/app-abc123.js", 200, appJS, immutable},
		{"GET", "/assets/x.js", 404, "", "no-store"},
		{"GET", "/api/nope", 404, "", "no-store"},
		{"POST", "/", 0, "", ""}, // not the SPA: any 4xx JSON
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if tt.status == 0 {
				if resp.StatusCode < 400 || resp.StatusCode >= 500 || string(b) == indexHTML {
					t.Errorf("%s %s = %d %q, want a 4xx error", tt.method, tt.path, resp.StatusCode, b)
				}
				return
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.body != "" && string(b) != tt.body {
				t.Errorf("body %q, want %q", b, tt.body)
			}
			if got := resp.Header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
		})
	}
	for _, target := range traversalTargets {
		t.Run("traversal"+target, func(t *testing.T) {
			wantContained(t, target, get(t, srv, target))
		})
	}
}

func TestStaticServesFromDisk(t *testing.T) {
	t.Parallel()
	srv := serve(t, newStatic(t, os.DirFS(frontendDir(t))))
	r := get(t, srv, "/assets/app-abc123.js")
	if r.status != http.StatusOK || r.body != appJS || r.header.Get("Cache-Control") != immutable {
		t.Errorf("GET /assets/app-abc123.js = %d %q (Cache-Control %q)", r.status, r.body, r.header.Get("Cache-Control"))
	}
}

func TestStaticWithoutIndex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fsys fs.FS
	}{
		{"empty MapFS", fstest.MapFS{}},
		{"assets only", fstest.MapFS{"assets/app-abc123.js": {Data: []byte(appJS)}}},
		{"index.html is a directory", fstest.MapFS{"index.html/x": {Data: []byte("x")}}},
		{"missing directory", os.DirFS(filepath.Join(t.TempDir(), "does-not-exist"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := httpapi.Static(tt.fsys)
			if err == nil {
				t.Fatal("Static without index.html: no error")
			}
			if h != nil {
				t.Error("Static returned a handler along with its error")
			}
			if !strings.Contains(err.Error(), "index.html") {
				t.Errorf("error %q does not name index.html", err)
			}
		})
	}
}
