package sqlstore_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/sqlstore"
)

// TestStore runs the blog.Store contract against every backend, each case
// on a fresh database.
func TestStore(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *sqlstore.Store)
	}{
		{"users", testUsers},
		{"sessions", testSessions},
		{"posts", testPosts},
		{"author only", testAuthorOnly},
		{"pagination", testPagination},
		{"times", testTimes},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				tt.run(t, mustOpen(t, b.newDB(t)))
			})
		}
	})
}

// wantCode fails t unless err carries code ("" for no error).
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := blog.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func mustUser(t *testing.T, s *sqlstore.Store, email string) blog.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), email, "hash-of-"+email)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

func mustPost(t *testing.T, s *sqlstore.Store, p blog.Post) blog.Post {
	t.Helper()
	got, err := s.CreatePost(t.Context(), p)
	if err != nil {
		t.Fatalf("CreatePost: %v", err)
	}
	return got
}

// inUTCMicros fails t unless tm is non-zero, in UTC and whole microseconds.
func inUTCMicros(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.IsZero() || tm.Location() != time.UTC || tm.Nanosecond()%1000 != 0 {
		t.Errorf("%s = %v (%s): want a non-zero UTC time in whole microseconds", what, tm, tm.Location())
	}
}

func testUsers(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	alice, err := s.CreateUser(ctx, "  Alice@Example.COM\t", "hash-a")
	if err != nil {
		t.Fatal(err)
	}
	if alice.ID <= 0 || alice.Email != "alice@example.com" || alice.PasswordHash != "hash-a" {
		t.Errorf("CreateUser = %+v, want an ID, the email lower-cased and trimmed, the hash", alice)
	}
	inUTCMicros(t, "CreatedAt", alice.CreatedAt)
	bob := mustUser(t, s, "bob@example.com")
	if bob.ID == alice.ID {
		t.Errorf("two users with ID %d", bob.ID)
	}

	t.Run("duplicate email", func(t *testing.T) {
		for _, email := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", " alice@example.com "} {
			_, err := s.CreateUser(ctx, email, "other")
			wantCode(t, err, blog.CodeEmailTaken)
			if e := err.(*blog.Error); e.Message != "email is already registered" {
				t.Errorf("CreateUser(%q) message %q", email, e.Message)
			}
		}
	})

	t.Run("by email", func(t *testing.T) {
		tests := []struct {
			email string
			want  blog.User
			code  string
		}{
			{"alice@example.com", alice, ""},
			{"ALICE@example.com ", alice, ""},
			{"bob@example.com", bob, ""},
			{"carol@example.com", blog.User{}, blog.CodeNotFound},
			{"", blog.User{}, blog.CodeNotFound},
		}
		for _, tt := range tests {
			got, err := s.UserByEmail(ctx, tt.email)
			wantCode(t, err, tt.code)
			if got != tt.want {
				t.Errorf("UserByEmail(%q) = %+v, want %+v", tt.email, got, tt.want)
			}
		}
	})
}

func testSessions(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	u := mustUser(t, s, "a@example.com")
	now := time.Now()
	sessions := []blog.Session{
		{TokenHash: []byte("valid"), UserID: u.ID, ExpiresAt: now.Add(time.Hour)},
		{TokenHash: []byte("expired"), UserID: u.ID, ExpiresAt: now.Add(-time.Minute)},
		{TokenHash: []byte("expires-now"), UserID: u.ID, ExpiresAt: now},
		{TokenHash: bytes.Repeat([]byte{0, 0xff}, 16), UserID: u.ID, ExpiresAt: now.Add(time.Second)},
	}
	for _, sess := range sessions {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession(%q): %v", sess.TokenHash, err)
		}
	}

	t.Run("create errors", func(t *testing.T) {
		wantCode(t, s.CreateSession(ctx, sessions[0]), blog.CodeConflict)
		wantCode(t, s.CreateSession(ctx, blog.Session{TokenHash: []byte("x"), UserID: u.ID + 100, ExpiresAt: now}), blog.CodeNotFound)
	})

	t.Run("lookup", func(t *testing.T) {
		tests := []struct {
			token string
			want  int64
			code  string
		}{
			{"valid", u.ID, ""},
			{string(sessions[3].TokenHash), u.ID, ""},
			{"expired", 0, blog.CodeNotFound},
			{"expires-now", 0, blog.CodeNotFound}, // expiry is exclusive
			{"unknown", 0, blog.CodeNotFound},
		}
		for _, tt := range tests {
			got, err := s.SessionUser(ctx, []byte(tt.token), now)
			wantCode(t, err, tt.code)
			if got != tt.want {
				t.Errorf("SessionUser(%q) = %d, want %d", tt.token, got, tt.want)
			}
		}
	})

	t.Run("delete expired", func(t *testing.T) {
		for i, want := range []int64{2, 0} {
			n, err := s.DeleteExpiredSessions(ctx, now)
			if err != nil || n != want {
				t.Errorf("DeleteExpiredSessions #%d = %d, %v; want %d", i+1, n, err, want)
			}
		}
		if _, err := s.SessionUser(ctx, []byte("valid"), now); err != nil {
			t.Errorf("valid session deleted: %v", err)
		}
		n, err := s.DeleteExpiredSessions(ctx, now.Add(2*time.Hour))
		if err != nil || n != 2 {
			t.Errorf("DeleteExpiredSessions(later) = %d, %v; want 2", n, err)
		}
	})
}

func testPosts(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	author := mustUser(t, s, "author@example.com")

	created := mustPost(t, s, blog.Post{Title: "Hello", Body: "First post", AuthorID: author.ID})
	if created.ID <= 0 || created.Title != "Hello" || created.Body != "First post" || created.AuthorID != author.ID {
		t.Errorf("CreatePost = %+v", created)
	}
	inUTCMicros(t, "CreatedAt", created.CreatedAt)
	if created.UpdatedAt != created.CreatedAt {
		t.Errorf("UpdatedAt %v != CreatedAt %v on a new post", created.UpdatedAt, created.CreatedAt)
	}
	if got, err := s.Post(ctx, created.ID); err != nil || got != created {
		t.Errorf("Post = %+v, %v; want %+v", got, err, created)
	}

	_, err := s.CreatePost(ctx, blog.Post{Title: "t", Body: "b", AuthorID: author.ID + 100})
	wantCode(t, err, blog.CodeNotFound)

	time.Sleep(time.Millisecond) // so that UpdatedAt moves on a coarse clock
	updated, err := s.UpdatePost(ctx, blog.Post{ID: created.ID, Title: "Hello again", Body: "Edited", AuthorID: author.ID})
	if err != nil {
		t.Fatalf("UpdatePost: %v", err)
	}
	want := created
	want.Title, want.Body, want.UpdatedAt = "Hello again", "Edited", updated.UpdatedAt
	if updated != want || !updated.UpdatedAt.After(created.UpdatedAt) {
		t.Errorf("UpdatePost = %+v, want %+v with a later UpdatedAt", updated, want)
	}
	inUTCMicros(t, "UpdatedAt", updated.UpdatedAt)
	if got, err := s.Post(ctx, created.ID); err != nil || got != updated {
		t.Errorf("Post after update = %+v, %v; want %+v", got, err, updated)
	}

	if err := s.DeletePost(ctx, created.ID, author.ID); err != nil {
		t.Fatalf("DeletePost: %v", err)
	}
	_, err = s.Post(ctx, created.ID)
	wantCode(t, err, blog.CodeNotFound)
	if e := err.(*blog.Error); e.Message != "post not found" {
		t.Errorf("Post message %q", e.Message)
	}
	wantCode(t, s.DeletePost(ctx, created.ID, author.ID), blog.CodeNotFound)

	// IDs are not reused, so a cache keyed by ID cannot mix posts up.
	next := mustPost(t, s, blog.Post{Title: "Next", Body: "b", AuthorID: author.ID})
	if next.ID <= created.ID {
		t.Errorf("new post ID %d reuses or precedes deleted ID %d", next.ID, created.ID)
	}
}

func testAuthorOnly(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	author := mustUser(t, s, "author@example.com")
	other := mustUser(t, s, "other@example.com")
	post := mustPost(t, s, blog.Post{Title: "Mine", Body: "b", AuthorID: author.ID})
	missing := post.ID + 1000

	tests := []struct {
		name string
		op   func() error
		code string
	}{
		{"update by another user", func() error {
			_, err := s.UpdatePost(ctx, blog.Post{ID: post.ID, Title: "x", Body: "x", AuthorID: other.ID})
			return err
		}, blog.CodeForbidden},
		{"delete by another user", func() error { return s.DeletePost(ctx, post.ID, other.ID) }, blog.CodeForbidden},
		{"update missing post", func() error {
			_, err := s.UpdatePost(ctx, blog.Post{ID: missing, Title: "x", Body: "x", AuthorID: author.ID})
			return err
		}, blog.CodeNotFound},
		{"delete missing post", func() error { return s.DeletePost(ctx, missing, author.ID) }, blog.CodeNotFound},
		{"get missing post", func() error { _, err := s.Post(ctx, missing); return err }, blog.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.op(), tt.code)
		})
	}
	if got, err := s.Post(ctx, post.ID); err != nil || got != post {
		t.Errorf("post after refused changes = %+v, %v; want %+v", got, err, post)
	}
}

func testPagination(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	empty, err := s.ListPosts(ctx, blog.Page{Page: 1, PerPage: 10})
	if err != nil || empty.Total != 0 || empty.Posts == nil || len(empty.Posts) != 0 {
		t.Fatalf("ListPosts on no posts = %+v, %v; want Total 0 and an empty, non-nil slice", empty, err)
	}

	author := mustUser(t, s, "author@example.com")
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	// Created out of order, and the last three at the same instant: the
	// listing goes by created_at, then by ID.
	offsets := []time.Duration{3, 1, 0, 2, 4, 4, 4}
	var posts []blog.Post
	for i, off := range offsets {
		posts = append(posts, mustPost(t, s, blog.Post{
			Title: "post", Body: string(rune('a' + i)), AuthorID: author.ID, CreatedAt: base.Add(off * time.Minute),
		}))
	}
	slices.SortFunc(posts, func(a, b blog.Post) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	var newestFirst []int64
	for _, p := range posts {
		newestFirst = append(newestFirst, p.ID)
	}

	tests := []struct {
		page, perPage int
		want          []int64
	}{
		{1, 3, newestFirst[0:3]},
		{2, 3, newestFirst[3:6]},
		{3, 3, newestFirst[6:]},
		{4, 3, nil},
		{1, 7, newestFirst},
		{1, 100, newestFirst},
		{1, 1, newestFirst[:1]},
		{7, 1, newestFirst[6:]},
		{1 << 20, 100, nil},
	}
	for _, tt := range tests {
		got, err := s.ListPosts(ctx, blog.Page{Page: tt.page, PerPage: tt.perPage})
		if err != nil {
			t.Fatalf("ListPosts(%d, %d): %v", tt.page, tt.perPage, err)
		}
		var ids []int64
		for _, p := range got.Posts {
			ids = append(ids, p.ID)
		}
		if !slices.Equal(ids, tt.want) || got.Total != len(offsets) || got.Page != tt.page || got.PerPage != tt.perPage || got.Posts == nil {
			t.Errorf("ListPosts(%d, %d) = IDs %v, total %d, page %d/%d; want IDs %v, total %d",
				tt.page, tt.perPage, ids, got.Total, got.Page, got.PerPage, tt.want, len(offsets))
		}
	}
	first, _ := s.ListPosts(ctx, blog.Page{Page: 1, PerPage: 1})
	if len(first.Posts) == 1 && first.Posts[0] != posts[0] {
		t.Errorf("listed post %+v, want %+v", first.Posts[0], posts[0])
	}

	for _, p := range []blog.Page{{Page: 0, PerPage: 10}, {Page: 1, PerPage: 0}, {Page: -1, PerPage: 10}, {Page: 1 << 40, PerPage: 1 << 20}} {
		_, err := s.ListPosts(ctx, p)
		wantCode(t, err, blog.CodeInvalid)
	}
}

func testTimes(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	u := mustUser(t, s, "a@example.com")
	if got, err := s.UserByEmail(ctx, u.Email); err != nil || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("UserByEmail CreatedAt = %v, %v; want %v", got.CreatedAt, err, u.CreatedAt)
	}

	tests := []struct {
		name string
		in   time.Time
	}{
		{"nanoseconds, other zone", time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("UTC+5", 5*3600))},
		{"local, monotonic", time.Now()},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 999, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.in.UTC().Truncate(time.Microsecond)
			p := mustPost(t, s, blog.Post{Title: "t", Body: "b", AuthorID: u.ID, CreatedAt: tt.in})
			got, err := s.Post(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, tm := range []time.Time{p.CreatedAt, got.CreatedAt, got.UpdatedAt} {
				if tm != want {
					t.Errorf("time = %v, want %v", tm, want)
				}
			}
		})
	}
}
