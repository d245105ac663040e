package telemetry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/otel/codes"

	"example.com/otelstarter/telemetry"
)

func TestCaptureError(t *testing.T) {
	// A later WithSentry replaces the harness's own.
	tr := &sentryTransport{}
	h := newHarness(t, telemetry.WithSentry(telemetry.SentryConfig{DSN: testDSN, Transport: tr, Environment: "staging", Release: "1.2.3"}))

	ctx, span := h.tel.TracerProvider.Tracer("t").Start(context.Background(), "op")
	id := h.tel.CaptureError(ctx, errors.New("db down at 10.0.0.5"))
	span.End()
	if id == "" {
		t.Fatal("CaptureError returned no event ID")
	}
	if h.tel.CaptureError(ctx, nil) != "" {
		t.Errorf("CaptureError(nil) sent something")
	}
	events := tr.Events()
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	e := events[0]
	if string(e.EventID) != id {
		t.Errorf("event ID %s, returned %s", e.EventID, id)
	}
	if got := e.Contexts["trace"]["trace_id"]; got != span.SpanContext().TraceID().String() {
		t.Errorf("trace_id %v, want %s", got, span.SpanContext().TraceID())
	}
	if e.Environment != "staging" || e.Release != "1.2.3" {
		t.Errorf("environment %q release %q", e.Environment, e.Release)
	}
	if len(e.Exception) == 0 || e.Exception[len(e.Exception)-1].Value != "db down at "+telemetry.Redacted {
		t.Errorf("exception %+v, want the message redacted", e.Exception)
	}
	ro := h.onlySpan(t)
	if ro.Status().Code != codes.Error || strings.Contains(ro.Status().Description, "10.0.0.5") {
		t.Errorf("span status %+v, want Error with a redacted description", ro.Status())
	}
	if len(ro.Events()) != 1 || ro.Events()[0].Name != "exception" {
		t.Errorf("span events %v, want one exception", ro.Events())
	}
}

func TestCaptureErrorWithoutSentry(t *testing.T) {
	clearOTelEnv(t)
	tel, err := telemetry.Setup(context.Background(), telemetry.WithoutGlobals(), telemetry.WithLogWriter(&lockedBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if id := tel.CaptureError(context.Background(), errors.New("x")); id != "" {
		t.Errorf("event ID %q without Sentry", id)
	}
}

func TestScrubEvent(t *testing.T) {
	e := &sentry.Event{
		Message: "user alice@example.com failed",
		Request: &sentry.Request{
			URL:         "https://user:pw@example.com/api/login?email=alice@example.com#frag",
			Method:      "POST",
			Data:        `{"password":"hunter2"}`,
			QueryString: "email=alice@example.com",
			Cookies:     "session=s3cr3t",
			Headers:     map[string]string{"Authorization": "Bearer abc123DEF456ghi"},
			Env:         map[string]string{"REMOTE_ADDR": "203.0.113.7"},
		},
		User: sentry.User{ID: "42", Email: "alice@example.com", IPAddress: "203.0.113.7", Username: "alice"},
		Exception: []sentry.Exception{{
			Type: "*errors.errorString", Value: "login alice@example.com from 203.0.113.7",
			Stacktrace: &sentry.Stacktrace{Frames: []sentry.Frame{{Function: "f", Vars: map[string]any{"pw": "hunter2"}}}},
		}},
		Threads:     []sentry.Thread{{Stacktrace: &sentry.Stacktrace{Frames: []sentry.Frame{{Vars: map[string]any{"pw": "hunter2"}}}}}},
		Breadcrumbs: []*sentry.Breadcrumb{{Message: "GET /x from 203.0.113.7", Data: map[string]any{"token": "t0k", "url": "/a?email=alice@example.com"}}},
		Contexts: map[string]sentry.Context{
			"trace":  {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"},
			"client": {"ip": "203.0.113.7", "email": "alice@example.com", "n": 1},
		},
		Tags: map[string]string{"api_key": "k3y", "route": "/api/login", "who": "alice@example.com"},
	}
	got := telemetry.ScrubEvent(e)
	if got == nil {
		t.Fatal("ScrubEvent dropped the event")
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"request keeps method", got.Request.Method == "POST"},
		{"request URL without query, fragment, user", got.Request.URL == "https://example.com/api/login"},
		{"no body", got.Request.Data == ""},
		{"no cookies", got.Request.Cookies == ""},
		{"no headers", len(got.Request.Headers) == 0},
		{"no query", got.Request.QueryString == ""},
		{"no env", len(got.Request.Env) == 0},
		{"user id only", got.User.ID == "42" && got.User.Email == "" && got.User.IPAddress == "" && got.User.Username == ""},
		{"message masked", got.Message == "user "+telemetry.Redacted+" failed"},
		{"exception masked", got.Exception[0].Value == "login "+telemetry.Redacted+" from "+telemetry.Redacted},
		{"exception type kept", got.Exception[0].Type == "*errors.errorString"},
		{"frame vars dropped", got.Exception[0].Stacktrace.Frames[0].Vars == nil && got.Threads[0].Stacktrace.Frames[0].Vars == nil},
		{"breadcrumb masked", got.Breadcrumbs[0].Message == "GET /x from "+telemetry.Redacted},
		{"breadcrumb data", got.Breadcrumbs[0].Data["token"] == telemetry.Redacted && got.Breadcrumbs[0].Data["url"] == "/a?email="+telemetry.Redacted},
		{"trace context kept", got.Contexts["trace"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"other contexts scrubbed", got.Contexts["client"]["ip"] == telemetry.Redacted && got.Contexts["client"]["email"] == telemetry.Redacted && got.Contexts["client"]["n"] == 1},
		{"tags", got.Tags["api_key"] == telemetry.Redacted && got.Tags["route"] == "/api/login" && got.Tags["who"] == telemetry.Redacted},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("failed; event: %+v", got)
			}
		})
	}
	if telemetry.ScrubEvent(nil) != nil {
		t.Errorf("ScrubEvent(nil) != nil")
	}
}
