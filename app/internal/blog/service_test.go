package blog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"golang.org/x/crypto/bcrypt"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// errDown is what a store returns when its database cannot be reached.
var errDown = fmt.Errorf("sqlstore: ping: %w: %w", blog.ErrUnavailable, errors.New("dial tcp 10.0.0.1:5432: connection refused"))

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	longEmail := func(n int) string { return "a@" + strings.Repeat("b", n-len("a@.com")) + ".com" }
	tests := []struct {
		name     string
		email    string
		password string
		bad      []string // invalid fields; none means the account is created
	}{
		{"valid", "alice@example.com", "correct horse", nil},
		{"email normalized", "  Alice@Example.COM ", "correct horse", nil},
		{"email of 254 bytes", longEmail(254), "correct horse", nil},
		{"subdomain", "a.b+tag@mail.example.co.uk", "correct horse", nil},

		{"email missing", "", "correct horse", []string{"email"}},
		{"email blank", "   ", "correct horse", []string{"email"}},
		{"email without at", "alice.example.com", "correct horse", []string{"email"}},
		{"email without dot in domain", "alice@localhost", "correct horse", []string{"email"}},
		{"email with display name", "Alice <alice@example.com>", "correct horse", []string{"email"}},
		{"email in brackets", "<alice@example.com>", "correct horse", []string{"email"}},
		{"two emails", "a@example.com, b@example.com", "correct horse", []string{"email"}},
		{"email with space", "al ice@example.com", "correct horse", []string{"email"}},
		{"email of 255 bytes", longEmail(255), "correct horse", []string{"email"}},
		{"email only domain", "@example.com", "correct horse", []string{"email"}},

		{"password missing", "alice@example.com", "", []string{"password"}},
		{"password of 7", "alice@example.com", "1234567", []string{"password"}},
		{"password of 8", "alice@example.com", "12345678", nil},
		{"password of 7 runes in 21 bytes", "alice@example.com", "日本語日本語日", []string{"password"}},
		{"password of 8 runes in 16 bytes", "alice@example.com", "ääääääää", nil},
		{"password of 72 bytes", "alice@example.com", strings.Repeat("a", 72), nil},
		{"password of 73 bytes", "alice@example.com", strings.Repeat("a", 73), []string{"password"}},
		{"password of 24 runes in 72 bytes", "alice@example.com", strings.Repeat("日", 24), nil},
		{"password of 25 runes in 75 bytes", "alice@example.com", strings.Repeat("日", 25), []string{"password"}},
		{"password invalid UTF-8", "alice@example.com", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", []string{"password"}},

		{"email with zero-width space", "ali\u200bce@example.com", "correct horse", []string{"email"}},
		{"email with zero-width joiner", "ali\u200dce@example.com", "correct horse", []string{"email"}},
		{"email with right-to-left override", "alice\u202e@example.com", "correct horse", []string{"email"}},
		{"email with left-to-right mark", "\u200ealice@example.com", "correct horse", []string{"email"}},
		{"email with a control character", "ali\x1bce@example.com", "correct horse", []string{"email"}},
		{"email with soft hyphen", "ali\u00adce@example.com", "correct horse", []string{"email"}},
		{"fullwidth email", "ａｌｉｃｅ@example.com", "correct horse", nil},
		{"Cyrillic letter in a Latin domain", "alice@ex\u0430mple.com", "correct horse", []string{"email"}},
		{"Greek letter in a Latin local part", "\u03bflivia@example.com", "correct horse", []string{"email"}},
		{"all-Cyrillic local part", "\u043f\u0440\u0438\u0432\u0435\u0442@example.com", "correct horse", nil},
		{"Latin with Han and kana", "tanaka\u7530\u4e2d\u3072\u3089\u304c\u306a@example.jp", "correct horse", nil},
		{"combining accent", "re\u0301sume\u0301@example.com", "correct horse", nil},
		{"digits in a Greek label", "\u03b1\u03b2\u03b3123@example.gr", "correct horse", nil},
		{"password of spaces", "alice@example.com", "          ", []string{"password"}},
		{"password of mixed whitespace", "alice@example.com", " \t\u3000\u00a0    \n", []string{"password"}},

		{"both invalid", "nope", "short", []string{"email", "password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			s := newService(t, store, blog.ServiceConfig{})
			u, err := s.Register(context.Background(), blog.Credentials{Email: tt.email, Password: tt.password})
			if len(tt.bad) > 0 {
				fields := fieldsOf(t, err)
				for _, f := range tt.bad {
					if fields[f] == "" {
						t.Errorf("no message for %s in %v", f, fields)
					}
				}
				if len(fields) != len(tt.bad) {
					t.Errorf("invalid fields %v, want only %v", fields, tt.bad)
				}
				if n := store.callCount("CreateUser"); n != 0 {
					t.Errorf("CreateUser called %d times for invalid input", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			if want := blog.NormalizeEmail(tt.email); u.Email != want {
				t.Errorf("stored email %q, want %q", u.Email, want)
			}
			if u.PasswordHash == tt.password || u.PasswordHash == "" {
				t.Errorf("stored password hash %q", u.PasswordHash)
			}
			if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(tt.password)); err != nil {
				t.Errorf("stored hash does not match the password: %v", err)
			}
			if cost, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || cost != 4 {
				t.Errorf("hash cost = %d, %v; want the configured 4", cost, err)
			}
		})
	}
}

// TestRegisterInvalidUTF8Email: validate lower-cases the email before its
// UTF-8 check, and strings.ToLower turns each invalid byte into U+FFFD, so
// the check can never fail and "al\xffice@example.com" is stored as
// "al\uFFFDice@example.com" (as is "al\xfeice@…": two inputs, one account).
func TestRegisterInvalidUTF8Email(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	s := newService(t, store, blog.ServiceConfig{})
	u, err := s.Register(context.Background(), blog.Credentials{Email: "al\xffice@example.com", Password: "correct horse"})
	if err == nil {
		if !strings.Contains(u.Email, "\uFFFD") {
			t.Fatalf("Register accepted an invalid UTF-8 email and stored %q", u.Email)
		}
		t.Fatalf("BUG: service.go Credentials.validate checks utf8.ValidString after NormalizeEmail, "+
			"whose strings.ToLower replaces invalid bytes with U+FFFD; stored %q. Check c.Email before normalizing", u.Email)
	}
	if fields := fieldsOf(t, err); fields["email"] == "" {
		t.Errorf("invalid fields %v, want email", fields)
	}
	if n := store.callCount("CreateUser"); n != 0 {
		t.Errorf("CreateUser called %d times for an invalid email", n)
	}
}

func TestRegisterStoreErrors(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	s := newService(t, store, blog.ServiceConfig{})
	register(t, s, "alice@example.com", "correct horse")

	_, err := s.Register(context.Background(), blog.Credentials{Email: "ALICE@example.com", Password: "another one"})
	wantCode(t, err, blog.CodeEmailTaken)

	store.failWith("CreateUser", errDown)
	_, err = s.Register(context.Background(), blog.Credentials{Email: "bob@example.com", Password: "correct horse"})
	if !blog.IsUnavailable(err) {
		t.Errorf("Register with the store down: %v, want ErrUnavailable", err)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	clk := newClock()
	s := newService(t, store, blog.ServiceConfig{Now: clk.Now, TokenTTL: time.Hour})
	u := register(t, s, "alice@example.com", "correct horse")
	long := register(t, s, "long@example.com", strings.Repeat("p", 72))

	t.Run("success", func(t *testing.T) {
		res, err := s.Login(context.Background(), blog.Credentials{Email: " ALICE@example.com", Password: "correct horse"})
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		if len(res.Token) != 43 {
			t.Errorf("token %q has %d characters, want 43", res.Token, len(res.Token))
		}
		if res.UserID != u.ID {
			t.Errorf("UserID = %d, want %d", res.UserID, u.ID)
		}
		if want := clk.Now().UTC().Add(time.Hour); !res.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt = %v, want %v", res.ExpiresAt, want)
		}
		id, err := s.Authenticate(context.Background(), res.Token)
		if err != nil || id != u.ID {
			t.Errorf("Authenticate(new token) = %d, %v; want %d", id, err, u.ID)
		}
	})

	t.Run("tokens differ", func(t *testing.T) {
		a, err1 := s.Login(context.Background(), blog.Credentials{Email: "alice@example.com", Password: "correct horse"})
		b, err2 := s.Login(context.Background(), blog.Credentials{Email: "alice@example.com", Password: "correct horse"})
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if a.Token == b.Token {
			t.Error("two logins gave the same token")
		}
	})

	t.Run("72-byte password", func(t *testing.T) {
		res, err := s.Login(context.Background(), blog.Credentials{Email: "long@example.com", Password: strings.Repeat("p", 72)})
		if err != nil || res.UserID != long.ID {
			t.Errorf("Login = %+v, %v", res, err)
		}
	})

	// Every failure is the same error, so the answer does not tell whether
	// the account exists.
	_, want := s.Login(context.Background(), blog.Credentials{Email: "alice@example.com", Password: "wrong password"})
	wantCode(t, want, blog.CodeCredentials)
	failures := []struct {
		name string
		c    blog.Credentials
	}{
		{"unknown email", blog.Credentials{Email: "nobody@example.com", Password: "correct horse"}},
		{"empty email", blog.Credentials{Email: "", Password: "correct horse"}},
		{"empty password", blog.Credentials{Email: "alice@example.com", Password: ""}},
		{"wrong case password", blog.Credentials{Email: "alice@example.com", Password: "Correct horse"}},
		{"password of 73 bytes with the right prefix", blog.Credentials{Email: "long@example.com", Password: strings.Repeat("p", 73)}},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			sessions := store.callCount("CreateSession")
			_, err := s.Login(context.Background(), tt.c)
			if err == nil {
				t.Fatal("Login succeeded")
			}
			if err.Error() != want.Error() || blog.ErrorCode(err) != blog.ErrorCode(want) {
				t.Errorf("Login error %q, want the same as a wrong password: %q", err, want)
			}
			if n := store.callCount("CreateSession"); n != sessions {
				t.Error("a failed login created a session")
			}
		})
	}

	t.Run("store down is not a credentials error", func(t *testing.T) {
		store.failWith("UserByEmail", errDown)
		defer store.failWith("UserByEmail", nil)
		_, err := s.Login(context.Background(), blog.Credentials{Email: "alice@example.com", Password: "correct horse"})
		if !blog.IsUnavailable(err) {
			t.Errorf("Login = %v, want ErrUnavailable", err)
		}
	})

	t.Run("session store failure", func(t *testing.T) {
		store.failWith("CreateSession", errDown)
		defer store.failWith("CreateSession", nil)
		res, err := s.Login(context.Background(), blog.Credentials{Email: "alice@example.com", Password: "correct horse"})
		if !blog.IsUnavailable(err) || res.Token != "" {
			t.Errorf("Login = %+v, %v; want no token and ErrUnavailable", res, err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	clk := newClock()
	s := newService(t, store, blog.ServiceConfig{Now: clk.Now, TokenTTL: time.Hour})
	u := register(t, s, "alice@example.com", "correct horse")
	res, err := s.Login(context.Background(), blog.Credentials{Email: "alice@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"short", "abc"},
		{"42 characters", res.Token[:42]},
		{"44 characters", res.Token + "A"},
		{"with padding", res.Token[:42] + "="},
		{"unknown token of the right length", strings.Repeat("A", 43)},
		{"other token differing in one character", flip(res.Token)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := store.callCount("SessionUser")
			id, err := s.Authenticate(context.Background(), tt.token)
			wantCode(t, err, blog.CodeUnauthorized)
			if id != 0 {
				t.Errorf("Authenticate returned user %d along with an error", id)
			}
			if len(tt.token) != 43 && store.callCount("SessionUser") != calls {
				t.Error("a token of the wrong length reached the store")
			}
		})
	}

	t.Run("valid until it expires", func(t *testing.T) {
		clk.Advance(59 * time.Minute)
		if id, err := s.Authenticate(context.Background(), res.Token); err != nil || id != u.ID {
			t.Fatalf("after 59m: Authenticate = %d, %v; want %d", id, err, u.ID)
		}
		clk.Advance(time.Minute)
		id, err := s.Authenticate(context.Background(), res.Token)
		wantCode(t, err, blog.CodeUnauthorized)
		if id != 0 {
			t.Errorf("expired session: Authenticate = %d", id)
		}
	})

	t.Run("store down", func(t *testing.T) {
		store.failWith("SessionUser", errDown)
		defer store.failWith("SessionUser", nil)
		_, err := s.Authenticate(context.Background(), res.Token)
		if !blog.IsUnavailable(err) {
			t.Errorf("Authenticate = %v, want ErrUnavailable (not unauthorized)", err)
		}
	})
}

func TestDefaultTokenTTL(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newService(t, newFakeStore(), blog.ServiceConfig{Now: clk.Now})
	register(t, s, "alice@example.com", "correct horse")
	res, err := s.Login(context.Background(), blog.Credentials{Email: "alice@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.ExpiresAt.Sub(clk.Now()); got != 24*time.Hour {
		t.Errorf("default session lifetime %v, want 24h", got)
	}
}

func TestNewServiceBadCost(t *testing.T) {
	t.Parallel()
	if _, err := blog.NewService(newFakeStore(), blog.ServiceConfig{BcryptCost: 99}); err == nil {
		t.Error("NewService with bcrypt cost 99: no error")
	}
}

// flip changes the last character of a token.
func flip(tok string) string {
	last := tok[len(tok)-1]
	if last == 'A' {
		return tok[:len(tok)-1] + "B"
	}
	return tok[:len(tok)-1] + "A"
}

// TestLookAlikeEmailsAreOneAccount: spellings of an address that read the
// same (case, fullwidth letters) are the account that exists; they neither
// create a second one nor fail to log in.
func TestLookAlikeEmailsAreOneAccount(t *testing.T) {
	t.Parallel()
	s := newService(t, newFakeStore(), blog.ServiceConfig{})
	ctx := context.Background()
	if _, err := s.Register(ctx, blog.Credentials{Email: "alice@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"Alice@Example.com", "ａｌｉｃｅ@example.com", "ＡＬＩＣＥ@ＥＸＡＭＰＬＥ.ＣＯＭ"} {
		if _, err := s.Register(ctx, blog.Credentials{Email: email, Password: "correct horse"}); blog.ErrorCode(err) != blog.CodeEmailTaken {
			t.Errorf("Register(%q) = %v, want email_taken", email, err)
		}
		if _, err := s.Login(ctx, blog.Credentials{Email: email, Password: "correct horse"}); err != nil {
			t.Errorf("Login(%q) = %v, want the account alice@example.com", email, err)
		}
	}
}

func TestPostInputValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    blog.PostInput
		bad   []string
		match string // part of the message of the first bad field
	}{
		{"valid", blog.PostInput{Title: "Hello", Body: "World"}, nil, ""},
		{"multi-line body", blog.PostInput{Title: "Hello", Body: "line 1\nline 2\r\n"}, nil, ""},
		{"title padded with spaces", blog.PostInput{Title: "  Hello  ", Body: "x"}, nil, ""},
		{"title of 200 runes", blog.PostInput{Title: strings.Repeat("é", 200), Body: "x"}, nil, ""},
		{"body of 10000 runes", blog.PostInput{Title: "t", Body: strings.Repeat("ü", 10000)}, nil, ""},

		{"empty title", blog.PostInput{Title: "", Body: "x"}, []string{"title"}, "required"},
		{"blank title", blog.PostInput{Title: " \t ", Body: "x"}, []string{"title"}, "required"},
		{"title of only newlines", blog.PostInput{Title: "\n\n", Body: "x"}, []string{"title"}, "required"},
		{"title of 201 runes", blog.PostInput{Title: strings.Repeat("é", 201), Body: "x"}, []string{"title"}, "200"},
		{"title with newline", blog.PostInput{Title: "a\nb", Body: "x"}, []string{"title"}, "single line"},
		{"title with carriage return", blog.PostInput{Title: "a\rb", Body: "x"}, []string{"title"}, "single line"},
		{"title with NUL", blog.PostInput{Title: "a\x00b", Body: "x"}, []string{"title"}, "NUL"},
		{"title invalid UTF-8", blog.PostInput{Title: "a\xffb", Body: "x"}, []string{"title"}, "UTF-8"},
		{"empty body", blog.PostInput{Title: "t", Body: ""}, []string{"body"}, "required"},
		{"blank body", blog.PostInput{Title: "t", Body: "\n \n"}, []string{"body"}, "required"},
		{"body of 10001 runes", blog.PostInput{Title: "t", Body: strings.Repeat("ü", 10001)}, []string{"body"}, "10000"},
		{"body with NUL", blog.PostInput{Title: "t", Body: "a\x00"}, []string{"body"}, "NUL"},
		{"body invalid UTF-8", blog.PostInput{Title: "t", Body: "\xc3"}, []string{"body"}, "UTF-8"},
		{"title with right-to-left override", blog.PostInput{Title: "evil\u202eexe.txt", Body: "x"}, []string{"title"}, "direction"},
		{"title with isolate", blog.PostInput{Title: "a\u2066b\u2069", Body: "x"}, []string{"title"}, "direction"},
		{"title with escape", blog.PostInput{Title: "a\x1b[31mred", Body: "x"}, []string{"title"}, "control"},
		{"title with C1 control", blog.PostInput{Title: "a\u009bb", Body: "x"}, []string{"title"}, "control"},
		{"title with tab", blog.PostInput{Title: "a\tb", Body: "x"}, []string{"title"}, "control"},
		{"body with tab", blog.PostInput{Title: "t", Body: "a\tb"}, nil, ""},
		{"title with DEL", blog.PostInput{Title: "a\x7fb", Body: "x"}, []string{"title"}, "control"},
		{"body with escape", blog.PostInput{Title: "t", Body: "a\x1b[2J"}, []string{"body"}, "control"},
		{"both empty", blog.PostInput{}, []string{"title", "body"}, "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if len(tt.bad) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			fields := fieldsOf(t, err)
			if len(fields) != len(tt.bad) {
				t.Errorf("invalid fields %v, want %v", fields, tt.bad)
			}
			for _, f := range tt.bad {
				if fields[f] == "" {
					t.Errorf("no message for %s in %v", f, fields)
				}
			}
			if msg := fields[tt.bad[0]]; !strings.Contains(msg, tt.match) {
				t.Errorf("%s: message %q, want it to mention %q", tt.bad[0], msg, tt.match)
			}
		})
	}
}

func TestCreatePost(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	pub := &fakePublisher{}
	clk := newClock()
	s := newService(t, store, blog.ServiceConfig{Publisher: pub, Now: clk.Now})

	p, err := s.CreatePost(context.Background(), 7, blog.PostInput{Title: "  Hello  ", Body: "  body kept as is  "})
	if err != nil {
		t.Fatalf("CreatePost: %v", err)
	}
	if p.ID == 0 || p.Title != "Hello" || p.Body != "  body kept as is  " || p.AuthorID != 7 {
		t.Errorf("CreatePost = %+v", p)
	}
	wantTime := clk.Now().UTC().Truncate(time.Microsecond)
	if !p.CreatedAt.Equal(wantTime) || !p.UpdatedAt.Equal(wantTime) || p.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want %v in UTC, to the microsecond", p.CreatedAt, p.UpdatedAt, wantTime)
	}
	if got := pub.published(); len(got) != 1 || got[0] != p {
		t.Errorf("published %+v, want exactly the stored post %+v", got, p)
	}

	t.Run("invalid input", func(t *testing.T) {
		before := store.callCount("CreatePost")
		_, err := s.CreatePost(context.Background(), 7, blog.PostInput{Title: "a\nb", Body: "x"})
		wantCode(t, err, blog.CodeValidation)
		if store.callCount("CreatePost") != before {
			t.Error("invalid post reached the store")
		}
		if n := len(pub.published()); n != 1 {
			t.Errorf("invalid post was published (%d publications)", n)
		}
	})

	t.Run("store failure", func(t *testing.T) {
		store.failWith("CreatePost", errDown)
		defer store.failWith("CreatePost", nil)
		_, err := s.CreatePost(context.Background(), 7, blog.PostInput{Title: "t", Body: "b"})
		if !blog.IsUnavailable(err) {
			t.Errorf("CreatePost = %v, want ErrUnavailable", err)
		}
		if n := len(pub.published()); n != 1 {
			t.Errorf("a post that was not stored was published (%d publications)", n)
		}
	})

	t.Run("without publisher", func(t *testing.T) {
		s := newService(t, newFakeStore(), blog.ServiceConfig{})
		if _, err := s.CreatePost(context.Background(), 1, blog.PostInput{Title: "t", Body: "b"}); err != nil {
			t.Errorf("CreatePost: %v", err)
		}
	})
}

func TestPostThroughCache(t *testing.T) {
	t.Parallel()
	stored := blog.Post{ID: 1, Title: "from store", Body: "b", AuthorID: 3}
	cached := blog.Post{ID: 1, Title: "from cache", Body: "b", AuthorID: 3}
	tests := []struct {
		name       string
		inCache    bool
		inStore    bool
		getErr     error
		setErr     error
		wantTitle  string
		wantCode   string
		wantStore  int // calls of Store.Post
		wantSetIDs []int64
	}{
		{"hit", true, true, nil, nil, "from cache", "", 0, nil},
		{"miss fills the cache", false, true, nil, nil, "from store", "", 1, []int64{1}},
		{"cache error falls back to the store", false, true, errors.New("redis: i/o timeout"), nil, "from store", "", 1, []int64{1}},
		{"cache set error is not fatal", false, true, nil, errors.New("redis: i/o timeout"), "from store", "", 1, []int64{1}},
		{"not found is not cached", false, false, nil, nil, "", blog.CodeNotFound, 1, nil},
		{"cache error and not found", false, false, errors.New("redis down"), nil, "", blog.CodeNotFound, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			if tt.inStore {
				store.posts[1] = stored
			}
			cache := newFakeCache()
			cache.getErr, cache.setErr = tt.getErr, tt.setErr
			if tt.inCache {
				cache.posts[1] = cached
			}
			s := newService(t, store, blog.ServiceConfig{Cache: cache})

			p, err := s.Post(context.Background(), 1)
			if tt.wantCode != "" {
				wantCode(t, err, tt.wantCode)
			} else if err != nil {
				t.Fatalf("Post: %v", err)
			}
			if p.Title != tt.wantTitle {
				t.Errorf("Post title %q, want %q", p.Title, tt.wantTitle)
			}
			if n := store.callCount("Post"); n != tt.wantStore {
				t.Errorf("Store.Post called %d times, want %d", n, tt.wantStore)
			}
			if !slices.Equal(cache.gets, []int64{1}) {
				t.Errorf("cache lookups %v, want [1]", cache.gets)
			}
			if !slices.Equal(cache.sets, tt.wantSetIDs) {
				t.Errorf("cache fills %v, want %v", cache.sets, tt.wantSetIDs)
			}
		})
	}

	t.Run("no cache", func(t *testing.T) {
		store := newFakeStore()
		store.posts[1] = stored
		s := newService(t, store, blog.ServiceConfig{})
		if p, err := s.Post(context.Background(), 1); err != nil || p.Title != "from store" {
			t.Errorf("Post = %+v, %v", p, err)
		}
	})

	t.Run("store down", func(t *testing.T) {
		store := newFakeStore()
		store.failWith("Post", errDown)
		s := newService(t, store, blog.ServiceConfig{Cache: newFakeCache()})
		if _, err := s.Post(context.Background(), 1); !blog.IsUnavailable(err) {
			t.Errorf("Post = %v, want ErrUnavailable", err)
		}
	})
}

func TestUpdateDeleteInvalidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		user     int64
		id       int64
		delErr   error
		wantCode string
		wantDels []int64
		op       func(*blog.Service, int64, int64) error
	}{
		{"update", 3, 1, nil, "", []int64{1}, update},
		{"update with cache down", 3, 1, errors.New("redis down"), "", []int64{1}, update},
		{"update by another user", 4, 1, nil, blog.CodeForbidden, nil, update},
		{"update of a missing post", 3, 2, nil, blog.CodeNotFound, nil, update},
		{"delete", 3, 1, nil, "", []int64{1}, deletePost},
		{"delete with cache down", 3, 1, errors.New("redis down"), "", []int64{1}, deletePost},
		{"delete by another user", 4, 1, nil, blog.CodeForbidden, nil, deletePost},
		{"delete of a missing post", 3, 2, nil, blog.CodeNotFound, nil, deletePost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			store.posts[1] = blog.Post{ID: 1, Title: "old", Body: "old", AuthorID: 3}
			cache := newFakeCache()
			cache.posts[1] = store.posts[1]
			cache.delErr = tt.delErr
			s := newService(t, store, blog.ServiceConfig{Cache: cache})

			err := tt.op(s, tt.user, tt.id)
			if tt.wantCode != "" {
				wantCode(t, err, tt.wantCode)
			} else if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if !slices.Equal(cache.dels, tt.wantDels) {
				t.Errorf("cache invalidations %v, want %v", cache.dels, tt.wantDels)
			}
			if tt.wantCode == "" && tt.delErr == nil {
				if _, stale := cache.posts[1]; stale {
					t.Error("the cached post survived the change")
				}
			}
		})
	}
}

func update(s *blog.Service, user, id int64) error {
	p, err := s.UpdatePost(context.Background(), user, id, blog.PostInput{Title: "  new  ", Body: "new body"})
	if err == nil && (p.Title != "new" || p.Body != "new body" || p.ID != id) {
		return fmt.Errorf("UpdatePost returned %+v", p)
	}
	return err
}

func deletePost(s *blog.Service, user, id int64) error {
	return s.DeletePost(context.Background(), user, id)
}

func TestUpdatePostValidates(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	store.posts[1] = blog.Post{ID: 1, Title: "old", Body: "old", AuthorID: 3}
	cache := newFakeCache()
	s := newService(t, store, blog.ServiceConfig{Cache: cache})
	_, err := s.UpdatePost(context.Background(), 3, 1, blog.PostInput{Title: "", Body: "x"})
	wantCode(t, err, blog.CodeValidation)
	if store.callCount("UpdatePost") != 0 || len(cache.dels) != 0 {
		t.Error("an invalid update reached the store or the cache")
	}
}

func TestListPostsClamps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want blog.Page
	}{
		{blog.Page{}, blog.Page{Page: 1, PerPage: blog.DefaultPerPage}},
		{blog.Page{Page: -3, PerPage: -1}, blog.Page{Page: 1, PerPage: blog.DefaultPerPage}},
		{blog.Page{Page: 2, PerPage: 10}, blog.Page{Page: 2, PerPage: 10}},
		{blog.Page{Page: 1, PerPage: blog.MaxPerPage}, blog.Page{Page: 1, PerPage: blog.MaxPerPage}},
		{blog.Page{Page: 1, PerPage: blog.MaxPerPage + 1}, blog.Page{Page: 1, PerPage: blog.MaxPerPage}},
		{blog.Page{Page: 5, PerPage: 1 << 30}, blog.Page{Page: 5, PerPage: blog.MaxPerPage}},
		{blog.Page{Page: 1, PerPage: 1}, blog.Page{Page: 1, PerPage: 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.in.Page, tt.in.PerPage), func(t *testing.T) {
			store := newFakeStore()
			s := newService(t, store, blog.ServiceConfig{})
			l, err := s.ListPosts(context.Background(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if store.lastPage != tt.want {
				t.Errorf("store got page %+v, want %+v", store.lastPage, tt.want)
			}
			if l.Page != tt.want.Page || l.PerPage != tt.want.PerPage {
				t.Errorf("list page %d/%d, want %d/%d", l.Page, l.PerPage, tt.want.Page, tt.want.PerPage)
			}
		})
	}
}

func TestPageOffset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    blog.Page
		want int
	}{
		{blog.Page{Page: 1, PerPage: 20}, 0},
		{blog.Page{Page: 2, PerPage: 20}, 20},
		{blog.Page{Page: 3, PerPage: 7}, 14},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.p.Page, tt.p.PerPage), func(t *testing.T) {
			if got := tt.p.Offset(); got != tt.want {
				t.Errorf("Offset = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTokenFromHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"Bearer  abc  ", "abc", true},
		{"Bearer abc def", "abc def", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearerabc", "", false},
		{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "", false},
		{"Token abc", "", false},
		{"abc", "", false},
		{" Bearer abc", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			got, ok := blog.TokenFromHeader(tt.header)
			if got != tt.want || ok != tt.ok {
				t.Errorf("TokenFromHeader(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestTokenFromHeaderBlank: "Bearer" followed by only spaces carries no
// token, yet is reported as one.
func TestTokenFromHeaderBlank(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"Bearer  ", "Bearer \t "} {
		t.Run(h, func(t *testing.T) {
			tok, ok := blog.TokenFromHeader(h)
			if ok && tok == "" {
				t.Fatal(`BUG (minor): service.go TokenFromHeader("Bearer  ") returns "", true; ` +
					`return false when the trimmed token is empty`)
			}
			if ok {
				t.Errorf("TokenFromHeader(%q) = %q, true; want false", h, tok)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"a@b.c", "a@b.c"},
		{"  Alice@Example.COM\t", "alice@example.com"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := blog.NormalizeEmail(tt.in); got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestMetrics checks the service's counters through a manual reader
// installed as the global meter provider before NewService.
func TestMetrics(t *testing.T) {
	reader := telemetrytest.GlobalMeterReader(t)

	store := newFakeStore()
	cache := newFakeCache()
	s := newService(t, store, blog.ServiceConfig{Cache: cache})
	ctx := context.Background()

	want := map[string]int64{"created": 0, "hit": 0, "miss": 0, "error": 0}
	check := func(t *testing.T) {
		t.Helper()
		got := counters(t, reader)
		for k, v := range want {
			if gv, found := got[k]; !found || gv != v {
				t.Errorf("%s = %d (present %v), want %d; all: %v", k, gv, found, v, got)
			}
		}
	}
	t.Run("series exist at zero", check)

	p, err := s.CreatePost(ctx, 1, blog.PostInput{Title: "t", Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	want["created"] = 1
	if _, err := s.Post(ctx, p.ID); err != nil { // miss, fills the cache
		t.Fatal(err)
	}
	want["miss"] = 1
	if _, err := s.Post(ctx, p.ID); err != nil { // hit
		t.Fatal(err)
	}
	want["hit"] = 1
	cache.getErr = errors.New("redis down")
	if _, err := s.Post(ctx, p.ID); err != nil { // error, served by the store
		t.Fatal(err)
	}
	want["error"] = 1
	t.Run("after use", check)
}

// counters reads blog.posts.created (as "created") and blog.cache.requests
// by result.
func counters(tb testing.TB, reader *sdkmetric.ManualReader) map[string]int64 {
	tb.Helper()
	got := map[string]int64{}
	for _, m := range telemetrytest.Metrics(tb, reader) {
		sum, isSum := m.Data.(metricdata.Sum[int64])
		if !isSum {
			continue
		}
		for _, dp := range sum.DataPoints {
			switch m.Name {
			case "blog.posts.created":
				got["created"] += dp.Value
			case "blog.cache.requests":
				r, _ := dp.Attributes.Value(attribute.Key("result"))
				got[r.AsString()] += dp.Value
			}
		}
	}
	return got
}
