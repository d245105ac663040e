// Package sqlstore implements [blog.Store] on PostgreSQL (through pgx) and on
// an embedded, pure-Go SQLite (modernc.org/sqlite), chosen by the form of
// DATABASE_URL.
//
// [Open] is the entry point: it opens the database through otelsql, so every
// query becomes a client span under the caller's span and the connection pool
// reports db.sql.connection.* metrics, checks that the database answers and
// brings the schema up to date with goose (github.com/pressly/goose/v3),
// from the SQL files embedded under migrations/, which the goose CLI also
// runs (docs/migrations.md). [Connect] opens without migrating, for the
// commands that manage the migrations: [Store.MigrateUp],
// [Store.MigrateDown] and [Store.MigrationStatus].
//
// The methods return *[blog.Error] for the failures a client may see
// (not_found, forbidden, email_taken, conflict). Errors that mean the database
// could not be reached wrap [blog.ErrUnavailable], so that
// errors.Is(err, blog.ErrUnavailable) holds and the HTTP layer answers 503.
// Every other error is returned wrapped, for the caller to report as internal.
//
// Times are stored in UTC and returned in UTC, truncated to microseconds, the
// precision PostgreSQL keeps, so that both databases return the same values.
//
// Neither this package nor otelsql records the arguments of a statement:
// spans carry the statement text, which never holds user data, and errors
// never carry the database password.
package sqlstore
