package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/sqlstore"
	"example.com/otelstarter/internal/testenv"
)

const secret = "s3cr3t-pw"

func TestOpenBadDatabaseURL(t *testing.T) {
	tests := []struct {
		name, url string
		wantText  string // in the error besides DATABASE_URL
	}{
		{"empty", "", "empty"},
		{"blank", "  ", "empty"},
		{"unknown scheme", "mysql://root:" + secret + "@db/blog", `"mysql"`},
		{"no scheme", "root:" + secret + "@db/blog", "scheme"},
		{"path only", "/var/lib/blog.db", "scheme"},
		{"bad port", "postgres://u:" + secret + "@db:port/blog", "invalid port"},
		{"bad escape", "postgres://u:" + secret + "%zz@db/blog", "escape"},
		{"bad sslmode", "postgresql://u:" + secret + "@127.0.0.1:1/blog?sslmode=bogus", "sslmode is invalid"},
		{"password in query", "postgres://127.0.0.1:1/blog?password=" + secret + "&sslmode=bogus", "sslmode is invalid"},
		{"sqlite without path", "sqlite:", "sqlite:data/blog.db"},
		{"sqlite with slashes", "sqlite://data/blog.db", "without //"},
		{"sqlite with query", "sqlite:blog.db?_pragma=foreign_keys(0)", "must not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			s, err := sqlstore.Open(ctx, tt.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "DATABASE_URL") || !strings.Contains(msg, tt.wantText) {
				t.Errorf("error %q: want it to name DATABASE_URL and contain %q", msg, tt.wantText)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error %q shows the password", msg)
			}
			if errors.Is(err, blog.ErrUnavailable) {
				t.Errorf("error %q: a configuration mistake must not pass for an unavailable database", msg)
			}
			// CheckURL, which config runs at start, refuses the same URL
			// with the same error, before anything is opened.
			var ue *sqlstore.URLError
			if cerr := sqlstore.CheckURL(tt.url); !errors.As(err, &ue) || cerr == nil || cerr.Error() != msg {
				t.Errorf("Open: %v (%T); CheckURL: %v; want the same *URLError from both", err, err, cerr)
			}
		})
	}
	for _, ok := range []string{"sqlite::memory:", "sqlite:data/blog.db", "postgres://u:p@db:5432/blog?sslmode=disable", "postgresql://db/blog"} {
		if err := sqlstore.CheckURL(ok); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", ok, err)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	for _, url := range []string{"sqlite::memory:", sqliteURL(t)} {
		t.Run(url, func(t *testing.T) {
			s := mustOpen(t, url)
			// The pragmas are set on every connection.
			var fk int
			if err := s.DB().QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
				t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
			}
			var busy int
			if err := s.DB().QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 5000 {
				t.Errorf("busy_timeout = %d, %v; want 5000", busy, err)
			}
			var mode string
			if err := s.DB().QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if want := "wal"; url != "sqlite::memory:" && mode != want {
				t.Errorf("journal_mode = %q, want %q", mode, want)
			}
			// One connection in the pool, or :memory: would be many databases.
			if got := s.DB().Stats().MaxOpenConnections; got != 1 {
				t.Errorf("MaxOpenConnections = %d, want 1", got)
			}
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("Ping: %v", err)
			}
			mustUser(t, s, "a@example.com")
			if _, err := s.UserByEmail(t.Context(), "a@example.com"); err != nil {
				t.Errorf("user not found on a second query: %v", err)
			}
		})
	}
}

// appliedVersions returns the versions in schema_migrations.
func appliedVersions(t *testing.T, s *sqlstore.Store) []int64 {
	t.Helper()
	rows, err := s.DB().QueryContext(t.Context(), "SELECT version FROM schema_migrations ORDER BY version")
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

func TestMigrationsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		url := b.newDB(t)
		first := mustOpen(t, url)
		u := mustUser(t, first, "a@example.com")
		want := appliedVersions(t, first)
		if len(want) == 0 || want[0] != 1 {
			t.Fatalf("schema_migrations = %v, want 1 first", want)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}

		second := mustOpen(t, url)
		if got := appliedVersions(t, second); len(got) != len(want) {
			t.Errorf("schema_migrations after a second Open = %v, want %v", got, want)
		}
		if got, err := second.UserByEmail(t.Context(), u.Email); err != nil || got != u {
			t.Errorf("data after a second Open = %+v, %v; want %+v", got, err, u)
		}
	})
}

func TestConcurrentOpenPostgres(t *testing.T) {
	url := testenv.PostgresURL(t)
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
	got := appliedVersions(t, stores[0])
	if len(got) == 0 || got[0] != 1 {
		t.Errorf("schema_migrations = %v", got)
	}
	mustUser(t, stores[n-1], "a@example.com")
}

func TestMigrationFailureRollsBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.newDB(t))
		ctx := t.Context()
		db := s.DB()
		bad := fstest.MapFS{
			"0001_init.up.sql":   {Data: []byte("this is applied already and never runs")},
			"9001_ok.up.sql":     {Data: []byte("CREATE TABLE extra_ok (id INTEGER);")},
			"9002_broken.up.sql": {Data: []byte("CREATE TABLE extra_broken (id INTEGER);\nSELECT no_such_column FROM extra_broken;")},
			"9003_after.up.sql":  {Data: []byte("CREATE TABLE extra_after (id INTEGER);")},
			"README.md":          {Data: []byte("not a migration")},
		}
		err := sqlstore.MigrateFS(ctx, db, b.name, bad)
		if err == nil || !strings.Contains(err.Error(), "9002_broken.up.sql") {
			t.Fatalf("MigrateFS = %v, want an error naming 9002_broken.up.sql", err)
		}
		if got := appliedVersions(t, s); !equalTail(got, 9001) {
			t.Errorf("schema_migrations = %v, want 9001 last", got)
		}
		for table, exists := range map[string]bool{"extra_ok": true, "extra_broken": false, "extra_after": false} {
			_, err := db.ExecContext(ctx, "SELECT COUNT(*) FROM "+table)
			if (err == nil) != exists {
				t.Errorf("table %s: exists = %v, want %v", table, err == nil, exists)
			}
		}

		bad["9002_broken.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE extra_broken (id INTEGER);")}
		if err := sqlstore.MigrateFS(ctx, db, b.name, bad); err != nil {
			t.Fatalf("MigrateFS after the fix: %v", err)
		}
		if got := appliedVersions(t, s); !equalTail(got, 9001, 9002, 9003) {
			t.Errorf("schema_migrations = %v, want 9001 9002 9003 last", got)
		}
	})
}

func equalTail(got []int64, want ...int64) bool {
	if len(got) < len(want) {
		return false
	}
	for i, w := range want {
		if got[len(got)-len(want)+i] != w {
			return false
		}
	}
	return true
}

func TestMigrationNames(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"no version", fstest.MapFS{"init.up.sql": {}}, "NNNN_description.up.sql"},
		{"not a number", fstest.MapFS{"first_init.up.sql": {}}, "version number"},
		{"down migration", fstest.MapFS{"0001_init.down.sql": {}}, "NNNN_description.up.sql"},
		{"same version", fstest.MapFS{"0001_a.up.sql": {}, "1_b.up.sql": {}}, "same version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sqlstore.MigrateFS(t.Context(), nil, "sqlite", tt.fs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("MigrateFS = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := sqlstore.Open(t.Context(), "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Errorf("Close #%d: %v", i+1, err)
		}
	}
	_, err = s.Post(t.Context(), 1)
	if err == nil || errors.Is(err, blog.ErrUnavailable) {
		t.Errorf("Post after Close = %v, want an internal error", err)
	}
}
