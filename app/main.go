// Command app is the demo blog service of the observability starter kit: a
// JSON API (users, login, posts, a live WebSocket feed) instrumented with
// OpenTelemetry through package telemetry, on SQLite or PostgreSQL, with an
// optional Redis cache and pub/sub.
//
// Usage:
//
//	app              serve (configuration from the environment; see README)
//	app healthcheck  exit 0 when the local server answers /readyz with 200
//	app traffic      send demo traffic to a running server (-h for flags)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "app:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// run is main without the process: tests call it with their own
// environment, output and context.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "healthcheck":
			return healthcheck(ctx, getenv)
		case "traffic":
			return runTraffic(ctx, args[1:], stderr)
		case "serve":
			args = args[1:]
		case "-h", "-help", "--help", "help":
			fmt.Fprintln(stderr, "usage: app [serve | healthcheck | traffic [flags]]\nConfiguration comes from the environment; see README.md.")
			return nil
		}
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "app: unknown argument %q\nusage: app [serve | healthcheck | traffic [flags]]\n", args[0])
		return errUsage
	}
	return serve(ctx, getenv, stdout)
}
