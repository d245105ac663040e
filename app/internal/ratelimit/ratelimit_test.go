package ratelimit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"example.com/otelstarter/app/internal/ratelimit"
	"example.com/otelstarter/internal/testenv"
	"github.com/redis/go-redis/v9"
)

func TestLocalWindow(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 3, Window: time.Minute})
	ctx := context.Background()
	for i := range 3 {
		if ok, _ := l.Allow(ctx, "a"); !ok {
			t.Fatalf("event %d refused within the limit", i+1)
		}
	}
	ok, wait := l.Allow(ctx, "a")
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("4th event: ok=%v wait=%v, want refused with 0 < wait ≤ 1m", ok, wait)
	}
	if ok, _ := l.Allow(ctx, "b"); !ok {
		t.Fatal("another key shares the count")
	}
}

func TestLocalWindowEnds(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 1, Window: 50 * time.Millisecond})
	ctx := context.Background()
	l.Allow(ctx, "k")
	if ok, _ := l.Allow(ctx, "k"); ok {
		t.Fatal("second event allowed")
	}
	time.Sleep(60 * time.Millisecond)
	if ok, _ := l.Allow(ctx, "k"); !ok {
		t.Fatal("still refused after the window")
	}
}

func TestZeroLimitAllowsAll(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 0, Window: time.Minute})
	for range 100 {
		if ok, _ := l.Allow(context.Background(), "k"); !ok {
			t.Fatal("limit 0 refused an event")
		}
	}
}

// TestDefaultWindow: a Config without a window counts per DefaultWindow.
func TestDefaultWindow(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 1})
	ctx := context.Background()
	l.Allow(ctx, "k")
	ok, wait := l.Allow(ctx, "k")
	if ok || wait <= ratelimit.DefaultWindow-5*time.Second || wait > ratelimit.DefaultWindow {
		t.Fatalf("second event = %v, wait %v; want refused for about %v", ok, wait, ratelimit.DefaultWindow)
	}
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

func TestRedisDownFallsBackToLocal(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.FreeAddr(t), DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	l := ratelimit.New(ratelimit.Config{Name: "t", Limit: 1, Window: time.Minute, Redis: rdb})
	if ok, _ := l.Allow(context.Background(), "k"); !ok {
		t.Fatal("first event refused with Redis down")
	}
	if ok, _ := l.Allow(context.Background(), "k"); ok {
		t.Fatal("limit not enforced in process while Redis is down")
	}
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
