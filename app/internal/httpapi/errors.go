package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"example.com/otelstarter/app/internal/blog"
)

// statusOf maps an error code to its HTTP status: the one place that does.
func statusOf(code string) int {
	switch code {
	case blog.CodeInvalid:
		return http.StatusBadRequest
	case blog.CodeValidation:
		return http.StatusUnprocessableEntity
	case blog.CodeUnauthorized, blog.CodeCredentials:
		return http.StatusUnauthorized
	case blog.CodeForbidden:
		return http.StatusForbidden
	case blog.CodeNotFound:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case blog.CodeConflict, blog.CodeEmailTaken:
		return http.StatusConflict
	case blog.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case blog.CodeTimeout:
		return http.StatusRequestTimeout
	case blog.CodeUnsupported:
		return http.StatusUnsupportedMediaType
	case blog.CodeRateLimited:
		return http.StatusTooManyRequests
	case blog.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

const codeMethodNotAllowed = "method_not_allowed"

type errorBody struct {
	Error *blog.Error `json:"error"`
}

// writeError answers with err's code and safe message. It logs the error
// once, with the request's trace; a 500 is also recorded on the span and
// sent to Sentry. Clients never see the text of an unexpected error.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	var e *blog.Error
	switch {
	case errors.As(err, &e) && e.Code != blog.CodeUnavailable:
	case blog.IsUnavailable(err), errors.Is(err, context.DeadlineExceeded):
		e = blog.ErrUnavailable
		slog.WarnContext(ctx, "request.unavailable", slog.String("error", err.Error()))
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away; nobody reads the answer.
		slog.InfoContext(ctx, "request.canceled")
		e = blog.ErrUnavailable
	default:
		e = &blog.Error{Code: blog.CodeInternal, Message: "internal server error"}
		slog.ErrorContext(ctx, "request.failed", slog.String("error", err.Error()))
		s.reportError(ctx, err)
	}
	writeJSON(w, statusOf(e.Code), errorBody{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}
