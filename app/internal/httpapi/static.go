package httpapi

import (
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"example.com/otelstarter/app/internal/httpjson"
)

// Static serves a built single-page app from fsys: files as they are, with
// year-long immutable caching for the content-hashed files under assets/,
// and index.html (never cached) for client-side routes, that is, paths
// without a file extension. Missing files with an extension are 404 JSON,
// and so is every path with a segment that starts with a dot (.env, .git,
// Vite's .vite/manifest.json): they are build leftovers, never the app.
//
// The service passes the FS of an os.Root, so that no path, symlinks
// included, reaches outside the folder.
func Static(fsys fs.FS) (http.Handler, error) {
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		return nil, errors.New("frontend: index.html not found (build it with `make frontend`)")
	}
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		setSecurityHeaders(w.Header())
		if hasDotSegment(r.URL.Path) {
			httpjson.Error(w, notFoundError)
			return
		}
		if name == "" || name == "index.html" {
			serveIndex(w, index)
			return
		}
		if st, err := fs.Stat(fsys, name); err == nil && !st.IsDir() {
			if strings.HasPrefix(name, "assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
			files.ServeHTTP(w, r)
			return
		}
		if path.Ext(name) != "" {
			httpjson.Error(w, notFoundError)
			return
		}
		serveIndex(w, index)
	}), nil
}

// hasDotSegment reports whether a segment of the URL path starts with a
// dot, before cleaning ("/a/../.env" too).
func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// ContentSecurityPolicy is the UI's policy: everything from the app's own
// origin only. The browser Sentry SDK posts through the same-origin tunnel
// and the live feed's WebSocket is same-origin ('self' covers ws: and wss:
// to the page's host in CSP 3); Session Replay compresses in a worker that
// the SDK starts from a blob: URL.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// setSecurityHeaders sets the headers every response of the UI carries.
func setSecurityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

func serveIndex(w http.ResponseWriter, index []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(index)
}
