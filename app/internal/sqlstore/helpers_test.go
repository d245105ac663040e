package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"example.com/otelstarter/app/internal/sqlstore"
	"example.com/otelstarter/internal/testenv"
)

// backend makes a fresh, empty database and returns its DATABASE_URL.
type backend struct {
	name  string
	newDB func(tb testing.TB) string
}

var backends = []backend{
	{"sqlite", sqliteURL},
	{"postgres", testenv.PostgresURL},
}

func sqliteURL(tb testing.TB) string {
	tb.Helper()
	// A subdirectory that does not exist yet: Open must create it.
	return "sqlite:" + filepath.Join(tb.TempDir(), "data", "blog.db")
}

// mustOpen opens url and closes the store when tb ends.
func mustOpen(tb testing.TB, url string) *sqlstore.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqlstore.Open(ctx, url)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// forEachBackendInTurn runs fn as a subtest per backend, one after the
// other, for tests that record through the global providers.
func forEachBackendInTurn(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// forEachBackend runs fn as a subtest per backend, each on a fresh database.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}
