package config_test

import (
	"errors"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/otelstarter/app/internal/config"
)

// env returns a getenv over the pairs of m; every other variable is unset,
// so the environment of the test run cannot leak in.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// mustLoad loads m and fails tb on error.
func mustLoad(tb testing.TB, m map[string]string) *config.Config {
	tb.Helper()
	c, err := config.Load(env(m))
	if err != nil {
		tb.Fatalf("Load(%v): %v", m, err)
	}
	return c
}

// wantConfigError checks that err is a *config.Error naming variable and
// that its text does not repeat secret (when secret is not empty).
func wantConfigError(tb testing.TB, err error, variable, secret string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("Load: got no error, want one naming %s", variable)
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		tb.Fatalf("Load: error %v (%T) is not a *config.Error", err, err)
	}
	if ce.Var != variable {
		tb.Errorf("Error.Var = %q, want %q (error: %v)", ce.Var, variable, err)
	}
	if !strings.Contains(err.Error(), variable) {
		tb.Errorf("error %q does not name %s", err, variable)
	}
	if ce.Reason == "" {
		tb.Errorf("error %q has no reason", err)
	}
	if strings.Contains(err.Error(), "\n") {
		tb.Errorf("error %q is not one line", err)
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		tb.Errorf("error %q repeats the secret %q", err, secret)
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, nil)
	// The defaults documented in /work/shared/DESIGN.md and the README.
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"HTTP_ADDR", c.HTTPAddr, ":8080"},
		{"ADMIN_ADDR", c.AdminAddr, "127.0.0.1:9464"},
		{"DATABASE_URL", c.DatabaseURL, "sqlite:data/blog.db"},
		{"REDIS_URL", c.RedisURL, ""},
		{"SENTRY_DSN", c.SentryDSN, ""},
		{"SENTRY_FRONTEND_DSN", c.SentryFrontendDSN, ""},
		{"SENTRY_ENVIRONMENT", c.SentryEnvironment, "development"},
		{"SENTRY_TRACES_SAMPLE_RATE", c.SentryTracesSampleRate, 1.0},
		{"LOG_LEVEL", c.LogLevel, slog.LevelInfo},
		{"LOG_FORMAT", c.LogFormat, "json"},
		{"METRICS_TOKEN", c.MetricsToken, ""},
		{"FRONTEND_DIR", c.FrontendDir, "frontend/dist"},
		{"BCRYPT_COST", c.BcryptCost, 10},
		{"REQUEST_TIMEOUT", c.RequestTimeout, 10 * time.Second},
		{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout, 20 * time.Second},
		// Production-safe: a SIGTERM without a drain resets the requests
		// still queued on the listener.
		{"SHUTDOWN_DRAIN_DELAY", c.ShutdownDrainDelay, 5 * time.Second},
		{"JOB_WORKERS", c.JobWorkers, 10},
		{"SMTP_URL", c.SMTPURL, ""},
		{"SMTP_FROM", c.SMTPFrom, "Blog <no-reply@blog.localhost>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
			}
		})
	}
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   map[string]string
		check func(*config.Config) bool
	}{
		{"postgres URL", map[string]string{"DATABASE_URL": "postgres://u:p@db:5432/blog?sslmode=disable"},
			func(c *config.Config) bool { return c.DatabaseURL == "postgres://u:p@db:5432/blog?sslmode=disable" }},
		{"postgresql scheme", map[string]string{"DATABASE_URL": "postgresql://db/blog"},
			func(c *config.Config) bool { return c.DatabaseURL == "postgresql://db/blog" }},
		{"sqlite path", map[string]string{"DATABASE_URL": "sqlite:/tmp/x.db"},
			func(c *config.Config) bool { return c.DatabaseURL == "sqlite:/tmp/x.db" }},
		{"redis URL", map[string]string{"REDIS_URL": "redis://:pw@cache:6379/2"},
			func(c *config.Config) bool { return c.RedisURL == "redis://:pw@cache:6379/2" }},
		{"rediss URL", map[string]string{"REDIS_URL": "rediss://cache:6380/0"},
			func(c *config.Config) bool { return c.RedisURL == "rediss://cache:6380/0" }},
		{"values are trimmed", map[string]string{"HTTP_ADDR": "  :9000\t", "LOG_LEVEL": " debug "},
			func(c *config.Config) bool { return c.HTTPAddr == ":9000" && c.LogLevel == slog.LevelDebug }},
		{"blank means default", map[string]string{"HTTP_ADDR": "   "},
			func(c *config.Config) bool { return c.HTTPAddr == ":8080" }},
		{"LOG_FORMAT is case-insensitive", map[string]string{"LOG_FORMAT": "TEXT"},
			func(c *config.Config) bool { return c.LogFormat == "text" }},
		{"LOG_LEVEL warn", map[string]string{"LOG_LEVEL": "WARN"},
			func(c *config.Config) bool { return c.LogLevel == slog.LevelWarn }},
		{"LOG_LEVEL error", map[string]string{"LOG_LEVEL": "error"},
			func(c *config.Config) bool { return c.LogLevel == slog.LevelError }},
		{"BCRYPT_COST bounds", map[string]string{"BCRYPT_COST": "4"},
			func(c *config.Config) bool { return c.BcryptCost == 4 }},
		{"BCRYPT_COST upper bound", map[string]string{"BCRYPT_COST": "16"},
			func(c *config.Config) bool { return c.BcryptCost == 16 }},
		{"timeouts", map[string]string{"REQUEST_TIMEOUT": "1500ms", "SHUTDOWN_TIMEOUT": "1m"},
			func(c *config.Config) bool {
				return c.RequestTimeout == 1500*time.Millisecond && c.ShutdownTimeout == time.Minute
			}},
		{"metrics token and frontend dir", map[string]string{"METRICS_TOKEN": "tok", "FRONTEND_DIR": "/srv/www"},
			func(c *config.Config) bool { return c.MetricsToken == "tok" && c.FrontendDir == "/srv/www" }},
		{"JOB_WORKERS 0 only enqueues", map[string]string{"JOB_WORKERS": "0"},
			func(c *config.Config) bool { return c.JobWorkers == 0 }},
		{"SMTP settings", map[string]string{"SMTP_URL": "smtp://u:p@mail:587", "SMTP_FROM": "a@b.example"},
			func(c *config.Config) bool { return c.SMTPURL == "smtp://u:p@mail:587" && c.SMTPFrom == "a@b.example" }},
		{"port 0 is allowed", map[string]string{"HTTP_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "localhost:9999"},
			func(c *config.Config) bool { return c.HTTPAddr == "127.0.0.1:0" && c.AdminAddr == "localhost:9999" }},
		{"both on port 0: two ports of the kernel's choosing", map[string]string{"HTTP_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0"},
			func(c *config.Config) bool { return c.HTTPAddr == "127.0.0.1:0" && c.AdminAddr == "127.0.0.1:0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.env)
			if !tt.check(c) {
				t.Errorf("Load(%v) = %+v", tt.env, c)
			}
		})
	}
}

func TestLoadSentry(t *testing.T) {
	t.Parallel()
	const dsn = "https://pubkey@o1.ingest.sentry.io/42"
	const other = "https://otherkey@sentry.example.com/7"
	tests := []struct {
		name         string
		env          map[string]string
		wantDSN      string
		wantFrontend string
		wantEnv      string
		wantRate     float64
	}{
		{"off", nil, "", "", "development", 1.0},
		{"frontend DSN defaults to SENTRY_DSN", map[string]string{"SENTRY_DSN": dsn}, dsn, dsn, "development", 1.0},
		{"frontend DSN of its own", map[string]string{"SENTRY_DSN": dsn, "SENTRY_FRONTEND_DSN": other}, dsn, other, "development", 1.0},
		{"frontend DSN alone", map[string]string{"SENTRY_FRONTEND_DSN": other}, "", other, "development", 1.0},
		{"production rate defaults to 0.1", map[string]string{"SENTRY_ENVIRONMENT": "production"}, "", "", "production", 0.1},
		{"staging rate defaults to 0.1", map[string]string{"SENTRY_ENVIRONMENT": "staging"}, "", "", "staging", 0.1},
		{"explicit rate in development", map[string]string{"SENTRY_TRACES_SAMPLE_RATE": "0.25"}, "", "", "development", 0.25},
		{"explicit rate in production", map[string]string{"SENTRY_ENVIRONMENT": "production", "SENTRY_TRACES_SAMPLE_RATE": "1"}, "", "", "production", 1},
		{"rate 0", map[string]string{"SENTRY_TRACES_SAMPLE_RATE": "0"}, "", "", "development", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.env)
			if c.SentryDSN != tt.wantDSN {
				t.Errorf("SentryDSN = %q, want %q", c.SentryDSN, tt.wantDSN)
			}
			if c.SentryFrontendDSN != tt.wantFrontend {
				t.Errorf("SentryFrontendDSN = %q, want %q", c.SentryFrontendDSN, tt.wantFrontend)
			}
			if c.SentryEnvironment != tt.wantEnv {
				t.Errorf("SentryEnvironment = %q, want %q", c.SentryEnvironment, tt.wantEnv)
			}
			if c.SentryTracesSampleRate != tt.wantRate {
				t.Errorf("SentryTracesSampleRate = %v, want %v", c.SentryTracesSampleRate, tt.wantRate)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		env    map[string]string
		want   string // the variable the error must name
		secret string // text the error must not repeat
	}{
		{"HTTP_ADDR without port", map[string]string{"HTTP_ADDR": "localhost"}, "HTTP_ADDR", ""},
		{"HTTP_ADDR port not a number", map[string]string{"HTTP_ADDR": ":http"}, "HTTP_ADDR", ""},
		{"HTTP_ADDR port too large", map[string]string{"HTTP_ADDR": ":65536"}, "HTTP_ADDR", ""},
		{"HTTP_ADDR negative port", map[string]string{"HTTP_ADDR": ":-1"}, "HTTP_ADDR", ""},
		{"HTTP_ADDR empty port", map[string]string{"HTTP_ADDR": "localhost:"}, "HTTP_ADDR", ""},
		{"ADMIN_ADDR without port", map[string]string{"ADMIN_ADDR": "127.0.0.1"}, "ADMIN_ADDR", ""},
		{"ADMIN_ADDR port too large", map[string]string{"ADMIN_ADDR": "127.0.0.1:99999"}, "ADMIN_ADDR", ""},
		{"ADMIN_ADDR equal to HTTP_ADDR", map[string]string{"HTTP_ADDR": ":9000", "ADMIN_ADDR": ":9000"}, "ADMIN_ADDR", ""},
		{"ADMIN_ADDR equal to default HTTP_ADDR", map[string]string{"ADMIN_ADDR": ":8080"}, "ADMIN_ADDR", ""},

		{"JOB_WORKERS negative", map[string]string{"JOB_WORKERS": "-1"}, "JOB_WORKERS", ""},
		{"JOB_WORKERS not a number", map[string]string{"JOB_WORKERS": "many"}, "JOB_WORKERS", ""},
		{"JOB_WORKERS too many", map[string]string{"JOB_WORKERS": "10001"}, "JOB_WORKERS", ""},

		{"REDIS_URL wrong scheme", map[string]string{"REDIS_URL": "http://:s3cret@cache:6379/0"}, "REDIS_URL", "s3cret"},
		{"REDIS_URL no scheme", map[string]string{"REDIS_URL": "cache:6379"}, "REDIS_URL", ""},
		{"REDIS_URL no host", map[string]string{"REDIS_URL": "redis:///0"}, "REDIS_URL", ""},
		{"REDIS_URL bad port", map[string]string{"REDIS_URL": "redis://:s3cret@cache:port/0"}, "REDIS_URL", "s3cret"},
		{"REDIS_URL user and password", map[string]string{"REDIS_URL": "redis://user:s3cret@[cache/0"}, "REDIS_URL", "s3cret"},

		{"SENTRY_DSN not a URL", map[string]string{"SENTRY_DSN": "not a dsn"}, "SENTRY_DSN", ""},
		{"SENTRY_DSN without key", map[string]string{"SENTRY_DSN": "https://o1.ingest.sentry.io/42"}, "SENTRY_DSN", ""},
		{"SENTRY_DSN without project", map[string]string{"SENTRY_DSN": "https://key@o1.ingest.sentry.io/"}, "SENTRY_DSN", ""},
		{"SENTRY_DSN bad scheme", map[string]string{"SENTRY_DSN": "ftp://key@o1.ingest.sentry.io/42"}, "SENTRY_DSN", ""},
		{"SENTRY_FRONTEND_DSN invalid", map[string]string{"SENTRY_DSN": "https://key@h/1", "SENTRY_FRONTEND_DSN": "https://key@h/abc"}, "SENTRY_FRONTEND_DSN", ""},

		{"SENTRY_TRACES_SAMPLE_RATE not a number", map[string]string{"SENTRY_TRACES_SAMPLE_RATE": "all"}, "SENTRY_TRACES_SAMPLE_RATE", ""},
		{"SENTRY_TRACES_SAMPLE_RATE above 1", map[string]string{"SENTRY_TRACES_SAMPLE_RATE": "1.5"}, "SENTRY_TRACES_SAMPLE_RATE", ""},
		{"SENTRY_TRACES_SAMPLE_RATE negative", map[string]string{"SENTRY_TRACES_SAMPLE_RATE": "-0.1"}, "SENTRY_TRACES_SAMPLE_RATE", ""},
		{"SENTRY_TRACES_SAMPLE_RATE infinite", map[string]string{"SENTRY_TRACES_SAMPLE_RATE": "Inf"}, "SENTRY_TRACES_SAMPLE_RATE", ""},
		{"SENTRY_TRACES_SAMPLE_RATE percent", map[string]string{"SENTRY_TRACES_SAMPLE_RATE": "10%"}, "SENTRY_TRACES_SAMPLE_RATE", ""},

		{"LOG_LEVEL unknown", map[string]string{"LOG_LEVEL": "verbose"}, "LOG_LEVEL", ""},
		{"LOG_FORMAT unknown", map[string]string{"LOG_FORMAT": "logfmt"}, "LOG_FORMAT", ""},

		{"BCRYPT_COST not a number", map[string]string{"BCRYPT_COST": "ten"}, "BCRYPT_COST", ""},
		{"BCRYPT_COST too low", map[string]string{"BCRYPT_COST": "3"}, "BCRYPT_COST", ""},
		{"BCRYPT_COST too high", map[string]string{"BCRYPT_COST": "17"}, "BCRYPT_COST", ""},

		{"REQUEST_TIMEOUT no unit", map[string]string{"REQUEST_TIMEOUT": "10"}, "REQUEST_TIMEOUT", ""},
		{"REQUEST_TIMEOUT zero", map[string]string{"REQUEST_TIMEOUT": "0s"}, "REQUEST_TIMEOUT", ""},
		{"REQUEST_TIMEOUT negative", map[string]string{"REQUEST_TIMEOUT": "-5s"}, "REQUEST_TIMEOUT", ""},
		{"SHUTDOWN_TIMEOUT garbage", map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, "SHUTDOWN_TIMEOUT", ""},
		{"SHUTDOWN_TIMEOUT zero", map[string]string{"SHUTDOWN_TIMEOUT": "0"}, "SHUTDOWN_TIMEOUT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(env(tt.env))
			if c != nil {
				t.Errorf("Load returned a config along with the error: %+v", c)
			}
			wantConfigError(t, err, tt.want, tt.secret)
		})
	}
}

// TestLoadSampleRateNaN: "NaN" parses as a float, and NaN fails both
// comparisons (< 0 and > 1), so it passes the range check. The browser then
// gets it through /api/config, where encoding/json refuses NaN.
func TestLoadSampleRateNaN(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"SENTRY_TRACES_SAMPLE_RATE": "NaN"}))
	if err == nil {
		if !math.IsNaN(c.SentryTracesSampleRate) {
			t.Fatalf("SentryTracesSampleRate = %v, want NaN or an error", c.SentryTracesSampleRate)
		}
		t.Fatal("BUG: config.go Load accepts SENTRY_TRACES_SAMPLE_RATE=NaN (NaN < 0 and NaN > 1 are both false); " +
			"check !(rate >= 0 && rate <= 1) instead")
	}
	wantConfigError(t, err, "SENTRY_TRACES_SAMPLE_RATE", "")
}

// TestLoadHasNoSideEffects: checking a SQLite DATABASE_URL does not create
// its directory; opening the database does.
func TestLoadHasNoSideEffects(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "not-yet")
	mustLoad(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "blog.db")})
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load created %s (stat: %v)", dir, err)
	}
}

// TestFrontendDSNHoldsNoSecret: whatever combination of the two variables
// is set, the DSN served to browsers never carries a legacy secret key: a
// default taken from SENTRY_DSN loses it, an explicit one is refused.
func TestFrontendDSNHoldsNoSecret(t *testing.T) {
	t.Parallel()
	const legacy = "https://pub:s3cret@sentry.example.com/42"
	const public = "https://pub@sentry.example.com/42"
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string // the variable the error names
	}{
		{"legacy SENTRY_DSN alone", map[string]string{"SENTRY_DSN": legacy}, public, ""},
		{"legacy SENTRY_DSN, public frontend DSN", map[string]string{"SENTRY_DSN": legacy, "SENTRY_FRONTEND_DSN": public}, public, ""},
		{"legacy frontend DSN", map[string]string{"SENTRY_DSN": public, "SENTRY_FRONTEND_DSN": legacy}, "", "SENTRY_FRONTEND_DSN"},
		{"legacy frontend DSN alone", map[string]string{"SENTRY_FRONTEND_DSN": legacy}, "", "SENTRY_FRONTEND_DSN"},
		{"empty secret", map[string]string{"SENTRY_DSN": "https://pub:@sentry.example.com/42"}, public, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(env(tt.env))
			if tt.wantErr != "" {
				wantConfigError(t, err, tt.wantErr, "s3cret")
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.SentryFrontendDSN != tt.want {
				t.Errorf("SentryFrontendDSN = %q, want %q", c.SentryFrontendDSN, tt.want)
			}
			if c.SentryDSN != tt.env["SENTRY_DSN"] {
				t.Errorf("SentryDSN = %q, want it unchanged: the backend may use its secret", c.SentryDSN)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	err := &config.Error{Var: "X", Reason: "why"}
	if got, want := err.Error(), "config: X: why"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestSentryDSN: a DSN is accepted when the Sentry SDK parses it and its
// project ID is a number; the error names the variable and never repeats
// the DSN, whose old-style secret key would otherwise reach a log line.
func TestSentryDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dsn string
		ok  bool
	}{
		{"https://KEY@o0.ingest.sentry.io/123", true},
		{"http://public@127.0.0.1:9000/1", true},
		{"https://key:s3cret@sentry.example.com/42", true},
		{"https://key@sentry.example.com/prefix/path/7", true},
		{"https://key@[::1]:9000/5", true},
		{"not a url", false},
		{"https://o0.ingest.sentry.io/123", false},       // no public key
		{"https://:s3cret@o0.ingest.sentry.io/1", false}, // empty public key
		{"ftp://key:s3cret@host/1", false},
		{"key@host/1", false},
		{"https://key@/1", false},
		{"https://key@host", false},
		{"https://key@host/", false},
		{"https://key@host/7/", false}, // the SDKs read an empty project ID
		{"https://key:s3cret@host/abc", false},
		{"https://key@host/-1", false},
		{"https://key@host/1.5", false},
		{"https://key@host/123abc", false},
		{"https://key@host/%zz", false},
		{"https://key:s3cret@host:port/1", false},
	}
	for _, tt := range tests {
		for _, variable := range []string{"SENTRY_DSN", "SENTRY_FRONTEND_DSN"} {
			t.Run(variable+"="+tt.dsn, func(t *testing.T) {
				c, err := config.Load(env(map[string]string{variable: tt.dsn}))
				withSecret := strings.Contains(tt.dsn, ":s3cret@")
				if tt.ok && !(withSecret && variable == "SENTRY_FRONTEND_DSN") {
					if err != nil {
						t.Fatalf("Load: %v", err)
					}
					if want := strings.Replace(tt.dsn, ":s3cret@", "@", 1); c.SentryFrontendDSN != want {
						t.Errorf("SentryFrontendDSN = %q, want %q", c.SentryFrontendDSN, want)
					}
					return
				}
				wantConfigError(t, err, variable, "s3cret")
			})
		}
	}
}
