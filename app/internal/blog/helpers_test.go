package blog_test

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"example.com/otelstarter/app/internal/blog"
)

// fakeStore is an in-memory blog.Store. err[method] makes a method fail;
// calls counts the calls of each method.
type fakeStore struct {
	mu       sync.Mutex
	users    map[string]blog.User // by email
	sessions []blog.Session
	posts    map[int64]blog.Post
	nextID   int64
	lastPage blog.Page
	calls    map[string]int
	err      map[string]error
}

var _ blog.Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{users: map[string]blog.User{}, posts: map[int64]blog.Post{}, calls: map[string]int{}, err: map[string]error{}}
}

// enter counts a call of method and returns its injected error. The caller
// holds s.mu from then on.
func (s *fakeStore) enter(method string) error {
	s.mu.Lock()
	s.calls[method]++
	return s.err[method]
}

// failWith makes method fail with err.
func (s *fakeStore) failWith(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err[method] = err
}

func (s *fakeStore) callCount(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func (s *fakeStore) CreateUser(_ context.Context, email, hash string) (blog.User, error) {
	err := s.enter("CreateUser")
	defer s.mu.Unlock()
	if err != nil {
		return blog.User{}, err
	}
	if _, taken := s.users[email]; taken {
		return blog.User{}, &blog.Error{Code: blog.CodeEmailTaken, Message: "email is already registered"}
	}
	s.nextID++
	u := blog.User{ID: s.nextID, Email: email, PasswordHash: hash, CreatedAt: time.Now()}
	s.users[email] = u
	return u, nil
}

func (s *fakeStore) UserByEmail(_ context.Context, email string) (blog.User, error) {
	err := s.enter("UserByEmail")
	defer s.mu.Unlock()
	if err != nil {
		return blog.User{}, err
	}
	u, found := s.users[email]
	if !found {
		return blog.User{}, &blog.Error{Code: blog.CodeNotFound, Message: "user not found"}
	}
	return u, nil
}

func (s *fakeStore) CreateSession(_ context.Context, sess blog.Session) error {
	err := s.enter("CreateSession")
	defer s.mu.Unlock()
	if err != nil {
		return err
	}
	s.sessions = append(s.sessions, sess)
	return nil
}

func (s *fakeStore) SessionUser(_ context.Context, hash []byte, now time.Time) (int64, error) {
	err := s.enter("SessionUser")
	defer s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	for _, sess := range s.sessions {
		if bytes.Equal(sess.TokenHash, hash) && sess.ExpiresAt.After(now) {
			return sess.UserID, nil
		}
	}
	return 0, &blog.Error{Code: blog.CodeNotFound, Message: "session not found or expired"}
}

func (s *fakeStore) DeleteExpiredSessions(_ context.Context, now time.Time) (int64, error) {
	err := s.enter("DeleteExpiredSessions")
	defer s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n := len(s.sessions)
	s.sessions = slices.DeleteFunc(s.sessions, func(sess blog.Session) bool { return !sess.ExpiresAt.After(now) })
	return int64(n - len(s.sessions)), nil
}

func (s *fakeStore) CreatePost(_ context.Context, p blog.Post) (blog.Post, error) {
	err := s.enter("CreatePost")
	defer s.mu.Unlock()
	if err != nil {
		return blog.Post{}, err
	}
	s.nextID++
	p.ID = s.nextID
	s.posts[p.ID] = p
	return p, nil
}

func (s *fakeStore) Post(_ context.Context, id int64) (blog.Post, error) {
	err := s.enter("Post")
	defer s.mu.Unlock()
	if err != nil {
		return blog.Post{}, err
	}
	p, found := s.posts[id]
	if !found {
		return blog.Post{}, &blog.Error{Code: blog.CodeNotFound, Message: "post not found"}
	}
	return p, nil
}

func (s *fakeStore) ListPosts(_ context.Context, page blog.Page) (blog.PostList, error) {
	err := s.enter("ListPosts")
	defer s.mu.Unlock()
	if err != nil {
		return blog.PostList{}, err
	}
	s.lastPage = page
	var all []blog.Post
	for _, p := range s.posts {
		all = append(all, p)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	l := blog.PostList{Page: page.Page, PerPage: page.PerPage, Total: len(all)}
	if off := page.Offset(); off < len(all) {
		l.Posts = all[off:min(off+page.PerPage, len(all))]
	}
	return l, nil
}

func (s *fakeStore) UpdatePost(_ context.Context, p blog.Post) (blog.Post, error) {
	err := s.enter("UpdatePost")
	defer s.mu.Unlock()
	if err != nil {
		return blog.Post{}, err
	}
	old, found := s.posts[p.ID]
	switch {
	case !found:
		return blog.Post{}, &blog.Error{Code: blog.CodeNotFound, Message: "post not found"}
	case old.AuthorID != p.AuthorID:
		return blog.Post{}, &blog.Error{Code: blog.CodeForbidden, Message: "only the author may change this post"}
	}
	old.Title, old.Body, old.UpdatedAt = p.Title, p.Body, p.UpdatedAt
	s.posts[p.ID] = old
	return old, nil
}

func (s *fakeStore) DeletePost(_ context.Context, id, authorID int64) error {
	err := s.enter("DeletePost")
	defer s.mu.Unlock()
	if err != nil {
		return err
	}
	old, found := s.posts[id]
	switch {
	case !found:
		return &blog.Error{Code: blog.CodeNotFound, Message: "post not found"}
	case old.AuthorID != authorID:
		return &blog.Error{Code: blog.CodeForbidden, Message: "only the author may change this post"}
	}
	delete(s.posts, id)
	return nil
}

func (s *fakeStore) Ping(context.Context) error {
	err := s.enter("Ping")
	defer s.mu.Unlock()
	return err
}

func (s *fakeStore) Close() error { return nil }

// fakeCache is an in-memory blog.PostCache that records its calls.
type fakeCache struct {
	mu                     sync.Mutex
	posts                  map[int64]blog.Post
	getErr, setErr, delErr error
	gets, sets, dels       []int64
}

var _ blog.PostCache = (*fakeCache)(nil)

func newFakeCache() *fakeCache { return &fakeCache{posts: map[int64]blog.Post{}} }

func (c *fakeCache) GetPost(_ context.Context, id int64) (blog.Post, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets = append(c.gets, id)
	if c.getErr != nil {
		return blog.Post{}, false, c.getErr
	}
	p, found := c.posts[id]
	return p, found, nil
}

func (c *fakeCache) SetPost(_ context.Context, p blog.Post) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sets = append(c.sets, p.ID)
	if c.setErr != nil {
		return c.setErr
	}
	c.posts[p.ID] = p
	return nil
}

func (c *fakeCache) DeletePost(_ context.Context, id int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dels = append(c.dels, id)
	if c.delErr != nil {
		return c.delErr
	}
	delete(c.posts, id)
	return nil
}

// fakePublisher records the posts it is given.
type fakePublisher struct {
	mu    sync.Mutex
	posts []blog.Post
}

var _ blog.Publisher = (*fakePublisher)(nil)

func (p *fakePublisher) PublishPost(_ context.Context, post blog.Post) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posts = append(p.posts, post)
}

func (p *fakePublisher) published() []blog.Post {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]blog.Post(nil), p.posts...)
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("X", 3600))}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newService returns a Service over store with a fast bcrypt cost.
func newService(tb testing.TB, store blog.Store, cfg blog.ServiceConfig) *blog.Service {
	tb.Helper()
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = 4 // bcrypt.MinCost: tests need speed, not strength
	}
	s, err := blog.NewService(store, cfg)
	if err != nil {
		tb.Fatalf("NewService: %v", err)
	}
	return s
}

// wantCode fails tb unless err carries code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := blog.ErrorCode(err); got != code {
		tb.Errorf("error %v has code %q, want %q", err, got, code)
	}
}

// fieldsOf returns the invalid fields of a validation error.
func fieldsOf(tb testing.TB, err error) map[string]string {
	tb.Helper()
	if err == nil {
		return nil
	}
	e, isBlogErr := err.(*blog.Error)
	if !isBlogErr || e.Code != blog.CodeValidation {
		tb.Fatalf("error %v (%T) is not a validation *blog.Error", err, err)
	}
	if len(e.Fields) == 0 {
		tb.Errorf("validation error %v has no fields", err)
	}
	return e.Fields
}

// register creates an account and fails tb on error.
func register(tb testing.TB, s *blog.Service, email, password string) blog.User {
	tb.Helper()
	u, err := s.Register(context.Background(), blog.Credentials{Email: email, Password: password})
	if err != nil {
		tb.Fatalf("Register(%q): %v", email, err)
	}
	return u
}
