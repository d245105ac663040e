package telemetry

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// responseWriter is the one writer wrapper of the kit's layer: it counts
// what the access line reports (status and body bytes) and tells the panic
// recovery whether a response has started. Status codes follow otelhttp's
// wrapper, so the access line agrees with the span and the metrics:
// informational codes other than 101 are not the response's status.
//
// Flush and Hijack go through [http.ResponseController], which also
// reaches writers that expose them only through Unwrap; Unwrap lets
// handlers' own ResponseControllers (deadlines, full duplex) do the same.
type responseWriter struct {
	http.ResponseWriter
	status  int // 0 until a final status is written
	written int64
}

var (
	_ http.Flusher  = (*responseWriter)(nil)
	_ http.Hijacker = (*responseWriter)(nil)
	_ io.ReaderFrom = (*responseWriter)(nil)
)

// WriteHeader implements [http.ResponseWriter].
func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements [http.ResponseWriter].
func (w *responseWriter) Write(p []byte) (int, error) {
	w.started()
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy to the response on the underlying writer's fast
// path (sendfile for a file on a plain connection).
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.started()
	n, err := io.Copy(w.ResponseWriter, src)
	w.written += n
	return n, err
}

// Flush implements [http.Flusher]; it writes the header first, as net/http
// does.
func (w *responseWriter) Flush() {
	w.started()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements [http.Hijacker], for WebSocket upgrades.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped writer, for [http.ResponseController].
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// started records the implicit 200 of a body written before any status.
func (w *responseWriter) started() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
}
