package testproc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// App is the app, or `app worker`, started by [StartApp] on ports the
// kernel chose, read from its log.
type App struct {
	*Process
	Addr      string // host:port of the public listener (HTTP_ADDR; the probes of `app worker`)
	AdminAddr string // host:port of the admin listener (ADMIN_ADDR)
	URL       string // "http://" + Addr
	AdminURL  string // "http://" + AdminAddr
}

// AppDefaults is the environment [StartApp] gives the app before the
// test's own: both listeners on port 0, bound by the kernel at once, so no
// other program can take the port first (as one from a "free" port picked
// in advance can); and no drain, so that stopping it takes no 5 s (the
// binary's production default). A test that measures the drain sets
// SHUTDOWN_DRAIN_DELAY itself.
var AppDefaults = []string{
	"HTTP_ADDR=127.0.0.1:0",
	"ADMIN_ADDR=127.0.0.1:0",
	"SHUTDOWN_DRAIN_DELAY=0",
}

// appStartTimeout bounds the start up to the listeners: migrations on a
// busy PostgreSQL included.
const appStartTimeout = 60 * time.Second

// StartApp runs the app built by [BuildApp] with args (none: serve;
// "worker") and, after the test's environment and [AppDefaults], env. It
// returns once the app has logged the addresses of both listeners, before
// it is necessarily ready; the test fails, with the app's output, when it
// exits or logs no address within a minute. The app must log at info
// level or below in JSON (its defaults).
func StartApp(tb testing.TB, name string, env []string, bin string, args ...string) *App {
	tb.Helper()
	return startApp(tb, name, append(append(os.Environ(), AppDefaults...), env...), bin, args...)
}

// StartAppEnv is [StartApp] with [AppDefaults] and env as the whole
// environment, as [StartEnv].
func StartAppEnv(tb testing.TB, name string, env []string, bin string, args ...string) *App {
	tb.Helper()
	return startApp(tb, name, append(append([]string{}, AppDefaults...), env...), bin, args...)
}

func startApp(tb testing.TB, name string, env []string, bin string, args ...string) *App {
	tb.Helper()
	p := start(tb, name, env, bin, args...)
	public, admin, err := WaitAppAddrs(p.Stdout.String, p.done, appStartTimeout)
	if err != nil {
		tb.Fatalf("%s: %v\n---- output of %s ----\n%s", name, err, name, p.output(6000))
	}
	return &App{Process: p, Addr: public, AdminAddr: admin, URL: "http://" + public, AdminURL: "http://" + admin}
}

// WaitAppAddrs waits up to timeout for log (the app's output so far, JSON
// lines) to hold its http.listening lines, and returns the addresses of
// the public and the admin listener. It stops early with an error when
// exited, if not nil, is closed: the app has stopped. Tests that run the
// app in their own process read its output with it.
func WaitAppAddrs(log func() string, exited <-chan struct{}, timeout time.Duration) (public, admin string, err error) {
	deadline := time.Now().Add(timeout)
	for {
		addrs := ListenAddrs(log())
		if addrs["public"] != "" && addrs["admin"] != "" {
			return addrs["public"], addrs["admin"], nil
		}
		select {
		case <-exited:
			// What it logged on the way out counts too.
			if addrs = ListenAddrs(log()); addrs["public"] != "" && addrs["admin"] != "" {
				return addrs["public"], addrs["admin"], nil
			}
			return "", "", fmt.Errorf("the app stopped before it logged the addresses of both listeners (http.listening)")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("no http.listening line for both listeners within %s (logs at info level, in JSON?)", timeout)
		}
	}
}

// ListenAddrs returns the addresses the app reported in its log, JSON
// lines, by listener ("public", "admin"): the last line of each wins. The
// line carries the port, not the host (the log holds no IP address), so an
// address is the port on 127.0.0.1, which every bind the tests use
// ([AppDefaults]' 127.0.0.1:0, or all interfaces) answers on.
func ListenAddrs(log string) map[string]string {
	addrs := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"http.listening"`) {
			continue
		}
		var rec struct {
			Msg, Listener string
			Port          int
		}
		if json.Unmarshal(line, &rec) != nil || rec.Msg != "http.listening" || rec.Listener == "" || rec.Port == 0 {
			continue
		}
		addrs[rec.Listener] = net.JoinHostPort("127.0.0.1", strconv.Itoa(rec.Port))
	}
	return addrs
}
