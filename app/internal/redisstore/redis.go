// Package redisstore adapts Redis to the blog: a read-through cache of single
// posts and pub/sub fan-out of new posts between instances ([feed.Bus]). Every call is
// traced and measured by redisotel. Callers treat its errors as soft: Redis
// being down degrades the service, never breaks a read.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/feed"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
)

// Keys and channel names, prefixed so the kit can share a Redis.
const (
	postKeyPrefix = "blog:post:"
	postsChannel  = "blog:posts"
	// PostTTL bounds how long a cached post can be served, and so how stale
	// it can be if an invalidation is lost.
	PostTTL = 5 * time.Minute
)

// slogLogger sends go-redis's own log lines (reconnect attempts, which it
// otherwise prints to stderr) through slog, so they are JSON, correlated and
// redacted like every other line.
type slogLogger struct{}

func (slogLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.WarnContext(ctx, "redis.client", slog.String("detail", fmt.Sprintf(format, v...)))
}

// Client is a Redis client instrumented with OpenTelemetry.
type Client struct {
	rdb *redis.Client
}

var (
	_ blog.PostCache = (*Client)(nil)
	_ feed.Bus       = (*Client)(nil)
)

// Open connects to the Redis at rawURL (redis://host:port/db). Timeouts are
// short because every use has a fallback. It does not fail when Redis is
// down: the client reconnects by itself; use Ping to check.
//
// go-redis has one process-wide logger; Open points it at slog, so that the
// side effect happens when a program uses Redis, not when it merely links
// this package.
func Open(rawURL string) (*Client, error) {
	ro, err := redis.ParseURL(rawURL)
	if err != nil {
		// The URL may hold a password: do not repeat it.
		return nil, errors.New("REDIS_URL: want redis://[:password@]host:port/db")
	}
	ro.DialTimeout = time.Second
	ro.ReadTimeout = 500 * time.Millisecond
	ro.WriteTimeout = 500 * time.Millisecond
	ro.PoolTimeout = time.Second
	ro.MaxRetries = 1
	ro.ContextTimeoutEnabled = true
	redis.SetLogger(slogLogger{}) // atomic, and the same logger every time
	rdb := redis.NewClient(ro)
	// Spans and metrics go to the global providers, which telemetry.Setup
	// installs, as for every package of the app.
	if err := redisotel.InstrumentTracing(rdb,
		redisotel.WithDBStatement(false), // values are post contents
		redisotel.WithCallerEnabled(false),
		redisotel.WithDialFilter(true),
	); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis tracing: %w", err)
	}
	if err := redisotel.InstrumentMetrics(rdb); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis metrics: %w", err)
	}
	return &Client{rdb: rdb}, nil
}

// Redis returns the underlying instrumented client, for other adapters
// (the rate limiter) that share its connections.
func (c *Client) Redis() *redis.Client { return c.rdb }

// Ping checks that Redis answers.
func (c *Client) Ping(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }

// Close closes the connections.
func (c *Client) Close() error { return c.rdb.Close() }

func postKey(id int64) string { return postKeyPrefix + strconv.FormatInt(id, 10) }

// GetPost returns the cached post id; ok is false on a miss.
func (c *Client) GetPost(ctx context.Context, id int64) (blog.Post, bool, error) {
	b, err := c.rdb.Get(ctx, postKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return blog.Post{}, false, nil
	}
	if err != nil {
		return blog.Post{}, false, err
	}
	var p blog.Post
	if err := json.Unmarshal(b, &p); err != nil || p.ID != id {
		// A corrupt entry is a miss; drop it.
		_ = c.rdb.Del(ctx, postKey(id)).Err()
		return blog.Post{}, false, nil
	}
	return p, true, nil
}

// SetPost caches p for PostTTL.
func (c *Client) SetPost(ctx context.Context, p blog.Post) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return c.rdb.Set(ctx, postKey(p.ID), b, PostTTL).Err()
}

// DeletePost drops the cached post id.
func (c *Client) DeletePost(ctx context.Context, id int64) error {
	return c.rdb.Del(ctx, postKey(id)).Err()
}

// Publish sends m to every subscribed instance.
func (c *Client) Publish(ctx context.Context, m feed.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.rdb.Publish(ctx, postsChannel, b).Err()
}

// Destination implements feed.Bus: Redis pub/sub on the posts channel.
func (c *Client) Destination() (system, name string) { return "redis", postsChannel }

// Subscribe calls fn for every message published until ctx is done. The
// subscription reconnects by itself after Redis comes back.
func (c *Client) Subscribe(ctx context.Context, fn func(context.Context, feed.Message)) {
	ps := c.rdb.Subscribe(ctx, postsChannel)
	defer ps.Close()
	ch := ps.Channel(redis.WithChannelHealthCheckInterval(10 * time.Second))
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			var m feed.Message
			if err := json.Unmarshal([]byte(msg.Payload), &m); err != nil {
				slog.WarnContext(ctx, "feed.bad_message", slog.String("error", err.Error()))
				continue
			}
			fn(ctx, m)
		}
	}
}
