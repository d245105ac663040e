package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/internal/testenv"
)

// TestReadsSurviveATerminatedConnection: PostgreSQL ends the store's
// connections (pg_terminate_backend, as a failover or an administrator
// does); the next read of each kind is retried once on a fresh connection
// and answers, where it was a 503 before.
func TestReadsSurviveATerminatedConnection(t *testing.T) {
	url := testenv.PostgresURL(t)
	s := mustOpen(t, url)
	admin := mustOpen(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := s.CreateUser(ctx, "retry@example.com", "hash")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePost(ctx, blog.Post{Title: "t", Body: "b", AuthorID: u.ID, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, blog.Session{TokenHash: []byte("retry-token-hash"), UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	reads := map[string]func() error{
		"Post":        func() error { _, err := s.Post(ctx, p.ID); return err },
		"ListPosts":   func() error { _, err := s.ListPosts(ctx, blog.Page{Page: 1, PerPage: 10}); return err },
		"UserByEmail": func() error { _, err := s.UserByEmail(ctx, "retry@example.com"); return err },
		"SessionUser": func() error { _, err := s.SessionUser(ctx, []byte("retry-token-hash"), time.Now()); return err },
	}
	for name, read := range reads {
		if err := read(); err != nil { // the store's connection, just used
			t.Fatalf("%s before: %v", name, err)
		}
		var pid int
		if err := s.DB().QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.DB().ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		if err := read(); err != nil {
			t.Errorf("%s after its connection was terminated: %v (code %s)", name, err, blog.ErrorCode(err))
		}
	}
}
