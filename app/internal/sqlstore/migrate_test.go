package sqlstore_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"example.com/otelstarter/app/internal/sqlstore"
	"example.com/otelstarter/internal/testenv"
)

// appliedVersions returns the versions goose's table counts as applied, in
// the order they were applied, without goose's version 0.
func appliedVersions(t *testing.T, s *sqlstore.Store) []int64 {
	t.Helper()
	rows, err := s.DB().QueryContext(t.Context(),
		"SELECT version_id FROM goose_db_version WHERE version_id > 0 AND is_applied ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

// schema describes the app's tables, columns, indexes and constraints, one
// line each in a stable order; goose's own table is left out.
func schema(t *testing.T, s *sqlstore.Store, dialect string) []string {
	t.Helper()
	q := `SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master
		WHERE name NOT LIKE 'sqlite_%' AND tbl_name <> 'goose_db_version' ORDER BY 1`
	if dialect == "postgres" {
		q = `SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' ||
				is_nullable || ' ' || coalesce(column_default, '') || ' ' || is_identity
			FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'
		UNION ALL
		SELECT 'index ' || indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'
		UNION ALL
		SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
			FROM pg_constraint
			WHERE connamespace = current_schema()::regnamespace AND conrelid::regclass::text <> 'goose_db_version'
		ORDER BY 1`
	}
	rows, err := s.DB().QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestMigrationFiles keeps the files in the form docs/migrations.md gives:
// goose's sequential numbering, no gap, and the same files for both
// databases, each with an Up and a Down section.
func TestMigrationFiles(t *testing.T) {
	name := regexp.MustCompile(`^\d{5}_[a-z0-9_]+\.sql$`)
	var names [2][]string
	for i, dialect := range []string{"postgres", "sqlite"} {
		fsys := sqlstore.MigrationFiles(dialect)
		entries, err := fs.ReadDir(fsys, ".")
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range entries {
			if !name.MatchString(e.Name()) || !strings.HasPrefix(e.Name(), fmt.Sprintf("%05d_", j+1)) {
				t.Errorf("%s/%s: want %05d_description.sql", dialect, e.Name(), j+1)
			}
			body, err := fs.ReadFile(fsys, e.Name())
			if err != nil {
				t.Fatal(err)
			}
			for _, section := range []string{"-- +goose Up\n", "-- +goose Down\n"} {
				if !strings.Contains(string(body), section) {
					t.Errorf("%s/%s: no %q section", dialect, e.Name(), strings.TrimSpace(section))
				}
			}
			names[i] = append(names[i], e.Name())
		}
	}
	if len(names[0]) == 0 || !slices.Equal(names[0], names[1]) {
		t.Errorf("postgres has %v, sqlite %v: want the same migrations", names[0], names[1])
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		url := b.newDB(t)
		first := mustOpen(t, url)
		u := mustUser(t, first, "a@example.com")
		want := appliedVersions(t, first)
		if len(want) == 0 || want[0] != 1 {
			t.Fatalf("applied versions = %v, want 1 first", want)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}

		second := mustOpen(t, url)
		if got := appliedVersions(t, second); !slices.Equal(got, want) {
			t.Errorf("applied versions after a second Open = %v, want %v", got, want)
		}
		if got, err := second.UserByEmail(t.Context(), u.Email); err != nil || got != u {
			t.Errorf("data after a second Open = %+v, %v; want %+v", got, err, u)
		}
	})
}

// TestMigrateDownAndUpAgain: every Down undoes its Up, down to an empty
// schema, and Up then builds the same schema again.
func TestMigrateDownAndUpAgain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.newDB(t))
		ctx := t.Context()
		want := schema(t, s, b.name)
		if len(want) == 0 {
			t.Fatal("no schema after Open")
		}
		n := len(appliedVersions(t, s))
		for i := range n {
			res, err := s.MigrateDown(ctx)
			if err != nil || res == nil || res.Direction != "down" {
				t.Fatalf("MigrateDown #%d = %v, %v", i+1, res, err)
			}
		}
		if got := schema(t, s, b.name); len(got) != 0 {
			t.Errorf("schema after every Down:\n%s\nwant none", strings.Join(got, "\n"))
		}
		if got := appliedVersions(t, s); len(got) != 0 {
			t.Errorf("applied versions after every Down = %v", got)
		}
		if res, err := s.MigrateDown(ctx); err != nil || res != nil {
			t.Errorf("MigrateDown at version 0 = %v, %v; want nothing to do", res, err)
		}

		res, err := s.MigrateUp(ctx)
		if err != nil || len(res) != n {
			t.Fatalf("MigrateUp = %d results, %v; want %d", len(res), err, n)
		}
		if got := schema(t, s, b.name); !slices.Equal(got, want) {
			t.Errorf("schema after down and up:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		mustUser(t, s, "a@example.com")
	})
}

func TestMigrationStatus(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		s, err := sqlstore.Connect(ctx, b.newDB(t))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st, err := s.MigrationStatus(ctx)
		if err != nil || len(st) == 0 || st[0].State != "pending" || st[0].Source.Version != 1 {
			t.Fatalf("MigrationStatus before Up = %v, %v; want 1 pending first", st, err)
		}
		if _, err := s.MigrateUp(ctx); err != nil {
			t.Fatal(err)
		}
		st, err = s.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range st {
			if m.State != "applied" || time.Since(m.AppliedAt) > time.Hour || time.Until(m.AppliedAt) > time.Hour {
				t.Errorf("migration %d: %s at %v, want applied now", m.Source.Version, m.State, m.AppliedAt)
			}
		}
	})
}

// TestConcurrentOpenPostgres: replicas that start together, on a fresh
// database or on one the previous runner made, all start, and each
// migration is applied, or adopted, once.
func TestConcurrentOpenPostgres(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprint("legacy=", legacy), func(t *testing.T) {
			t.Parallel()
			url := testenv.PostgresURL(t)
			if legacy {
				makeLegacy(t, url, "postgres")
			}
			const n = 4
			var wg sync.WaitGroup
			stores := make([]*sqlstore.Store, n)
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					stores[i], errs[i] = sqlstore.Open(ctx, url)
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Open #%d: %v", i, err)
					continue
				}
				t.Cleanup(func() { stores[i].Close() })
			}
			if t.Failed() {
				return
			}
			rows, err := stores[0].DB().QueryContext(t.Context(),
				"SELECT version_id, count(*) FROM goose_db_version GROUP BY version_id ORDER BY version_id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var versions []int64
			for rows.Next() {
				var v, count int64
				if err := rows.Scan(&v, &count); err != nil {
					t.Fatal(err)
				}
				if count != 1 {
					t.Errorf("version %d recorded %d times, want once", v, count)
				}
				versions = append(versions, v)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(versions) < 2 || versions[0] != 0 || versions[1] != 1 {
				t.Errorf("goose_db_version has versions %v, want 0, 1, …", versions)
			}
			mustUser(t, stores[n-1], "a@example.com")
		})
	}
}

// makeLegacy gives the database of url the schema and the version table
// the runner before goose left, from testdata/legacy.
func makeLegacy(t *testing.T, url, dialect string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	legacy, err := os.ReadFile("testdata/legacy/" + dialect + ".sql")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DB().ExecContext(ctx, string(legacy)); err != nil {
		t.Fatalf("legacy schema: %v", err)
	}
}

// TestAdoptLegacyDatabase starts the goose runner on a database the
// previous runner made: nothing runs again, the data stays, and goose
// manages the schema from then on.
func TestAdoptLegacyDatabase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		url := b.newDB(t)
		makeLegacy(t, url, b.name)
		old, err := sqlstore.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		u := mustUser(t, old, "old@example.com")
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		s := mustOpen(t, url)
		if got := appliedVersions(t, s); !slices.Equal(got, []int64{1}) {
			t.Errorf("applied versions after adoption = %v, want [1]", got)
		}
		if got, err := s.UserByEmail(ctx, u.Email); err != nil || got != u {
			t.Errorf("user after adoption = %+v, %v; want %+v", got, err, u)
		}
		// Left for the previous release, which may still start.
		var legacyRows int
		if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&legacyRows); err != nil || legacyRows != 1 {
			t.Errorf("schema_migrations: %d rows, %v; want its row kept", legacyRows, err)
		}

		// The adoption happens once: after a down, goose's table says
		// what is applied, not schema_migrations.
		if res, err := s.MigrateDown(ctx); err != nil || res == nil || res.Source.Version != 1 {
			t.Fatalf("MigrateDown = %v, %v; want version 1 rolled back", res, err)
		}
		if _, err := s.UserByEmail(ctx, u.Email); err == nil {
			t.Error("user still there after rolling back the users table")
		}
		if res, err := s.MigrateUp(ctx); err != nil || len(res) != 1 {
			t.Fatalf("MigrateUp after down = %v, %v; want version 1 applied again", res, err)
		}
		mustUser(t, s, "new@example.com")
	})
}

// TestNewerVersionLeftAlone: during a rolling deploy, an instance of the
// previous release starts on a database a newer release migrated further.
func TestNewerVersionLeftAlone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		url := b.newDB(t)
		s := mustOpen(t, url)
		newer := fstest.MapFS{}
		err := fs.WalkDir(sqlstore.MigrationFiles(b.name), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			body, err := fs.ReadFile(sqlstore.MigrationFiles(b.name), p)
			newer[p] = &fstest.MapFile{Data: body}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		newer["09000_next.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE next (id INTEGER);\n-- +goose Down\nDROP TABLE next;\n")}
		if err := sqlstore.MigrateFS(t.Context(), s, newer); err != nil {
			t.Fatal(err)
		}
		s.Close()

		old := mustOpen(t, url)
		if got := appliedVersions(t, old); !slices.Contains(got, 9000) {
			t.Errorf("applied versions = %v, want 9000 kept", got)
		}
	})
}

func TestMigrationFailureRollsBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.newDB(t))
		ctx := t.Context()
		db := s.DB()
		up := func(sql string) *fstest.MapFile {
			return &fstest.MapFile{Data: []byte("-- +goose Up\n" + sql + "\n-- +goose Down\nSELECT 1;\n")}
		}
		bad := fstest.MapFS{
			"00001_init.sql":   {Data: []byte("this is applied already and never runs")},
			"09001_ok.sql":     up("CREATE TABLE extra_ok (id INTEGER);"),
			"09002_broken.sql": up("CREATE TABLE extra_broken (id INTEGER);\nSELECT no_such_column FROM extra_broken;"),
			"09003_after.sql":  up("CREATE TABLE extra_after (id INTEGER);"),
			"README.md":        {Data: []byte("not a migration")},
		}
		err := sqlstore.MigrateFS(ctx, s, bad)
		if err == nil || !strings.Contains(err.Error(), "09002_broken.sql") || !strings.Contains(err.Error(), "no_such_column") {
			t.Fatalf("MigrateFS = %v, want an error naming 09002_broken.sql and the failure", err)
		}
		if got := appliedVersions(t, s); !slices.Equal(got, []int64{1, 9001}) {
			t.Errorf("applied versions = %v, want [1 9001]", got)
		}
		for table, exists := range map[string]bool{"extra_ok": true, "extra_broken": false, "extra_after": false} {
			_, err := db.ExecContext(ctx, "SELECT COUNT(*) FROM "+table)
			if (err == nil) != exists {
				t.Errorf("table %s: exists = %v, want %v", table, err == nil, exists)
			}
		}

		bad["09002_broken.sql"] = up("CREATE TABLE extra_broken (id INTEGER);")
		if err := sqlstore.MigrateFS(ctx, s, bad); err != nil {
			t.Fatalf("MigrateFS after the fix: %v", err)
		}
		if got := appliedVersions(t, s); !slices.Equal(got, []int64{1, 9001, 9002, 9003}) {
			t.Errorf("applied versions = %v, want [1 9001 9002 9003]", got)
		}
	})
}

// TestBadMigrationFiles: a file goose would skip or cannot run stops the
// migration with an error naming it, before anything runs.
func TestBadMigrationFiles(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"no version", fstest.MapFS{"init.sql": {}}, "init.sql: name must be NNNNN_description.sql"},
		{"same version", fstest.MapFS{"00001_a.sql": {}, "1_b.sql": {}}, "duplicate migration version 1"},
		{"no goose annotation", fstest.MapFS{"00001_init.sql": {Data: []byte("CREATE TABLE t (id INTEGER);")}}, "00001_init.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlstore.Connect(t.Context(), "sqlite::memory:")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = sqlstore.MigrateFS(t.Context(), s, tt.fs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("MigrateFS = %v, want an error containing %q", err, tt.want)
			}
			var tables int
			if err := s.DB().QueryRowContext(t.Context(),
				"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 't'").Scan(&tables); err != nil || tables != 0 {
				t.Errorf("table t: %d, %v; want nothing created", tables, err)
			}
		})
	}
}
