package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"example.com/otelstarter/app/internal/ratelimit"
	"example.com/otelstarter/internal/testenv"
	"github.com/redis/go-redis/v9"
)

func TestLocalWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 3, Window: time.Minute})
		ctx := context.Background()
		for i := range 3 {
			if ok, _ := l.Allow(ctx, "a"); !ok {
				t.Fatalf("event %d refused within the limit", i+1)
			}
		}
		ok, wait := l.Allow(ctx, "a")
		if ok || wait != time.Minute {
			t.Fatalf("4th event: ok=%v wait=%v, want refused for the whole 1m window", ok, wait)
		}
		if ok, _ := l.Allow(ctx, "b"); !ok {
			t.Fatal("another key shares the count")
		}
	})
}

// TestLocalWindowEnds: a key is refused until the instant its window ends,
// and counts afresh from then.
func TestLocalWindowEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const window = 50 * time.Millisecond
		l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 1, Window: window})
		ctx := context.Background()
		l.Allow(ctx, "k")
		time.Sleep(window - time.Millisecond)
		if ok, wait := l.Allow(ctx, "k"); ok || wait != time.Millisecond {
			t.Fatalf("1ms before the window ends: ok=%v wait=%v, want refused for 1ms", ok, wait)
		}
		time.Sleep(time.Millisecond)
		if ok, _ := l.Allow(ctx, "k"); !ok {
			t.Fatal("still refused when the window ended")
		}
		if ok, wait := l.Allow(ctx, "k"); ok || wait != window {
			t.Fatalf("second event of the new window: ok=%v wait=%v, want refused for %v", ok, wait, window)
		}
	})
}

// TestLocalWindowIsFixed: events late in a window do not extend it; the
// wait counts from the window's first event.
func TestLocalWindowIsFixed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 2, Window: time.Minute})
		ctx := context.Background()
		l.Allow(ctx, "k")
		time.Sleep(30 * time.Second)
		l.Allow(ctx, "k")
		time.Sleep(10 * time.Second)
		if ok, wait := l.Allow(ctx, "k"); ok || wait != 20*time.Second {
			t.Fatalf("40s into the window: ok=%v wait=%v, want refused for the 20s left", ok, wait)
		}
		if over, wait := l.Exceeded(ctx, "k"); !over || wait != 20*time.Second {
			t.Fatalf("Exceeded = %v, %v; want true, 20s", over, wait)
		}
		time.Sleep(20 * time.Second)
		if over, _ := l.Exceeded(ctx, "k"); over {
			t.Fatal("Exceeded after the window ended")
		}
	})
}

func TestZeroLimitAllowsAll(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 0, Window: time.Minute})
	for range 100 {
		if ok, _ := l.Allow(context.Background(), "k"); !ok {
			t.Fatal("limit 0 refused an event")
		}
	}
}

// TestDefaultWindow: a Config without a window counts per DefaultWindow.
func TestDefaultWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 1})
		ctx := context.Background()
		l.Allow(ctx, "k")
		if ok, wait := l.Allow(ctx, "k"); ok || wait != ratelimit.DefaultWindow {
			t.Fatalf("second event = %v, wait %v; want refused for %v", ok, wait, ratelimit.DefaultWindow)
		}
	})
}

func redisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	opts.DB = 14 // this package's database on the shared server
	c := redis.NewClient(opts)
	tb.Cleanup(func() { c.Close() })
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestRedisIsSharedBetweenInstances(t *testing.T) {
	rdb := redisClient(t)
	a := ratelimit.New(ratelimit.Config{Name: "login", Limit: 2, Window: time.Minute, Redis: rdb})
	b := ratelimit.New(ratelimit.Config{Name: "login", Limit: 2, Window: time.Minute, Redis: rdb})
	ctx := context.Background()
	key := fmt.Sprintf("203.0.113.%d", time.Now().UnixNano()%200)
	a.Allow(ctx, key)
	b.Allow(ctx, key)
	ok, wait := a.Allow(ctx, key)
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("third event across instances: ok=%v wait=%v", ok, wait)
	}
	// Only a hash of the key is stored.
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, key) {
			t.Fatalf("the raw client key is stored in Redis: %s", k)
		}
	}
}

// TestRedisWindowIsFixed: in Redis too, events late in a window do not
// extend it, and the wait is what is left of it. Redis keeps its own time,
// so the test moves the key's expiry instead of waiting: 30 s left of the
// window, as if the first event were 30 s old.
func TestRedisWindowIsFixed(t *testing.T) {
	rdb := redisClient(t)
	l := ratelimit.New(ratelimit.Config{Name: "fixed", Limit: 2, Window: time.Minute, Redis: rdb})
	ctx := context.Background()
	if ok, _ := l.Allow(ctx, "k"); !ok {
		t.Fatal("first event refused")
	}
	keys, err := rdb.Keys(ctx, "ratelimit:fixed:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys of the limiter = %v, %v; want one", keys, err)
	}
	if err := rdb.PExpire(ctx, keys[0], 30*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Allow(ctx, "k"); !ok {
		t.Fatal("second event refused")
	}
	ok, wait := l.Allow(ctx, "k")
	if ok || wait <= 0 || wait > 30*time.Second {
		t.Fatalf("third event: ok=%v wait=%v; want refused for what is left of the window (≤ 30s), not a new one", ok, wait)
	}
	// Redis ending the window is the key's expiry.
	if err := rdb.Del(ctx, keys[0]).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Allow(ctx, "k"); !ok {
		t.Fatal("refused once Redis's window ended")
	}
}

// TestRedisDownFallsBackToLocal: with Redis down the limit holds in
// process. The client's dial retries and their backoff run in fake time.
func TestRedisDownFallsBackToLocal(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Every dial fails, as against a Redis that is down; no port is
		// involved that something else could take meanwhile. The address
		// is an IP (TEST-NET-1) so that the client resolves no name: the
		// resolver's state is process-wide, and must not start in a bubble.
		down := func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("connection refused")
		}
		rdb := redis.NewClient(&redis.Options{Addr: "192.0.2.1:6379", Dialer: down, MaxRetries: -1})
		defer rdb.Close()
		l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 1, Window: time.Minute, Redis: rdb})
		if ok, _ := l.Allow(context.Background(), "k"); !ok {
			t.Fatal("first event refused with Redis down")
		}
		if ok, _ := l.Allow(context.Background(), "k"); ok {
			t.Fatal("limit not enforced in process while Redis is down")
		}
	})
}

// TestExceededDoesNotCount: Exceeded only reads, in process and in Redis;
// a key is exceeded once Allow has counted the limit.
func TestExceededDoesNotCount(t *testing.T) {
	for name, rdb := range map[string]redis.UniversalClient{"local": nil, "redis": redisClient(t)} {
		t.Run(name, func(t *testing.T) {
			l := ratelimit.New(ratelimit.Config{Name: "exceeded-" + t.Name() + time.Now().String(), Limit: 2, Redis: rdb})
			ctx := context.Background()
			for range 5 {
				if over, _ := l.Exceeded(ctx, "k"); over {
					t.Fatal("Exceeded before any event")
				}
			}
			l.Allow(ctx, "k")
			if over, _ := l.Exceeded(ctx, "k"); over {
				t.Fatal("Exceeded after 1 of 2 events")
			}
			l.Allow(ctx, "k")
			over, wait := l.Exceeded(ctx, "k")
			if !over || wait <= 0 || wait > time.Minute {
				t.Fatalf("after 2 of 2 events: Exceeded = %v, %v; want true with a wait within the window", over, wait)
			}
		})
	}
}
