package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"

	"github.com/getsentry/sentry-go"
	sentryotel "github.com/getsentry/sentry-go/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

func (t *Telemetry) setupSentry() error {
	sc := t.cfg.sentry
	if sc == nil {
		return nil
	}
	if sc.SampleRate == 0 {
		sc.SampleRate = 1
	}
	if sc.Environment == "" {
		sc.Environment = "development"
	}
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:              sc.DSN,
		Environment:      sc.Environment,
		Release:          sc.Release,
		SampleRate:       sc.SampleRate,
		AttachStacktrace: true,
		// SendDefaultPII (deprecated) stays false and DataCollection unset:
		// no request bodies, cookies, headers or user IPs are collected.
		// Tracing stays with OpenTelemetry; the integration links each
		// event to the active OTel span of the context it is captured with.
		EnableTracing: false,
		Integrations: func(in []sentry.Integration) []sentry.Integration {
			return append(in, sentryotel.NewOtelIntegration())
		},
		BeforeSend: func(e *sentry.Event, _ *sentry.EventHint) *sentry.Event { return ScrubEvent(e) },
		Transport:  sc.Transport,
	})
	if err != nil {
		// The DSN holds a key: name the variable, not the value.
		return &ConfigError{Var: "SENTRY_DSN", Value: "…", Reason: "not a valid Sentry DSN"}
	}
	t.sentry = client
	if !t.cfg.noGlobals {
		sentry.CurrentHub().BindClient(client)
	}
	t.shutdowns = append(t.shutdowns, func(ctx context.Context) error {
		flushed := client.FlushWithContext(ctx)
		client.Close() // stops the transport's worker goroutine
		if !flushed {
			return errors.New("sentry: events not sent before the shutdown deadline")
		}
		return nil
	})
	return nil
}

// CaptureError records err on the span of ctx (status Error) and, when
// Sentry is configured, sends it as an event that carries the span's trace
// and span IDs. It returns the Sentry event ID, or "" when nothing was sent.
func (t *Telemetry) CaptureError(ctx context.Context, err error) string {
	if err == nil {
		return ""
	}
	span := trace.SpanFromContext(ctx)
	// Both are masked as the span ends (maskSpan).
	recordException(span, err, nil)
	span.SetStatus(codes.Error, err.Error())
	if id := t.sendToSentry(ctx, err); id != nil {
		return string(*id)
	}
	return ""
}

// sendToSentry sends err to Sentry, when it is configured, in a scope of
// its own: the OTel integration reads the trace and span from ctx.
func (t *Telemetry) sendToSentry(ctx context.Context, err error) *sentry.EventID {
	if t.sentry == nil {
		return nil
	}
	return t.sentry.CaptureException(err, &sentry.EventHint{Context: ctx, OriginalException: err}, sentry.NewScope())
}

// ScrubEvent removes personal data and secrets from a Sentry event before it
// leaves the process: request bodies, cookies, headers, query strings, user
// details, and email/IP/token shapes in messages, exceptions and breadcrumbs.
// It is the BeforeSend of the client Setup creates; use it in your own.
func ScrubEvent(e *sentry.Event) *sentry.Event {
	if e == nil {
		return nil
	}
	if e.Request != nil {
		r := &sentry.Request{Method: e.Request.Method}
		if u, err := url.Parse(e.Request.URL); err == nil {
			u.RawQuery, u.Fragment, u.User = "", "", nil
			r.URL = u.String()
		}
		e.Request = r
	}
	e.User = sentry.User{ID: e.User.ID}
	e.Message = RedactString(e.Message)
	for i := range e.Exception {
		e.Exception[i].Value = RedactString(e.Exception[i].Value)
		if st := e.Exception[i].Stacktrace; st != nil {
			for j := range st.Frames {
				st.Frames[j].Vars = nil
			}
		}
	}
	for i := range e.Threads {
		if st := e.Threads[i].Stacktrace; st != nil {
			for j := range st.Frames {
				st.Frames[j].Vars = nil
			}
		}
	}
	for _, b := range e.Breadcrumbs {
		b.Message = RedactString(b.Message)
		b.Data = scrubMap(b.Data)
	}
	for name, c := range e.Contexts {
		if name != "trace" {
			e.Contexts[name] = scrubMap(c)
		}
	}
	for k, v := range e.Tags {
		if IsSensitiveKey(k) {
			e.Tags[k] = Redacted
		} else {
			e.Tags[k] = RedactString(v)
		}
	}
	return e
}

// recordException adds the exception event of the semantic conventions to
// span, like [trace.Span.RecordError] but with the redacted message msg, so
// that a secret in an error's text does not reach the trace backend.
func recordException(span trace.Span, err error, stack []byte) {
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, semconv.ExceptionType(errorType(err)), semconv.ExceptionMessage(err.Error()))
	if stack != nil {
		attrs = append(attrs, semconv.ExceptionStacktrace(string(stack)))
	}
	span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(attrs...))
}

// errorType names the dynamic type of err as the SDK's RecordError does.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String() // pointer and other unnamed types
	}
	return t.PkgPath() + "." + t.Name()
}

func scrubMap(m map[string]any) map[string]any {
	for k, v := range m {
		switch {
		case IsSensitiveKey(k):
			m[k] = Redacted
		default:
			if s, ok := v.(string); ok {
				m[k] = RedactString(s)
			} else if _, ok := v.(fmt.Stringer); ok {
				m[k] = RedactString(fmt.Sprint(v))
			}
		}
	}
	return m
}
