// Package config reads the service's configuration from the environment.
// A bad value is an *Error that names the variable in one line.
package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
)

// Config is everything the service reads from the environment.
type Config struct {
	HTTPAddr  string // HTTP_ADDR, public listener
	AdminAddr string // ADMIN_ADDR, /metrics and pprof; never public

	DatabaseURL string // DATABASE_URL: postgres://… or sqlite:PATH
	RedisURL    string // REDIS_URL; empty means no Redis

	SentryDSN              string  // SENTRY_DSN; empty means off
	SentryFrontendDSN      string  // SENTRY_FRONTEND_DSN, default SENTRY_DSN without its secret key
	SentryEnvironment      string  // SENTRY_ENVIRONMENT
	SentryTracesSampleRate float64 // SENTRY_TRACES_SAMPLE_RATE (the browser SDK's)

	LogLevel  slog.Level // LOG_LEVEL
	LogFormat string     // LOG_FORMAT: json or text

	MetricsToken string // METRICS_TOKEN: bearer token for every admin route
	Pprof        bool   // PPROF: serve /debug/pprof/ on the admin listener
	FrontendDir  string // FRONTEND_DIR: built frontend to serve at /

	BcryptCost int // BCRYPT_COST: password hashing work factor
	FeedBuffer int // FEED_BUFFER: posts a live-feed client may lag behind; 0 = the feed's default

	// DeviceCookieKey signs device cookies (DEVICE_COOKIE_KEY, at least 32
	// bytes); a random key per process when unset.
	DeviceCookieKey []byte

	RateLimitLogin  int // RATE_LIMIT_LOGIN: logins per minute per client, failures per account; 0 = off
	RateLimitTunnel int // RATE_LIMIT_TUNNEL: Sentry envelopes per minute per client; 0 = off
	// RateLimitRegister is RATE_LIMIT_REGISTER: registrations per minute
	// per client; 0 = off.
	RateLimitRegister int

	// JobWorkers is JOB_WORKERS: background jobs this process runs at once;
	// 0 = it only enqueues them (another process runs `app worker`).
	JobWorkers int
	SMTPURL    string // SMTP_URL: smtp://[user:password@]host:port; empty = emails are skipped
	SMTPFrom   string // SMTP_FROM: the sender of the emails

	RequestTimeout time.Duration // REQUEST_TIMEOUT
	// ShutdownDrainDelay is SHUTDOWN_DRAIN_DELAY: after SIGTERM, serve on,
	// unready, for this long (`app` only; `app worker` takes no traffic).
	// 5 s by default, the production value: with 0 the server stops at once
	// and drops the requests clients had written but it had not read yet
	// (internal/faulttest's queued logins). `make run` and the tests set 0
	// to stop at once.
	ShutdownDrainDelay time.Duration
	ShutdownTimeout    time.Duration // SHUTDOWN_TIMEOUT: then finish in-flight work within this
}

// Error is a configuration error: the variable, and why its value is wrong.
// The value itself is not repeated, since it may hold a password.
type Error struct {
	Var    string
	Reason string
}

func (e *Error) Error() string { return "config: " + e.Var + ": " + e.Reason }

// Load reads the configuration through getenv (os.Getenv in main).
func Load(getenv func(string) string) (*Config, error) {
	get := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		HTTPAddr:          get("HTTP_ADDR", ":8080"),
		AdminAddr:         get("ADMIN_ADDR", "127.0.0.1:9464"),
		DatabaseURL:       get("DATABASE_URL", "sqlite:data/blog.db"),
		RedisURL:          get("REDIS_URL", ""),
		SentryDSN:         get("SENTRY_DSN", ""),
		SentryEnvironment: get("SENTRY_ENVIRONMENT", "development"),
		LogFormat:         strings.ToLower(get("LOG_FORMAT", "json")),
		MetricsToken:      get("METRICS_TOKEN", ""),
		FrontendDir:       get("FRONTEND_DIR", "frontend/dist"),
		SMTPURL:           get("SMTP_URL", ""),
		SMTPFrom:          get("SMTP_FROM", "Blog <no-reply@blog.localhost>"),
	}
	c.SentryFrontendDSN = get("SENTRY_FRONTEND_DSN", "")

	for _, a := range []struct{ key, val string }{{"HTTP_ADDR", c.HTTPAddr}, {"ADMIN_ADDR", c.AdminAddr}} {
		if _, port, err := net.SplitHostPort(a.val); err != nil {
			return nil, &Error{a.key, "want host:port or :port"}
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return nil, &Error{a.key, "port must be a number from 0 to 65535"}
		}
	}
	// Port 0 is a new port each: both on 127.0.0.1:0 is two listeners.
	if _, port, _ := net.SplitHostPort(c.HTTPAddr); c.HTTPAddr == c.AdminAddr && port != "0" {
		return nil, &Error{"ADMIN_ADDR", "must differ from HTTP_ADDR: /metrics is never served publicly"}
	}

	// The forms of DATABASE_URL, SMTP_URL and SMTP_FROM are their adapters'
	// to define: the service checks them right after Load (sqlstore.CheckURL,
	// mailer.New).
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return nil, &Error{"REDIS_URL", "want redis://host:port/db (or rediss://)"}
		}
	}
	for _, d := range []struct{ key, val string }{{"SENTRY_DSN", c.SentryDSN}, {"SENTRY_FRONTEND_DSN", c.SentryFrontendDSN}} {
		if d.val == "" {
			continue
		}
		if err := checkDSN(d.val); err != nil {
			return nil, &Error{d.key, err.Error()}
		}
	}
	// The browser's DSN is served to anyone at /api/config. The backend may
	// keep a legacy DSN with a secret key; the browser gets it without.
	if c.SentryFrontendDSN == "" {
		c.SentryFrontendDSN = publicDSN(c.SentryDSN)
	} else if publicDSN(c.SentryFrontendDSN) != c.SentryFrontendDSN {
		return nil, &Error{"SENTRY_FRONTEND_DSN", "must not carry a secret key (public:secret@): it is served to every browser; drop the :secret part"}
	}

	rate := 1.0
	if c.SentryEnvironment != "development" {
		rate = 0.1
	}
	var err error
	if c.SentryTracesSampleRate, err = parseFloat(get("SENTRY_TRACES_SAMPLE_RATE", ""), rate); err != nil || !(c.SentryTracesSampleRate >= 0 && c.SentryTracesSampleRate <= 1) {
		return nil, &Error{"SENTRY_TRACES_SAMPLE_RATE", "want a number from 0 to 1"}
	}

	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		return nil, &Error{"LOG_LEVEL", "want debug, info, warn or error"}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return nil, &Error{"LOG_FORMAT", "want json or text"}
	}
	if key := getenv("DEVICE_COOKIE_KEY"); key != "" {
		if len(key) < 32 {
			return nil, &Error{"DEVICE_COOKIE_KEY", "want at least 32 bytes (e.g. openssl rand -base64 32)"}
		}
		c.DeviceCookieKey = []byte(key)
	} else {
		c.DeviceCookieKey = make([]byte, 32)
		_, _ = rand.Read(c.DeviceCookieKey) // never fails (crypto/rand)
	}
	if v := get("FEED_BUFFER", ""); v != "" {
		if c.FeedBuffer, err = strconv.Atoi(v); err != nil || c.FeedBuffer < 1 || c.FeedBuffer > 1<<16 {
			return nil, &Error{"FEED_BUFFER", "want a number of posts from 1 to 65536"}
		}
	}
	if c.BcryptCost, err = strconv.Atoi(get("BCRYPT_COST", "10")); err != nil || c.BcryptCost < 4 || c.BcryptCost > 16 {
		return nil, &Error{"BCRYPT_COST", "want an integer from 4 to 16"}
	}
	for _, rl := range []struct {
		key string
		dst *int
		def string
	}{{"RATE_LIMIT_LOGIN", &c.RateLimitLogin, "10"}, {"RATE_LIMIT_TUNNEL", &c.RateLimitTunnel, "60"}, {"RATE_LIMIT_REGISTER", &c.RateLimitRegister, "5"}} {
		if *rl.dst, err = strconv.Atoi(get(rl.key, rl.def)); err != nil || *rl.dst < 0 {
			return nil, &Error{rl.key, "want a number of requests per minute (0 turns the limit off)"}
		}
	}
	if c.JobWorkers, err = strconv.Atoi(get("JOB_WORKERS", "10")); err != nil || c.JobWorkers < 0 || c.JobWorkers > 10000 {
		return nil, &Error{"JOB_WORKERS", "want a number of jobs from 0 (enqueue only) to 10000"}
	}
	if c.RequestTimeout, err = parseDuration(get("REQUEST_TIMEOUT", ""), 10*time.Second); err != nil {
		return nil, &Error{"REQUEST_TIMEOUT", err.Error()}
	}
	if c.ShutdownTimeout, err = parseDuration(get("SHUTDOWN_TIMEOUT", ""), 20*time.Second); err != nil {
		return nil, &Error{"SHUTDOWN_TIMEOUT", err.Error()}
	}
	if c.ShutdownDrainDelay, err = time.ParseDuration(get("SHUTDOWN_DRAIN_DELAY", "5s")); err != nil || c.ShutdownDrainDelay < 0 {
		return nil, &Error{"SHUTDOWN_DRAIN_DELAY", "want a duration such as 5s (0 skips the drain)"}
	}
	if c.Pprof, err = strconv.ParseBool(get("PPROF", "false")); err != nil {
		return nil, &Error{"PPROF", "want true or false"}
	}
	return c, nil
}

func parseFloat(s string, def float64) (float64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseFloat(s, 64)
}

func parseDuration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive duration such as 10s")
	}
	return d, nil
}

// publicDSN is dsn without the secret key of the legacy public:secret@
// form, or "" when dsn is "". dsn has passed checkDSN.
func publicDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, hasSecret := u.User.Password(); !hasSecret {
		return dsn
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// checkDSN checks a Sentry DSN with the SDK's own parser, plus the numeric
// project ID that Sentry's projects have and the parser does not insist on.
// The errors are fixed texts: sentry.NewDsn's quote the DSN, which may hold
// an old-style secret key.
func checkDSN(dsn string) error {
	d, err := sentry.NewDsn(dsn)
	if err != nil {
		return errors.New("want a Sentry DSN such as https://KEY@o0.ingest.sentry.io/123")
	}
	if _, err := strconv.ParseUint(d.GetProjectID(), 10, 64); err != nil {
		return errors.New("the DSN's path must end in a numeric project ID")
	}
	return nil
}
