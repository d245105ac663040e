package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/feed"
	"example.com/otelstarter/app/internal/redisstore"
	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// testDB is the Redis database number reserved for this package's tests;
// other packages use other numbers on the shared server.
const testDB = 12

// redisURL returns the URL of database testDB on the test Redis, after
// flushing that database. Pub/sub channels are shared by every database,
// so pub/sub tests must filter messages themselves.
func redisURL(tb testing.TB) string {
	tb.Helper()
	u, err := url.Parse(testenv.RedisURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/12"
	raw := rawClient(tb, u.String())
	if err := raw.FlushDB(context.Background()).Err(); err != nil {
		tb.Fatalf("FLUSHDB %d: %v", testDB, err)
	}
	return u.String()
}

// rawClient is a plain go-redis client on rawURL, to look behind the
// store's back.
func rawClient(tb testing.TB, rawURL string) *redis.Client {
	tb.Helper()
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	if o.DB != testDB {
		tb.Fatalf("test Redis client on database %d, want %d", o.DB, testDB)
	}
	c := redis.NewClient(o)
	tb.Cleanup(func() { c.Close() })
	return c
}

// mustOpen opens the store on rawURL and closes it when the test ends.
func mustOpen(tb testing.TB, rawURL string) *redisstore.Client {
	tb.Helper()
	c, err := redisstore.Open(rawURL)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// ctx returns a context that ends with the test or after 10s.
func ctx(tb testing.TB) context.Context {
	tb.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return c
}

func randomString(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func samplePost(id int64) blog.Post {
	t := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	return blog.Post{ID: id, Title: "Hello", Body: "Body with ünïcode\nand lines", AuthorID: 9, CreatedAt: t, UpdatedAt: t.Add(time.Minute)}
}

func TestPostCacheRoundTrip(t *testing.T) {
	u := redisURL(t)
	c := mustOpen(t, u)
	raw := rawClient(t, u)
	ctx := ctx(t)

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"miss", func(t *testing.T) {
			p, found, err := c.GetPost(ctx, 404)
			if err != nil || found {
				t.Errorf("GetPost(404) = %+v, %v, %v; want a miss", p, found, err)
			}
		}},
		{"set then get", func(t *testing.T) {
			want := samplePost(1)
			if err := c.SetPost(ctx, want); err != nil {
				t.Fatalf("SetPost: %v", err)
			}
			got, found, err := c.GetPost(ctx, 1)
			if err != nil || !found {
				t.Fatalf("GetPost(1) = %v, %v; want a hit", found, err)
			}
			if got.ID != want.ID || got.Title != want.Title || got.Body != want.Body || got.AuthorID != want.AuthorID ||
				!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
				t.Errorf("GetPost(1) = %+v, want %+v", got, want)
			}
		}},
		{"entries expire after PostTTL", func(t *testing.T) {
			ttl, err := raw.TTL(ctx, redisstore.PostKey(1)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl > redisstore.PostTTL || ttl < redisstore.PostTTL-10*time.Second {
				t.Errorf("TTL = %v, want about %v", ttl, redisstore.PostTTL)
			}
		}},
		{"set overwrites", func(t *testing.T) {
			p := samplePost(1)
			p.Title = "Changed"
			if err := c.SetPost(ctx, p); err != nil {
				t.Fatal(err)
			}
			got, found, err := c.GetPost(ctx, 1)
			if err != nil || !found || got.Title != "Changed" {
				t.Errorf("GetPost(1) = %+v, %v, %v; want the new title", got, found, err)
			}
		}},
		{"delete", func(t *testing.T) {
			if err := c.DeletePost(ctx, 1); err != nil {
				t.Fatalf("DeletePost: %v", err)
			}
			if _, found, err := c.GetPost(ctx, 1); err != nil || found {
				t.Errorf("GetPost after DeletePost = %v, %v; want a miss", found, err)
			}
		}},
		{"delete of a missing entry", func(t *testing.T) {
			if err := c.DeletePost(ctx, 12345); err != nil {
				t.Errorf("DeletePost(missing) = %v, want nil", err)
			}
		}},
		{"posts are kept apart", func(t *testing.T) {
			for _, id := range []int64{2, 3} {
				if err := c.SetPost(ctx, samplePost(id)); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.DeletePost(ctx, 2); err != nil {
				t.Fatal(err)
			}
			if got, found, err := c.GetPost(ctx, 3); err != nil || !found || got.ID != 3 {
				t.Errorf("GetPost(3) = %+v, %v, %v after deleting 2", got, found, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestCorruptEntryIsAMiss(t *testing.T) {
	u := redisURL(t)
	c := mustOpen(t, u)
	raw := rawClient(t, u)
	ctx := ctx(t)

	other, err := json.Marshal(samplePost(99))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		value string
	}{
		{"not JSON", "not json"},
		{"truncated JSON", `{"id":5,"title":"x`},
		{"wrong type", `[1,2,3]`},
		{"another post's entry", string(other)},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := redisstore.PostKey(5)
			if err := raw.Set(ctx, key, tt.value, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			p, found, err := c.GetPost(ctx, 5)
			if err != nil || found {
				t.Errorf("GetPost(5) = %+v, %v, %v; want a miss", p, found, err)
			}
			if n, err := raw.Exists(ctx, key).Result(); err != nil || n != 0 {
				t.Errorf("corrupt entry still there (EXISTS = %d, %v)", n, err)
			}
		})
	}
}

func TestPublishSubscribe(t *testing.T) {
	u := redisURL(t)
	pub := mustOpen(t, u)
	sub := mustOpen(t, u)
	ctx := ctx(t)

	// The channel is shared with other packages' tests: recognise ours by origin.
	origin := "redisstore-test-" + randomString(t)
	got := make(chan feed.Message, 16)
	subCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sub.Subscribe(subCtx, func(_ context.Context, m feed.Message) {
			if m.Origin == origin {
				got <- m
			}
		})
	}()

	want := samplePost(77)
	var m feed.Message
	// SUBSCRIBE and PUBLISH travel on different connections: publish until
	// the subscriber is listening.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		tc := map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
		if err := pub.Publish(ctx, feed.Message{Origin: origin, Post: want, TraceContext: tc}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		select {
		case m = <-got:
			break wait
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("no message received within 10s")
		}
	}
	if m.Post.ID != want.ID || m.Post.Title != want.Title || m.Post.Body != want.Body || !m.Post.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("received %+v, want %+v", m.Post, want)
	}
	if got := m.TraceContext["traceparent"]; got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("trace context lost on the way: %q", got)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Subscribe did not return after its context was canceled")
	}
}

func TestOpenBadURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{"wrong scheme", "http://:s3cret@127.0.0.1:6379/0"},
		{"bad port", "redis://:s3cret@127.0.0.1:port/0"},
		{"bad database", "redis://user:s3cret@127.0.0.1:6379/notadb"},
		{"bad escape", "redis://:s3cret%zz@127.0.0.1:6379/0"},
		{"not a URL", "s3cret"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := redisstore.Open(tt.url)
			if err == nil {
				c.Close()
				t.Fatalf("Open(%q): no error", tt.url)
			}
			if !strings.Contains(err.Error(), "REDIS_URL") {
				t.Errorf("error %q does not name REDIS_URL", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	c := mustOpen(t, "redis://:s3cret@"+testenv.HangUpAddr(t)+"/12")

	tests := []struct {
		name string
		call func(context.Context) error
	}{
		{"GetPost", func(ctx context.Context) error { _, _, err := c.GetPost(ctx, 1); return err }},
		{"SetPost", func(ctx context.Context) error { return c.SetPost(ctx, samplePost(1)) }},
		{"DeletePost", func(ctx context.Context) error { return c.DeletePost(ctx, 1) }},
		{"Publish", func(ctx context.Context) error { return c.Publish(ctx, feed.Message{Post: samplePost(1)}) }},
		{"Ping", c.Ping},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := tt.call(context.Background()) // no deadline: the client's own timeouts must bound it
			d := time.Since(start)
			if err == nil {
				t.Fatal("no error with Redis unreachable")
			}
			// It fails in tens of milliseconds; the bound catches a retry
			// policy that would hold a request for seconds.
			if d > 1500*time.Millisecond {
				t.Errorf("took %v to fail, want under 1.5s", d)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}

	t.Run("Subscribe returns on cancel", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		done := make(chan struct{})
		go func() {
			c.Subscribe(ctx, func(context.Context, feed.Message) {})
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Subscribe did not return after its context ended")
		}
	})
}

func TestTelemetry(t *testing.T) {
	u := redisURL(t)
	sr := telemetrytest.GlobalSpanRecorder(t)
	reader := telemetrytest.GlobalMeterReader(t)
	c := mustOpen(t, u)
	ctx := ctx(t)

	const marker = "secret-post-content-7f3a"
	p := samplePost(31)
	p.Title, p.Body = marker+" title", marker+" body"
	if err := c.SetPost(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, found, err := c.GetPost(ctx, 31); err != nil || !found {
		t.Fatalf("GetPost = %v, %v", found, err)
	}
	if err := c.Publish(ctx, feed.Message{Origin: "telemetry-test", Post: p}); err != nil {
		t.Fatal(err)
	}

	spans := sr.Ended()
	names := map[string]bool{}
	for _, s := range spans {
		names[s.Name()] = true
		for _, kv := range s.Attributes() {
			if kv.Key == "db.statement" || kv.Key == "db.query.text" {
				if strings.Contains(kv.Value.String(), marker) {
					t.Errorf("span %q: %s holds the cached value: %q", s.Name(), kv.Key, kv.Value.String())
				}
			}
			if strings.Contains(kv.Value.String(), marker) {
				t.Errorf("span %q: attribute %s holds post content", s.Name(), kv.Key)
			}
		}
		for _, ev := range s.Events() {
			for _, kv := range ev.Attributes {
				if strings.Contains(kv.Value.String(), marker) {
					t.Errorf("span %q event %q: attribute %s holds post content", s.Name(), ev.Name, kv.Key)
				}
			}
		}
	}
	for _, want := range []string{"set", "get", "publish"} {
		if !names[want] {
			t.Errorf("no %q span recorded through WithTracerProvider; spans: %v", want, names)
		}
	}
	if !hasAttr(spans, attribute.String("db.system", "redis")) && !hasAttr(spans, attribute.String("db.system.name", "redis")) {
		t.Error("no span says db.system=redis")
	}

	var metrics []string
	for _, m := range telemetrytest.Metrics(t, reader) {
		metrics = append(metrics, m.Name)
	}
	if !strings.Contains(strings.Join(metrics, " "), "db.client.connections.") {
		t.Errorf("no db.client.connections.* metric through WithMeterProvider; got %v", metrics)
	}
}

func hasAttr(spans []sdktrace.ReadOnlySpan, want attribute.KeyValue) bool {
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			if kv == want {
				return true
			}
		}
	}
	return false
}
