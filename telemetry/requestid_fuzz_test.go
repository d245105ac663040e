package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/telemetry"
)

// lastSpan keeps only the most recently ended span: a fuzz worker runs
// millions of requests, and a tracetest.SpanRecorder would keep them all.
type lastSpan struct {
	mu   sync.Mutex
	span sdktrace.ReadOnlySpan
}

func (p *lastSpan) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (p *lastSpan) OnEnd(s sdktrace.ReadOnlySpan) {
	p.mu.Lock()
	p.span = s
	p.mu.Unlock()
}
func (p *lastSpan) Shutdown(context.Context) error   { return nil }
func (p *lastSpan) ForceFlush(context.Context) error { return nil }

func (p *lastSpan) take() sdktrace.ReadOnlySpan {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.span
	p.span = nil
	return s
}

// FuzzRequestIDAndTraceHeaders sends arbitrary X-Request-Id, traceparent,
// tracestate and baggage values through Telemetry.Middleware and checks:
// nothing panics; the response's X-Request-Id is always 32 lowercase hex
// digits, the request's trace ID (the caller's when traceparent is valid,
// else a fresh one), never an echo of the inbound X-Request-Id; and the
// inbound value lands on the span (http.request.header.x-request-id) only
// when ValidRequestID accepts it. Seeds live in
// testdata/fuzz/FuzzRequestIDAndTraceHeaders; run with
// go test -run '^$' -fuzz FuzzRequestIDAndTraceHeaders ./telemetry/.
func FuzzRequestIDAndTraceHeaders(f *testing.F) {
	for _, s := range [][4]string{
		{"", "", "", ""},
		{"abc-123", "", "", ""},
		{"4bf92f3577b34da6a3ce929d0e0e4736", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=00f067aa0ba902b7", "userId=alice"},
		{"4bf92f3577b34da6a3ce929d0e0e4736", "", "", ""},
		{"alice@example.com", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "", ""},
		{"<script>alert(1)</script>", "00-00000000000000000000000000000000-0000000000000000-01", "", ""},
		{"x\r\nSet-Cookie: a=b", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a=b,,,c", "k=%zz"},
		{strings.Repeat("a", 65), "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", strings.Repeat("k=v,", 40), strings.Repeat("k=v,", 200)},
		{strings.Repeat("a", 64), "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "", "a=b;prop"},
		{"\x00\xff", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09", "\x00", "\xff=\xfe"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}

	rec := &lastSpan{}
	tel, err := telemetry.Setup(context.Background(),
		telemetry.WithoutGlobals(),
		telemetry.WithLogWriter(io.Discard),
		telemetry.WithSpanProcessor(rec),
	)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/posts/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	h := tel.Middleware(mux)
	tc := propagation.TraceContext{}

	f.Fuzz(func(t *testing.T, requestID, traceparent, tracestate, baggage string) {
		req := httptest.NewRequest(http.MethodGet, "/api/posts/1", nil)
		// Set the map directly: header values a client library would refuse
		// (CR, LF, NUL) still reach handlers behind some proxies.
		for k, v := range map[string]string{
			"X-Request-Id": requestID, "Traceparent": traceparent, "Tracestate": tracestate, "Baggage": baggage,
		} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		parent := trace.SpanContextFromContext(tc.Extract(context.Background(), propagation.HeaderCarrier(req.Header)))

		rec.take()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		got := w.Header().Values(telemetry.RequestIDHeader)
		if len(got) != 1 {
			t.Fatalf("X-Request-Id answered %d times: %q", len(got), got)
		}
		id := got[0]
		tid, err := trace.TraceIDFromHex(id)
		if err != nil || !tid.IsValid() || !isLowerHex32(id) {
			t.Fatalf("X-Request-Id = %q, want 32 lowercase hex digits of a valid trace ID", id)
		}
		propagated := parent.IsValid() && parent.TraceID() == tid
		if parent.IsValid() && !propagated {
			t.Errorf("valid traceparent %q not continued: X-Request-Id = %s", traceparent, id)
		}
		if requestID != "" && !propagated {
			if id == requestID {
				t.Errorf("the inbound X-Request-Id %q was echoed", requestID)
			}
			// A short value can occur in a random ID by chance.
			for name, values := range w.Header() {
				for _, v := range values {
					if len(requestID) >= 8 && strings.Contains(v, requestID) {
						t.Errorf("response header %s: %q contains the inbound X-Request-Id %q", name, v, requestID)
					}
				}
			}
		}

		s := rec.take()
		if s == nil {
			if !parent.IsValid() || parent.IsSampled() {
				t.Fatalf("no span ended (traceparent %q)", traceparent)
			}
			return // the caller's sampling decision: not recorded
		}
		if s.SpanContext().TraceID() != tid {
			t.Errorf("span trace %s, X-Request-Id %s", s.SpanContext().TraceID(), id)
		}
		var attr string
		var has bool
		for _, kv := range s.Attributes() {
			if kv.Key == "http.request.header.x-request-id" {
				attr, has = kv.Value.AsString(), true
			}
		}
		switch valid := telemetry.ValidRequestID(requestID); {
		case has && !valid:
			t.Errorf("invalid X-Request-Id %q kept on the span as %q", requestID, attr)
		case has && attr != requestID:
			t.Errorf("span x-request-id = %q, want the inbound %q", attr, requestID)
		case !has && valid:
			t.Errorf("valid X-Request-Id %q not kept on the span", requestID)
		}
	})
}

func isLowerHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
