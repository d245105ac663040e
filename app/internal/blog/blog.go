// Package blog holds the domain of the demo service: users, sessions and
// posts, the error vocabulary shared by every adapter, and the interfaces the
// adapters implement (storage in sqlstore, cache and fan-out in redisstore).
//
// Nothing here imports a driver, a transport or the OpenTelemetry SDK.
package blog

import (
	"context"
	"time"
)

// User is a registered account. The password hash never leaves the store
// except for verification.
type User struct {
	ID           int64     `json:"id"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// Session is a login session. Only the SHA-256 of the bearer token is stored.
type Session struct {
	TokenHash []byte
	UserID    int64
	ExpiresAt time.Time
}

// Post is a blog post.
type Post struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	AuthorID  int64     `json:"author_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Page selects a slice of a listing. Page is 1-based.
type Page struct {
	Page    int
	PerPage int
}

// Offset returns the number of rows to skip for p.
func (p Page) Offset() int { return (p.Page - 1) * p.PerPage }

// PostList is one page of posts, newest first, and the total count.
type PostList struct {
	Posts   []Post `json:"posts"`
	Page    int    `json:"page"`
	PerPage int    `json:"per_page"`
	Total   int    `json:"total"`
}

// Store is the persistence the service needs. Implementations return
// *Error with CodeNotFound or CodeConflict for the expected failures, and
// wrap anything else (which the HTTP layer reports as an internal error).
type Store interface {
	CreateUser(ctx context.Context, email, passwordHash string) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)

	CreateSession(ctx context.Context, s Session) error
	// SessionUser returns the user ID of an unexpired session.
	SessionUser(ctx context.Context, tokenHash []byte, now time.Time) (int64, error)
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	CreatePost(ctx context.Context, p Post) (Post, error)
	Post(ctx context.Context, id int64) (Post, error)
	ListPosts(ctx context.Context, page Page) (PostList, error)
	// UpdatePost changes title and body of post p.ID if p.AuthorID wrote it:
	// CodeNotFound when there is no such post, CodeForbidden when another
	// user wrote it.
	UpdatePost(ctx context.Context, p Post) (Post, error)
	// DeletePost deletes post id if authorID wrote it, with the same errors
	// as UpdatePost.
	DeletePost(ctx context.Context, id, authorID int64) error

	Ping(ctx context.Context) error
	Close() error
}
