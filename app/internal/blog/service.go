package blog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/semaphore"
	"golang.org/x/text/secure/precis"
)

const scope = "example.com/otelstarter/app/internal/blog"

// Limits on user input, enforced by the Service.
const (
	MaxEmailLen    = 254
	MinPasswordLen = 8
	MaxPasswordLen = 72 // bcrypt ignores anything longer
	MaxTitleLen    = 200
	MaxBodyLen     = 10000
	MaxPerPage     = 100
	DefaultPerPage = 20
)

// PostCache caches single posts. Errors are reported, never fatal: the
// Service falls back to the Store.
type PostCache interface {
	GetPost(ctx context.Context, id int64) (Post, bool, error)
	SetPost(ctx context.Context, p Post) error
	DeletePost(ctx context.Context, id int64) error
}

// Publisher fans new posts out to live feeds.
type Publisher interface {
	PublishPost(ctx context.Context, p Post)
}

// Service implements the use cases of the blog on top of a Store, with an
// optional cache and publisher.
type Service struct {
	store     Store
	cache     PostCache
	publisher Publisher
	now       func() time.Time
	tokenTTL  time.Duration
	cost      int
	dummyHash func() ([]byte, error)
	hashers   *semaphore.Weighted

	postsCreated metric.Int64Counter
	cacheReqs    metric.Int64Counter
}

// ServiceConfig holds the optional parts of a Service.
type ServiceConfig struct {
	Cache      PostCache // nil: no cache
	Publisher  Publisher // nil: no live feed
	TokenTTL   time.Duration
	BcryptCost int // default bcrypt.DefaultCost
	// ConcurrentHashes bounds the bcrypt hashes and comparisons running at
	// once (default GOMAXPROCS), so that a flood of registrations or logins
	// queues for the CPU instead of starving every other request.
	ConcurrentHashes int
	Now              func() time.Time
}

// NewService returns a Service over store.
func NewService(store Store, cfg ServiceConfig) (*Service, error) {
	s := &Service{store: store, cache: cfg.Cache, publisher: cfg.Publisher,
		now: cfg.Now, tokenTTL: cfg.TokenTTL, cost: cfg.BcryptCost}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = 24 * time.Hour
	}
	if s.cost == 0 {
		s.cost = bcrypt.DefaultCost
	}
	if cfg.ConcurrentHashes <= 0 {
		cfg.ConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	s.hashers = semaphore.NewWeighted(int64(cfg.ConcurrentHashes))
	if s.cost < bcrypt.MinCost || s.cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d: want %d to %d", s.cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	// Compared against when the email is unknown, so that login takes the
	// same time whether or not an account exists. Hashing takes tens of
	// milliseconds, so it is done in the background rather than before the
	// service can start; a login waits for it.
	s.dummyHash = sync.OnceValues(func() ([]byte, error) {
		return bcrypt.GenerateFromPassword([]byte("not-a-real-password"), s.cost)
	})
	go func() { _, _ = s.dummyHash() }()
	var err error
	meter := otel.Meter(scope)
	if s.postsCreated, err = meter.Int64Counter("blog.posts.created",
		metric.WithDescription("Posts created."), metric.WithUnit("{post}")); err != nil {
		return nil, err
	}
	if s.cacheReqs, err = meter.Int64Counter("blog.cache.requests",
		metric.WithDescription("Single-post cache lookups by result (hit, miss, error)."),
		metric.WithUnit("{request}")); err != nil {
		return nil, err
	}
	// Export the series at zero from the start, so dashboards show 0
	// rather than "no data" before the first post.
	s.postsCreated.Add(context.Background(), 0)
	if s.cache != nil {
		for _, o := range []metric.AddOption{cacheHit, cacheMiss, cacheError} {
			s.cacheReqs.Add(context.Background(), 0, o)
		}
	}
	return s, nil
}

var (
	cacheHit   = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "hit")))
	cacheMiss  = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "miss")))
	cacheError = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "error")))
)

// Credentials is the input of Register and Login.
type Credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// NormalizeEmail returns the one form of an email address that accounts
// are known by: trimmed, then through the PRECIS UsernameCaseMapped profile
// (RFC 8265), which maps fullwidth letters to their ASCII forms, folds case
// and normalises to NFC, so that look-alike spellings of one address are
// one account. It returns "" for an address the profile refuses: one with
// spaces, control, zero-width or bidirectional formatting characters.
func NormalizeEmail(s string) string {
	email, err := precis.UsernameCaseMapped.String(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return email
}

func (c Credentials) validate() error {
	fields := map[string]string{}
	email := NormalizeEmail(c.Email)
	switch {
	case !utf8.ValidString(c.Email):
		fields["email"] = "must be valid UTF-8"
	case strings.TrimSpace(c.Email) == "":
		fields["email"] = "is required"
	case email == "":
		fields["email"] = "must not contain spaces, control, invisible or text-direction characters"
	case len(email) > MaxEmailLen || !utf8.ValidString(email):
		fields["email"] = "is not a valid email address"
	case mixesScripts(email):
		fields["email"] = "must not mix writing systems (such as Latin and Cyrillic letters) in one part"
	default:
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email || !strings.Contains(email[strings.IndexByte(email, '@'):], ".") {
			fields["email"] = "is not a valid email address"
		}
	}
	switch {
	case c.Password == "":
		fields["password"] = "is required"
	case !utf8.ValidString(c.Password):
		fields["password"] = "must be valid UTF-8"
	case strings.TrimSpace(c.Password) == "":
		fields["password"] = "must not be only spaces"
	case utf8.RuneCountInString(c.Password) < MinPasswordLen:
		fields["password"] = "must be at least 8 characters"
	case len(c.Password) > MaxPasswordLen:
		fields["password"] = "must be at most 72 bytes"
	}
	return validationError(fields)
}

func validationError(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: CodeValidation, Message: "some fields are invalid", Fields: fields}
}

// Register creates an account.
func (s *Service) Register(ctx context.Context, c Credentials) (User, error) {
	if err := c.validate(); err != nil {
		return User{}, err
	}
	var hash []byte
	err := s.hashing(ctx, func() (err error) {
		hash, err = bcrypt.GenerateFromPassword([]byte(c.Password), s.cost)
		return err
	})
	if err != nil {
		return User{}, err
	}
	u, err := s.store.CreateUser(ctx, NormalizeEmail(c.Email), string(hash))
	if err != nil {
		return User{}, err
	}
	slog.InfoContext(ctx, "user.registered", slog.Int64("user_id", u.ID))
	return u, nil
}

// errBusy answers a request that waited for a hashing slot until its
// deadline.
var errBusy = &Error{Code: CodeUnavailable, Message: "the server is busy, try again later"}

// hashing runs f, a bcrypt hash or comparison, in one of the service's
// hashing slots, waiting for one as long as ctx allows.
func (s *Service) hashing(ctx context.Context, f func() error) error {
	if err := s.hashers.Acquire(ctx, 1); err != nil {
		return errBusy
	}
	defer s.hashers.Release(1)
	return f()
}

// LoginResult is a new session's bearer token.
type LoginResult struct {
	Token     string    `json:"token"`
	UserID    int64     `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

var errCredentials = &Error{Code: CodeCredentials, Message: "email or password is incorrect"}

// Login checks the credentials and opens a session. An unknown email and a
// wrong password give the same error after the same work.
func (s *Service) Login(ctx context.Context, c Credentials) (LoginResult, error) {
	email := NormalizeEmail(c.Email)
	if email == "" || c.Password == "" || len(c.Password) > MaxPasswordLen {
		return LoginResult{}, errCredentials
	}
	u, err := s.store.UserByEmail(ctx, email)
	hash := []byte(u.PasswordHash)
	if err != nil {
		if ErrorCode(err) != CodeNotFound {
			return LoginResult{}, err
		}
		dummy, herr := s.dummyHash()
		if herr != nil {
			return LoginResult{}, herr
		}
		hash = dummy
	}
	var mismatch error
	if herr := s.hashing(ctx, func() error {
		mismatch = bcrypt.CompareHashAndPassword(hash, []byte(c.Password))
		return nil
	}); herr != nil {
		return LoginResult{}, herr
	}
	if mismatch != nil || err != nil {
		slog.InfoContext(ctx, "user.login_failed")
		return LoginResult{}, errCredentials
	}
	token, sum, err := newToken()
	if err != nil {
		return LoginResult{}, err
	}
	exp := s.now().UTC().Add(s.tokenTTL)
	if err := s.store.CreateSession(ctx, Session{TokenHash: sum, UserID: u.ID, ExpiresAt: exp}); err != nil {
		return LoginResult{}, err
	}
	slog.InfoContext(ctx, "user.logged_in", slog.Int64("user_id", u.ID))
	return LoginResult{Token: token, UserID: u.ID, ExpiresAt: exp}, nil
}

func newToken() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(tok))
	return tok, sum[:], nil
}

var errUnauthorized = &Error{Code: CodeUnauthorized, Message: "a valid bearer token is required"}

// Authenticate returns the user ID of a bearer token's session.
func (s *Service) Authenticate(ctx context.Context, token string) (int64, error) {
	if len(token) != 43 { // 32 bytes, unpadded base64url
		return 0, errUnauthorized
	}
	sum := sha256.Sum256([]byte(token))
	id, err := s.store.SessionUser(ctx, sum[:], s.now().UTC())
	if err != nil {
		if ErrorCode(err) == CodeNotFound {
			return 0, errUnauthorized
		}
		return 0, err
	}
	return id, nil
}

// PostInput is the user-supplied part of a post.
type PostInput struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Validate checks the fields of a post and returns a CodeValidation *Error
// with a message per invalid field.
func (in PostInput) Validate() error {
	fields := map[string]string{}
	// Line breaks pass here to get their own message below for the
	// title; a tab is a body's only other allowed control.
	check := func(name, v string, max int, allowed string) {
		switch {
		case !utf8.ValidString(v):
			fields[name] = "must be valid UTF-8"
		case strings.TrimSpace(v) == "":
			fields[name] = "is required"
		case utf8.RuneCountInString(v) > max:
			fields[name] = "must be at most " + strconv.Itoa(max) + " characters"
		case strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && !strings.ContainsRune(allowed, r) }):
			fields[name] = "must not contain control characters (NUL, escape, …)"
		}
	}
	check("title", in.Title, MaxTitleLen, "\r\n")
	check("body", in.Body, MaxBodyLen, "\r\n\t")
	if fields["title"] == "" {
		switch {
		case strings.ContainsAny(in.Title, "\r\n"):
			fields["title"] = "must be a single line"
		case strings.ContainsFunc(in.Title, func(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }):
			// They can make a title read other than it is stored
			// ("Trojan Source").
			fields["title"] = "must not contain text-direction control characters"
		}
	}
	return validationError(fields)
}

// CreatePost stores a new post by authorID and announces it.
func (s *Service) CreatePost(ctx context.Context, authorID int64, in PostInput) (Post, error) {
	if err := in.Validate(); err != nil {
		return Post{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	p, err := s.store.CreatePost(ctx, Post{Title: strings.TrimSpace(in.Title), Body: in.Body, AuthorID: authorID, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return Post{}, err
	}
	s.postsCreated.Add(ctx, 1)
	slog.InfoContext(ctx, "post.created", slog.Int64("post_id", p.ID), slog.Int64("user_id", authorID))
	if s.publisher != nil {
		s.publisher.PublishPost(ctx, p)
	}
	return p, nil
}

// Post returns one post, through the cache when there is one.
func (s *Service) Post(ctx context.Context, id int64) (Post, error) {
	if s.cache == nil {
		return s.store.Post(ctx, id)
	}
	p, ok, err := s.cache.GetPost(ctx, id)
	switch {
	case err != nil:
		s.cacheReqs.Add(ctx, 1, cacheError)
		slog.WarnContext(ctx, "cache.get_failed", slog.Int64("post_id", id), slog.String("error", err.Error()))
	case ok:
		s.cacheReqs.Add(ctx, 1, cacheHit)
		return p, nil
	default:
		s.cacheReqs.Add(ctx, 1, cacheMiss)
	}
	p, err = s.store.Post(ctx, id)
	if err != nil {
		return Post{}, err
	}
	if err == nil && s.cache != nil {
		if cerr := s.cache.SetPost(ctx, p); cerr != nil {
			slog.WarnContext(ctx, "cache.set_failed", slog.Int64("post_id", id), slog.String("error", cerr.Error()))
		}
	}
	return p, nil
}

// ListPosts returns a page of posts, newest first.
func (s *Service) ListPosts(ctx context.Context, page Page) (PostList, error) {
	if page.Page < 1 {
		page.Page = 1
	}
	if page.PerPage < 1 {
		page.PerPage = DefaultPerPage
	}
	if page.PerPage > MaxPerPage {
		page.PerPage = MaxPerPage
	}
	return s.store.ListPosts(ctx, page)
}

// UpdatePost changes a post of userID.
func (s *Service) UpdatePost(ctx context.Context, userID, id int64, in PostInput) (Post, error) {
	if err := in.Validate(); err != nil {
		return Post{}, err
	}
	p, err := s.store.UpdatePost(ctx, Post{ID: id, AuthorID: userID, Title: strings.TrimSpace(in.Title), Body: in.Body,
		UpdatedAt: s.now().UTC().Truncate(time.Microsecond)})
	if err != nil {
		return Post{}, err
	}
	s.invalidate(ctx, id)
	slog.InfoContext(ctx, "post.updated", slog.Int64("post_id", id), slog.Int64("user_id", userID))
	return p, nil
}

// DeletePost deletes a post of userID.
func (s *Service) DeletePost(ctx context.Context, userID, id int64) error {
	if err := s.store.DeletePost(ctx, id, userID); err != nil {
		return err
	}
	s.invalidate(ctx, id)
	slog.InfoContext(ctx, "post.deleted", slog.Int64("post_id", id), slog.Int64("user_id", userID))
	return nil
}

func (s *Service) invalidate(ctx context.Context, id int64) {
	if s.cache == nil {
		return
	}
	if err := s.cache.DeletePost(ctx, id); err != nil {
		// A stale entry would outlive the change: say so loudly. Entries
		// also expire, which bounds the staleness.
		trace.SpanFromContext(ctx).AddEvent("cache.invalidate_failed")
		slog.ErrorContext(ctx, "cache.invalidate_failed", slog.Int64("post_id", id), slog.String("error", err.Error()))
	}
}

// TokenFromHeader extracts the token of an "Authorization: Bearer" header.
func TokenFromHeader(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(prefix):])
	return tok, tok != ""
}

// IsUnavailable reports whether err means a dependency is down.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
