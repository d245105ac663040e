// Package httpjson writes the JSON responses of the public listener. Every
// handler there, the API in httpapi and the Sentry tunnel alike, answers an
// error through [Error], as {"error":{"code":"…","message":"…"}} with the
// status that [Status] gives the code: the one table from codes to statuses.
//
// It is a package of its own so that the tunnel can use it without
// importing the API's handlers.
package httpjson

import (
	"encoding/json"
	"net/http"

	"example.com/otelstarter/app/internal/blog"
)

// Codes of refusals that come from the transport rather than the blog
// domain (whose codes are blog.Code…).
const (
	// CodeMethodNotAllowed: the path exists, not for this method (405).
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeInvalidEnvelope: the tunnel could not parse a Sentry envelope,
	// or it names no valid DSN (400).
	CodeInvalidEnvelope = "invalid_envelope"
	// CodeUpstreamFailed: the tunnel could not forward to Sentry (502).
	CodeUpstreamFailed = "upstream_failed"
	// CodeUpgradeRequired: a plain request to the WebSocket endpoint (426).
	CodeUpgradeRequired = "upgrade_required"
)

// statuses is the one table from error codes to HTTP statuses.
var statuses = map[string]int{
	blog.CodeInvalid:      http.StatusBadRequest,
	CodeInvalidEnvelope:   http.StatusBadRequest,
	blog.CodeValidation:   http.StatusUnprocessableEntity,
	blog.CodeUnauthorized: http.StatusUnauthorized,
	blog.CodeCredentials:  http.StatusUnauthorized,
	blog.CodeForbidden:    http.StatusForbidden,
	blog.CodeNotFound:     http.StatusNotFound,
	CodeMethodNotAllowed:  http.StatusMethodNotAllowed,
	blog.CodeConflict:     http.StatusConflict,
	blog.CodeEmailTaken:   http.StatusConflict,
	blog.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	blog.CodeTimeout:      http.StatusRequestTimeout,
	blog.CodeUnsupported:  http.StatusUnsupportedMediaType,
	blog.CodeRateLimited:  http.StatusTooManyRequests,
	CodeUpstreamFailed:    http.StatusBadGateway,
	CodeUpgradeRequired:   http.StatusUpgradeRequired,
	blog.CodeUnavailable:  http.StatusServiceUnavailable,
}

// Status returns the HTTP status of an error code; codes it does not know
// are internal errors (500).
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errorBody is the shape of every error response.
type errorBody struct {
	Error *blog.Error `json:"error"`
}

// Error answers with e as the error body and the status of its code. The
// message is sent as it is: callers pass only messages safe for clients.
func Error(w http.ResponseWriter, e *blog.Error) {
	Write(w, Status(e.Code), errorBody{e})
}

// Write answers with status and v encoded as JSON. The headers keep
// browsers from sniffing another type and caches from storing answers that
// depend on the caller; a nil v sends no body.
func Write(w http.ResponseWriter, status int, v any) {
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
