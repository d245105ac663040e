package leaktest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
)

// The programs the leak tests run, through the shared helpers.
var (
	repoPath = testproc.RepoPath
	otelcol  = testproc.Otelcol
	freeAddr = testenv.FreeAddr
	start    = testproc.Start
	waitFor  = testproc.WaitFor
	httpOK   = testproc.HTTPOK
)

var buildApp = testproc.BuildApp

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
		return snappyDecode(b)
	}
	return nil, fmt.Errorf("unsupported Content-Encoding %q", encoding)
}

// snappyDecode decodes the snappy block format that Prometheus remote
// write uses (https://github.com/google/snappy/blob/main/format_description.txt).
// Hand-written so the test needs no module outside go.mod; the test proves
// it right by finding known metric names in what it decodes.
func snappyDecode(src []byte) ([]byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > 256<<20 {
		return nil, errors.New("snappy: bad length header")
	}
	src = src[k:]
	dst := make([]byte, 0, n)
	errCorrupt := errors.New("snappy: corrupt input")
	for len(src) > 0 {
		tag := src[0]
		var length, offset int
		switch tag & 3 {
		case 0: // literal
			l := int(tag >> 2)
			src = src[1:]
			if l >= 60 {
				nb := l - 59
				if len(src) < nb {
					return nil, errCorrupt
				}
				l = 0
				for i := range nb {
					l |= int(src[i]) << (8 * i)
				}
				src = src[nb:]
			}
			l++
			if l <= 0 || len(src) < l {
				return nil, errCorrupt
			}
			dst = append(dst, src[:l]...)
			src = src[l:]
			continue
		case 1: // copy, 1-byte offset
			if len(src) < 2 {
				return nil, errCorrupt
			}
			length = 4 + (int(tag>>2) & 7)
			offset = int(tag>>5)<<8 | int(src[1])
			src = src[2:]
		case 2: // copy, 2-byte offset
			if len(src) < 3 {
				return nil, errCorrupt
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint16(src[1:3]))
			src = src[3:]
		case 3: // copy, 4-byte offset
			if len(src) < 5 {
				return nil, errCorrupt
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint32(src[1:5]))
			src = src[5:]
		}
		if offset <= 0 || offset > len(dst) {
			return nil, errCorrupt
		}
		for range length {
			dst = append(dst, dst[len(dst)-offset])
		}
	}
	if uint64(len(dst)) != n {
		return nil, errCorrupt
	}
	return dst, nil
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
