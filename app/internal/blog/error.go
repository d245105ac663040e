package blog

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in httpapi, in one place.
const (
	CodeInvalid      = "invalid_request"     // malformed request: 400
	CodeValidation   = "validation_failed"   // well-formed but invalid fields: 422
	CodeUnauthorized = "unauthorized"        // missing or bad token: 401
	CodeCredentials  = "invalid_credentials" // login failed: 401
	CodeForbidden    = "forbidden"           // not yours: 403
	CodeNotFound     = "not_found"           // 404
	CodeConflict     = "conflict"            // 409
	CodeEmailTaken   = "email_taken"         // 409
	CodeTooLarge     = "body_too_large"      // 413
	CodeTimeout      = "request_timeout"     // the client sent the body too slowly: 408
	CodeUnsupported  = "unsupported_media"   // 415
	CodeRateLimited  = "rate_limited"        // 429
	CodeUnavailable  = "unavailable"         // a dependency is down: 503
	CodeInternal     = "internal"            // anything unexpected: 500
)

// Error is an error the client may see: a stable code, a safe message and,
// for validation errors, a message per field.
type Error struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, CodeInternal
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrUnavailable marks errors that mean a dependency could not be reached;
// the HTTP layer answers 503 for them.
var ErrUnavailable = &Error{Code: CodeUnavailable, Message: "a dependency is unavailable, try again later"}

// ErrInternal is what clients see of an unexpected error or a panic: the
// text of the cause goes to the log, the span and Sentry only.
var ErrInternal = &Error{Code: CodeInternal, Message: "internal server error"}
