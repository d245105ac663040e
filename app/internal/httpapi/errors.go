package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/httpjson"
)

// writeError answers with err's code and safe message. It logs the error
// once, with the request's trace; a 500 is also recorded on the span and
// sent to Sentry. Clients never see the text of an unexpected error.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	var e *blog.Error
	switch {
	case errors.As(err, &e) && e.Code != blog.CodeUnavailable:
	case e != nil, errors.Is(err, context.DeadlineExceeded):
		// An unavailable dependency, or a busy service (e's message says
		// which), or the request's own deadline.
		if e == nil {
			e = blog.ErrUnavailable
		}
		slog.WarnContext(ctx, "request.unavailable", slog.String("error", err.Error()))
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away; nobody reads the answer.
		slog.InfoContext(ctx, "request.canceled")
		e = blog.ErrUnavailable
	default:
		e = blog.ErrInternal
		slog.ErrorContext(ctx, "request.failed", slog.String("error", err.Error()))
		s.reportError(ctx, err)
	}
	httpjson.Error(w, e)
}

// writeJSON answers with v, with the headers of every API answer.
func writeJSON(w http.ResponseWriter, status int, v any) { httpjson.Write(w, status, v) }
