package faulttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
)

// pgCluster is a PostgreSQL cluster of the test's own (initdb + pg_ctl), so
// the test can stop it without touching the shared server.
type pgCluster struct {
	t       *testing.T
	bin     string // directory of initdb and pg_ctl
	data    string
	logFile string
	port    string
	asUser  []string // runuser prefix when running as root
}

// privatePostgres initialises and starts a cluster on a free loopback port.
// initdb refuses to run as root: as root, it runs as the postgres user.
func privatePostgres(t *testing.T) *pgCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		testenv.Missing(t, "PostgreSQL server programs (initdb, pg_ctl)", "PATH (apt-get install postgresql)",
			errors.New("no /usr/lib/postgresql/*/bin/pg_ctl"))
	}
	c := &pgCluster{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	root, err := os.MkdirTemp("", "faulttest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	c.data, c.logFile = filepath.Join(root, "data"), filepath.Join(root, "postgres.log")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Missing(t, "a postgres user to run initdb as (it refuses root)", "PATH (apt-get install postgresql)", err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			testenv.Missing(t, "runuser", "PATH", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(root, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asUser = []string{runuser, "-u", "postgres", "--"}
	}
	c.run(30*time.Second, "initdb", "-D", c.data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
	// PostgreSQL has no port 0: a port picked in advance, and anew (up to 3
	// times) when another program took it meanwhile.
	for attempt := 1; ; attempt++ {
		_, c.port, _ = net.SplitHostPort(testenv.FreeAddr(t))
		out, err := c.runErr(60*time.Second, "pg_ctl", c.startArgs()...)
		if err == nil {
			break
		}
		log, _ := os.ReadFile(c.logFile)
		if attempt < 3 && testproc.AddrInUse(out+string(log)) {
			t.Logf("PostgreSQL: port %s was taken; trying another", c.port)
			_ = os.Remove(c.logFile)
			continue
		}
		t.Fatalf("pg_ctl start: %v\n%s\n---- server log ----\n%s", err, out, testproc.Tail(string(log), 3000))
	}
	t.Cleanup(func() { c.stop() })
	return c
}

// URL is the app's DATABASE_URL for the cluster.
func (c *pgCluster) URL() string {
	return "postgres://postgres@127.0.0.1:" + c.port + "/postgres?sslmode=disable"
}

func (c *pgCluster) run(timeout time.Duration, prog string, args ...string) {
	c.t.Helper()
	if out, err := c.runErr(timeout, prog, args...); err != nil {
		log, _ := os.ReadFile(c.logFile)
		c.t.Fatalf("%s %s: %v\n%s\n---- server log ----\n%s", prog, strings.Join(args, " "), err, out, testproc.Tail(string(log), 3000))
	}
}

// runErr runs prog of the PostgreSQL installation and returns its output.
func (c *pgCluster) runErr(timeout time.Duration, prog string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := append(append(append([]string{}, c.asUser...), filepath.Join(c.bin, prog)), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(baseEnv(), "LC_ALL=C")
	cmd.Dir = os.TempDir() // readable by the postgres user
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// start starts the server again, on its port, and waits until it accepts
// connections.
func (c *pgCluster) start() {
	c.t.Helper()
	c.run(60*time.Second, "pg_ctl", c.startArgs()...)
}

// startArgs are pg_ctl's arguments to start the server on c.port and wait
// until it accepts connections.
func (c *pgCluster) startArgs() []string {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %s -k %s -c fsync=off -c full_page_writes=off", c.port, filepath.Dir(c.data))
	return []string{"-D", c.data, "-l", c.logFile, "-o", opts, "-w", "-t", "60", "start"}
}

// stop stops the server at once, as a crash or a pulled cable would.
func (c *pgCluster) stop() {
	c.t.Helper()
	if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err != nil {
		return
	}
	c.run(30*time.Second, "pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop")
}

// TestPostgresUnreachable stops the app's PostgreSQL: requests fail fast with
// 503 JSON, health and readiness say so; when it is back, everything answers
// 200 again without restarting the app.
func TestPostgresUnreachable(t *testing.T) {
	need(t)
	pg := privatePostgres(t)
	a := startApp(t, map[string]string{"DATABASE_URL": pg.URL(), "REQUEST_TIMEOUT": "3s"})
	token := login(t, a, "pg@example.com")
	id := createPost(t, a, token, "stored in postgres")
	c := newClient()

	paths := []string{"/api/posts", fmt.Sprintf("/api/posts/%d", id), "/api/health", "/readyz"}
	for _, p := range paths {
		if err := testproc.HTTPOK(a.URL + p); err != nil {
			t.Fatalf("before the fault: %v", err)
		}
	}

	pg.stop()
	stoppedAt := time.Now()
	// Ask again and again for 3s: the first failures come from broken pooled
	// connections, the later ones from refused new connections.
	var slowest time.Duration
	n := 0
	for round := 0; round == 0 || time.Since(stoppedAt) < 3*time.Second; round++ {
		n += len(paths)
		time.Sleep(50 * time.Millisecond)
		for _, p := range paths {
			r, err := do(c, "GET", a.URL+p, "", nil)
			if err != nil {
				t.Fatalf("GET %s with PostgreSQL down: %v after %v", p, err, r.Took)
			}
			slowest = max(slowest, r.Took)
			if r.Took > 3*time.Second {
				t.Fatalf("GET %s took %v with PostgreSQL down, want ≤ 3s", p, r.Took)
			}
			if r.Status != 503 {
				t.Fatalf("round %d: GET %s = %d %s, want 503", round, p, r.Status, r.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatalf("GET %s: 503 body is not JSON: %s", p, r.Body)
			}
			switch p {
			case "/api/health":
				if checks, _ := body["checks"].(map[string]any); checks["database"] != "error" || body["status"] != "degraded" {
					t.Fatalf("health with PostgreSQL down = %s", r.Body)
				}
			case "/readyz":
			default:
				if e, _ := body["error"].(map[string]any); e["code"] == nil {
					t.Fatalf("GET %s: 503 body without an error code: %s", p, r.Body)
				}
			}
			if strings.Contains(string(r.Body), "127.0.0.1") || strings.Contains(string(r.Body), "refused") {
				t.Fatalf("GET %s leaks error text: %s", p, r.Body)
			}
		}
	}
	if !t.Failed() {
		t.Logf("PostgreSQL down: %d requests to %v, all 503 JSON; slowest answer %v", n, paths, slowest.Round(time.Millisecond))
	}

	startBegan := time.Now()
	pg.start()
	restartedAt := time.Now()
	recovered := testproc.Poll(t, "every path 200 after PostgreSQL came back", pollEvery, 15*time.Second, func() error {
		for _, p := range paths {
			if err := testproc.HTTPOK(a.URL + p); err != nil {
				return err
			}
		}
		return nil
	})
	if r, err := do(c, "POST", a.URL+"/api/posts", token, map[string]string{"title": "after", "body": "the outage"}); err != nil || r.Status != 201 {
		t.Errorf("create a post after recovery: %v %d %s", err, r.Status, r.Body)
	}
	t.Logf("PostgreSQL down for %v (pg_ctl start took %v); every path 200 again %v after it was up, app not restarted",
		startBegan.Sub(stoppedAt).Round(time.Millisecond), restartedAt.Sub(startBegan).Round(time.Millisecond), recovered.Round(time.Millisecond))
}
