package blog_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"example.com/otelstarter/app/internal/blog"
)

func TestErrorCode(t *testing.T) {
	t.Parallel()
	notFound := &blog.Error{Code: blog.CodeNotFound, Message: "post not found"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain error", errors.New("boom"), blog.CodeInternal},
		{"context error", context.DeadlineExceeded, blog.CodeInternal},
		{"blog error", notFound, blog.CodeNotFound},
		{"wrapped", fmt.Errorf("sqlstore: post 5: %w", notFound), blog.CodeNotFound},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", notFound)), blog.CodeNotFound},
		{"joined", errors.Join(errors.New("x"), notFound), blog.CodeNotFound},
		{"unavailable", blog.ErrUnavailable, blog.CodeUnavailable},
		{"unavailable wrapped with cause", fmt.Errorf("%w: %w", blog.ErrUnavailable, errors.New("dial")), blog.CodeUnavailable},
		{"first in chain wins", fmt.Errorf("%w: %w", notFound, blog.ErrUnavailable), blog.CodeNotFound},
		{"Errorf", blog.Errorf(blog.CodeConflict, "post %d changed", 3), blog.CodeConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := blog.ErrorCode(tt.err); got != tt.want {
				t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorf(t *testing.T) {
	t.Parallel()
	e := blog.Errorf(blog.CodeValidation, "field %s is %d long", "title", 3)
	if e.Code != blog.CodeValidation || e.Message != "field title is 3 long" {
		t.Errorf("Errorf = %+v", e)
	}
	if got, want := e.Error(), "validation_failed: field title is 3 long"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"sentinel", blog.ErrUnavailable, true},
		{"wrapped", fmt.Errorf("sqlstore: ping: %w", blog.ErrUnavailable), true},
		{"wrapped with cause", fmt.Errorf("sqlstore: post: %w: %w", blog.ErrUnavailable, errors.New("connection refused")), true},
		{"wrapped twice", fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", blog.ErrUnavailable)), true},
		{"joined", errors.Join(errors.New("x"), blog.ErrUnavailable), true},
		{"plain error", errors.New("unavailable"), false},
		{"other blog error", &blog.Error{Code: blog.CodeNotFound, Message: "x"}, false},
		{"deadline", context.DeadlineExceeded, false},
		{"text only", fmt.Errorf("%v", blog.ErrUnavailable), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := blog.IsUnavailable(tt.err); got != tt.want {
				t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
