package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEveryStateChangingRouteRequiresItsOwner sends, to each route that
// changes state behind a bearer token, every kind of bad credential, and
// checks the answer (401/403, JSON, WWW-Authenticate on 401) and that
// nothing changed. POST /api/users, POST /api/login and POST
// /api/sentry-tunnel change state too, but are public by design (sign-up,
// sign-in, browser error reports) and are rate limited instead (see
// ratelimit_test.go).
func TestEveryStateChangingRouteRequiresItsOwner(t *testing.T) {
	a := newTestApp(t, map[string]string{"RATE_LIMIT_LOGIN": "0"})
	ctx := context.Background()
	db := a.app.store.DB()
	_, owner := a.user(t, "owner@example.com", "owner password")
	_, intruder := a.user(t, "intruder@example.com", "intruder password")
	id := a.post(t, owner, "the owner's post")
	path := fmt.Sprintf("/api/posts/%d", id)

	// Sessions that existed once: one expired, one deleted (logout or the
	// hourly cleanup), one whose user was deleted (ON DELETE CASCADE).
	login := func(email, password string) string {
		t.Helper()
		l := a.do(t, "POST", "/api/login", map[string]string{"email": email, "password": password}, "")
		wantStatus(t, l, 200, "")
		return l.Body["token"].(string)
	}
	hashOf := func(tok string) []byte { s := sha256.Sum256([]byte(tok)); return s[:] }
	expired := login("owner@example.com", "owner password")
	past := time.Now().Add(-time.Minute).UnixMicro() // SQLite stores unix microseconds
	if res, err := db.ExecContext(ctx, `UPDATE sessions SET expires_at = $1 WHERE token_hash = $2`, past, hashOf(expired)); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("expiring the session updated %d rows", n)
	}
	deleted := login("owner@example.com", "owner password")
	if _, err := db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, hashOf(deleted)); err != nil {
		t.Fatal(err)
	}
	_, ghost := a.user(t, "ghost@example.com", "ghost password")
	if _, err := db.ExecContext(ctx, `DELETE FROM users WHERE email = 'ghost@example.com'`); err != nil {
		t.Fatal(err)
	}
	// The stored hash itself, in the token's own encoding and length: a
	// stolen database must not yield working tokens.
	storedHashAsToken := base64.RawURLEncoding.EncodeToString(hashOf(owner)[:32])

	bad := []struct {
		name   string
		header string // the whole Authorization header; "" = none
	}{
		{"no token", ""},
		{"scheme only", "Bearer"},
		{"scheme and space", "Bearer "},
		{"basic scheme", "Basic b3duZXI6b3duZXIgcGFzc3dvcmQ="},
		{"token without scheme", owner},
		{"wrong scheme", "Token " + owner},
		{"two tokens", "Bearer " + owner + " " + owner},
		{"token with a suffix", "Bearer " + owner + "x"},
		{"token cut short", "Bearer " + owner[:42]},
		{"forged, right length", "Bearer " + strings.Repeat("A", 43)},
		{"forged, right alphabet", "Bearer " + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))},
		{"the stored hash as a token", "Bearer " + storedHashAsToken},
		{"expired session", "Bearer " + expired},
		{"deleted session", "Bearer " + deleted},
		{"session of a deleted user", "Bearer " + ghost},
		{"JWT alg none", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOjF9."},
	}
	routes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/posts", map[string]string{"title": "injected", "body": "injected"}},
		{"PUT", path, map[string]string{"title": "defaced", "body": "defaced"}},
		{"DELETE", path, nil},
		// A post that does not exist: 401 too, not 404 (no existence oracle).
		{"PUT", "/api/posts/999999", map[string]string{"title": "defaced", "body": "defaced"}},
		{"DELETE", "/api/posts/999999", nil},
	}

	before := snapshot(t, a)
	for _, rt := range routes {
		for _, b := range bad {
			t.Run(rt.method+" "+rt.path+"/"+b.name, func(t *testing.T) {
				var hdr []string
				if b.header != "" {
					hdr = []string{"Authorization", b.header}
				}
				r := a.do(t, rt.method, rt.path, rt.body, "", hdr...)
				wantStatus(t, r, http.StatusUnauthorized, "unauthorized")
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("401 without a Bearer challenge: %q", r.Header.Get("WWW-Authenticate"))
				}
			})
		}
		if rt.path == path {
			t.Run(rt.method+" "+rt.path+"/another user's valid token", func(t *testing.T) {
				wantStatus(t, a.do(t, rt.method, rt.path, rt.body, intruder), http.StatusForbidden, "forbidden")
			})
		}
	}
	if after := snapshot(t, a); after != before {
		t.Fatalf("refused requests changed the data:\nbefore %s\nafter  %s", before, after)
	}

	// The checks above refuse for the right reason: the owner's token works.
	wantStatus(t, a.do(t, "PUT", path, map[string]string{"title": "edited", "body": "edited"}, owner), 200, "")
	wantStatus(t, a.do(t, "DELETE", path, nil, owner), 204, "")
}

// snapshot renders every post (with its author and timestamps) and the
// number of sessions, to compare before and after.
func snapshot(tb testing.TB, a *testApp) string {
	tb.Helper()
	var sb strings.Builder
	rows, err := a.app.store.DB().QueryContext(context.Background(),
		`SELECT id, title, body, author_id, created_at, updated_at FROM posts ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, author, created, updated int64
		var title, body string
		if err := rows.Scan(&id, &title, &body, &author, &created, &updated); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&sb, "[%d %q %q by %d %d/%d] ", id, title, body, author, created, updated)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	var n int
	if err := a.app.store.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM posts`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(&sb, "posts=%d", n)
	return sb.String()
}

// TestTokensAreStoredHashed reads the sessions table after a login: no
// column holds the token (or its raw bytes), and token_hash is
// sha256(token).
func TestTokensAreStoredHashed(t *testing.T) {
	a := newTestApp(t, nil)
	const password = "stored-hashed-pw-91"
	_, tok := a.user(t, "hashed@example.com", password)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q is not 32 bytes of base64url: %v", tok, err)
	}
	want := sha256.Sum256([]byte(tok))

	for _, table := range []string{"sessions", "users"} {
		rows, err := a.app.store.DB().QueryContext(context.Background(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		n := 0
		for rows.Next() {
			n++
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				b := asBytes(v)
				for name, secret := range map[string][]byte{
					"token": []byte(tok), "raw token bytes": raw, "password": []byte(password),
				} {
					if bytes.Contains(b, secret) {
						t.Errorf("%s.%s holds the %s: %x", table, cols[i], name, b)
					}
				}
				if table == "sessions" && cols[i] == "token_hash" && !bytes.Equal(b, want[:]) {
					t.Errorf("sessions.token_hash = %x, want sha256(token) = %x", b, want)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if n != 1 {
			t.Fatalf("%s has %d rows, want 1: the check proved nothing", table, n)
		}
		if table == "sessions" && !slices.Contains(cols, "token_hash") {
			t.Fatalf("sessions has no token_hash column: %v", cols)
		}
	}
}

func asBytes(v any) []byte {
	switch v := v.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	case nil:
		return nil
	default:
		return fmt.Append(nil, v)
	}
}

// TestLoginIsNotAnEnumerationOracle: an unknown email and a wrong password
// get the same status and body, and take about as long, because an unknown
// email is checked against a dummy bcrypt hash of the same cost. A
// functional check of that comparison, not a benchmark: bcrypt at cost 8
// (~15 ms) dwarfs everything else, so skipping the comparison would make
// unknown emails an order of magnitude faster; factor 2 leaves room for a
// busy machine.
func TestLoginIsNotAnEnumerationOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("timing check; skipped with -short")
	}
	a := newTestApp(t, map[string]string{"BCRYPT_COST": "8", "RATE_LIMIT_LOGIN": "0"})
	a.user(t, "known@example.com", "the right password")

	const n = 15
	var known, unknown []time.Duration
	var bodies = map[string]bool{}
	try := func(email string) time.Duration {
		start := time.Now()
		r := a.do(t, "POST", "/api/login", map[string]string{"email": email, "password": "a wrong password"}, "")
		d := time.Since(start)
		wantStatus(t, r, http.StatusUnauthorized, "invalid_credentials")
		bodies[r.Raw] = true
		return d
	}
	for i := range n {
		// Interleaved, alternating which goes first, so that drift in the
		// machine's load hits both alike.
		if i%2 == 0 {
			known = append(known, try("known@example.com"))
			unknown = append(unknown, try(fmt.Sprintf("unknown-%d@example.com", i)))
		} else {
			unknown = append(unknown, try(fmt.Sprintf("unknown-%d@example.com", i)))
			known = append(known, try("known@example.com"))
		}
	}
	if len(bodies) != 1 {
		t.Errorf("the bodies differ between unknown email and wrong password: %v", bodies)
	}
	mk, mu := median(known), median(unknown)
	t.Logf("login medians over %d attempts each at BCRYPT_COST=8: wrong password %v, unknown email %v", n, mk, mu)
	if ratio := float64(max(mk, mu)) / float64(min(mk, mu)); ratio > 2 {
		t.Errorf("medians differ by a factor %.1f (wrong password %v, unknown email %v): login time reveals whether an account exists", ratio, mk, mu)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
