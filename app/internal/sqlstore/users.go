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
// The hook set by [Store.OnCreateUser] runs in the same transaction.
func (s *Store) CreateUser(ctx context.Context, email, passwordHash string) (blog.User, error) {
	u := blog.User{Email: normalizeEmail(email), PasswordHash: passwordHash, CreatedAt: now()}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return blog.User{}, wrap("create user", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	err = tx.QueryRowContext(ctx,
		`INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id`,
		u.Email, u.PasswordHash, u.CreatedAt,
	).Scan(&u.ID)
	if isUniqueViolation(err) {
		return blog.User{}, errEmailTaken()
	}
	if err != nil {
		return blog.User{}, wrap("create user", err)
	}
	if s.onCreateUser != nil {
		if err := s.onCreateUser(ctx, tx, u); err != nil {
			return blog.User{}, wrap("create user", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return blog.User{}, wrap("create user", err)
	}
	return u, nil
}

// UserHook is work that belongs to the creation of a user: it runs in the
// transaction that inserts the user, after the insert.
type UserHook func(ctx context.Context, tx *sql.Tx, u blog.User) error

// OnCreateUser sets the hook every [Store.CreateUser] runs in its
// transaction: what it writes through tx commits with the user, and an error
// from it rolls the user back. This is how the welcome email's job is
// enqueued: there is never a user without its job, nor a job for a
// registration that failed. Set it before the Store is in use.
func (s *Store) OnCreateUser(hook UserHook) { s.onCreateUser = hook }

// UserByID returns the user with id, or [blog.CodeNotFound].
func (s *Store) UserByID(ctx context.Context, id int64) (blog.User, error) {
	var u blog.User
	err := retryRead(ctx, func() error {
		return s.db.QueryRowContext(ctx,
			`SELECT id, email, password_hash, created_at FROM users WHERE id = $1`, id,
		).Scan(&u.ID, &u.Email, &u.PasswordHash, timeScanner{&u.CreatedAt})
	})
	if errors.Is(err, sql.ErrNoRows) {
		return blog.User{}, errUserNotFound()
	}
	if err != nil {
		return blog.User{}, wrap("user by id", err)
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
