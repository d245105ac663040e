// Command app is the demo blog service of the observability starter kit: a
// JSON API (users, login, posts, a live WebSocket feed) instrumented with
// OpenTelemetry through package telemetry, on SQLite or PostgreSQL, with an
// optional Redis cache and pub/sub.
//
// Usage:
//
//	app              serve (configuration from the environment; see docs/configuration.md)
//	app worker       run the background jobs only (the API then sets JOB_WORKERS=0)
//	app healthcheck  exit 0 when the local server answers /readyz with 200
//	app migrate up|down|status  the database migrations (the server applies them at start)
//
// The demo load generator is a separate command, internal/cmd/traffic.
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
		if errors.Is(err, errUsage) {
			os.Exit(2) // the usage is printed already
		}
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = "usage: app [serve | worker | healthcheck | migrate up|down|status]"

// run is main without the process: tests call it with their own
// environment, output and context.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "healthcheck":
			return healthcheck(ctx, getenv)
		case "migrate":
			return migrate(ctx, args[1:], getenv, stdout, stderr)
		case "worker":
			if len(args) > 1 {
				fmt.Fprintf(stderr, "app: unknown argument %q\n%s\n", args[1], usage)
				return errUsage
			}
			return work(ctx, getenv, stdout)
		case "serve":
			args = args[1:]
		case "-h", "-help", "--help", "help":
			fmt.Fprintln(stderr, usage+"\nConfiguration comes from the environment; see docs/configuration.md.")
			return nil
		}
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "app: unknown argument %q\n%s\n", args[0], usage)
		return errUsage
	}
	return serve(ctx, getenv, stdout)
}
