package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"example.com/otelstarter/app/internal/blog"
)

// wrap adds op to err and marks connection-level failures with
// [blog.ErrUnavailable]. A *blog.Error passes through unchanged.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var be *blog.Error
	if errors.As(err, &be) {
		return err
	}
	if isUnavailable(err) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, blog.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// isUnavailable reports whether err means that the database could not be
// reached or did not answer, rather than that it refused the statement.
func isUnavailable(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, blog.ErrUnavailable):
		return true
	case errors.Is(err, context.Canceled):
		// The caller gave up (a client went away): not the database's fault.
		return false
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED),
		connectionLost(err):
		return true
	}

	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.Timeout(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgUnavailable(pgErr.Code)
	}
	if pgconn.SafeToRetry(err) {
		// Failed before anything was sent: the connection was unusable.
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() & 0xff { // primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN:
			return true
		}
	}
	return false
}

// pgUnavailable reports whether a PostgreSQL error code means the server
// cannot serve the request now, as opposed to rejecting it.
func pgUnavailable(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case strings.HasPrefix(code, "53"): // insufficient resources, too many connections
		return true
	case strings.HasPrefix(code, "57P"): // admin/crash shutdown, cannot connect now, database dropped
		return true
	case code == "3D000": // the database does not exist (any more)
		return true
	}
	return false
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUniqueViolation(err error) bool {
	return violates(err, "23505", sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// isForeignKeyViolation reports whether err is a FOREIGN KEY violation.
func isForeignKeyViolation(err error) bool {
	return violates(err, "23503", sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
}

// violates reports whether err is PostgreSQL's error pgCode (a SQLSTATE)
// or one of SQLite's extended result codes sqliteCodes.
func violates(err error, pgCode string, sqliteCodes ...int) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == pgCode
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		return slices.Contains(sqliteCodes, sqliteErr.Code())
	}
	return false
}

// Errors for the expected failures. Each call returns a new value because
// callers may set fields on a *blog.Error.
func errPostNotFound() error { return &blog.Error{Code: blog.CodeNotFound, Message: "post not found"} }
func errUserNotFound() error { return &blog.Error{Code: blog.CodeNotFound, Message: "user not found"} }
func errSessionNotFound() error {
	return &blog.Error{Code: blog.CodeNotFound, Message: "session not found or expired"}
}
func errForbidden() error {
	return &blog.Error{Code: blog.CodeForbidden, Message: "only the author may change this post"}
}
func errEmailTaken() error {
	return &blog.Error{Code: blog.CodeEmailTaken, Message: "email is already registered"}
}

// retryRead runs read, an idempotent read, once more when its connection
// broke under it: the server ended the session (a restart, a failover,
// pg_terminate_backend) or the connection was cut. database/sql retries by
// itself only when the driver knows nothing was sent; a read is safe to
// send again either way. A fresh connection then answers, or the second
// error is returned.
func retryRead(ctx context.Context, read func() error) error {
	err := read()
	if err != nil && brokenConnection(err) && ctx.Err() == nil {
		err = read()
	}
	return err
}

// brokenConnection reports whether err ended the connection it came on, as
// opposed to a database that cannot be reached at all (where a retry would
// only wait again).
func brokenConnection(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "57P01" || pgErr.Code == "57P02" || strings.HasPrefix(pgErr.Code, "08")
	}
	return connectionLost(err)
}

// connectionLost reports whether err says that an open connection was
// closed or cut under the statement.
func connectionLost(err error) bool {
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
