package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"example.com/otelstarter/internal/testproc"
)

// Defaults of the services the integration tests use too (internal/testenv).
const (
	defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"
	benchRedisDB       = 13 // flushed by the harness; the tests use others
)

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// postgresDB creates a fresh, randomly named database on TEST_POSTGRES_URL
// and returns its URL and a function that drops it.
func postgresDB(ctx context.Context) (string, func(), error) {
	base := getenv("TEST_POSTGRES_URL", defaultPostgresURL)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(cctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("TEST_POSTGRES_URL: PostgreSQL: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "bench_" + hex.EncodeToString(b)
	if _, err := admin.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			fmt.Fprintf(os.Stderr, "drop database %s: %v\n", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "drop database %s: %v\n", name, err)
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("TEST_POSTGRES_URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// redisDB returns the URL of database 13 on TEST_REDIS_URL's server after
// flushing it, and a function that flushes it again.
func redisDB(ctx context.Context) (string, func(), error) {
	opt, err := redis.ParseURL(getenv("TEST_REDIS_URL", defaultRedisURL))
	if err != nil {
		return "", nil, fmt.Errorf("TEST_REDIS_URL: %w", err)
	}
	opt.DB = benchRedisDB
	flush := func() error {
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return c.FlushDB(ctx).Err()
	}
	if err := flush(); err != nil {
		return "", nil, fmt.Errorf("TEST_REDIS_URL: Redis: %w", err)
	}
	u := &url.URL{Scheme: "redis", Host: opt.Addr, Path: fmt.Sprintf("/%d", benchRedisDB)}
	if opt.Password != "" {
		u.User = url.UserPassword(opt.Username, opt.Password)
	}
	return u.String(), func() { _ = flush() }, nil
}

// app is one run of bin/app-bench.
type app struct {
	proc       *process
	url, admin string        // http://host:port of the public and admin listeners
	ready      time.Duration // from just before the process started to the first 200 from /readyz
}

// startApp starts the app with env on free ports and polls /readyz every
// poll until it answers 200.
func startApp(ctx context.Context, bin, dir, name string, poll time.Duration, env []string) (*app, error) {
	addrs, err := freeAddrs(2)
	if err != nil {
		return nil, err
	}
	env = append([]string{
		"HTTP_ADDR=" + addrs[0],
		"ADMIN_ADDR=" + addrs[1],
		"FRONTEND_DIR=" + filepath.Join(dir, "no-frontend"),
		"LOG_LEVEL=info",
		"RATE_LIMIT_REGISTER=0",
	}, env...)
	t0 := time.Now()
	p, err := startProcess(name, bin, env, filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	a := &app{proc: p, url: "http://" + addrs[0], admin: "http://" + addrs[1]}
	if err := waitHTTP(ctx, p, a.url+"/readyz", poll, 60*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	a.ready = time.Since(t0)
	return a, nil
}

// call sends one JSON request and decodes a JSON answer into out (when not nil).
func call(ctx context.Context, c *http.Client, method, url, token string, body, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := testproc.NewJSONRequest(ctx, method, url, token, body)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, url, err)
		}
	}
	return resp.StatusCode, nil
}

// callWant is call for a request that must answer status want.
func callWant(ctx context.Context, c *http.Client, want int, method, url, token string, body, out any) error {
	code, err := call(ctx, c, method, url, token, body, out)
	if err == nil && code != want {
		err = fmt.Errorf("status %d, want %d", code, want)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	return nil
}

// seed registers a user, logs in and writes a post; it returns the token
// and the post's ID.
func seed(ctx context.Context, base, email string) (token string, postID int64, err error) {
	c := &http.Client{}
	creds := map[string]string{"email": email, "password": "bench-password-1"}
	if err := callWant(ctx, c, 201, "POST", base+"/api/users", "", creds, nil); err != nil {
		return "", 0, err
	}
	var login struct{ Token string }
	if err := callWant(ctx, c, 200, "POST", base+"/api/login", "", creds, &login); err != nil {
		return "", 0, err
	}
	var post struct{ ID int64 }
	err = callWant(ctx, c, 201, "POST", base+"/api/posts", login.Token,
		map[string]string{"title": "Benchmark", "body": "A post read over and over."}, &post)
	return login.Token, post.ID, err
}
