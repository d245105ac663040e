package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"
)

// MigrateFS runs the migration runner of dialect "postgres" or "sqlite" on
// db with the migrations in fsys.
func MigrateFS(ctx context.Context, db *sql.DB, dialectName string, fsys fs.FS) error {
	d := sqliteDialect
	if dialectName == "postgres" {
		d = postgresDialect
	}
	return migrate(ctx, db, d, fsys)
}

// IsUnavailable is isUnavailable.
var IsUnavailable = isUnavailable
