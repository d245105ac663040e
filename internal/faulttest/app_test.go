package faulttest

import (
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// baseEnv is the part of the environment every program inherits: no OTEL_*,
// DATABASE_URL or similar from the developer's shell.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// app is the real binary, started by a test.
type app struct {
	*testproc.Process
	URL   string // public listener
	Admin string // admin listener (http://…)
}

// startApp starts the binary with test defaults (testproc.AppDefaults:
// ports of the kernel's choosing, no drain) overridden by env, and waits
// until /readyz answers 200. A variable set to "" in env is as unset: the
// binary's default.
func startApp(t *testing.T, env map[string]string) *app {
	t.Helper()
	vars := map[string]string{
		"DATABASE_URL":         "sqlite:" + filepath.Join(t.TempDir(), "blog.db"),
		"FRONTEND_DIR":         t.TempDir(),
		"BCRYPT_COST":          "4",
		"RATE_LIMIT_LOGIN":     "0",
		"RATE_LIMIT_REGISTER":  "0",
		"OTEL_TRACES_EXPORTER": "none",
		"OTEL_LOGS_EXPORTER":   "none",
	}
	maps.Copy(vars, env)
	list := baseEnv()
	for k, v := range vars {
		list = append(list, k+"="+v)
	}
	p := testproc.StartAppEnv(t, "app", list, appBin)
	a := &app{Process: p.Process, URL: p.URL, Admin: p.AdminURL}
	testproc.Poll(t, "app /readyz", pollEvery, 15*time.Second, func() error { return testproc.HTTPOK(a.URL + "/readyz") }, a.Process)
	return a
}

// otlpEnv points the app's traces and logs at endpoint over OTLP/HTTP, with
// short batching delays and export timeouts.
func otlpEnv(endpoint string) map[string]string {
	return map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_EXPORTER_OTLP_TIMEOUT":  "1000",
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_LOGS_EXPORTER":          "otlp",
		"OTEL_BSP_SCHEDULE_DELAY":     "200",
		"OTEL_BLRP_SCHEDULE_DELAY":    "200",
	}
}

// dialRaw opens a TCP connection to the app's public listener.
func dialRaw(t *testing.T, a *app) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(a.URL, "http://"), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
