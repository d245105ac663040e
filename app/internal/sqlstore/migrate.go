package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

// The schema is managed by goose (github.com/pressly/goose/v3): SQL files
// under migrations/<dialect>/, each with a -- +goose Up and a -- +goose Down
// section, applied in version order, each in its own transaction together
// with its row in goose's version table. The goose CLI works on the same
// files and table (docs/migrations.md).

// legacyTable is where the runner this package had before goose recorded
// the versions it applied.
const legacyTable = "schema_migrations"

// MigrateUp applies the migrations the database does not have yet and
// returns what it applied, nothing when the schema is current. A migration
// that fails is rolled back whole, and the ones after it are not tried.
//
// Versions in the database that this release does not know (applied by a
// newer release during a rolling deploy) are left alone.
func (s *Store) MigrateUp(ctx context.Context) ([]*goose.MigrationResult, error) {
	return s.migrateUp(ctx, s.dialect.migrations)
}

// MigrateDown rolls back the latest applied migration and returns it, or nil
// when none is applied.
func (s *Store) MigrateDown(ctx context.Context) (*goose.MigrationResult, error) {
	var res *goose.MigrationResult
	err := s.withProvider(ctx, s.dialect.migrations, func(ctx context.Context, p *goose.Provider) error {
		var err error
		res, err = p.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return nil
		}
		return nameFile(err)
	})
	return res, s.fail("migrate down "+s.dialect.name, err)
}

// MigrationStatus returns every migration this release knows, in version
// order, applied or pending.
func (s *Store) MigrationStatus(ctx context.Context) ([]*goose.MigrationStatus, error) {
	var st []*goose.MigrationStatus
	err := s.withProvider(ctx, s.dialect.migrations, func(ctx context.Context, p *goose.Provider) error {
		var err error
		st, err = p.Status(ctx)
		return err
	})
	return st, s.fail("migration status "+s.dialect.name, err)
}

func (s *Store) migrateUp(ctx context.Context, fsys fs.FS) ([]*goose.MigrationResult, error) {
	var res []*goose.MigrationResult
	err := s.withProvider(ctx, fsys, func(ctx context.Context, p *goose.Provider) error {
		var err error
		res, err = p.Up(ctx)
		var pe *goose.PartialError
		if errors.As(err, &pe) {
			res = pe.Applied
		}
		return nameFile(err)
	})
	return res, s.fail("migrate "+s.dialect.name, err)
}

// fail is wrap for the migrations, which open new connections: like Open,
// it keeps DATABASE_URL's password out of the error.
func (s *Store) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	return redact(wrap(op, err), s.secrets)
}

// nameFile gives the failure of a migration with the name of its file:
// goose's message gives the version, the file is what a person opens.
func nameFile(err error) error {
	var pe *goose.PartialError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path.Base(pe.Failed.Source.Path), pe.Err)
	}
	return err
}

// withProvider runs fn with a goose provider on the migrations of fsys,
// holding the migration lock, once an install made before goose has been
// adopted.
//
// The lock is Store.WithMigrationLock, not goose's own SessionLocker: it is
// the lock River's migrations take (jobs.Config.Migrate), so one key
// serialises the app's and River's migrations, whichever command runs them
// (a server's start, app worker, app migrate), and the adoption below runs
// under it too. Each set takes it for its own turn: all a set needs is that
// no two instances run it at once, and neither depends on the other.
// goose's locker would be a second key, with its own polling and timeouts,
// for the same guarantee.
func (s *Store) withProvider(ctx context.Context, fsys fs.FS, fn func(context.Context, *goose.Provider) error) error {
	if err := checkFileNames(fsys); err != nil {
		return err
	}
	p, err := goose.NewProvider(s.dialect.goose, s.db, fsys,
		// Only the SQL files: no Go migration that another package might
		// register in goose's global registry.
		goose.WithDisableGlobalRegistry(true),
		// Not verbose, and never goose's default logger, which prints to
		// stdout: callers report the results (app migrate prints them; at
		// start, every statement is a span of the startup trace).
		goose.WithSlog(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return err
	}
	return s.WithMigrationLock(ctx, func(ctx context.Context) error {
		if err := s.adoptLegacy(ctx); err != nil {
			return fmt.Errorf("adopt %s: %w", legacyTable, err)
		}
		return fn(ctx, p)
	})
}

// checkFileNames refuses a .sql file without a version, which goose would
// skip without a word: a migration that never runs.
func checkFileNames(fsys fs.FS) error {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return err
	}
	for _, name := range names {
		if _, err := goose.NumericComponent(name); err != nil {
			return fmt.Errorf("migration %s: name must be NNNNN_description.sql (goose create -s NAME sql): %w", name, err)
		}
	}
	return nil
}

// adoptLegacy takes over a database whose migrations the pre-goose runner
// applied: when goose's version table does not exist and schema_migrations
// does, it creates goose's table with the versions schema_migrations lists,
// in one transaction, so goose counts them as applied and runs only the
// newer ones. It runs before every goose operation (under the migration
// lock), and only once per database: afterwards goose's table exists, and a
// later down and up are goose's alone.
//
// schema_migrations stays as it is: an instance of the previous release
// that starts during the rolling deploy, or after a rollback, finds its
// versions there and starts instead of failing on tables that exist. Drop
// it once no such release can start (docs/migrations.md).
func (s *Store) adoptLegacy(ctx context.Context) error {
	return inTx(ctx, s.db, func(tx *sql.Tx) error {
		exists := func(table string) (ok bool, err error) {
			err = tx.QueryRowContext(ctx, s.dialect.tableExists, table).Scan(&ok)
			return ok, err
		}
		if adopted, err := exists(goose.DefaultTablename); err != nil || adopted {
			return err
		}
		if legacy, err := exists(legacyTable); err != nil || !legacy {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM `+legacyTable+` ORDER BY version`)
		if err != nil {
			return err
		}
		var versions []int64
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			versions = append(versions, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		// goose's own store writes its table as goose would: version 0
		// first, as goose does when it creates the table.
		store, err := database.NewStore(s.dialect.goose, goose.DefaultTablename)
		if err != nil {
			return err
		}
		if err := store.CreateVersionTable(ctx, tx); err != nil {
			return err
		}
		for _, v := range append([]int64{0}, versions...) {
			if err := store.Insert(ctx, tx, database.InsertRequest{Version: v}); err != nil {
				return err
			}
		}
		return nil
	})
}

// inTx runs fn in a transaction, committed if fn returns nil.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// ignoreDone drops the error Rollback returns when the transaction already
// ended, which adds nothing to the error that made us roll back.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
