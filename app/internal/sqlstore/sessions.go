package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"example.com/otelstarter/app/internal/blog"
)

// CreateSession stores s. A token hash already stored gives
// [blog.CodeConflict] and an unknown user [blog.CodeNotFound].
func (s *Store) CreateSession(ctx context.Context, sess blog.Session) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO sessions (token_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)`,
		sess.TokenHash, sess.UserID, dbTime(sess.ExpiresAt), now(),
	)
	switch {
	case isUniqueViolation(err):
		return &blog.Error{Code: blog.CodeConflict, Message: "session already exists"}
	case isForeignKeyViolation(err):
		return errUserNotFound()
	}
	return wrap("create session", err)
}

// SessionUser returns the user ID of the session with tokenHash if it
// expires after now, and [blog.CodeNotFound] otherwise.
func (s *Store) SessionUser(ctx context.Context, tokenHash []byte, now time.Time) (int64, error) {
	var userID int64
	err := retryRead(ctx, func() error {
		return s.db.QueryRowContext(ctx,
			`SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_at > $2`,
			tokenHash, dbTime(now),
		).Scan(&userID)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errSessionNotFound()
	}
	if err != nil {
		return 0, wrap("session user", err)
	}
	return userID, nil
}

// DeleteExpiredSessions deletes the sessions that expire at or before now,
// the ones [Store.SessionUser] no longer returns, and reports how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, dbTime(now))
	if err != nil {
		return 0, wrap("delete expired sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("delete expired sessions", err)
	}
	return n, nil
}
