package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"example.com/otelstarter/app/internal/blog"
)

// normalizeEmail is the form emails are stored and looked up in, which makes
// the UNIQUE constraint case-insensitive on both databases.
func normalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// CreateUser stores a new user with the email trimmed and lower-cased. An
// email that is already registered, in any case, gives [blog.CodeEmailTaken].
func (s *Store) CreateUser(ctx context.Context, email, passwordHash string) (blog.User, error) {
	u := blog.User{Email: normalizeEmail(email), PasswordHash: passwordHash, CreatedAt: now()}
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id`,
		u.Email, u.PasswordHash, u.CreatedAt,
	).Scan(&u.ID)
	if isUniqueViolation(err) {
		return blog.User{}, errEmailTaken()
	}
	if err != nil {
		return blog.User{}, wrap("create user", err)
	}
	return u, nil
}

// UserByEmail returns the user registered with email, compared as
// [Store.CreateUser] stored it, or [blog.CodeNotFound].
func (s *Store) UserByEmail(ctx context.Context, email string) (blog.User, error) {
	var u blog.User
	err := retryRead(ctx, func() error {
		return s.db.QueryRowContext(ctx,
			`SELECT id, email, password_hash, created_at FROM users WHERE email = $1`,
			normalizeEmail(email),
		).Scan(&u.ID, &u.Email, &u.PasswordHash, timeScanner{&u.CreatedAt})
	})
	if errors.Is(err, sql.ErrNoRows) {
		return blog.User{}, errUserNotFound()
	}
	if err != nil {
		return blog.User{}, wrap("user by email", err)
	}
	return u, nil
}
