package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/sqlstore"
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
