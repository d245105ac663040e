package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/sqlstore"
	"example.com/otelstarter/internal/testenv"
)

func TestOpenUnavailable(t *testing.T) {
	// A server that accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		silent.Close()
		<-done
	})
	go func() {
		defer close(done)
		var conns []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
	}{
		{"connection refused", "postgres://postgres:" + secret + "@127.0.0.1:1/x?connect_timeout=1", 5 * time.Second},
		{"server never answers", "postgres://postgres:" + secret + "@" + silent.Addr().String() + "/x?sslmode=disable", 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()
			start := time.Now()
			s, err := sqlstore.Open(ctx, tt.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if took := time.Since(start); took > tt.timeout+2*time.Second {
				t.Errorf("Open took %v", took)
			}
			if !errors.Is(err, blog.ErrUnavailable) || blog.ErrorCode(err) != blog.CodeUnavailable {
				t.Errorf("error %v: want it to wrap blog.ErrUnavailable", err)
			}
			if msg := err.Error(); strings.Contains(msg, secret) || !strings.Contains(msg, "DATABASE_URL") {
				t.Errorf("error %q: want DATABASE_URL named and no password", msg)
			}
		})
	}
}

// TestUnavailableAfterOpen cuts the store off its database: first every
// connection, which the pool replaces, then the database itself.
func TestUnavailableAfterOpen(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	s := mustOpen(t, dbURL)
	ctx := t.Context()
	u := mustUser(t, s, "a@example.com")
	post := mustPost(t, s, blog.Post{Title: "t", Body: "b", AuthorID: u.ID})

	parsed, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(parsed.Path, "/")
	parsed.Path = "/postgres"
	admin, err := pgx.Connect(ctx, parsed.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())

	if _, err := admin.Exec(ctx,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	// A query on a killed connection fails as unavailable or is retried on
	// a new one by database/sql; either way it is not an internal error.
	for i := range 3 {
		if _, err := s.Post(ctx, post.ID); err != nil && !errors.Is(err, blog.ErrUnavailable) {
			t.Errorf("Post #%d after pg_terminate_backend: %v, want nil or unavailable", i+1, err)
		}
	}
	if _, err := s.Post(ctx, post.ID); err != nil {
		t.Errorf("Post once the pool recovered: %v", err)
	}

	if _, err := admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		op   func(ctx context.Context) error
	}{
		{"Ping", s.Ping},
		{"Post", func(ctx context.Context) error { _, err := s.Post(ctx, post.ID); return err }},
		{"CreateUser", func(ctx context.Context) error { _, err := s.CreateUser(ctx, "b@example.com", "h"); return err }},
		{"ListPosts", func(ctx context.Context) error {
			_, err := s.ListPosts(ctx, blog.Page{Page: 1, PerPage: 10})
			return err
		}},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			err := o.op(ctx)
			if !errors.Is(err, blog.ErrUnavailable) {
				t.Errorf("%s on a dropped database = %v, want blog.ErrUnavailable", o.name, err)
			}
		})
	}
}

func TestIsUnavailable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{driver.ErrBadConn, true},
		{sql.ErrConnDone, true},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("query: %w", context.Canceled), false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{&pgconn.PgError{Code: "57P01"}, true}, // admin_shutdown
		{&pgconn.PgError{Code: "08006"}, true}, // connection_failure
		{&pgconn.PgError{Code: "53300"}, true}, // too_many_connections
		{&pgconn.PgError{Code: "3D000"}, true}, // database does not exist
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42P01"}, false},
		{sql.ErrNoRows, false},
		{errors.New("syntax error"), false},
	}
	for _, tt := range tests {
		if got := sqlstore.IsUnavailable(tt.err); got != tt.want {
			t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
