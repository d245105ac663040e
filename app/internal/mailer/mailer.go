// Package mailer sends email over SMTP (github.com/wneessen/go-mail builds
// the message and speaks the protocol), one client span per message.
//
// The recipient's address is personal data: it is in the message and
// nowhere else. Spans carry the server's address and port, and errors have
// the address replaced, so that neither a log line, a span, a Sentry event
// nor the job's stored error holds it.
package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Config is the SMTP server and the sender.
type Config struct {
	// URL is SMTP_URL: smtp://[user[:password]@]host[:port] (port 25 by
	// default; STARTTLS when the server offers it) or smtps://… for TLS
	// from the first byte (port 465 by default).
	URL string
	// From is SMTP_FROM, an RFC 5322 address such as
	// "Blog <no-reply@example.com>".
	From string
	// Timeout bounds connecting and each SMTP command; 10s when zero.
	Timeout time.Duration
}

// Message is one plain-text email.
type Message struct {
	To      string
	Subject string
	Text    string
}

// Mailer sends messages to one SMTP server. It is safe for concurrent use:
// each message has its own connection.
type Mailer struct {
	host     string
	port     int
	implicit bool // smtps://
	user     string
	password string
	from     string
	timeout  time.Duration
}

// ConfigError is a SMTP_URL or SMTP_FROM that New refuses. It names the
// variable and never quotes a password.
type ConfigError struct {
	Variable string
	Reason   string
}

func (e *ConfigError) Error() string { return "mailer: " + e.Variable + ": " + e.Reason }

// New checks cfg and returns a Mailer; it does not connect.
func New(cfg Config) (*Mailer, error) {
	m := &Mailer{timeout: cfg.Timeout}
	if m.timeout <= 0 {
		m.timeout = 10 * time.Second
	}
	if err := m.parseURL(cfg.URL); err != nil {
		return nil, err
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, &ConfigError{Variable: "SMTP_FROM", Reason: "not an email address (want Name <user@example.com> or user@example.com)"}
	}
	m.from = from.String()
	return m, nil
}

const urlForms = "want smtp://host:port, smtp://user:password@host:port or smtps://…"

func (m *Mailer) parseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password included.
		return &ConfigError{Variable: "SMTP_URL", Reason: "not a valid URL; percent-encode special characters in the password; " + urlForms}
	}
	defaultPort := 25
	switch u.Scheme {
	case "smtp":
	case "smtps":
		m.implicit, defaultPort = true, 465
	default:
		return &ConfigError{Variable: "SMTP_URL", Reason: fmt.Sprintf("scheme %q is not supported; %s", u.Scheme, urlForms)}
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return &ConfigError{Variable: "SMTP_URL", Reason: "needs a host and nothing after it; " + urlForms}
	}
	m.host, m.port = u.Hostname(), defaultPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return &ConfigError{Variable: "SMTP_URL", Reason: "invalid port; " + urlForms}
		}
		m.port = n
	}
	if u.User != nil {
		m.user = u.User.Username()
		m.password, _ = u.User.Password()
	}
	return nil
}

// Address is the server's host and port, for logs.
func (m *Mailer) Address() string { return net.JoinHostPort(m.host, strconv.Itoa(m.port)) }

const scope = "example.com/otelstarter/app/internal/mailer"

// Send delivers msg within ctx, in a client span "smtp send". An address the
// server refuses for good gives an error for which [Permanent] is true.
func (m *Mailer) Send(ctx context.Context, msg Message) (err error) {
	ctx, span := otel.Tracer(scope).Start(ctx, "smtp send",
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("server.address", m.host),
			attribute.Int("server.port", m.port),
			attribute.String("network.protocol.name", "smtp"),
			// The name of the node in Tempo's service graph.
			attribute.String("peer.service", "smtp"),
		))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()

	if err := m.send(ctx, msg); err != nil {
		return &sendError{
			msg: fmt.Sprintf("mailer: send through %s: %s", m.Address(),
				strings.ReplaceAll(err.Error(), msg.To, "[recipient]")),
			err: err,
		}
	}
	return nil
}

func (m *Mailer) send(ctx context.Context, msg Message) error {
	gm := gomail.NewMsg()
	if err := gm.From(m.from); err != nil {
		return err
	}
	if err := gm.To(msg.To); err != nil {
		return errors.New("invalid recipient address")
	}
	gm.Subject(msg.Subject)
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)

	opts := []gomail.Option{
		gomail.WithPort(m.port),
		gomail.WithTimeout(m.timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}),
	}
	if m.implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		// STARTTLS when the server offers it, plain SMTP otherwise (a
		// local relay, Mailpit). go-mail then refuses to send a password
		// in the clear to anything but localhost.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if m.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(m.user), gomail.WithPassword(m.password))
	}
	client, err := gomail.NewClient(m.host, opts...)
	if err != nil {
		return err
	}
	return client.DialAndSendWithContext(ctx, gm)
}

// sendError is a failed delivery whose text holds no recipient address; the
// library's error, which may, stays reachable with errors.As.
type sendError struct {
	msg string
	err error
}

func (e *sendError) Error() string { return e.msg }
func (e *sendError) Unwrap() error { return e.err }

// Permanent reports whether err is the server refusing the recipient for
// good (a 5xx answer to RCPT TO): sending again will not help.
func Permanent(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp()
}
