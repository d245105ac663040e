// Package testenv finds the real services integration tests talk to
// (PostgreSQL, Redis) and decides what happens when one is missing: with
// CI=true the test fails, elsewhere it is skipped with a message that names
// the variable pointing at the service.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Defaults used when the variables are unset; they match the services the
// development machines and CI start.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// InCI reports whether the tests run in CI, where a missing service is a failure.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

// Missing stops tb because a service it needs is not reachable: Fatal in CI,
// Skip (loudly) elsewhere.
func Missing(tb testing.TB, service, envVar string, err error) {
	tb.Helper()
	msg := fmt.Sprintf("%s not reachable (%v); set %s to point at one", service, err, envVar)
	if InCI() {
		tb.Fatal("CI=true: " + msg)
	}
	Skip(tb, "SKIPPING: "+msg)
}

// Skip skips tb with msg and, when SKIP_REPORT names a file (make test sets
// it), appends the test's name and the first line of msg to it, so that the
// run ends with the list of what was not proven instead of hiding it in -v
// output.
func Skip(tb testing.TB, msg string) {
	tb.Helper()
	if path := os.Getenv("SKIP_REPORT"); path != "" {
		line, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			// One write per line: O_APPEND keeps lines from parallel test
			// binaries whole.
			_, _ = fmt.Fprintf(f, "%s: %s\n", tb.Name(), line)
			f.Close()
		}
	}
	tb.Skip(msg)
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// PostgresURL creates a fresh, randomly named database on the server named by
// TEST_POSTGRES_URL and returns its URL. The database is dropped when the test
// (or the package's TestMain caller) finishes.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := getenv("TEST_POSTGRES_URL", DefaultPostgresURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		Missing(tb, "PostgreSQL", "TEST_POSTGRES_URL", err)
	}
	defer admin.Close(context.Background())

	name := "test_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() { DropPostgres(tb, base, name) })

	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// DropPostgres drops database name on the server at base, closing any
// connection left to it.
func DropPostgres(tb testing.TB, base, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Errorf("drop database %s: %v", name, err)
		return
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		tb.Errorf("drop database %s: %v", name, err)
	}
}

// OpenPostgres returns a *sql.DB on a fresh database (see PostgresURL).
func OpenPostgres(tb testing.TB) (*sql.DB, string) {
	tb.Helper()
	u := PostgresURL(tb)
	db, err := sql.Open("pgx", u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, u
}

// RedisURL returns the URL of the Redis server named by TEST_REDIS_URL after
// checking that it answers, failing or skipping the test when it does not.
// Tests must use their own key prefixes: the server is shared.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	raw := getenv("TEST_REDIS_URL", DefaultRedisURL)
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("TEST_REDIS_URL: %v", err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		Missing(tb, "Redis", "TEST_REDIS_URL", err)
	}
	conn.Close()
	return raw
}

// FreeAddr returns a loopback address whose port was free a moment ago.
// It is the tool of last resort, for two cases only: an address where
// nothing listens (a dependency that is down), and a program that cannot
// listen on port 0 and report the port it got, or must come back on the
// same one (the collector, Mailpit, redis-server, PostgreSQL; started
// through testproc.StartOnFreePorts, which retries on "address already in
// use"). Anything that can listen on 127.0.0.1:0 itself should: the app
// (testproc.StartApp), Prometheus and Alertmanager
// (testproc.StartPromServer), and httptest servers, whose port no other
// program can take first.
//
// The port comes from below the kernel's ephemeral range: a port from ":0"
// is taken from that range, where any outgoing connection opened meanwhile
// (by the test, or by the programs it runs) can land on it before the
// program binds it. No port is handed out twice by one test binary, but
// test binaries running in parallel may pick the same one.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	lo, hi := 20000, ephemeralLow()
	for range 200 {
		if hi <= lo {
			break
		}
		port := lo + mathrand.IntN(hi-lo)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		return l.Addr().String()
	}
	// No room below the ephemeral range: the kernel's choice, with its race.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// HangUpAddr returns the address of a listener that closes every
// connection as soon as it accepts it: a dependency that is up but cannot be
// talked to, on a port the test holds until it ends (a port merely freed
// for the test could be taken by anything meanwhile).
func HangUpAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed at the end of the test
			}
			_ = c.Close()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// handedOut holds the ports FreeAddr returned.
var handedOut sync.Map

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// ip_local_port_range), 32768 where it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil {
		return 32768
	}
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
