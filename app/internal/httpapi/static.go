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
// without a file extension. Missing files with an extension are 404 JSON.
func Static(fsys fs.FS) (http.Handler, error) {
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		return nil, errors.New("frontend: index.html not found (build it with `make frontend`)")
	}
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if name == "" || name == "index.html" {
			serveIndex(w, index)
			return
		}
		if st, err := fs.Stat(fsys, name); err == nil && !st.IsDir() {
			if strings.HasPrefix(name, "assets/") {
				h.Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				h.Set("Cache-Control", "no-cache")
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

func serveIndex(w http.ResponseWriter, index []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(index)
}
