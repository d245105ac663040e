package leaktest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/golang/snappy"
)

// received is one request a fake server recorded, its body decoded.
type received struct {
	Path string
	Body []byte
}

// recorder is an HTTP server that records every request body.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
	errs []error
}

// newRecorder records bodies, decoding Content-Encoding gzip or snappy,
// and answers with status and body.
func newRecorder(tb testing.TB, status int, answer string) *recorder {
	tb.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err == nil {
			body, err = decodeBody(r.Header.Get("Content-Encoding"), body)
		}
		rec.mu.Lock()
		if err != nil {
			rec.errs = append(rec.errs, fmt.Errorf("%s: %w", r.URL.Path, err))
		} else {
			rec.reqs = append(rec.reqs, received{Path: r.URL.Path, Body: body})
		}
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	tb.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) requests() ([]received, []error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]received(nil), rec.reqs...), append([]error(nil), rec.errs...)
}

func decodeBody(encoding string, b []byte) ([]byte, error) {
	switch strings.ToLower(encoding) {
	case "", "identity":
		return b, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case "snappy":
		// Prometheus remote write: the block format, not the framed stream.
		return snappy.Decode(nil, b)
	}
	return nil, fmt.Errorf("unsupported Content-Encoding %q", encoding)
}

// count reports how often secret occurs in s.
func count(s, secret string) int { return strings.Count(s, secret) }

// context around the first occurrence, for failure messages.
func around(s, secret string) string {
	i := strings.Index(s, secret)
	if i < 0 {
		return ""
	}
	return s[max(0, i-300):min(len(s), i+len(secret)+150)]
}
