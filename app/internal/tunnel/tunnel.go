// Package tunnel forwards Sentry envelopes from the browser to Sentry
// through the app's own origin (so ad blockers and CSPs don't drop them),
// but only to the one configured project: the envelope names its DSN, and
// anything that does not match is refused, never fetched (no SSRF).
//
// Every forwarded envelope that holds an error event is also logged as a
// "frontend.error" line carrying the browser's trace ID, so frontend errors
// are searchable next to the backend's logs even without a Sentry account.
package tunnel

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/httpjson"
	"example.com/otelstarter/telemetry"
	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/otel/trace"
)

// Defaults for Config.
const (
	DefaultMaxBytes = 2 << 20 // replay segments are the largest items
	DefaultTimeout  = 5 * time.Second
)

// Config configures a Handler.
type Config struct {
	// DSN is the browser project's DSN; empty means envelopes are accepted
	// and dropped (204).
	DSN      string
	MaxBytes int64
	Timeout  time.Duration
	// Transport sends the envelopes (default http.DefaultTransport). The
	// service passes telemetry's Transport, so each forward is a client span
	// in the browser request's trace. The client around it times out after
	// Timeout and follows no redirect.
	Transport http.RoundTripper
}

// Handler is the tunnel endpoint.
type Handler struct {
	cfg      Config
	client   *http.Client
	dsn      *sentry.Dsn // the configured project; nil when Sentry is off
	endpoint string      // where envelopes go
}

// New returns a Handler; a DSN that does not parse is an error.
func New(cfg Config) (*Handler, error) {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	h := &Handler{cfg: cfg, client: &http.Client{
		Transport:     cfg.Transport,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if cfg.DSN == "" {
		return h, nil
	}
	// sentry.NewDsn's errors quote the DSN, which may hold an old-style
	// secret key: say only what is wrong.
	dsn, err := sentry.NewDsn(cfg.DSN)
	if err != nil {
		return nil, errors.New("SENTRY_FRONTEND_DSN: not a Sentry DSN")
	}
	if _, err := strconv.ParseUint(dsn.GetProjectID(), 10, 64); err != nil {
		return nil, errors.New("SENTRY_FRONTEND_DSN: the DSN has no numeric project ID")
	}
	h.dsn, h.endpoint = dsn, dsn.GetAPIURL().String()
	return h, nil
}

// sameProject reports whether d names the configured project: same host
// and port (where the envelope would go) and same project ID.
func (h *Handler) sameProject(d *sentry.Dsn) bool {
	return strings.EqualFold(d.GetHost(), h.dsn.GetHost()) && d.GetPort() == h.dsn.GetPort() &&
		d.GetProjectID() == h.dsn.GetProjectID()
}

// refuse returns the client error that ServeHTTP answers; its status comes
// from the code, through httpjson.Status.
func refuse(code, msg string) error { return &blog.Error{Code: code, Message: msg} }

var _ http.Handler = (*Handler)(nil)

// ServeHTTP implements http.Handler. Refusals and upstream failures are
// answered in the API's error shape, through the API's one writer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		var e *blog.Error
		if !errors.As(err, &e) {
			e = &blog.Error{Code: httpjson.CodeUpstreamFailed, Message: "the envelope could not be forwarded"}
			slog.WarnContext(r.Context(), "tunnel.forward_failed", slog.String("error", err.Error()))
		} else {
			slog.InfoContext(r.Context(), "tunnel.refused", slog.String("code", e.Code))
		}
		httpjson.Error(w, e)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return refuse(blog.CodeTooLarge, fmt.Sprintf("envelopes are limited to %d bytes", tooBig.Limit))
		}
		return refuse(blog.CodeInvalid, "could not read the envelope")
	}
	env, err := Parse(body)
	if err != nil {
		return refuse(httpjson.CodeInvalidEnvelope, err.Error())
	}
	if h.endpoint == "" {
		w.WriteHeader(http.StatusNoContent) // Sentry is off: drop quietly
		return nil
	}
	dsn, err := sentry.NewDsn(env.Header.DSN)
	if err != nil {
		return refuse(httpjson.CodeInvalidEnvelope, "the envelope header has no valid dsn")
	}
	if !h.sameProject(dsn) {
		return refuse(blog.CodeForbidden, "the envelope is for another Sentry project")
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	h.logErrors(r.Context(), env)
	if resp.StatusCode >= 500 {
		return fmt.Errorf("sentry answered %d", resp.StatusCode)
	}
	// Pass Sentry's verdict on (429 rate limits included) so the SDK backs off.
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	if rl := resp.Header.Get("X-Sentry-Rate-Limits"); rl != "" {
		w.Header().Set("X-Sentry-Rate-Limits", rl)
	}
	w.WriteHeader(resp.StatusCode)
	return nil
}

// logErrors writes one frontend.error line per error event, in the
// browser's trace so that it sits next to the backend's lines.
func (h *Handler) logErrors(ctx context.Context, env *Envelope) {
	for _, it := range env.Items {
		if it.Type != "event" {
			continue
		}
		var ev struct {
			Exception struct {
				Values []struct {
					Type  string `json:"type"`
					Value string `json:"value"`
				} `json:"values"`
			} `json:"exception"`
			Contexts struct {
				Trace struct {
					TraceID string `json:"trace_id"`
					SpanID  string `json:"span_id"`
				} `json:"trace"`
			} `json:"contexts"`
			EventID string `json:"event_id"`
		}
		if json.Unmarshal(it.Payload, &ev) != nil || len(ev.Exception.Values) == 0 {
			continue
		}
		traceID := ev.Contexts.Trace.TraceID
		if traceID == "" {
			traceID = env.Header.Trace.TraceID
		}
		lctx := ctx
		if tid, err := trace.TraceIDFromHex(traceID); err == nil {
			sid, _ := trace.SpanIDFromHex(ev.Contexts.Trace.SpanID)
			if !sid.IsValid() {
				sid = trace.SpanContextFromContext(ctx).SpanID()
			}
			lctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
		}
		ex := ev.Exception.Values[len(ev.Exception.Values)-1] // the outermost
		slog.WarnContext(lctx, "frontend.error",
			slog.String("exception_type", clip(ex.Type, 200)),
			slog.String("exception_message", clip(telemetry.RedactString(ex.Value), 1000)),
			slog.String("sentry_event_id", clip(hexOnly(ev.EventID), 32)),
			slog.String("tunnel_request_id", trace.SpanContextFromContext(ctx).TraceID().String()),
		)
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func hexOnly(s string) string {
	if _, err := hex.DecodeString(s); err != nil {
		return ""
	}
	return s
}
