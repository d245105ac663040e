package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStaticStaysInsideFrontendDir: the UI is served from FRONTEND_DIR and
// nothing else: no dot-path (dotfiles, .vite's manifest, hidden files in
// assets/), and no symlink that leads out of the folder, to a file or a
// folder. A symlink within the folder still works.
func TestStaticStaysInsideFrontendDir(t *testing.T) {
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("outside secret"), 0o600))
	dir := t.TempDir()
	for name, body := range map[string]string{
		"index.html":          "<!doctype html><title>ui</title>",
		"assets/app.js":       "console.log('app')",
		".env":                "SECRET=dotfile secret",
		".vite/manifest.json": `{"secret":"manifest secret"}`,
		"assets/.hidden.js":   "hidden secret",
	} {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
	must(t, os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "leak.txt")))
	must(t, os.Symlink(outside, filepath.Join(dir, "leakdir")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "assets", "passwd.txt")))
	must(t, os.Symlink("app.js", filepath.Join(dir, "assets", "alias.js")))

	a := newTestApp(t, map[string]string{"FRONTEND_DIR": dir})
	for _, p := range []string{
		"/.env", "/.vite/manifest.json", "/assets/.hidden.js", "/.vite/", "/.git/config", "/assets/%2ehidden.js",
		"/leak.txt", "/leakdir/secret.txt", "/assets/passwd.txt",
	} {
		r := a.do(t, "GET", p, nil, "")
		if r.Status != 404 || r.errCode() != "not_found" {
			t.Errorf("GET %s = %d %q, want 404 not_found JSON", p, r.Status, r.Raw)
		}
		if strings.Contains(r.Raw, "secret") || strings.Contains(r.Raw, "root:") {
			t.Errorf("GET %s served what is not the app: %q", p, r.Raw)
		}
	}
	if r := a.do(t, "GET", "/assets/alias.js", nil, ""); r.Status != 200 || r.Raw != "console.log('app')" {
		t.Errorf("a symlink within the folder = %d %q, want the file", r.Status, r.Raw)
	}
	r := a.do(t, "GET", "/some/client/route", nil, "")
	if r.Status != 200 || !strings.Contains(r.Raw, "<title>ui</title>") {
		t.Fatalf("client route = %d %q, want index.html", r.Status, r.Raw)
	}
	for name, want := range map[string]string{
		"Content-Security-Policy":    "default-src 'self'",
		"Permissions-Policy":         "camera=()",
		"Cross-Origin-Opener-Policy": "same-origin",
		"X-Frame-Options":            "DENY",
		"X-Content-Type-Options":     "nosniff",
	} {
		if got := r.Header.Get(name); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", name, got, want)
		}
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// TestPublicListenerHasNoAdminPaths: /metrics and /debug/pprof/ live on the
// admin listener only. On the public one they are 404 JSON, also when the
// UI is built and its SPA fallback answers every other path with
// index.html; and every path that no route matches, these and unknown API
// paths alike, is labelled unmatched in the access log, never by the
// catch-all pattern that turned it into JSON.
func TestPublicListenerHasNoAdminPaths(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>ui</title>"), 0o600))
	a := newTestApp(t, map[string]string{"FRONTEND_DIR": dir})
	paths := []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline", "/debug/vars", "/api/nope", "/api/posts/1/nope"}
	for _, p := range paths {
		for _, method := range []string{"GET", "HEAD", "POST"} {
			r := a.do(t, method, p, nil, "")
			if r.Status != 404 || strings.Contains(r.Raw, "<title>") {
				t.Errorf("%s %s = %d %q, want 404 JSON", method, p, r.Status, r.Raw)
			}
			if method != "HEAD" && r.errCode() != "not_found" {
				t.Errorf("%s %s: error code %q, want not_found", method, p, r.errCode())
			}
		}
	}
	if r := a.do(t, "GET", "/metrics/", nil, ""); r.Status != 200 || !strings.Contains(r.Raw, "<title>ui</title>") {
		t.Errorf("GET /metrics/ (a client route, not the admin path) = %d %q, want index.html", r.Status, r.Raw)
	}
	lines := a.tel.LinesWith(t, "http.request")
	if len(lines) != len(paths)*3+1 {
		t.Fatalf("%d access lines, want %d", len(lines), len(paths)*3+1)
	}
	for _, l := range lines[:len(paths)*3] {
		if l["route"] != "unmatched" {
			t.Errorf("access line %v: route %v, want unmatched", l, l["route"])
		}
	}
	if got := lines[len(lines)-1]["route"]; got != "/" {
		t.Errorf("the UI's route = %v, want /", got)
	}
}
