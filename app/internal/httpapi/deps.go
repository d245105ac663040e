package httpapi

import (
	"context"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/feed"
	"example.com/otelstarter/app/internal/health"
)

// The Server's dependencies are the interfaces below, declared here where
// they are used and no larger than the handlers need, so that each handler
// can be tested through httptest with small fakes. The implementations
// (blog.Service, feed.Hub, health.Checker, ratelimit.Limiter) are pinned to
// them where the service is wired, since those packages cannot import this
// one.

// Blog is the blog service the JSON handlers call ([blog.Service]).
type Blog interface {
	Register(ctx context.Context, c blog.Credentials) (blog.User, error)
	Login(ctx context.Context, c blog.Credentials) (blog.LoginResult, error)
	// Authenticate returns the user ID of a bearer token, or an error with
	// blog.CodeUnauthorized.
	Authenticate(ctx context.Context, token string) (int64, error)
	ListPosts(ctx context.Context, page blog.Page) (blog.PostList, error)
	Post(ctx context.Context, id int64) (blog.Post, error)
	CreatePost(ctx context.Context, authorID int64, in blog.PostInput) (blog.Post, error)
	UpdatePost(ctx context.Context, userID, id int64, in blog.PostInput) (blog.Post, error)
	DeletePost(ctx context.Context, userID, id int64) error
}

// Feed hands out subscriptions to the live feed of new posts ([feed.Hub]).
type Feed interface {
	// Subscribe returns nil once the feed is closed for shutdown.
	Subscribe() *feed.Subscription
}

// Health runs the dependency checks behind /api/health and /readyz
// ([health.Checker]).
type Health interface {
	Run(ctx context.Context) health.Report
	// Ready reports whether every critical check passes.
	Ready(ctx context.Context) bool
}
