// Package faulttest injects faults around the real app binary (the
// collector going away or hanging, PostgreSQL stopping, SIGTERM under load,
// slow clients) and asserts what users and operators would see. Every test
// starts what it needs on free loopback ports and stops it in t.Cleanup.
//
// The tests take about a minute and a half and need bin/otelcol and
// PostgreSQL's initdb and pg_ctl: they run from `make test-faults`, which sets
// FAULT_TESTS=1; `go test ./...` (make test) skips them.
package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
)

// appBin is the app built once by TestMain.
var appBin string

func enabled() bool { return os.Getenv("FAULT_TESTS") == "1" }

func TestMain(m *testing.M) {
	if !enabled() {
		// `make test` runs `go test ./...`: these minutes-long tests belong
		// to `make test-faults`. Each test says so when it skips.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "faulttest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	appBin = filepath.Join(dir, "app")
	build := exec.Command("go", "build", "-o", appBin, "./app")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./app: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need skips t unless the fault tests were asked for.
func need(t *testing.T) {
	t.Helper()
	if !enabled() {
		t.Skip("SKIPPING: fault-injection test; run `make test-faults` (sets FAULT_TESTS=1)")
	}
}

func repoRoot() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			panic("go.mod not found above " + dir)
		}
		dir = parent
	}
}

// The programs the fault tests run, through the shared helpers.
type proc = testproc.Process

var (
	startProc = testproc.StartEnv
	tail      = testproc.Tail
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
	*proc
	URL   string // public listener
	Admin string // admin listener (http://…)
}

// startApp starts the binary with test defaults overridden by env, and waits
// until /readyz answers 200.
func startApp(t *testing.T, env map[string]string) *app {
	t.Helper()
	vars := map[string]string{
		"HTTP_ADDR":            testenv.FreeAddr(t),
		"ADMIN_ADDR":           testenv.FreeAddr(t),
		"DATABASE_URL":         "sqlite:" + filepath.Join(t.TempDir(), "blog.db"),
		"FRONTEND_DIR":         t.TempDir(),
		"BCRYPT_COST":          "4",
		"RATE_LIMIT_LOGIN":     "0",
		"OTEL_TRACES_EXPORTER": "none",
		"OTEL_LOGS_EXPORTER":   "none",
	}
	for k, v := range env {
		vars[k] = v
	}
	list := baseEnv()
	for k, v := range vars {
		list = append(list, k+"="+v)
	}
	a := &app{proc: startProc(t, "app", list, appBin),
		URL: "http://" + vars["HTTP_ADDR"], Admin: "http://" + vars["ADMIN_ADDR"]}
	waitUntil(t, "app /readyz", 15*time.Second, func() error {
		if err := a.Exited(); err != nil {
			return err
		}
		return getOK(a.URL + "/readyz")
	})
	return a
}

// rss returns the resident set size of pid in bytes (VmRSS).
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read RSS: %v", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// waitUntil polls check every 100ms until it returns nil, failing t after timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, check func() error) time.Duration {
	t.Helper()
	began := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(began)
		}
		if time.Since(began) > timeout {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var probeClient = &http.Client{Timeout: 3 * time.Second}

func getOK(url string) error {
	resp, err := probeClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// client is what the tests send requests with: keep-alive, bounded.
func newClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// result is one response, read in full.
type result struct {
	Status    int
	Body      []byte
	RequestID string
	Took      time.Duration
}

func do(c *http.Client, method, url, token string, body any, hdr ...string) (result, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return result{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	began := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return result{Took: time.Since(began)}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := result{Status: resp.StatusCode, Body: b, RequestID: resp.Header.Get("X-Request-Id"), Took: time.Since(began)}
	return r, err
}

// login registers a user and returns a bearer token.
func login(t *testing.T, a *app, email string) string {
	t.Helper()
	c := newClient()
	creds := map[string]string{"email": email, "password": "fault tolerant"}
	if r, err := do(c, "POST", a.URL+"/api/users", "", creds); err != nil || r.Status != 201 {
		t.Fatalf("register: %v %d %s", err, r.Status, r.Body)
	}
	r, err := do(c, "POST", a.URL+"/api/login", "", creds)
	if err != nil || r.Status != 200 {
		t.Fatalf("login: %v %d %s", err, r.Status, r.Body)
	}
	var res struct{ Token string }
	if err := json.Unmarshal(r.Body, &res); err != nil || res.Token == "" {
		t.Fatalf("login body %s: %v", r.Body, err)
	}
	return res.Token
}

// createPost creates a post and returns its ID.
func createPost(t *testing.T, a *app, token, title string) int64 {
	t.Helper()
	r, err := do(newClient(), "POST", a.URL+"/api/posts", token, map[string]string{"title": title, "body": "body of " + title})
	if err != nil || r.Status != 201 {
		t.Fatalf("create post: %v %d %s", err, r.Status, r.Body)
	}
	var p struct{ ID int64 }
	if err := json.Unmarshal(r.Body, &p); err != nil || p.ID == 0 {
		t.Fatalf("post body %s: %v", r.Body, err)
	}
	return p.ID
}

// sample is one request of a load run.
type sample struct {
	Start     time.Time
	Took      time.Duration
	OK        bool
	Err       string
	RequestID string
}

// load sends requests at rate per second for d, open-loop (a slow answer does
// not slow the sender down), each from its own goroutine, and returns every
// sample once all have finished. send reports whether the answer was right.
func load(rate int, d time.Duration, send func(i int) (requestID string, err error)) []sample {
	n := int(d.Seconds() * float64(rate))
	samples := make([]sample, n)
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range n {
		if wait := time.Until(began.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Go(func() {
			s := sample{Start: time.Now()}
			id, err := send(i)
			s.Took, s.RequestID, s.OK = time.Since(s.Start), id, err == nil
			if err != nil {
				s.Err = err.Error()
			}
			samples[i] = s
		})
	}
	wg.Wait()
	return samples
}

// blogLoad returns a send function for load: four reads of post id for
// every create, each checked for its status and a JSON body.
func blogLoad(c *http.Client, a *app, token string, id int64) func(int) (string, error) {
	get := fmt.Sprintf("%s/api/posts/%d", a.URL, id)
	return func(i int) (string, error) {
		var (
			r    result
			err  error
			want = 200
		)
		if i%5 == 4 {
			want = 201
			r, err = do(c, "POST", a.URL+"/api/posts", token, map[string]string{"title": "load " + strconv.Itoa(i), "body": "steady"})
		} else {
			r, err = do(c, "GET", get, "", nil)
		}
		if err != nil {
			return "", err
		}
		if r.Status != want || !json.Valid(r.Body) {
			return r.RequestID, fmt.Errorf("status %d, want %d: %s", r.Status, want, tail(string(r.Body), 200))
		}
		return r.RequestID, nil
	}
}

// stats summarises samples.
type stats struct {
	N, Failed     int
	P50, P99, Max time.Duration
	Errors        []string // the first few
}

func summarise(samples []sample) stats {
	var s stats
	var took []time.Duration
	for _, x := range samples {
		s.N++
		took = append(took, x.Took)
		if !x.OK {
			s.Failed++
			if len(s.Errors) < 5 {
				s.Errors = append(s.Errors, x.Err)
			}
		}
	}
	if len(took) == 0 {
		return s
	}
	slices.Sort(took)
	pct := func(p float64) time.Duration { return took[min(len(took)-1, int(p*float64(len(took))))] }
	s.P50, s.P99, s.Max = pct(0.50), pct(0.99), took[len(took)-1]
	return s
}

func (s stats) String() string {
	return fmt.Sprintf("%d requests, %d failed, p50 %v, p99 %v, max %v",
		s.N, s.Failed, s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.Max.Round(10*time.Microsecond))
}

// between returns the samples started in [from, to).
func between(samples []sample, from, to time.Time) []sample {
	var out []sample
	for _, s := range samples {
		if !s.Start.Before(from) && s.Start.Before(to) {
			out = append(out, s)
		}
	}
	return out
}

// collector is bin/otelcol running testdata/collector.yaml.
type collector struct {
	*proc
	Endpoint   string // http://host:port of the OTLP HTTP receiver
	TracesFile string
}

// otelcolPath returns bin/otelcol, or stops the test (fails in CI).
func otelcolPath(t *testing.T) string {
	t.Helper()
	path := filepath.Join(repoRoot(), "bin", "otelcol")
	if _, err := os.Stat(path); err != nil {
		testenv.Missing(t, "bin/otelcol (the collector)", "`make collector` to build it;", err)
	}
	return path
}

// startCollector runs the collector with its OTLP HTTP receiver on addr,
// writing to files in dir named after tag.
func startCollector(t *testing.T, addr, dir, tag string) *collector {
	t.Helper()
	bin := otelcolPath(t)
	health := testenv.FreeAddr(t)
	c := &collector{Endpoint: "http://" + addr, TracesFile: filepath.Join(dir, "traces-"+tag+".jsonl")}
	env := append(baseEnv(),
		"FAULT_HEALTH_ENDPOINT="+health,
		"FAULT_OTLP_HTTP_ENDPOINT="+addr,
		"FAULT_TRACES_FILE="+c.TracesFile,
		"FAULT_LOGS_FILE="+filepath.Join(dir, "logs-"+tag+".jsonl"),
	)
	c.proc = startProc(t, "collector "+tag, env, bin, "--config", filepath.Join(repoRoot(), "internal", "faulttest", "testdata", "collector.yaml"))
	waitUntil(t, "collector health", 30*time.Second, func() error {
		if err := c.Exited(); err != nil {
			return err
		}
		return getOK("http://" + health + "/")
	})
	return c
}

// span is what the tests read of an exported span.
type span struct {
	TraceID string
	Name    string
	Kind    int
}

const spanKindServer = 2

// readSpans parses a file exporter's JSON lines (OTLP/JSON, one export per
// line). A line being written is skipped.
func readSpans(t *testing.T, path string) []span {
	t.Helper()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []span
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var doc struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []struct {
						TraceID string `json:"traceId"`
						Name    string `json:"name"`
						Kind    int    `json:"kind"`
					} `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		if json.Unmarshal(sc.Bytes(), &doc) != nil {
			continue
		}
		for _, rs := range doc.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, span{TraceID: strings.ToLower(s.TraceID), Name: s.Name, Kind: s.Kind})
				}
			}
		}
	}
	return out
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

// errNotYet is what a polled check returns until it holds.
var errNotYet = errors.New("not yet")

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// metricValue sums the samples of a metric on the admin /metrics.
func metricValue(t *testing.T, a *app, name string) (float64, error) {
	t.Helper()
	resp, err := probeClient.Get(a.Admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	found := false
	for line := range strings.SplitSeq(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			// OpenMetrics may append a timestamp or exemplar; take field 2.
			v, err = strconv.ParseFloat(f[1], 64)
		}
		if err == nil {
			sum += v
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("%s not on /metrics", name)
	}
	return sum, nil
}

// ctxTimeout is context.WithTimeout on Background, for brevity.
func ctxTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
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
