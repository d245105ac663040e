// Package ratelimit bounds how often one client may call an endpoint, with
// fixed one-window counters: in Redis when it is configured (so every
// instance shares the count), in process otherwise, and in process as well
// whenever Redis fails, so the limiter never fails a request.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limiter counts events per key.
type Limiter struct {
	name   string
	limit  int
	window time.Duration
	rdb    redis.UniversalClient // nil: in process only
	now    func() time.Time

	mu      sync.Mutex
	windows map[string]*window
	sweep   time.Time
}

type window struct {
	start time.Time
	count int
}

// DefaultWindow is the window of a Config that sets none.
const DefaultWindow = time.Minute

// Config configures a Limiter.
type Config struct {
	// Name tells limiters apart in Redis keys and log lines ("login").
	Name string
	// Limit is how many events one key may have per window; ≤ 0 allows
	// everything.
	Limit int
	// Window is the length of one counting window; ≤ 0 means DefaultWindow.
	Window time.Duration
	// Redis shares the counts between instances; nil counts in process only.
	Redis redis.UniversalClient
}

// New returns a limiter that allows cfg.Limit events per cfg.Window for
// each key.
func New(cfg Config) *Limiter {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	return &Limiter{name: cfg.Name, limit: cfg.Limit, window: cfg.Window, rdb: cfg.Redis, now: time.Now, windows: map[string]*window{}}
}

// Allow counts one event for key and reports whether it is within the limit
// and, when it is not, how long until the window ends.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration) {
	return l.check(ctx, key, 1)
}

// Exceeded reports, without counting an event, whether key has used up its
// events of this window and, if so, how long until the window ends. With
// Allow called only on failures, it limits failures, not attempts.
func (l *Limiter) Exceeded(ctx context.Context, key string) (bool, time.Duration) {
	ok, wait := l.check(ctx, key, 0)
	return !ok, wait
}

// check counts n (0 or 1) events for key; with n = 0 it only reads, and a
// key whose count has reached the limit is refused.
func (l *Limiter) check(ctx context.Context, key string, n int) (bool, time.Duration) {
	if l == nil || l.limit <= 0 {
		return true, 0
	}
	// Keys may be addresses or emails: only their hash is stored.
	sum := sha256.Sum256([]byte(key))
	k := "ratelimit:" + l.name + ":" + hex.EncodeToString(sum[:12])
	if l.rdb != nil {
		ok, wait, err := l.checkRedis(ctx, k, n)
		if err == nil {
			return ok, wait
		}
		slog.WarnContext(ctx, "ratelimit.redis_failed", slog.String("limiter", l.name), slog.String("error", err.Error()))
	}
	return l.checkLocal(k, n)
}

func (l *Limiter) checkRedis(ctx context.Context, key string, n int) (bool, time.Duration, error) {
	pipe := l.rdb.TxPipeline()
	incr := pipe.IncrBy(ctx, key, int64(n))
	pipe.ExpireNX(ctx, key, l.window)
	ttl := pipe.PTTL(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, 0, err
	}
	if incr.Val()+int64(1-n) <= int64(l.limit) {
		return true, 0, nil
	}
	wait := ttl.Val()
	if wait <= 0 {
		wait = l.window
	}
	return false, wait, nil
}

func (l *Limiter) checkLocal(key string, n int) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > l.window { // drop expired windows: memory stays bounded by active keys
		for k, w := range l.windows {
			if now.Sub(w.start) >= l.window {
				delete(l.windows, k)
			}
		}
		l.sweep = now
	}
	w := l.windows[key]
	if w == nil || now.Sub(w.start) >= l.window {
		w = &window{start: now}
		l.windows[key] = w
	}
	w.count += n
	if w.count+1-n <= l.limit {
		return true, 0
	}
	return false, w.start.Add(l.window).Sub(now)
}
