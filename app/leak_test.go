package main

import (
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoSecretsInAnySink runs a session with distinctive secrets, then
// searches every sink (JSON lines, OTel log records, spans, metric labels,
// Sentry events) for them.
func TestNoSecretsInAnySink(t *testing.T) {
	a := newTestApp(t, map[string]string{"LOG_LEVEL": "debug"})
	const (
		email    = "leaky.lou.7f3a@example.org"
		password = "Pa55-w0rd-QX7Z-leak"
		clientIP = "203.0.113.77"
	)
	ipHdr := []string{"X-Forwarded-For", clientIP, "X-Real-Ip", clientIP, "Cookie", "session=cookie-secret-9b1"}
	r := a.do(t, "POST", "/api/users", map[string]string{"email": email, "password": password}, "", ipHdr...)
	wantStatus(t, r, 201, "")
	l := a.do(t, "POST", "/api/login", map[string]string{"email": email, "password": password}, "", ipHdr...)
	wantStatus(t, l, 200, "")
	tok := l.Body["token"].(string)
	a.do(t, "POST", "/api/login", map[string]string{"email": email, "password": password + "-wrong"}, "", ipHdr...)
	a.do(t, "POST", "/api/users", map[string]string{"email": email, "password": password}, "", ipHdr...) // 409
	id := a.post(t, tok, "a post")
	a.do(t, "PUT", fmt.Sprintf("/api/posts/%d", id), map[string]string{"title": "t", "body": "b"}, tok, ipHdr...)
	a.do(t, "POST", "/api/posts", `{"title": "`+email+`"`, tok, ipHdr...) // malformed
	a.do(t, "GET", "/api/posts?page="+email, nil, tok, ipHdr...)

	// An unexpected failure with the secrets in flight: 500, logged and
	// sent to Sentry.
	if _, err := a.app.store.DB().ExecContext(context.Background(), "DROP TABLE sessions"); err != nil {
		t.Fatal(err)
	}
	r = a.do(t, "POST", "/api/posts", map[string]string{"title": email, "body": password}, tok, ipHdr...)
	wantStatus(t, r, 500, "internal")
	if len(a.tel.Sentry.Events()) == 0 {
		t.Fatal("the 500 reached no Sentry event: the leak search would prove nothing")
	}
	if len(a.tel.Logs.Records()) == 0 || len(a.tel.Spans.Ended()) == 0 {
		t.Fatal("no OTel log records or spans captured: the leak search would prove nothing")
	}

	dump := a.tel.Dump(t)
	for name, secret := range map[string]string{
		"email": email, "email local part": "leaky.lou", "password": password, "token": tok,
		"token prefix": tok[:12], "client IP": clientIP, "cookie": "cookie-secret-9b1",
	} {
		if strings.Contains(dump, secret) {
			i := strings.Index(dump, secret)
			t.Errorf("%s found in a sink: …%s…", name, dump[max(0, i-200):min(len(dump), i+100)])
		}
	}
	// The same dump does carry what it should: IDs and the trace.
	if !strings.Contains(dump, `"user_id":`) || !strings.Contains(dump, r.Header.Get("X-Request-Id")) {
		t.Fatal("sinks lack user_id or the request's trace ID: the capture is broken")
	}
}

// TestOnlyTelemetryImportsTheSDK keeps application code on the OTel API.
func TestOnlyTelemetryImportsTheSDK(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "go.opentelemetry.io/otel/sdk") || strings.HasPrefix(p, "go.opentelemetry.io/otel/exporters") {
				t.Errorf("%s imports %s: only package telemetry may use the SDK", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBinaryHoldsNoTestToolkit keeps the kit's test and load tooling (the
// load generator, the demo traffic, the test process helpers, the in-memory
// capture) and the testing package out of the service's binary. (The SDK's
// tracetest comes in with the console exporter, which uses its SpanStub.)
func TestBinaryHoldsNoTestToolkit(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed %d packages: the check would prove nothing", len(deps))
	}
	for _, p := range deps {
		switch {
		case p == "testing", strings.HasPrefix(p, "testing/"),
			strings.HasPrefix(p, "example.com/otelstarter/internal/"),
			strings.HasSuffix(p, "/telemetrytest"):
			t.Errorf("the app's binary links %s", p)
		}
	}
}
