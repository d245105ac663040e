package telemetry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/telemetry"
)

func TestIsSensitiveKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"password", true},
		{"user_password", true},
		{"Password", true},
		{"Authorization", true},
		{"proxy-authorization", true},
		{"Cookie", true},
		{"Set-Cookie", true},
		{"email", true},
		{"user.email", true},
		{"client_ip", true},
		{"client.address", true},
		{"X-Forwarded-For", true},
		{"X-Api-Key", true},
		{"refresh_token", true},
		{"client_secret", true},
		{"DATABASE_URL", true},
		{"dsn", true},
		{"request.body", true},
		{"session_id", true},
		{"private_key", true},
		{strings.Repeat("x", 80) + "_password", true}, // longer than the stack buffer
		{"user_id", false},
		{"post_id", false},
		{"method", false},
		{"route", false},
		{"status", false},
		{"trace_id", false},
		{"duration_ms", false},
		{"description", false}, // contains "ip" but is not the key "ip"
		{"shipping", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			// Twice: the second answer comes from the cache.
			for range 2 {
				if got := telemetry.IsSensitiveKey(tt.key); got != tt.want {
					t.Errorf("IsSensitiveKey(%q) = %v, want %v", tt.key, got, tt.want)
				}
			}
		})
	}
	// Keys that share length, first and last byte share a cache slot: the
	// cache must never answer for the wrong one.
	for range 3 {
		for _, k := range []struct {
			key  string
			want bool
		}{{"token", true}, {"tamen", false}, {"tOKEN", true}, {"tzzzn", false}} {
			if got := telemetry.IsSensitiveKey(k.key); got != k.want {
				t.Errorf("IsSensitiveKey(%q) = %v after a colliding key, want %v", k.key, got, k.want)
			}
		}
	}
}

func TestRedactString(t *testing.T) {
	const R = telemetry.Redacted
	tests := []struct {
		name, in, want string
	}{
		{"email", "signup alice@example.com ok", "signup " + R + " ok"},
		{"email plus", "to a.b+tag@mail.example.co.uk", "to " + R},
		{"two emails", "a@b.io,c@d.io", R + "," + R},
		{"ipv4", "from 203.0.113.7", "from " + R},
		{"ipv4 port", "dial 10.0.0.1:5432 failed", "dial " + R + ":5432 failed"},
		{"ipv4 zero", "0.0.0.0", R},
		{"ipv6 loopback", "listen on ::1", "listen on " + R},
		{"ipv6 bracket port", "dial [::1]:8080", "dial [" + R + "]:8080"},
		{"ipv6 full", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", R},
		{"ipv6 short", "peer fe80::1ff:fe23:4567:890a here", "peer " + R + " here"},
		{"ipv6 mapped ipv4", "::ffff:192.0.2.128", R}, // a whole address is masked whole
		{"bearer", "Authorization: Bearer abc123DEF456ghi", "Authorization: " + R},
		{"bearer lower", "bearer eyJhbGciOiJIUzI1NiJ9", R},
		{"basic", "Basic dXNlcjpwYXNzd29yZA==", R},
		{"token word", "token a1b2c3d4e5f6", R},
		{"jwt", "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt=" + R},

		// Must not be touched.
		{"uuid", "0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{"time", "12:30:45", "12:30:45"},
		{"timestamp", "2024-05-01T12:30:45.123Z", "2024-05-01T12:30:45.123Z"},
		{"version", "v1.2.3", "v1.2.3"},
		{"go version", "go1.26.8", "go1.26.8"},
		{"route", "GET /api/posts/{id}", "GET /api/posts/{id}"},
		{"trace id", "4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"duration", "took 1.5s (1h2m3.25s)", "took 1.5s (1h2m3.25s)"},
		{"plain", "post created", "post created"},
		{"cpp scope", "std::vector", "std::vector"},
		{"perl scope", "Foo::Bar", "Foo::Bar"},
		{"double colon", "key:: value", "key:: value"},
		{"basic words", "basic authentication failed", "basic authentication failed"},
		{"token words", "Token refreshed.", "Token refreshed."},
		{"mac", "aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff"},
		{"empty", "", ""},

		{"pair =", "password=hunter2 next", "password=" + R + " next"},
		{"pair :", "login failed: password: hunter2, user=bob", "login failed: password: " + R + ", user=bob"},
		{"pair spaced", "api_key = k3y!", "api_key = " + R},
		{"pair quoted", `db_password="p w" ok`, `db_password="` + R + `" ok`},
		{"pair single-quoted", "secret='s s'", "secret='" + R + "'"},
		{"pair json", `{"password":"hunter2","name":"x"}`, `{"password":"` + R + `","name":"x"}`},
		{"pair json spaced", `{"refresh_token": "abc"}`, `{"refresh_token": "` + R + `"}`},
		{"pair query", "GET /cb?code=1&access_token=abc123&x=1", "GET /cb?code=1&access_token=" + R + "&x=1"},
		{"pair header", "X-Api-Key: abc", "X-Api-Key: " + R},
		{"pair upper case", "PASSWORD=x", "PASSWORD=" + R},
		{"pair dsn", "dsn=postgres://u:pw@db/x", "dsn=" + R},
		{"pair auth header", "authorization=Basic dXNlcjpwYXNz", "authorization=" + R},
		{"cookie word", "password=hunter2 cookie sid=abc123", "password=" + R + " cookie " + R},
		{"cookie header", "Cookie: sid=abc; theme=dark", "Cookie: " + R},
		{"set-cookie", "Set-Cookie: sid=abc; Path=/; HttpOnly", "Set-Cookie: " + R},
		{"cookie prose", "the cookie banner was shown", "the cookie banner was shown"},
		{"harmless pairs", "time=12:30 status=ok route=/api", "time=12:30 status=ok route=/api"},
		{"pair short key", "pwd=hunter2 sid=abc", "pwd=" + R + " sid=" + R},
		{"pair auth scheme, short credential", "Proxy-Authorization: Basic abc", "Proxy-Authorization: " + R},
		{"pair auth scheme at the end", "authorization: Digest", "authorization: " + R},
		{"pair arrow", ":password => 'x'", ":password => '" + R + "'"},
		{"pair json escaped quote", `{"password" : "a\"b", "n":1}`, `{"password" : "` + R + `", "n":1}`},
		{"pair passphrase", "ssh_passphrase=open-sesame", "ssh_passphrase=" + R},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := telemetry.RedactString(tt.in)
			if got != tt.want {
				t.Errorf("RedactString(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := telemetry.RedactString(got); again != got {
				t.Errorf("not idempotent: %q → %q", got, again)
			}
		})
	}
}

func TestRedactStringDoesNotAllocateClean(t *testing.T) {
	for _, s := range []string{"post created", "GET /api/posts/{id}", "0f8fad5b-d9cb-469f-a165-70867728950e"} {
		if n := testing.AllocsPerRun(100, func() { _ = telemetry.RedactString(s) }); n != 0 {
			t.Errorf("RedactString(%q) allocates %v times", s, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = telemetry.IsSensitiveKey("http.request.method") }); n != 0 {
		t.Errorf("IsSensitiveKey allocates %v times", n)
	}
}

type user struct {
	ID    int
	Email string
}

func (u user) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("id", u.ID), slog.String("email", u.Email))
}

type stringer struct{}

func (stringer) LogValue() slog.Value { return slog.StringValue("mail bob@example.org") }

func TestRedact(t *testing.T) {
	const R = telemetry.Redacted
	tests := []struct {
		name string
		in   slog.Attr
		want string // the attribute as the JSON handler writes it
	}{
		{"sensitive key", slog.String("password", "hunter2"), `"password":"` + R + `"`},
		{"sensitive key int", slog.Int("client_ip", 7), `"client_ip":"` + R + `"`},
		{"string value", slog.String("note", "from 10.0.0.1"), `"note":"from ` + R + `"`},
		{"plain", slog.Int("user_id", 7), `"user_id":7`},
		{"error", slog.Any("err", errors.New("no user alice@example.com")), `"err":"no user ` + R + `"`},
		{"group", slog.Group("req", slog.String("method", "GET"), slog.String("Cookie", "s=1")), `"req":{"method":"GET","Cookie":"` + R + `"}`},
		{"nested group", slog.Group("a", slog.Group("b", slog.String("x", "a@b.io"))), `"a":{"b":{"x":"` + R + `"}}`},
		{"empty sensitive group", slog.Group("token"), ``},
		{"header", slog.Any("h", http.Header{"Authorization": {"Bearer x"}, "Accept": {"text/html"}, "X-Note": {"a@b.io"}}),
			`"h":{"Accept":["text/html"],"Authorization":["` + R + `"],"X-Note":["` + R + `"]}`},
		{"string map", slog.Any("m", map[string]string{"token": "t", "k": "10.1.1.1"}), `"m":{"k":"` + R + `","token":"` + R + `"}`},
		{"string slice", slog.Any("s", []string{"a", "a@b.io"}), `"s":["a","` + R + `"]`},
		{"LogValuer group", slog.Any("user", user{ID: 3, Email: "a@b.io"}), `"user":{"id":3,"email":"` + R + `"}`},
		{"LogValuer string", slog.Any("s", stringer{}), `"s":"mail ` + R + `"`},
		{"int slice", slog.Any("ids", []int{1, 2}), `"ids":[1,2]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jsonAttr(t, telemetry.Redact(tt.in))
			if got != tt.want {
				t.Errorf("Redact(%v) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// jsonAttr renders a as the JSON handler does, without the braces and the
// time/level/msg keys.
func jsonAttr(tb testing.TB, a slog.Attr) string {
	tb.Helper()
	var b strings.Builder
	h := slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		return a
	}})
	slog.New(h).LogAttrs(context.Background(), slog.LevelInfo, "", a)
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(b.String()), "{"), "}")
}

func TestRedactLeavesCleanAttrsAlone(t *testing.T) {
	g := slog.Group("g", slog.Int("a", 1), slog.String("b", "x"))
	got := telemetry.Redact(g)
	if &got.Value.Group()[0] != &g.Value.Group()[0] {
		t.Errorf("clean group copied")
	}
	h := http.Header{"Accept": {"*/*"}}
	telemetry.Redact(slog.Any("h", h))
	if h.Get("Accept") != "*/*" || len(h) != 1 {
		t.Errorf("Redact modified its argument: %v", h)
	}
}

// TestNoSecretReachesAnySink logs and captures errors full of secrets, then
// searches every sink for them.
func TestNoSecretReachesAnySink(t *testing.T) {
	secrets := []string{"hunter2", "abc123DEF456ghi", "alice@example.com", "bob@example.org",
		"203.0.113.7", "carol@example.net", "198.51.100.4", "s3ss10n", "2001:db8::dead:beef",
		"192.0.2.80", "ua-dave@example.com", "192.0.2.81", "erin@example.com"}
	// The exporters of the environment are a sink too: spans and log
	// records leave the process over OTLP.
	clearOTelEnv(t)
	otlp := newOTLPSink(t)
	setenv(t, "OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
	h := newHarness(t)
	handler := h.tel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		// A child span starts in the server span's context, which must
		// not exempt it from redaction.
		_, child := h.tel.TracerProvider.Tracer("test").Start(ctx, "child",
			trace.WithAttributes(attribute.String("note", "mail erin@example.com")))
		child.End()
		h.tel.Logger.ErrorContext(ctx, "signup failed for alice@example.com",
			"password", "hunter2",
			"Authorization", "Bearer abc123DEF456ghi",
			"email", "bob@example.org",
			"client_ip", "203.0.113.7",
			"headers", r.Header,
			slog.Group("peer", "addr", "2001:db8::dead:beef"),
		)
		h.tel.Logger.With("user", user{ID: 1, Email: "bob@example.org"}).InfoContext(ctx, "with attrs")
		h.tel.CaptureError(ctx, fmt.Errorf("login failed for carol@example.net from 198.51.100.4"))
		panic("boom from 203.0.113.7")
	}))
	r := httptestRequest(t, "/signup?email=alice@example.com")
	r.Header.Set("Cookie", "session=s3ss10n")
	r.Header.Set("Authorization", "Bearer abc123DEF456ghi")
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	// Client-controlled values the server span records at start.
	r.Host = "192.0.2.80:8080"
	r.Header.Set("User-Agent", "probe (ua-dave@example.com)")
	r.Header.Set("X-Request-Id", "192.0.2.81")
	if w := serve(t, handler, r); w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}

	sinks := map[string]string{"JSON lines": h.lines.String()}
	var otel strings.Builder
	for _, rec := range h.logs.Records() {
		otel.WriteString(recordText(rec) + "\n")
	}
	sinks["OTel logs"] = otel.String()
	ev, err := json.Marshal(h.sentry.Events())
	if err != nil {
		t.Fatal(err)
	}
	sinks["Sentry"] = string(ev)
	var spanEvents strings.Builder
	for _, s := range h.spans.Ended() {
		spanEvents.WriteString(s.Status().Description)
		for _, kv := range s.Attributes() { // client.address from X-Forwarded-For
			spanEvents.WriteString(kv.Value.String() + "\n")
		}
		for _, e := range s.Events() {
			for _, kv := range e.Attributes {
				spanEvents.WriteString(kv.Value.String() + "\n")
			}
		}
	}
	sinks["spans"] = spanEvents.String()
	if err := h.tel.Shutdown(context.Background()); err != nil { // flushes the exporters
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/traces", "/v1/logs"} {
		var b strings.Builder
		for _, body := range otlp.received(path) {
			b.Write(body) // protobuf: the strings are there as bytes
		}
		sinks["OTLP "+path] = b.String()
	}

	for name, out := range sinks {
		t.Run(name, func(t *testing.T) {
			if len(out) < 50 {
				t.Fatalf("sink nearly empty: %q", out)
			}
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s holds %q", name, s)
				}
			}
		})
	}
	if n := len(h.sentry.Events()); n != 2 {
		t.Errorf("%d Sentry events, want 2 (the error and the panic)", n)
	}
}
