package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// redisDB is this package's database number on the shared Redis, flushed
// before use; other test packages use other numbers.
const redisDB = 11

func sharedRedis(tb testing.TB) string {
	tb.Helper()
	raw := testenv.RedisURL(tb)
	opts, err := redis.ParseURL(raw)
	if err != nil {
		tb.Fatal(err)
	}
	opts.DB = redisDB
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		tb.Fatalf("flush redis db %d: %v", redisDB, err)
	}
	return fmt.Sprintf("redis://%s/%d", opts.Addr, redisDB)
}

func TestPostgresAndRedisAreTraced(t *testing.T) {
	a := newTestApp(t, map[string]string{
		"DATABASE_URL": testenv.PostgresURL(t),
		"REDIS_URL":    sharedRedis(t),
	})
	_, tok := a.user(t, "pg@example.com", "pg password!")
	id := a.post(t, tok, "cached")
	path := fmt.Sprintf("/api/posts/%d", id)

	miss := a.do(t, "GET", path, nil, "")
	hit := a.do(t, "GET", path, nil, "")
	wantStatus(t, hit, 200, "")
	if hit.Raw != miss.Raw {
		t.Fatalf("cached read differs:\n%s\n%s", miss.Raw, hit.Raw)
	}
	if got := cacheCount(t, a, "hit"); got != 1 {
		t.Fatalf("cache hits = %d, want 1", got)
	}
	if got := cacheCount(t, a, "miss"); got != 1 {
		t.Fatalf("cache misses = %d, want 1", got)
	}

	// The edit invalidates the cache: the next read is fresh.
	wantStatus(t, a.do(t, "PUT", path, map[string]string{"title": "edited", "body": "b"}, tok), 200, "")
	if r := a.do(t, "GET", path, nil, ""); r.Body["title"] != "edited" {
		t.Fatalf("read after edit = %s (stale cache)", r.Raw)
	}

	// The miss's trace: server span → SQL span and Redis spans, one trace.
	traceID := miss.Header.Get("X-Request-Id")
	var server sdktrace.ReadOnlySpan
	var sqlSpans, redisSpans, statements int
	for _, s := range a.tel.Spans.Ended() {
		if s.SpanContext().TraceID().String() != traceID {
			continue
		}
		switch {
		case s.Name() == "GET /api/posts/{id}":
			server = s
		case attr(s, "db.system.name") == "postgresql" || attr(s, "db.system") == "postgresql":
			sqlSpans++
			if q := attr(s, "db.query.text") + attr(s, "db.statement"); strings.Contains(strings.ToLower(q), "select") {
				statements++
			}
		case attr(s, "db.system") == "redis" || attr(s, "db.system.name") == "redis":
			redisSpans++
		}
	}
	if server == nil {
		t.Fatalf("no server span for trace %s", traceID)
	}
	if attr(server, "http.route") != "/api/posts/{id}" {
		t.Errorf("http.route = %q", attr(server, "http.route"))
	}
	if statements == 0 {
		t.Errorf("no SQL span of trace %s carries its SELECT statement", traceID)
	}
	if sqlSpans == 0 || redisSpans < 2 { // GET (miss) and SET
		t.Fatalf("trace %s has %d SQL and %d Redis spans, want ≥1 and ≥2", traceID, sqlSpans, redisSpans)
	}

	r := a.do(t, "GET", "/api/health", nil, "")
	if r.Raw != `{"status":"ok","checks":{"database":"ok","redis":"ok"}}`+"\n" {
		t.Fatalf("health = %s", r.Raw)
	}
	if got := gauge(t, a, "health_check_status", "check", "redis"); got != 1 {
		t.Fatalf("health_check_status{check=redis} = %d", got)
	}
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func cacheCount(tb testing.TB, a *testApp, result string) int64 {
	tb.Helper()
	m := a.tel.Metric(tb, "blog.cache.requests")
	if m == nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if v, _ := dp.Attributes.Value(attribute.Key("result")); v.AsString() == result {
			n += dp.Value
		}
	}
	return n
}

func gauge(tb testing.TB, a *testApp, name, key, val string) int64 {
	tb.Helper()
	m := a.tel.Metric(tb, name)
	if m == nil {
		tb.Fatalf("no metric %s", name)
	}
	switch d := m.Data.(type) {
	case metricdata.Gauge[int64]:
		for _, dp := range d.DataPoints {
			if v, _ := dp.Attributes.Value(attribute.Key(key)); key == "" || v.AsString() == val {
				return dp.Value
			}
		}
	case metricdata.Sum[int64]:
		var n int64
		for _, dp := range d.DataPoints {
			n += dp.Value
		}
		return n
	}
	tb.Fatalf("metric %s has no point %s=%s", name, key, val)
	return 0
}

// privateRedis starts a redis-server of the test's own on a free port, so
// the test can kill it; it returns the URL and functions to stop and start
// it. redis-server cannot report a port of its choosing (--port 0 turns
// TCP off) and starts again on the same one: the port is picked in
// advance, and picked anew when another program took it first.
func privateRedis(tb testing.TB) (url string, stop, start func()) {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Missing(tb, "redis-server binary", "PATH", err)
	}
	var (
		addr string
		p    *testproc.Process
	)
	run := func() (*testproc.Process, func() error) {
		_, port, _ := net.SplitHostPort(addr)
		p = testproc.Start(tb, "redis-server", nil, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
		return p, func() error {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err
		}
	}
	testproc.StartOnFreePorts(tb, "private redis-server", 10*time.Second, func() (*testproc.Process, func() error) {
		addr = testenv.FreeAddr(tb)
		return run()
	})
	start = func() {
		_, ready := run()
		testproc.WaitFor(tb, "private redis-server", 10*time.Second, ready, p)
	}
	stop = func() { p.Kill() }
	return "redis://" + addr + "/0", stop, start
}

func TestRedisFailureAndRecovery(t *testing.T) {
	url, stop, start := privateRedis(t)
	a := newTestApp(t, map[string]string{"REDIS_URL": url})
	_, tok := a.user(t, "r@example.com", "redis password")
	id := a.post(t, tok, "survives")
	path := fmt.Sprintf("/api/posts/%d", id)
	wantStatus(t, a.do(t, "GET", path, nil, ""), 200, "")

	ws := dialFeed(t, a)
	stop()

	began := time.Now()
	r := a.do(t, "GET", "/api/health", nil, "")
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("health took %v with Redis down, want < 2s", took)
	}
	wantStatus(t, r, 503, "")
	if r.Body["status"] != "degraded" || !strings.Contains(r.Raw, `"redis":"error"`) || !strings.Contains(r.Raw, `"database":"ok"`) {
		t.Fatalf("health with Redis down = %s", r.Raw)
	}
	if strings.Contains(r.Raw, "127.0.0.1") || strings.Contains(r.Raw, "refused") {
		t.Fatalf("health body leaks error text: %s", r.Raw)
	}
	for range 3 {
		wantStatus(t, a.do(t, "GET", path, nil, ""), 200, "") // from the database
	}
	// New posts still reach live clients, in-process.
	second := a.post(t, tok, "while redis is down")
	if got := readFeed(t, ws); got != second {
		t.Fatalf("feed delivered post %d, want %d", got, second)
	}
	wantStatus(t, a.do(t, "GET", "/readyz", nil, ""), 200, "") // Redis is not critical

	start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := a.do(t, "GET", "/api/health", nil, "")
		if r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health still %d 10s after Redis came back: %s", r.Status, r.Raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func dialFeed(tb testing.TB, a *testApp) *websocket.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.URL, "http")+"/api/ws", nil)
	if err != nil {
		tb.Fatalf("dial feed: %v", err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	return c
}

func readFeed(tb testing.TB, c *websocket.Conn) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		tb.Fatalf("read feed: %v", err)
	}
	var m struct {
		Type string `json:"type"`
		Post struct {
			ID int64 `json:"id"`
		} `json:"post"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Type != "post.created" {
		tb.Fatalf("feed message %s: %v", b, err)
	}
	return m.Post.ID
}

func TestWebSocketFeed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		redis bool
	}{{"in-process", false}, {"redis pub/sub", true}} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			if tc.redis {
				env["REDIS_URL"] = sharedRedis(t)
			}
			a := newTestApp(t, env)
			_, tok := a.user(t, "ws@example.com", "ws password")
			c1, c2 := dialFeed(t, a), dialFeed(t, a)
			waitFor(t, func() bool { return gauge(t, a, "websocket_active_connections", "", "") == 2 })
			id := a.post(t, tok, "live")
			if got := readFeed(t, c1); got != id {
				t.Fatalf("client 1 got post %d, want %d", got, id)
			}
			if got := readFeed(t, c2); got != id {
				t.Fatalf("client 2 got post %d, want %d", got, id)
			}
			// Exactly once: no echo of our own post through pub/sub, so
			// the next message is the next post.
			next := a.post(t, tok, "next")
			if got := readFeed(t, c1); got != next {
				t.Fatalf("client 1 got post %d after %d, want %d (duplicate delivery)", got, id, next)
			}
			c2.Close(websocket.StatusNormalClosure, "")
			waitFor(t, func() bool { return gauge(t, a, "websocket_active_connections", "", "") == 1 })
		})
	}
}

func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFeedAcrossInstancesIsOneTrace: a post created on instance A reaches a
// live client of instance B through Redis pub/sub, and B's delivery is in
// the trace of A's request: a consumer span whose trace ID is A's
// X-Request-Id, child of A's publish, and B's "feed.relayed" line carrying
// it. (Both instances run in this process; B, set up last, holds the global
// providers and logger both hubs record through.)
func TestFeedAcrossInstancesIsOneTrace(t *testing.T) {
	rurl := sharedRedis(t)
	a := newTestApp(t, map[string]string{"REDIS_URL": rurl})
	b := newTestApp(t, map[string]string{"REDIS_URL": rurl})
	_, tok := a.user(t, "relay@example.com", "relay password")
	client := dialFeed(t, b)

	opts, err := redis.ParseURL(rurl)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	waitFor(t, func() bool {
		n, err := rdb.PubSubNumSub(context.Background(), "blog:posts").Result()
		return err == nil && n["blog:posts"] >= 2
	})

	// Personal data in the post: it travels in the message to B's clients,
	// and must reach no sink of either instance on the way.
	const secret = "relay.reader.9c2e@example.org"
	r := a.do(t, "POST", "/api/posts", map[string]string{"title": "across " + secret, "body": "from A to B, " + secret}, tok)
	if r.Status != http.StatusCreated {
		t.Fatalf("create post: %d %s", r.Status, r.Raw)
	}
	requestID := r.Header.Get("X-Request-Id")
	if got := readFeed(t, client); got != r.num("id") {
		t.Fatalf("B's client got post %d, want %d", got, r.num("id"))
	}

	var publish, process sdktrace.ReadOnlySpan
	waitFor(t, func() bool {
		for _, s := range b.tel.Spans.Ended() {
			if s.SpanContext().TraceID().String() != requestID {
				continue
			}
			switch s.SpanKind() {
			case trace.SpanKindProducer:
				publish = s
			case trace.SpanKindConsumer:
				process = s
			}
		}
		return publish != nil && process != nil
	})
	if process.Parent().SpanID() != publish.SpanContext().SpanID() {
		t.Errorf("B's delivery is not the child of A's publish")
	}
	if l := b.tel.Lines.String(); !strings.Contains(l, `"msg":"feed.relayed","trace_id":"`+requestID+`"`) {
		t.Errorf("no feed.relayed line in A's trace %s among B's lines", requestID)
	}
	for name, dump := range map[string]string{"A": a.tel.Dump(t), "B": b.tel.Dump(t)} {
		if strings.Contains(dump, secret) || strings.Contains(dump, "relay@example.com") {
			t.Errorf("the post's content or the author's email reached a sink of %s", name)
		}
	}
}
