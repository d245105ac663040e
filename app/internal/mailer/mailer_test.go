package mailer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/app/internal/mailer"
	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
	"example.com/otelstarter/telemetry/telemetrytest"
)

func TestConfigErrorsNameTheVariableAndNoPassword(t *testing.T) {
	const password = "s3cret-pa55"
	for _, c := range []struct{ url, from, variable string }{
		{"http://mail.example.com", "a@example.com", "SMTP_URL"},
		{"smtp://user:" + password + "@", "a@example.com", "SMTP_URL"},
		{"smtp://user:" + password + "@mail.example.com:99999", "a@example.com", "SMTP_URL"},
		{"smtp://user:" + password + "@mail.example.com/path", "a@example.com", "SMTP_URL"},
		{"smtp://user:" + password + "%zz@mail.example.com", "a@example.com", "SMTP_URL"},
		{"smtp://mail.example.com:587", "not an address", "SMTP_FROM"},
	} {
		_, err := mailer.New(mailer.Config{URL: c.url, From: c.from})
		var ce *mailer.ConfigError
		if !errors.As(err, &ce) || ce.Variable != c.variable {
			t.Errorf("New(%q, %q) = %v, want a ConfigError naming %s", c.url, c.from, err, c.variable)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("New(%q): the error quotes the password: %v", c.url, err)
		}
	}
	for _, ok := range []string{"smtp://localhost:1025", "smtp://u:p@mail.example.com", "smtps://mail.example.com"} {
		if _, err := mailer.New(mailer.Config{URL: ok, From: "Blog <no-reply@example.com>"}); err != nil {
			t.Errorf("New(%q) = %v, want nil", ok, err)
		}
	}
}

// TestSendThroughMailpit sends through a real SMTP server and reads the
// message back through its API; the client span names the server, never
// the recipient.
func TestSendThroughMailpit(t *testing.T) {
	tel := telemetrytest.New(t)
	mp := testproc.StartMailpit(t)
	// A host name: the kit masks IP addresses wherever they appear.
	_, port, _ := strings.Cut(mp.SMTP, ":")
	m, err := mailer.New(mailer.Config{URL: "smtp://localhost:" + port, From: "Blog <no-reply@blog.test>"})
	if err != nil {
		t.Fatal(err)
	}
	const to = "reader.5f1@example.org"
	if err := m.Send(context.Background(), mailer.Message{To: to, Subject: "Hello – ünïcode", Text: "Body line\n"}); err != nil {
		t.Fatal(err)
	}
	got := mp.WaitForMessageTo(t, to, 10*time.Second)
	if got.Subject != "Hello – ünïcode" || got.From.Address != "no-reply@blog.test" || !strings.Contains(got.Snippet, "Body line") {
		t.Errorf("Mailpit holds %+v", got)
	}

	spans := tel.Spans.Ended()
	if len(spans) != 1 || spans[0].Name() != "smtp send" || spans[0].SpanKind() != trace.SpanKindClient {
		t.Fatalf("spans = %v, want one client span smtp send", spans)
	}
	attrs := map[string]string{}
	for _, kv := range spans[0].Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["server.address"] != "localhost" || attrs["server.port"] != port {
		t.Errorf("span attributes %v, want server.address localhost and server.port %s", attrs, port)
	}
	if strings.Contains(tel.Dump(t), to) {
		t.Errorf("the recipient reached the telemetry:\n%s", tel.Dump(t))
	}
}

// TestFailureNamesNoRecipient: a server that cannot be talked to fails the
// span, and neither the error nor the span holds the recipient.
func TestFailureNamesNoRecipient(t *testing.T) {
	tel := telemetrytest.New(t)
	m, err := mailer.New(mailer.Config{URL: "smtp://" + testenv.HangUpAddr(t), From: "no-reply@blog.test", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const to = "nobody.here@example.org"
	err = m.Send(context.Background(), mailer.Message{To: to, Subject: "s", Text: "t"})
	if err == nil {
		t.Fatal("Send to a server that hangs up succeeded")
	}
	if strings.Contains(err.Error(), to) {
		t.Errorf("the error names the recipient: %v", err)
	}
	if mailer.Permanent(err) {
		t.Errorf("a dropped connection is permanent; it should be retried")
	}
	spans := tel.Spans.Ended()
	if len(spans) != 1 || spans[0].Status().Code != codes.Error {
		t.Fatalf("want one span with status error, got %v", spans)
	}
	if strings.Contains(tel.Dump(t), to) {
		t.Errorf("the recipient reached the telemetry")
	}
}

// TestRefusedRecipientIsPermanentAndUnnamed: a server that refuses the
// address for good (550, echoing it, as many do) gives a permanent error
// that names neither in its text nor in the span.
func TestRefusedRecipientIsPermanentAndUnnamed(t *testing.T) {
	tel := telemetrytest.New(t)
	mp := testproc.StartMailpit(t, "--smtp-allowed-recipients", "^allowed@")
	_, port, _ := strings.Cut(mp.SMTP, ":")
	m, err := mailer.New(mailer.Config{URL: "smtp://localhost:" + port, From: "no-reply@blog.test"})
	if err != nil {
		t.Fatal(err)
	}
	const to = "refused.person@example.org"
	err = m.Send(context.Background(), mailer.Message{To: to, Subject: "s", Text: "t"})
	if err == nil {
		t.Fatal("the server accepted a recipient it was told to refuse")
	}
	if !mailer.Permanent(err) {
		t.Errorf("Permanent(%v) = false, want true for a 5xx answer to RCPT TO", err)
	}
	if strings.Contains(err.Error(), to) || strings.Contains(tel.Dump(t), to) {
		t.Errorf("the refused recipient is named: %v", err)
	}
}
