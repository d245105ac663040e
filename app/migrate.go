package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"example.com/otelstarter/app/internal/config"
	"example.com/otelstarter/app/internal/jobs"
	"example.com/otelstarter/app/internal/sqlstore"
)

const migrateUsage = `usage: app migrate up | down | status

  up      apply the app's pending migrations (goose), then River's
  down    roll back the app's latest migration; River's are left as they are
  status  list the app's migrations, applied or pending, and River's version

The database is DATABASE_URL, as for the server, which also migrates up when
it starts. The exit status is 0 on success, 1 on failure, 2 on a usage error.
See docs/migrations.md.`

// migrate is `app migrate`: the migrations the server applies at start,
// one command for both sets (the app's, by goose, and River's).
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 1 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprintln(stdout, migrateUsage)
			return nil
		}
	}
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
		if len(args) == 0 {
			fmt.Fprintln(stderr, "app migrate: missing command")
		} else {
			fmt.Fprintf(stderr, "app migrate: unknown command %q\n", strings.Join(args, " "))
		}
		fmt.Fprintln(stderr, migrateUsage)
		return errUsage
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if err := sqlstore.CheckURL(cfg.DatabaseURL); err != nil {
		return err
	}
	// Connect, not Open: Open would migrate up before down or status.
	store, err := sqlstore.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer store.Close()

	switch args[0] {
	case "up":
		return migrateUp(ctx, cfg.DatabaseURL, store, stdout)
	case "down":
		return migrateDown(ctx, store, stdout)
	default:
		return migrateStatus(ctx, cfg.DatabaseURL, store, stdout)
	}
}

// migrateUp runs the app's migrations, then River's, as a server's start
// does; each set takes the migration lock for its turn.
func migrateUp(ctx context.Context, databaseURL string, store *sqlstore.Store, stdout io.Writer) error {
	results, err := store.MigrateUp(ctx)
	for _, r := range results {
		fmt.Fprintf(stdout, "app: %s\n", r)
	}
	if err != nil {
		return err
	}
	if len(results) == 0 {
		fmt.Fprintln(stdout, "app: no pending migration")
	}
	applied, err := jobs.Migrate(ctx, databaseURL, store.DB(), store.WithMigrationLock)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "river: no pending migration")
	} else {
		fmt.Fprintf(stdout, "river: applied %s\n", strings.Trim(fmt.Sprint(applied), "[]"))
	}
	return nil
}

// migrateDown rolls back the app's latest migration. River's schema stays:
// rolling it back drops the job tables with their jobs, and River's own CLI
// does that for whoever means it (docs/migrations.md).
func migrateDown(ctx context.Context, store *sqlstore.Store, stdout io.Writer) error {
	r, err := store.MigrateDown(ctx)
	if err != nil {
		return err
	}
	if r == nil {
		fmt.Fprintln(stdout, "app: no migration applied, nothing to roll back")
	} else {
		fmt.Fprintf(stdout, "app: %s\n", r)
	}
	fmt.Fprintln(stdout, "river: left as it is (app migrate down rolls back the app's migrations only)")
	return nil
}

// migrateStatus prints goose's status of the app's migrations and River's
// version.
func migrateStatus(ctx context.Context, databaseURL string, store *sqlstore.Store, stdout io.Writer) error {
	st, err := store.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "app: %-20s  %s\n", "APPLIED AT (UTC)", "MIGRATION")
	for _, m := range st {
		at := "pending"
		if !m.AppliedAt.IsZero() {
			at = m.AppliedAt.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(stdout, "app: %-20s  %s\n", at, m.Source.Path)
	}
	current, latest, err := jobs.MigrationVersion(ctx, databaseURL, store.DB())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "river: version %d of %d\n", current, latest)
	return nil
}
