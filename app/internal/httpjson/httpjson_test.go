package httpjson_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/httpjson"
)

// TestError pins the bytes and headers clients get for an error.
func TestError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    *blog.Error
		status int
		body   string
	}{
		{"code and message", &blog.Error{Code: blog.CodeNotFound, Message: "no such resource"}, 404,
			`{"error":{"code":"not_found","message":"no such resource"}}` + "\n"},
		{"fields", &blog.Error{Code: blog.CodeValidation, Message: "some fields are invalid", Fields: map[string]string{"title": "is required"}}, 422,
			`{"error":{"code":"validation_failed","message":"some fields are invalid","fields":{"title":"is required"}}}` + "\n"},
		{"HTML is escaped", &blog.Error{Code: blog.CodeInvalid, Message: "<script>"}, 400,
			`{"error":{"code":"invalid_request","message":"\u003cscript\u003e"}}` + "\n"},
		{"unknown code is a 500", &blog.Error{Code: "surprise", Message: "m"}, 500,
			`{"error":{"code":"surprise","message":"m"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			httpjson.Error(rec, tt.err)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if rec.Body.String() != tt.body {
				t.Errorf("body = %q, want %q", rec.Body, tt.body)
			}
			for k, v := range map[string]string{"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestWriteNil(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	httpjson.Write(rec, http.StatusAccepted, nil)
	if rec.Code != http.StatusAccepted || rec.Body.Len() != 0 {
		t.Fatalf("Write(nil) = %d %q, want 202 and no body", rec.Code, rec.Body)
	}
}

// TestStatus: every code in use maps to its documented status, each an
// error status.
func TestStatus(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{
		blog.CodeInvalid:              400,
		httpjson.CodeInvalidEnvelope:  400,
		blog.CodeValidation:           422,
		blog.CodeUnauthorized:         401,
		blog.CodeCredentials:          401,
		blog.CodeForbidden:            403,
		blog.CodeNotFound:             404,
		httpjson.CodeMethodNotAllowed: 405,
		blog.CodeConflict:             409,
		blog.CodeEmailTaken:           409,
		blog.CodeTooLarge:             413,
		blog.CodeTimeout:              408,
		blog.CodeUnsupported:          415,
		blog.CodeRateLimited:          429,
		blog.CodeInternal:             500,
		httpjson.CodeUpstreamFailed:   502,
		blog.CodeUnavailable:          503,
		"":                            500,
	} {
		if got := httpjson.Status(code); got != want {
			t.Errorf("Status(%q) = %d, want %d", code, got, want)
		}
	}
}
