// Command traffic sends realistic demo load to a running blog API, so that
// the dashboards of the local stack fill without clicking:
//
//	go run ./internal/cmd/traffic -url http://localhost:8080 -duration 2m
//
// (`make traffic`). It is a tool of the kit, not part of the service: the
// app's binary does not contain it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"example.com/otelstarter/internal/traffic"
)

func main() {
	var cfg traffic.Config
	flag.StringVar(&cfg.BaseURL, "url", "http://localhost:8080", "base URL of the blog API")
	flag.DurationVar(&cfg.Duration, "duration", 0, "how long to run (default 1m)")
	flag.Float64Var(&cfg.Rate, "rate", 0, "requests per second across all workers (default 10)")
	flag.IntVar(&cfg.Concurrency, "concurrency", 0, "concurrent workers (default 4)")
	flag.IntVar(&cfg.Users, "users", 0, "demo users to register (default 3)")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := traffic.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "traffic:", err)
		os.Exit(1)
	}
}
