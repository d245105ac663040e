package sqlstore

import (
	"embed"
	"io/fs"

	"github.com/pressly/goose/v3"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// migrationFiles are goose SQL migrations, one folder per dialect, with the
// same file names in both (TestMigrationFiles keeps them in step).
//
//go:embed migrations
var migrationFiles embed.FS

// dialect is what differs between the two databases. The queries themselves
// are shared: both take $1-style placeholders and RETURNING.
type dialect struct {
	name   string             // for messages
	driver string             // database/sql driver name
	system attribute.KeyValue // db.system.name on spans and metrics

	// goose is goose's name for the dialect, which picks the SQL of its
	// version table.
	goose goose.Dialect
	// migrations holds the goose files of this dialect.
	migrations fs.FS
	// tableExists answers one boolean: whether table $1 exists where an
	// unqualified CREATE TABLE puts it (goose's own check, for PostgreSQL).
	tableExists string
	// advisoryLock says whether migrations take migrationLockKey, a
	// PostgreSQL advisory lock (see Store.WithMigrationLock).
	advisoryLock bool
}

// migrationLockKey identifies the advisory lock of the migrations among the
// other users of pg_advisory_lock on the server ("otelblog" in ASCII).
const migrationLockKey int64 = 0x6f74656c626c6f67

var postgresDialect = &dialect{
	name:         "PostgreSQL",
	driver:       "pgx",
	system:       semconv.DBSystemNamePostgreSQL,
	goose:        goose.DialectPostgres,
	migrations:   mustSub(migrationFiles, "migrations/postgres"),
	tableExists:  `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1)`,
	advisoryLock: true,
}

var sqliteDialect = &dialect{
	name:        "SQLite",
	driver:      "sqlite",
	system:      semconv.DBSystemNameSQLite,
	goose:       goose.DialectSQLite3,
	migrations:  mustSub(migrationFiles, "migrations/sqlite"),
	tableExists: `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)`,
	// BEGIN IMMEDIATE (see _txlock) makes each migration's transaction
	// wait for the write lock.
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // only on a typo in dir, caught by any test
	}
	return sub
}
