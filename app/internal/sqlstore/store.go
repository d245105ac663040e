package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/app/internal/blog"
)

// Store is a [blog.Store] on a SQL database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect *dialect
	stats   metric.Registration
	secrets []string // of DATABASE_URL, for the errors of new connections

	onCreateUser UserHook

	closeOnce sync.Once
	closeErr  error
}

var _ blog.Store = (*Store)(nil)

// Pool settings for PostgreSQL. Idle connections are kept up to the maximum
// so that a burst does not pay for new connections; they are recycled so that
// the pool follows a failover or a changed server configuration.
const (
	pgMaxOpenConns    = 25
	pgMaxIdleConns    = 25
	pgConnMaxLifetime = 30 * time.Minute
	pgConnMaxIdleTime = 5 * time.Minute
)

// Open opens the database that databaseURL names, checks that it answers
// within ctx and applies the pending migrations ([Store.MigrateUp]).
//
// databaseURL takes the form of DATABASE_URL: postgres://… or postgresql://…
// for PostgreSQL (any URL pgx accepts), sqlite:PATH for a SQLite file (its
// directory is created if missing) or sqlite::memory: for a database that
// lives as long as the Store. Errors name DATABASE_URL and never contain its
// password; a malformed URL gives a *[URLError] (see [CheckURL]) and a
// database that cannot be reached an error that wraps [blog.ErrUnavailable].
//
// The pool size suits a small service; tune it through [Store.DB].
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	s, err := Connect(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	if _, err := s.MigrateUp(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Connect is [Open] without the migrations, for the tools that manage them
// (app migrate): the schema stays as it is.
func Connect(ctx context.Context, databaseURL string) (*Store, error) {
	t, err := parseDatabaseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	if err := t.prepare(); err != nil {
		return nil, err
	}
	d := t.dialect

	// Spans and metrics go to the global providers, which telemetry.Setup
	// installs, as for every package of the app.
	db, err := otelsql.Open(d.driver, t.dsn,
		otelsql.WithAttributes(d.system),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			// Health checks ping every few seconds: spans without value.
			Ping: false,
			// One event per row is too much for a listing.
			RowsNext: false,
			// ErrSkip is the driver asking database/sql to take another
			// path, not a failure.
			DisableErrSkip: true,
			// Runs before every reuse of a pooled connection.
			OmitConnResetSession: true,
			// sql.rows is one more span per query that returns rows, next
			// to the statement's span, which already times the query; no
			// dashboard or alert reads it.
			OmitRows: true,
			// A statement outside any trace (River polling for jobs, the
			// hourly session cleanup) would be a root trace of one span,
			// every second: noise in front of the traces that matter. Its
			// duration is still in the db.sql.latency metric.
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanContextFromContext(ctx).IsValid()
			},
		}),
		otelsql.WithDisableSkipErrMeasurement(true),
		// Arguments are never recorded: no WithAttributesGetter here.
	)
	if err != nil {
		return nil, redact(fmt.Errorf("sqlstore: invalid DATABASE_URL for %s: %w", d.name, err), t.secrets)
	}

	if d == sqliteDialect {
		// SQLite has one writer at a time. One connection makes writers
		// queue in the pool, in order and cancellable by ctx, instead of in
		// SQLite's busy handler, which sleeps and then fails with
		// SQLITE_BUSY; in-process reads are fast enough not to mind (use
		// PostgreSQL for concurrency). It is also what sqlite::memory: needs:
		// every connection to it is a separate database, dropped when the
		// connection closes, hence no lifetime either.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		db.SetMaxOpenConns(pgMaxOpenConns)
		db.SetMaxIdleConns(pgMaxIdleConns)
		db.SetConnMaxLifetime(pgConnMaxLifetime)
		db.SetConnMaxIdleTime(pgConnMaxIdleTime)
	}

	fail := func(err error) (*Store, error) {
		_ = db.Close()
		return nil, redact(err, t.secrets)
	}
	if err := db.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("sqlstore: connect to %s (DATABASE_URL): %w", d.name, markUnavailable(err)))
	}

	stats, err := otelsql.RegisterDBStatsMetrics(db,
		otelsql.WithAttributes(d.system),
	)
	if err != nil {
		return fail(fmt.Errorf("sqlstore: register connection pool metrics: %w", err))
	}
	return &Store{db: db, dialect: d, stats: stats, secrets: t.secrets}, nil
}

// markUnavailable wraps err with [blog.ErrUnavailable]: at Open, any failure
// to ping, a refused password or a missing database included, means the
// database cannot be used.
func markUnavailable(err error) error {
	if errors.Is(err, blog.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", blog.ErrUnavailable, err)
}

// DB returns the underlying pool, instrumented by otelsql, for tuning and
// for queries this package does not offer. Closing it closes the Store.
func (s *Store) DB() *sql.DB { return s.db }

// WithMigrationLock runs fn while this instance holds the lock this
// package's migrations take, so that another component's migrations
// (River's) also run one instance at a time when several start together.
// On PostgreSQL it is a session advisory lock on a connection of its own,
// and fn uses the pool as it likes (a migration that adds an enum value
// cannot share a transaction with the next). SQLite serves one process, and
// each of its transactions takes the write lock already.
//
// The lock is not reentrant: fn must not call a method that takes it
// (MigrateUp, MigrateDown, MigrationStatus).
func (s *Store) WithMigrationLock(ctx context.Context, fn func(context.Context) error) (err error) {
	if !s.dialect.advisoryLock {
		return fn(ctx)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return wrap("migration lock", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return wrap("migration lock", err)
	}
	defer func() {
		// A failed unlock leaves the lock to the connection's end, which
		// Close brings, as the connection is not reused then.
		if _, uerr := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey); uerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return fn(ctx)
}

// Ping checks that the database answers within ctx. A failure wraps
// [blog.ErrUnavailable].
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping %s: %w", s.dialect.name, markUnavailable(err))
	}
	return nil
}

// Close stops the pool metrics and closes the database. Only the first
// call does anything; later calls return its result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.stats.Unregister(), s.db.Close())
	})
	return s.closeErr
}

// now returns the current time as the store keeps it.
func now() time.Time { return dbTime(time.Now()) }

// dbTime returns t as both databases keep it: UTC, whole microseconds.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// timeScanner scans a timestamp as either driver returns it: time.Time from
// pgx, integer microseconds since the epoch from SQLite.
type timeScanner struct{ t *time.Time }

// Scan implements [sql.Scanner].
func (s timeScanner) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*s.t = dbTime(v)
	case int64:
		*s.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}
