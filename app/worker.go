package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/config"
	"example.com/otelstarter/app/internal/health"
	"example.com/otelstarter/app/internal/httpapi"
	"example.com/otelstarter/app/internal/httpjson"
	"example.com/otelstarter/app/internal/sqlstore"
	"example.com/otelstarter/telemetry"
)

// work is `app worker`: the background jobs alone, JOB_WORKERS at once,
// for a deployment where the API only enqueues (JOB_WORKERS=0 there). It
// listens on HTTP_ADDR for /livez and /readyz only, and on ADMIN_ADDR for
// /metrics. On SIGTERM readiness fails, fetching stops, and the running
// jobs finish within SHUTDOWN_TIMEOUT; those left are cancelled and retried.
func work(ctx context.Context, getenv func(string) string, stdout io.Writer) (err error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if cfg.JobWorkers == 0 {
		return &config.Error{Var: "JOB_WORKERS", Reason: "app worker runs jobs: want at least 1"}
	}
	if err := sqlstore.CheckURL(cfg.DatabaseURL); err != nil {
		return err
	}
	tel, err := setupTelemetry(ctx, cfg, stdout, commonTelemetryOptions(cfg, "blog-worker"))
	if err != nil {
		return err
	}
	defer shutdownTelemetry(ctx, tel)
	log := tel.Logger

	w, err := buildWorker(ctx, cfg, tel)
	if err != nil {
		return err
	}
	defer w.close()

	probes := &httpapi.Probes{Ready: w.checker.Ready}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	probeSrv := &http.Server{
		Handler:           workerProbes(probes),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          errLog,
	}
	admin := newAdminServer(tel, cfg, errLog)
	probesLn, adminLn, err := listen(ctx, log, cfg)
	if err != nil {
		return err
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go w.checker.Watch(bg, 15*time.Second)
	if err := w.queue.Start(bg); err != nil {
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- probeSrv.Serve(probesLn) }()
	go func() { errc <- admin.Serve(adminLn) }()
	log.InfoContext(ctx, "worker.started",
		slog.String("version", version),
		slog.String("http_port", portOf(probesLn)),
		slog.String("admin_port", portOf(adminLn)),
		slog.String("database", strings.SplitN(cfg.DatabaseURL, ":", 2)[0]),
		slog.Int("job_workers", cfg.JobWorkers),
		slog.Bool("smtp", cfg.SMTPURL != ""),
	)

	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("worker stopped: %w", err)
	}
	ctx = context.WithoutCancel(ctx)
	probes.Drain()
	log.InfoContext(ctx, "worker.stopping", slog.Duration("timeout", cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(ctx, cfg.ShutdownTimeout)
	defer cancel()
	err = errors.Join(w.queue.Stop(sctx), probeSrv.Shutdown(sctx), admin.Shutdown(sctx))
	stopBG()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.InfoContext(ctx, "worker.stopped")
	return nil
}

// buildWorker wires `app worker`, without its listeners: the database, the
// job queue with workers and the health checks, in one "startup" trace as
// the API's build does.
func buildWorker(ctx context.Context, cfg *config.Config, tel *telemetry.Telemetry) (_ *application, err error) {
	ctx, span := otel.Tracer(scope).Start(ctx, "startup")
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	w := &application{}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	if w.store, err = sqlstore.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	w.closers = append(w.closers, w.store.Close)
	if w.queue, err = openJobs(ctx, cfg, tel, w.store, cfg.JobWorkers); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.queue.Close)
	if w.checker, err = health.New(health.Config{Checks: []health.Check{
		{Name: "database", Critical: true, Func: w.store.Ping},
	}}); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.checker.Close)
	return w, nil
}

// workerProbes serves the worker's /livez and /readyz, the API's probes,
// and a JSON 404 for anything else.
func workerProbes(probes *httpapi.Probes) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", probes.Livez)
	mux.HandleFunc("GET /readyz", probes.Readyz)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		httpjson.Error(w, workerNotFound)
	})
	return mux
}

var workerNotFound = &blog.Error{Code: blog.CodeNotFound, Message: "a worker serves /livez and /readyz only"}
