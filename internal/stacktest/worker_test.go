package stacktest

import (
	"net"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"example.com/otelstarter/internal/testproc"
)

// workerServiceName is the worker's OTEL_SERVICE_NAME and Prometheus job.
const workerServiceName = "blog-worker"

// TestComposeWorker: the worker is the app's image running `app worker`,
// configured like the API (same database, token, telemetry pipeline), named
// apart from it, and sending mail to the Mailpit service.
func TestComposeWorker(t *testing.T) {
	project := loadCompose(t)
	app, worker := project.Services["app"], project.Services["worker"]

	// One image, built once by app: a build section here would build it a
	// second time, and a pull would look for it on Docker Hub.
	if worker.Image != app.Image || worker.Build != nil || builtBy(project, worker.Image) != "app" {
		t.Errorf("worker image %q (build %v), want app's image %q built by app only", worker.Image, worker.Build != nil, app.Image)
	}
	if worker.PullPolicy != "never" {
		t.Errorf("worker pull_policy %q, want never: the image exists only where app built it", worker.PullPolicy)
	}
	dockerfile, err := os.ReadFile(testproc.RepoPath(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dockerfile), `ENTRYPOINT ["/app"]`) || !slices.Equal(worker.Command, []string{"worker"}) {
		t.Errorf("worker command %q: want [worker] after the image's ENTRYPOINT [\"/app\"]", worker.Command)
	}
	if len(worker.Ports) > 0 {
		t.Errorf("worker publishes %v: it serves no one but Prometheus and its own healthcheck", worker.Ports)
	}
	if worker.StopGracePeriod == nil || app.StopGracePeriod == nil || *worker.StopGracePeriod != *app.StopGracePeriod {
		t.Errorf("worker stop_grace_period %v, want app's %v (SHUTDOWN_TIMEOUT, 20s, plus the telemetry flush)", worker.StopGracePeriod, app.StopGracePeriod)
	}
	if !reflect.DeepEqual(worker.Logging, app.Logging) || worker.Restart != app.Restart {
		t.Errorf("worker logging %+v restart %q, want app's %+v %q", worker.Logging, worker.Restart, app.Logging, app.Restart)
	}

	env := func(k string) string { return deref(worker.Environment[k]) }
	for _, k := range []string{
		"HTTP_ADDR", "ADMIN_ADDR", "DATABASE_URL", "METRICS_TOKEN", "LOG_LEVEL", "LOG_FORMAT", "SENTRY_DSN", "SENTRY_ENVIRONMENT",
		"OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_TRACES_EXPORTER",
		"OTEL_LOGS_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_GO_X_OBSERVABILITY",
		"PYROSCOPE_SERVER_ADDRESS",
	} {
		if got, want := env(k), deref(app.Environment[k]); got != want {
			t.Errorf("worker %s = %q, app has %q: configure both alike", k, got, want)
		}
	}
	if got := env("OTEL_SERVICE_NAME"); got != workerServiceName {
		t.Errorf("worker OTEL_SERVICE_NAME = %q, want %s", got, workerServiceName)
	}
	if n, err := strconv.Atoi(env("JOB_WORKERS")); err != nil || n < 1 {
		t.Errorf("worker JOB_WORKERS = %q, want a positive number: the worker is where jobs run", env("JOB_WORKERS"))
	}
	if _, err := mail.ParseAddress(env("SMTP_FROM")); err != nil {
		t.Errorf("worker SMTP_FROM = %q: %v", env("SMTP_FROM"), err)
	}

	// SMTP_URL reaches Mailpit's SMTP listener, without credentials.
	u, err := url.Parse(env("SMTP_URL"))
	if err != nil {
		t.Fatalf("worker SMTP_URL: %v", err)
	}
	_, smtpPort, err := net.SplitHostPort(deref(project.Services["mailpit"].Environment["MP_SMTP_BIND_ADDR"]))
	if err != nil {
		t.Fatalf("mailpit MP_SMTP_BIND_ADDR: %v", err)
	}
	if u.Scheme != "smtp" || u.Hostname() != "mailpit" || u.Port() != smtpPort || u.User != nil {
		t.Errorf("worker SMTP_URL = %q, want smtp://mailpit:%s (Mailpit's SMTP listener, no credentials)", u.Redacted(), smtpPort)
	}
}

// TestComposeMailpit: Mailpit publishes its web UI only, its SMTP port stays
// on the compose network, and the image is the version the tests run.
func TestComposeMailpit(t *testing.T) {
	project := loadCompose(t)
	mp := project.Services["mailpit"]
	version := mailpitVersion(t)
	if want := "axllent/mailpit:" + version; mp.Image != want {
		t.Errorf("mailpit image %s, want %s (MAILPIT_VERSION in make/stack.mk, the bin/mailpit the tests run)", mp.Image, want)
	}
	_, uiPort, err := net.SplitHostPort(deref(mp.Environment["MP_UI_BIND_ADDR"]))
	if err != nil {
		t.Fatalf("mailpit MP_UI_BIND_ADDR: %v", err)
	}
	if len(mp.Ports) != 1 || strconv.Itoa(int(mp.Ports[0].Target)) != uiPort {
		t.Errorf("mailpit publishes %+v, want only the web UI's port %s (SMTP stays internal)", mp.Ports, uiPort)
	}
	if got := strings.Join(mp.HealthCheck.Test, " "); got != "CMD /mailpit readyz" {
		t.Errorf("mailpit healthcheck = %q, want the binary's own readyz", got)
	}
	if deref(mp.Environment["MP_DISABLE_VERSION_CHECK"]) != "true" {
		t.Error("mailpit checks for updates on api.github.com: set MP_DISABLE_VERSION_CHECK")
	}

	t.Run("bin/mailpit is that version", func(t *testing.T) {
		bin := stackProgram(t, "mailpit")
		out, err := exec.Command("go", "version", "-m", bin).Output()
		if err != nil {
			t.Fatalf("go version -m %s: %v", bin, err)
		}
		if !regexp.MustCompile(`(?m)^\s+mod\s+github.com/axllent/mailpit\s+` + regexp.QuoteMeta(version) + `\s`).Match(out) {
			t.Errorf("%s is not github.com/axllent/mailpit %s (rebuild: rm %s; make bin/mailpit):\n%s", bin, version, bin, out)
		}
	})
}

// mailpitVersion is MAILPIT_VERSION of make/stack.mk.
func mailpitVersion(t *testing.T) string { return stackMkVersion(t, "MAILPIT_VERSION") }

// stackMkVersion is the version make/stack.mk assigns to name
// (NAME = vX.Y.Z): one definition, which the images must match.
func stackMkVersion(t *testing.T, name string) string {
	t.Helper()
	mk, err := os.ReadFile(testproc.RepoPath(t, "make", "stack.mk"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `\s*[:?]?=\s*(v\d+\.\d+\.\d+)\s*$`).FindSubmatch(mk)
	if m == nil {
		t.Fatalf("make/stack.mk: no %s = vX.Y.Z line", name)
	}
	return string(m[1])
}

// scrapeConfig is the part of a prometheus.yml scrape config the tests read.
type scrapeConfig struct {
	JobName       string `yaml:"job_name"`
	MetricsPath   string `yaml:"metrics_path"`
	Authorization struct {
		Type            string `yaml:"type"`
		CredentialsFile string `yaml:"credentials_file"`
	} `yaml:"authorization"`
	StaticConfigs []struct {
		Targets []string `yaml:"targets"`
	} `yaml:"static_configs"`
}

// TestComposePrometheusScrapesTheApp: every service that serves /metrics
// (OTEL_METRICS_EXPORTER=prometheus) is scraped on its admin listener, with
// the METRICS_TOKEN file, by a job named after its OTEL_SERVICE_NAME: the
// dashboards' $service is the job label, and their logs and traces
// selectors use the same value as service.name.
func TestComposePrometheusScrapesTheApp(t *testing.T) {
	project := loadCompose(t)
	var cfg struct {
		ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	}
	readYAMLInto(t, testproc.RepoPath(t, "prometheus", "prometheus.yml"), &cfg)
	var tokenFile string
	for _, c := range project.Services["prometheus"].Configs {
		if c.Source == "metrics_token" {
			tokenFile = c.Target
		}
	}
	if tokenFile == "" {
		t.Fatal("prometheus does not mount the metrics_token config")
	}

	scraped := 0
	for name, svc := range project.Services {
		if !strings.Contains(deref(svc.Environment["OTEL_METRICS_EXPORTER"]), "prometheus") {
			continue
		}
		scraped++
		job := deref(svc.Environment["OTEL_SERVICE_NAME"])
		_, port, err := net.SplitHostPort(deref(svc.Environment["ADMIN_ADDR"]))
		if err != nil {
			t.Errorf("%s ADMIN_ADDR: %v", name, err)
			continue
		}
		if _, ok := svc.Environment["METRICS_TOKEN"]; !ok {
			t.Errorf("%s does not set METRICS_TOKEN, which Prometheus sends", name)
		}
		i := slices.IndexFunc(cfg.ScrapeConfigs, func(c scrapeConfig) bool { return c.JobName == job })
		if i < 0 {
			t.Errorf("%s (service.name %s): no scrape job %q in prometheus/prometheus.yml", name, job, job)
			continue
		}
		c := cfg.ScrapeConfigs[i]
		target := name + ":" + port
		if len(c.StaticConfigs) != 1 || !slices.Equal(c.StaticConfigs[0].Targets, []string{target}) {
			t.Errorf("job %s scrapes %+v, want %s (the admin listener)", job, c.StaticConfigs, target)
		}
		if (c.MetricsPath != "" && c.MetricsPath != "/metrics") || c.Authorization.Type != "Bearer" || c.Authorization.CredentialsFile != tokenFile {
			t.Errorf("job %s: path %q authorization %+v, want /metrics with the bearer token of %s", job, c.MetricsPath, c.Authorization, tokenFile)
		}
	}
	if scraped != 2 {
		t.Errorf("%d services serve /metrics, want the app and the worker", scraped)
	}
}
