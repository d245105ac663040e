package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TestTransportJoinsTheCallersTrace: a call made through Transport inside
// a request is a client span under the request's server span, the called
// service receives the same trace in traceparent, and secrets in the URL
// reach no exported span.
func TestTransportJoinsTheCallersTrace(t *testing.T) {
	h := newHarness(t)
	var gotTraceparent string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotTraceparent = r.Header.Get("traceparent")
		io.WriteString(w, "ok")
	}))
	defer upstream.Close()
	client := &http.Client{Transport: h.tel.Transport(nil)}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/proxy", func(w http.ResponseWriter, r *http.Request) {
		target := strings.Replace(upstream.URL, "http://", "http://user:hunter2@", 1) + "/v1/things?token=s3cr3t-t0ken&page=2"
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target, nil)
		if err != nil {
			t.Error(err)
			return
		}
		res, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		res.Body.Close()
		w.WriteHeader(res.StatusCode)
	})
	w := serve(t, h.tel.Middleware(mux), httptest.NewRequest(http.MethodGet, "/api/proxy", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}

	var server, client0 trace.SpanContext
	var clientSpan, serverParent trace.SpanContext
	for _, s := range h.spans.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindServer:
			server = s.SpanContext()
		case trace.SpanKindClient:
			client0, serverParent = s.SpanContext(), s.Parent()
			clientSpan = s.SpanContext()
			for _, kv := range s.Attributes() {
				if v := kv.Value.String(); strings.Contains(v, "hunter2") || strings.Contains(v, "s3cr3t-t0ken") {
					t.Errorf("client span attribute %s = %q holds a secret of the URL", kv.Key, v)
				}
			}
			if v, ok := spanAttr(t, s.Attributes(), semconv.HTTPResponseStatusCodeKey); !ok || v.AsInt64() != 200 {
				t.Errorf("client span status code %v (present %v), want 200", v.String(), ok)
			}
		}
	}
	if !server.IsValid() || !client0.IsValid() {
		t.Fatalf("want a server and a client span, got %d spans", len(h.spans.Ended()))
	}
	if serverParent.SpanID() != server.SpanID() || clientSpan.TraceID() != server.TraceID() {
		t.Errorf("client span %s (parent %s) is not under the server span %s", clientSpan.SpanID(), serverParent.SpanID(), server.SpanID())
	}
	if !strings.Contains(gotTraceparent, server.TraceID().String()) || !strings.Contains(gotTraceparent, clientSpan.SpanID().String()) {
		t.Errorf("the called service got traceparent %q, want trace %s from span %s", gotTraceparent, server.TraceID(), clientSpan.SpanID())
	}
}

// TestTransportWithoutARequestContext: a call made outside any span is a
// root client span, and the transport still works.
func TestTransportWithoutARequestContext(t *testing.T) {
	h := newHarness(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, upstream.URL, strings.NewReader("x"))
	res, err := (&http.Client{Transport: h.tel.Transport(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	s := h.onlySpan(t)
	if s.SpanKind() != trace.SpanKindClient || s.Parent().IsValid() {
		t.Errorf("span kind %v parent %v, want a root client span", s.SpanKind(), s.Parent())
	}
}
