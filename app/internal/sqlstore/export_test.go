package sqlstore

import (
	"context"
	"io/fs"
)

// MigrateFS is Store.MigrateUp with the migrations in fsys instead of the
// embedded ones.
func MigrateFS(ctx context.Context, s *Store, fsys fs.FS) error {
	_, err := s.migrateUp(ctx, fsys)
	return err
}

// MigrationFiles returns the embedded migrations of dialect "postgres" or
// "sqlite".
func MigrationFiles(dialectName string) fs.FS {
	if dialectName == "postgres" {
		return postgresDialect.migrations
	}
	return sqliteDialect.migrations
}

// IsUnavailable is isUnavailable.
var IsUnavailable = isUnavailable
