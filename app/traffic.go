package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"

	"example.com/otelstarter/app/internal/traffic"
)

// runTraffic sends demo load to a running server so the dashboards fill
// without clicking: app traffic -url http://localhost:8080 -duration 2m.
func runTraffic(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("traffic", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg traffic.Config
	fs.StringVar(&cfg.BaseURL, "url", "http://localhost:8080", "base URL of the blog API")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long to run (default 1m)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests per second across all workers (default 10)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "concurrent workers (default 4)")
	fs.IntVar(&cfg.Users, "users", 0, "demo users to register (default 3)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	return traffic.Run(ctx, cfg)
}
