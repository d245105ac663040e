package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"example.com/otelstarter/internal/testproc"
	"example.com/otelstarter/internal/traffic"
)

// stack is everything TestStackEndToEnd started.
type stack struct {
	appURL, appAdmin string
	collectorHTTP    string // the shipped collector's OTLP/HTTP receiver
	sinkDir          string
	prom             promClient
	redis            bool
	mail             *testproc.Mailpit // nil without bin/mailpit
	procs            []*testproc.Process
}

// startStack runs, on loopback ports: a sink collector standing in for
// Tempo and Loki, Prometheus with the shipped rules, the collector with the
// shipped collector/config.yaml, Mailpit, and the real app sending to them.
// The app runs its background jobs itself (JOB_WORKERS' default), as
// `make run` does, so that the API's job carries every panel's data; an
// `app worker` runs beside it, as in docker-compose.yml.
func startStack(t *testing.T) *stack {
	t.Helper()
	otelcolBin := testproc.Otelcol(t)
	promBin := stackProgram(t, "prometheus")
	appBin := testproc.BuildApp(t)
	dir := t.TempDir()
	s := &stack{}

	// 1. Prometheus with the shipped rules, scraping the app (with a bearer
	// token, as prometheus.yml does when METRICS_TOKEN is set) and the
	// collector. It starts first, on a port of its choosing, and the others
	// after it on theirs: their targets reach it through files it watches
	// (file_sd), written once each one has said where it listens.
	const metricsToken = "stacktest-metrics-token"
	tokenFile := filepath.Join(dir, "metrics_token")
	if err := os.WriteFile(tokenFile, []byte(metricsToken), 0o600); err != nil {
		t.Fatal(err)
	}
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: blog-api
    authorization:
      type: Bearer
      credentials_file: %[2]s
    file_sd_configs:
      - files: [%[3]s/blog-api.json]
        refresh_interval: 1s
  - job_name: %[4]s
    authorization:
      type: Bearer
      credentials_file: %[2]s
    file_sd_configs:
      - files: [%[3]s/worker.json]
        refresh_interval: 1s
  - job_name: otel-collector
    file_sd_configs:
      - files: [%[3]s/otel-collector.json]
        refresh_interval: 1s
`, testproc.RepoPath(t, "prometheus", "rules", "*.yml"), tokenFile, dir, workerServiceName)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(promCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom, promAddr := testproc.StartPromServer(t, "prometheus", promBin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.enable-remote-write-receiver",
		"--enable-feature=exemplar-storage",
	)
	s.prom = promClient{base: "http://" + promAddr}

	// 2. The sink standing in for Tempo and Loki, and the shipped collector
	// config in front of it, keeping every trace so every route shows up.
	p := startCollectors(t, otelcolBin, "", "http://"+promAddr+"/api/v1/write", "OTELCOL_TAIL_SAMPLING_PERCENTAGE=100")
	writeTargets(t, dir, "otel-collector", p.MetricsAddr)
	s.collectorHTTP, s.sinkDir = p.CollectorHTTP, p.SinkDir
	sink, collector := p.Sink, p.Collector
	testproc.WaitFor(t, "prometheus ready", 60*time.Second, func() error { return testproc.HTTPOK(s.prom.base + "/-/ready") }, prom)

	// 4. The real app.
	env := []string{
		"DATABASE_URL=sqlite:" + filepath.Join(dir, "blog.db"),
		"FRONTEND_DIR=" + filepath.Join(dir, "no-frontend"),
		"OTEL_SERVICE_NAME=blog-api",
		"OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=test",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.collectorHTTP,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_LOGS_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=prometheus",
		"OTEL_BSP_SCHEDULE_DELAY=200",
		"OTEL_BLRP_SCHEDULE_DELAY=200",
		"SENTRY_DSN=",
		"METRICS_TOKEN=" + metricsToken,
		"LOG_LEVEL=info",
		// The limits live in the shared Redis: a run within a minute of
		// another (or of another package's) must not inherit its count.
		"RATE_LIMIT_LOGIN=0",
		"RATE_LIMIT_REGISTER=0",
	}
	if url, ok := reachableRedis(t); ok {
		env = append(env, "REDIS_URL="+url)
		s.redis = true
	} else {
		env = append(env, "REDIS_URL=")
	}
	// 3. Mailpit, where the welcome emails go, when bin/mailpit is built
	// (make test-stack builds it): without it the rest still runs, and the
	// subtest that reads the email says what is missing.
	s.procs = []*testproc.Process{sink, prom, collector}
	if _, err := os.Stat(testproc.RepoPath(t, "bin", "mailpit")); err == nil {
		s.mail = testproc.StartMailpit(t)
		env = append(env, "SMTP_URL=smtp://"+s.mail.SMTP)
		s.procs = append(s.procs, s.mail.Process)
	} else {
		env = append(env, "SMTP_URL=")
	}
	app := testproc.StartApp(t, "app", env, appBin)
	s.appURL, s.appAdmin = app.URL, app.AdminURL
	writeTargets(t, dir, "blog-api", app.AdminAddr)
	testproc.WaitFor(t, "app ready", 60*time.Second, func() error { return testproc.HTTPOK(s.appURL + "/readyz") }, app.Process)
	s.procs = append(s.procs, app.Process)

	// 5. `app worker`, configured as the app, but on a database of its own:
	// two processes polling one SQLite file would contend for its lock, and
	// the API works the jobs here. It shows what the dashboards need of a
	// worker: its /metrics under its own job, which $service lists.
	wenv := append(slices.Clone(env),
		"DATABASE_URL=sqlite:"+filepath.Join(dir, "worker.db"), "OTEL_SERVICE_NAME="+workerServiceName, "JOB_WORKERS=1")
	worker := testproc.StartApp(t, "worker", wenv, appBin, "worker")
	writeTargets(t, dir, "worker", worker.AdminAddr)
	testproc.WaitFor(t, "worker ready", 60*time.Second, func() error { return testproc.HTTPOK(worker.URL + "/readyz") }, worker.Process)
	s.procs = append(s.procs, worker.Process)
	return s
}

// writeTargets writes dir/job.json, the targets file of job (file_sd), with
// addr its one target. Written aside and renamed into place, as Prometheus
// asks, so that it never reads half a file.
func writeTargets(t *testing.T, dir, job, addr string) {
	t.Helper()
	b, err := json.Marshal([]map[string][]string{{"targets": {addr}}})
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "."+job+".json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, job+".json")); err != nil {
		t.Fatal(err)
	}
}

// reachableRedis returns a Redis URL on a database the tests may use freely.
func reachableRedis(t *testing.T) (string, bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		msg := "redis-server is not running on 127.0.0.1:6379 (`apt-get install -y redis-server`, then start it): Redis spans and panels are not checked"
		if inCI() {
			t.Fatal(msg)
		}
		t.Log("!!! " + msg)
		return "", false
	}
	c.Close()
	return "redis://127.0.0.1:6379/15", true
}

// warmUpEmail is the address warmUp registers: its welcome email is the
// job the test follows.
const warmUpEmail = "warmup@example.com"

// warmUp sends a fixed set of requests whose telemetry the test asserts on.
func (s *stack) warmUp(t *testing.T) {
	t.Helper()
	call := func(method, path, token string, body any) (int, []byte) {
		t.Helper()
		code, _, data := apiCall(t, s.appURL, method, path, token, body)
		return code, data
	}
	creds := map[string]string{"email": warmUpEmail, "password": "warm-up-password-1"}
	if code, body := call("POST", "/api/users", "", creds); code != 201 && code != 409 {
		t.Fatalf("register: %d %s", code, body)
	}
	code, body := call("POST", "/api/login", "", creds)
	var login struct{ Token string }
	if code != 200 || json.Unmarshal(body, &login) != nil || login.Token == "" {
		t.Fatalf("login: %d %s", code, body)
	}
	code, body = call("POST", "/api/posts", login.Token, map[string]string{"title": "Warm-up", "body": "Telemetry check"})
	var post struct{ ID int64 }
	if code != 201 || json.Unmarshal(body, &post) != nil {
		t.Fatalf("create post: %d %s", code, body)
	}
	for range 5 {
		if code, body := call("GET", fmt.Sprintf("/api/posts/%d", post.ID), "", nil); code != 200 {
			t.Fatalf("get post: %d %s", code, body)
		}
	}
	call("GET", "/api/posts/987654321", "", nil)
	call("GET", "/api/health", "", nil)
}

// demoTraffic runs the demo load generator (package traffic, the command
// of `make traffic`) against the app.
func (s *stack) demoTraffic(t *testing.T, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	var out bytes.Buffer // slog's handler serialises the workers' writes
	err := traffic.Run(ctx, traffic.Config{BaseURL: s.appURL, Duration: d, Rate: 25,
		Logger: slog.New(slog.NewTextHandler(&out, nil))})
	if err != nil {
		msg := fmt.Sprintf("demo traffic failed (%v): %s", err, testproc.Tail(out.String(), 2000))
		if inCI() {
			t.Fatal(msg)
		}
		t.Log("!!! " + msg + "\n!!! continuing with the warm-up requests only")
	}
}

func TestStackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the app, two collectors and Prometheus; run without -short")
	}
	s := startStack(t)
	ctx := context.Background()

	s.warmUp(t)
	s.demoTraffic(t, 15*time.Second)

	tracesPath := filepath.Join(s.sinkDir, "traces.jsonl")
	logsPath := filepath.Join(s.sinkDir, "logs.jsonl")

	t.Run("health probes never reach Tempo", func(t *testing.T) {
		spans, _ := testproc.ReadSpans(tracesPath)
		for _, sp := range spans {
			if r, _ := testproc.Attr(sp.Attributes, "http.route"); sp.Kind == tracepb.Span_SPAN_KIND_SERVER && isProbe(r) {
				t.Errorf("health probe trace %s (%s) reached Tempo", sp.HexTraceID(), r)
			}
		}
	})

	t.Run("app traces carry SQL and Redis child spans", func(t *testing.T) {
		var spans []testproc.Span
		check := func() error {
			var err error
			if spans, err = testproc.ReadSpans(tracesPath); err != nil {
				return err
			}
			byTrace := map[string][]testproc.Span{}
			for _, sp := range spans {
				if sp.Service == "blog-api" {
					byTrace[sp.HexTraceID()] = append(byTrace[sp.HexTraceID()], sp)
				}
			}
			var sawSQL, sawRedis bool
			for _, tr := range byTrace {
				server := slices.IndexFunc(tr, func(s testproc.Span) bool {
					return s.Kind == tracepb.Span_SPAN_KIND_SERVER && len(s.ParentSpanId) == 0
				})
				if server < 0 {
					continue
				}
				sawSQL = sawSQL || slices.ContainsFunc(tr, isSQLSpan)
				sawRedis = sawRedis || slices.ContainsFunc(tr, isRedisSpan)
			}
			switch {
			case len(byTrace) == 0:
				return fmt.Errorf("no blog-api traces among %d spans", len(spans))
			case !sawSQL:
				return fmt.Errorf("no trace with a SQL child span among %d blog-api traces", len(byTrace))
			case s.redis && !sawRedis:
				return fmt.Errorf("no trace with a Redis child span among %d blog-api traces", len(byTrace))
			}
			return nil
		}
		deadline := time.Now().Add(20 * time.Second)
		for err := check(); err != nil; err = check() {
			if time.Now().After(deadline) {
				names := map[string]int{}
				for _, sp := range spans {
					names[sp.Service+" "+sp.Name]++
				}
				t.Fatalf("%v; span names: %v", err, names)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	t.Run("app logs carry trace IDs and no personal data", func(t *testing.T) {
		logs, err := testproc.ReadLogs(logsPath)
		if err != nil {
			t.Fatal(err)
		}
		var app, withTrace int
		email := regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
		for _, l := range logs {
			text := testproc.Text(l.Body)
			for _, a := range l.Attributes {
				text += " " + testproc.Text(a.Value)
			}
			if m := email.FindString(text); m != "" {
				t.Errorf("an email reached Loki (service %s): %q", l.Service, m)
			}
			if l.Service != "blog-api" {
				continue
			}
			app++
			if id := l.HexTraceID(); id != "" && strings.Trim(id, "0") != "" {
				withTrace++
			}
		}
		if app == 0 {
			t.Fatal("no blog-api log records reached the Loki stand-in")
		}
		if withTrace == 0 {
			t.Errorf("none of %d blog-api log records has a trace_id", app)
		}
	})

	t.Run("metrics reach Prometheus", func(t *testing.T) {
		for _, expr := range []string{
			`sum(traces_span_metrics_calls_total{service_name="blog-api"})`,
			`sum(http_server_request_duration_seconds_count{job="blog-api"})`,
			`up{job="otel-collector"} == 1`,
			`up{job="` + workerServiceName + `"} == 1`,
			`job:slo_availability_errors:ratio_rate5m{job="blog-api"}`,
		} {
			testproc.WaitFor(t, expr, 30*time.Second, func() error {
				res, err := s.prom.query(ctx, expr)
				if err != nil {
					return err
				}
				if len(res) == 0 {
					return fmt.Errorf("no data")
				}
				return nil
			}, s.procs...)
		}
	})

	t.Run("exemplars carry trace IDs", func(t *testing.T) {
		for _, expr := range []string{
			`traces_span_metrics_duration_seconds_bucket{service_name="blog-api"}`,
			`http_server_request_duration_seconds_bucket{job="blog-api"}`,
		} {
			testproc.WaitFor(t, "exemplars of "+expr, 30*time.Second, func() error {
				series, err := s.prom.exemplars(ctx, expr, 10*time.Minute)
				if err != nil {
					return err
				}
				for _, se := range series {
					for _, ex := range se.Exemplars {
						if len(ex.Labels["trace_id"]) == 32 {
							return nil
						}
					}
				}
				return fmt.Errorf("no exemplar with a trace_id among %d series", len(series))
			}, s.procs...)
		}
	})

	t.Run("the welcome email reaches Mailpit, its job in the registration's trace", func(t *testing.T) {
		if s.mail == nil {
			missing(t, "bin/mailpit", "run `make bin/mailpit`")
		}
		if m := s.mail.WaitForMessageTo(t, warmUpEmail, 30*time.Second, s.procs...); m.Subject == "" || m.From.Address == "" {
			t.Errorf("the welcome email %s has no subject or sender: %+v", m.ID, m)
		}
		// The job's consumer span continues the trace of POST /api/users,
		// so Tempo shows the request and its job as one trace.
		var spans []testproc.Span
		testproc.WaitFor(t, "a job span in a registration's trace", 20*time.Second, func() error {
			var err error
			if spans, err = testproc.ReadSpans(tracesPath); err != nil {
				return err
			}
			registrations := map[string]bool{}
			for _, sp := range spans {
				if r, _ := testproc.Attr(sp.Attributes, "http.route"); sp.Kind == tracepb.Span_SPAN_KIND_SERVER && r == "/api/users" {
					registrations[sp.HexTraceID()] = true
				}
			}
			jobs := 0
			for _, sp := range spans {
				if sp.Kind != tracepb.Span_SPAN_KIND_CONSUMER || !strings.HasPrefix(sp.Name, "river.work") {
					continue
				}
				jobs++
				if registrations[sp.HexTraceID()] && len(sp.ParentSpanId) > 0 {
					return nil
				}
			}
			return fmt.Errorf("%d job spans, %d registration traces, no job span inside one", jobs, len(registrations))
		}, s.procs...)
	})

	t.Run("every dashboard query returns data", func(t *testing.T) {
		checkDashboardsLive(t, s)
	})
}

func isSQLSpan(s testproc.Span) bool {
	sys, ok := testproc.Attr(s.Attributes, "db.system.name")
	if !ok {
		sys, ok = testproc.Attr(s.Attributes, "db.system")
	}
	return s.Kind == tracepb.Span_SPAN_KIND_CLIENT && ok && sys != "redis" || strings.HasPrefix(s.Name, "sql.")
}

func isRedisSpan(s testproc.Span) bool {
	sys, ok := testproc.Attr(s.Attributes, "db.system.name")
	if !ok {
		sys, _ = testproc.Attr(s.Attributes, "db.system")
	}
	return sys == "redis"
}
