package sqlstore

import (
	"embed"
	"io/fs"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

//go:embed migrations
var migrationFiles embed.FS

// dialect is what differs between the two databases. The queries themselves
// are shared: both take $1-style placeholders and RETURNING.
type dialect struct {
	name   string             // for messages
	driver string             // database/sql driver name
	system attribute.KeyValue // db.system.name on spans and metrics

	// migrations holds NNNN_name.up.sql files.
	migrations fs.FS
	// createMigrationsTable creates schema_migrations if it does not exist.
	createMigrationsTable string
	// lockMigrations, if not empty, runs first in every migration
	// transaction and holds off other instances until it ends.
	lockMigrations string
}

// migrationLockKey identifies the advisory lock of the migrations among the
// other users of pg_advisory_lock on the server ("otelblog" in ASCII).
const migrationLockKey int64 = 0x6f74656c626c6f67

var postgresDialect = &dialect{
	name:       "PostgreSQL",
	driver:     "pgx",
	system:     semconv.DBSystemNamePostgreSQL,
	migrations: mustSub(migrationFiles, "migrations/postgres"),
	createMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL
	)`,
	// A transaction-level lock is released by COMMIT or ROLLBACK, and by the
	// server if the connection dies, so no code path can leak it.
	lockMigrations: "SELECT pg_advisory_xact_lock($1)",
}

var sqliteDialect = &dialect{
	name:       "SQLite",
	driver:     "sqlite",
	system:     semconv.DBSystemNameSQLite,
	migrations: mustSub(migrationFiles, "migrations/sqlite"),
	createMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`,
	// BEGIN IMMEDIATE (see _txlock) already makes migrations take turns.
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // only on a typo in dir, caught by any test
	}
	return sub
}
