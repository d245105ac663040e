package main

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/config"
	"example.com/otelstarter/app/internal/feed"
	"example.com/otelstarter/app/internal/health"
	"example.com/otelstarter/app/internal/httpapi"
	"example.com/otelstarter/app/internal/httpjson"
	"example.com/otelstarter/app/internal/jobs"
	"example.com/otelstarter/app/internal/mailer"
	"example.com/otelstarter/app/internal/ratelimit"
	"example.com/otelstarter/app/internal/redisstore"
	"example.com/otelstarter/app/internal/sqlstore"
	"example.com/otelstarter/app/internal/tunnel"
	"example.com/otelstarter/telemetry"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
)

// serve runs the service until ctx is done, then shuts down gracefully:
// readiness fails at once, the public listener serves on for
// SHUTDOWN_DRAIN_DELAY, then listeners close, in-flight requests finish
// within SHUTDOWN_TIMEOUT, WebSockets close, and telemetry is flushed.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) (err error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	// sqlstore defines the forms of DATABASE_URL; a mistake stops the start
	// here, before anything else starts, with one line naming the variable.
	if err := sqlstore.CheckURL(cfg.DatabaseURL); err != nil {
		return err
	}
	tel, err := setupTelemetry(ctx, cfg, stdout, telemetryOptions(cfg))
	if err != nil {
		return err
	}
	defer shutdownTelemetry(ctx, tel)
	log := tel.Logger

	a, err := build(ctx, cfg, tel)
	if err != nil {
		return err
	}
	defer a.close()
	hub, checker, api, store, queue := a.hub, a.checker, a.api, a.store, a.queue

	// http.Server.Shutdown does not wait for hijacked connections
	// (WebSockets), nor for the middleware's work after their handler
	// returns: count every request, and wait for them all.
	var (
		inflight sync.WaitGroup
		draining atomic.Bool
	)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Done()
		if draining.Load() {
			// net/http closes the connection once this response is written.
			w.Header().Set("Connection", "close")
		}
		a.handler.ServeHTTP(w, r)
	})

	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	const readTimeout = 15 * time.Second
	public := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       readTimeout,
		// Longer than the read timeout, so that a client too slow to send
		// its body still receives the 408 written when the read times out.
		WriteTimeout:   max(cfg.RequestTimeout, readTimeout) + 5*time.Second,
		IdleTimeout:    60 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       errLog,
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	public.RegisterOnShutdown(hub.Close)
	admin := newAdminServer(tel, cfg, errLog)
	publicLn, adminLn, err := listen(ctx, log, cfg)
	if err != nil {
		return err
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go hub.Run(bg)
	go checker.Watch(bg, 15*time.Second)
	go cleanSessions(bg, store)
	if err := queue.Start(bg); err != nil {
		return err
	}

	errc := make(chan error, 2)
	go func() { errc <- public.Serve(publicLn) }()
	go func() { errc <- admin.Serve(adminLn) }()
	log.InfoContext(ctx, "server.started",
		slog.String("version", version),
		slog.String("http_port", portOf(publicLn)),
		slog.String("admin_port", portOf(adminLn)),
		slog.String("database", strings.SplitN(cfg.DatabaseURL, ":", 2)[0]),
		slog.Bool("redis", cfg.RedisURL != ""),
		slog.Bool("sentry", cfg.SentryDSN != ""),
		slog.Int("job_workers", cfg.JobWorkers),
		slog.Bool("smtp", cfg.SMTPURL != ""),
	)

	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	}

	// ctx is done by now; the shutdown still logs and exports through it.
	ctx = context.WithoutCancel(ctx)

	err = drainThenStop(ctx, log, cfg, errc, func() {
		api.Drain()
		draining.Store(true)
	}, func(sctx context.Context) error {
		// The jobs running now finish within the same timeout; those left
		// are cancelled and run again later, here or in another instance.
		err := errors.Join(public.Shutdown(sctx), wait(sctx, &inflight), queue.Stop(sctx), admin.Shutdown(sctx))
		stopBG()
		return err
	})
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "server.stopped")
	return nil
}

// drainThenStop is the end of serve once ctx is done. The drain: unready
// makes /readyz fail at once so that load balancers take this instance
// out, while the listener keeps accepting what they still send until they
// have noticed, SHUTDOWN_DRAIN_DELAY; a server that stops meanwhile ends
// it early, with its error. Responses ask clients to close, so that
// keep-alive connections move to other instances instead of being cut
// when the listener closes. Not SetKeepAlivesEnabled(false): it closes
// idle connections at once, and one whose next request has just been
// read (still counted idle) is closed under a handler that then runs and
// answers nobody. Then stop closes the listeners and finishes the work in
// flight within SHUTDOWN_TIMEOUT.
func drainThenStop(ctx context.Context, log *slog.Logger, cfg *config.Config, errc <-chan error, unready func(), stop func(context.Context) error) error {
	unready()
	log.InfoContext(ctx, "server.draining", slog.Duration("drain_delay", cfg.ShutdownDrainDelay))
	timer := time.NewTimer(cfg.ShutdownDrainDelay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	}

	log.InfoContext(ctx, "server.stopping", slog.Duration("timeout", cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(ctx, cfg.ShutdownTimeout)
	defer cancel()
	if err := stop(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// setupTelemetry sets up telemetry for a command of the app: its options,
// logs to stdout, errors to SENTRY_DSN.
func setupTelemetry(ctx context.Context, cfg *config.Config, stdout io.Writer, opts []telemetry.Option) (*telemetry.Telemetry, error) {
	return telemetry.Setup(ctx, append(opts,
		telemetry.WithLogWriter(stdout),
		telemetry.WithSentry(telemetry.SentryConfig{
			DSN: cfg.SentryDSN, Environment: cfg.SentryEnvironment, Release: version,
		}),
	)...)
}

// shutdownTelemetry flushes what is buffered, within 10 s, even after ctx
// is done.
func shutdownTelemetry(ctx context.Context, tel *telemetry.Telemetry) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "app: telemetry shutdown:", err)
	}
}

// newAdminServer serves the admin listener: /metrics and, with PPROF, the
// profiles.
func newAdminServer(tel *telemetry.Telemetry, cfg *config.Config, errLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           adminHandler(tel.MetricsHandler(), cfg.MetricsToken, cfg.Pprof),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          errLog,
	}
}

// listen opens HTTP_ADDR and ADMIN_ADDR and logs the address each one is
// bound to: with port 0 (HTTP_ADDR=127.0.0.1:0) the kernel picks a free
// port at once, and that line is how a test, or an operator, learns it.
func listen(ctx context.Context, log *slog.Logger, cfg *config.Config) (public, admin net.Listener, err error) {
	if public, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, nil, fmt.Errorf("HTTP_ADDR: %w", err)
	}
	logListening(ctx, log, "public", public)
	if admin, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		public.Close()
		return nil, nil, fmt.Errorf("ADMIN_ADDR: %w", err)
	}
	logListening(ctx, log, "admin", admin)
	return public, admin, nil
}

// logListening says where a listener got bound: its port (the real one
// when the address asked for port 0) and its reach. Not its host: the log's
// redaction replaces every IP address, the listener's own included, and what
// an operator needs to see is whether the port is open beyond this host.
func logListening(ctx context.Context, log *slog.Logger, name string, l net.Listener) {
	port, reach := 0, "unix"
	if a, ok := l.Addr().(*net.TCPAddr); ok {
		port = a.Port
		switch {
		case a.IP.IsLoopback():
			reach = "loopback"
		case a.IP.IsUnspecified():
			reach = "all_interfaces"
		default:
			reach = "one_interface"
		}
	}
	log.InfoContext(ctx, "http.listening",
		slog.String("listener", name),
		slog.Int("port", port),
		slog.String("reach", reach),
	)
}

func portOf(l net.Listener) string {
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// adminHandler serves the internal listener: /metrics, and the pprof
// profiles when enabled. With a token set, every route requires it: the
// profiles (command line, heap, goroutine stacks) say more than the metrics.
func adminHandler(metrics http.Handler, token string, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	if token == "" {
		return mux
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			httpjson.Error(w, adminUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

var adminUnauthorized = &blog.Error{Code: blog.CodeUnauthorized, Message: "the admin token is required"}

func cleanSessions(ctx context.Context, store blog.Store) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := store.DeleteExpiredSessions(ctx, time.Now().UTC())
			if err != nil {
				slog.WarnContext(ctx, "sessions.cleanup_failed", slog.String("error", err.Error()))
			} else if n > 0 {
				slog.InfoContext(ctx, "sessions.cleaned", slog.Int64("deleted", n))
			}
		}
	}
}

// healthcheck is the container healthcheck: GET /readyz on the local
// listener (HTTP_ADDR's port), exit status 0 when it answers 200.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	addr := getenv("HTTP_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: want host:port or :port")
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /readyz answered %d", resp.StatusCode)
	}
	return nil
}

// application is the service wired together, without its listeners.
type application struct {
	store   *sqlstore.Store
	queue   *jobs.Queue
	hub     *feed.Hub
	checker *health.Checker
	api     *httpapi.Server
	handler http.Handler // the API with the telemetry middleware
	closers []func() error
}

func (a *application) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
}

// scope names the telemetry the service's main package records itself.
const scope = "example.com/otelstarter/app"

// build wires the service from its configuration: storage, the job queue,
// Redis (when configured), the feed, health checks, the blog service and the
// HTTP API.
// Its work (migrations, the first pings) is one "startup" trace instead of
// a root span per statement.
func build(ctx context.Context, cfg *config.Config, tel *telemetry.Telemetry) (_ *application, err error) {
	ctx, span := otel.Tracer(scope).Start(ctx, "startup")
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	store, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	a := &application{store: store}
	a.closers = append(a.closers, store.Close)
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if a.queue, err = openJobs(ctx, cfg, tel, store, cfg.JobWorkers); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.queue.Close)
	// The welcome email's job commits or rolls back with the new user.
	store.OnCreateUser(func(ctx context.Context, tx *sql.Tx, u blog.User) error {
		return a.queue.EnqueueWelcomeTx(ctx, tx, u.ID)
	})

	var (
		cache blog.PostCache
		bus   feed.Bus
		ping  func(context.Context) error
		rdbc  redis.UniversalClient
	)
	if cfg.RedisURL != "" {
		rdb, err := redisstore.Open(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, rdb.Close)
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := rdb.Ping(pctx); err != nil {
			slog.WarnContext(ctx, "redis.unreachable", slog.String("error", err.Error()))
		}
		cancel()
		cache, bus, ping, rdbc = rdb, rdb, rdb.Ping, rdb.Redis()
	}

	hub := feed.New(bus, cfg.FeedBuffer)
	checker, err := health.New(health.Config{Checks: []health.Check{
		{Name: "database", Critical: true, Func: store.Ping},
		{Name: "redis", Func: ping},
	}})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, checker.Close)

	svc, err := blog.NewService(store, blog.ServiceConfig{Cache: cache, Publisher: hub, BcryptCost: cfg.BcryptCost})
	if err != nil {
		return nil, err
	}

	var static http.Handler
	if root, err := os.OpenRoot(cfg.FrontendDir); err == nil {
		// Through os.Root, no path or symlink leads out of the folder.
		a.closers = append(a.closers, root.Close)
		if static, err = httpapi.Static(root.FS()); err != nil {
			slog.WarnContext(ctx, "frontend.unavailable", slog.String("error", err.Error()))
		}
	} else {
		slog.InfoContext(ctx, "frontend.not_built", slog.String("frontend_dir", cfg.FrontendDir),
			slog.String("hint", "run `make frontend` (needs npm) to serve the UI at /"))
	}

	var (
		loginLimiter  httpapi.Limiter
		failedLogins  httpapi.FailureLimiter
		deviceCookies = httpapi.NewDeviceCookies(cfg.DeviceCookieKey, 180*24*time.Hour)
	)
	if cfg.RateLimitLogin > 0 {
		loginLimiter = ratelimit.New(ratelimit.Config{Name: "login", Limit: cfg.RateLimitLogin, Window: time.Minute, Redis: rdbc})
		failedLogins = ratelimit.New(ratelimit.Config{Name: "login-failures", Limit: cfg.RateLimitLogin, Window: time.Minute, Redis: rdbc})
	}
	registerLimiter := ratelimit.New(ratelimit.Config{Name: "register", Limit: cfg.RateLimitRegister, Window: time.Minute, Redis: rdbc})
	tunnelLimiter := ratelimit.New(ratelimit.Config{Name: "tunnel", Limit: cfg.RateLimitTunnel, Window: time.Minute, Redis: rdbc})

	// Every outbound HTTP call goes through tel.Transport: a client span in
	// the caller's trace, and the trace context sent on.
	tun, err := tunnel.New(tunnel.Config{DSN: cfg.SentryFrontendDSN, Transport: tel.Transport(nil)})
	if err != nil {
		return nil, err
	}

	api, err := httpapi.New(httpapi.Config{
		Service:            svc,
		Feed:               hub,
		Health:             checker,
		ReportError:        func(ctx context.Context, err error) { tel.CaptureError(ctx, err) },
		RequestTimeout:     cfg.RequestTimeout,
		Static:             static,
		LoginLimiter:       loginLimiter,
		RegisterLimiter:    registerLimiter,
		FailedLoginLimiter: failedLogins,
		DeviceCookies:      deviceCookies,
		SentryTunnel:       tun,
		TunnelLimiter:      tunnelLimiter,
		Frontend: httpapi.FrontendConfig{Sentry: httpapi.FrontendSentry{
			DSN: cfg.SentryFrontendDSN, Environment: cfg.SentryEnvironment, TracesSampleRate: cfg.SentryTracesSampleRate,
		}},
	})
	if err != nil {
		return nil, err
	}

	a.hub, a.checker, a.api = hub, checker, api
	a.handler = tel.Middleware(api)
	return a, nil
}

// openJobs opens the job queue in store's database, with workers jobs
// running at once (0: enqueue only) and the mailer of SMTP_URL, if set.
func openJobs(ctx context.Context, cfg *config.Config, tel *telemetry.Telemetry, store *sqlstore.Store, workers int) (*jobs.Queue, error) {
	var m jobs.Mailer // nil, not a nil *mailer.Mailer, when SMTP_URL is unset
	if cfg.SMTPURL != "" {
		mm, err := mailer.New(mailer.Config{URL: cfg.SMTPURL, From: cfg.SMTPFrom})
		if err != nil {
			return nil, err
		}
		m = mm
	}
	return jobs.Open(ctx, jobs.Config{
		DatabaseURL: cfg.DatabaseURL,
		DB:          store.DB(),
		Migrate:     store.WithMigrationLock,
		Workers:     workers,
		Users:       store,
		Mailer:      m,
		Logger:      tel.Logger,
		ReportError: func(ctx context.Context, err error) { tel.CaptureError(ctx, err) },
	})
}

// The implementations of the interfaces httpapi declares; their packages
// cannot pin them themselves without importing httpapi, which imports them.
var (
	_ httpapi.Blog    = (*blog.Service)(nil)
	_ httpapi.Feed    = (*feed.Hub)(nil)
	_ httpapi.Health  = (*health.Checker)(nil)
	_ httpapi.Limiter = (*ratelimit.Limiter)(nil)
)

// wait waits for wg, or until ctx is done.
func wait(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// telemetryOptions are the service's telemetry settings; the tests set up
// telemetry with them too.
func telemetryOptions(cfg *config.Config) []telemetry.Option {
	return append(commonTelemetryOptions(cfg, "blog-api"),
		// Load balancers and Kubernetes poll these; a span for each would
		// drown the real traffic.
		telemetry.WithUntracedPaths("/livez", "/readyz", "/api/health"),
		telemetry.WithPanicResponse(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			httpjson.Error(w, blog.ErrInternal)
		})),
	)
}

// commonTelemetryOptions are the settings of every command: the default
// service name (OTEL_SERVICE_NAME wins), the version, the logs.
func commonTelemetryOptions(cfg *config.Config, service string) []telemetry.Option {
	return append(jobs.TelemetryOptions(),
		telemetry.WithServiceName(service),
		telemetry.WithServiceVersion(version),
		telemetry.WithEnvironment(cfg.SentryEnvironment),
		telemetry.WithLogLevel(cfg.LogLevel),
		telemetry.WithLogFormat(cfg.LogFormat),
		// On when PYROSCOPE_SERVER_ADDRESS is set.
		telemetry.WithProfiling(telemetry.ProfilingConfig{}),
	)
}
