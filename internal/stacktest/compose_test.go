package stacktest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"example.com/otelstarter/internal/testproc"
)

// noHealthcheck lists the services that cannot have a healthcheck, and why.
var noHealthcheck = map[string]string{
	"otel-collector": "the contrib image is FROM scratch: no shell, no probe binary",
	"tempo-init":     "one-shot chown, not a long-running service",
}

// exactTag matches an image pinned to a full version such as 0.161.0,
// v3.16.0 or 17.11-alpine (Postgres versions have two parts).
var exactTag = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$`)

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root := testproc.RepoRoot(t)
	// No .env and an empty environment: the file must work on defaults alone.
	project, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: testproc.RepoPath(t, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("otelstarter", true)
	})
	if err != nil {
		t.Fatalf("compose-go cannot load docker-compose.yml: %v", err)
	}
	return project
}

func TestComposeServices(t *testing.T) {
	project := loadCompose(t)
	want := []string{"alertmanager", "app", "grafana", "loki", "mailpit", "otel-collector", "postgres", "prometheus", "pyroscope", "redis", "tempo", "tempo-init", "worker"}
	got := project.ServiceNames()
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
}

func TestComposeImagesPinned(t *testing.T) {
	project := loadCompose(t)
	for name, svc := range project.Services {
		repo, tag, ok := strings.Cut(svc.Image, ":")
		if !ok || strings.Contains(tag, "/") {
			t.Errorf("%s: image %q has no tag", name, svc.Image)
			continue
		}
		if svc.Build != nil || builtBy(project, svc.Image) != "" {
			// Built here: any fixed tag but "latest".
			if tag == "latest" || tag == "" {
				t.Errorf("%s: built image tagged %q", name, tag)
			}
			continue
		}
		if !exactTag.MatchString(tag) {
			t.Errorf("%s: image %s:%s is not pinned to an exact version", name, repo, tag)
		}
	}
}

func TestComposeHealthchecks(t *testing.T) {
	project := loadCompose(t)
	for name, svc := range project.Services {
		hc := svc.HealthCheck
		if reason, ok := noHealthcheck[name]; ok {
			if hc != nil && !hc.Disable {
				t.Errorf("%s has a healthcheck now; drop it from noHealthcheck (%s)", name, reason)
			}
			continue
		}
		if hc == nil || hc.Disable || len(hc.Test) < 2 {
			t.Errorf("%s: no healthcheck", name)
			continue
		}
		if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
			t.Errorf("%s: healthcheck needs interval, timeout and retries", name)
		}
	}
	for _, name := range []string{"app", "worker"} {
		if got := strings.Join(project.Services[name].HealthCheck.Test, " "); got != "CMD /app healthcheck" {
			t.Errorf("%s healthcheck = %q, want the binary's own `healthcheck` (distroless has no shell)", name, got)
		}
	}
	// Tempo's image is distroless: only the binary's own -health (Tempo
	// 3.0) can probe it, in exec form. It GETs /ready with a 5 s timeout of
	// its own, which Docker's timeout must outlast or a slow answer counts
	// as a failure with no message.
	tempo := project.Services["tempo"].HealthCheck
	if tempo == nil || !slices.Equal(tempo.Test, []string{"CMD", "/tempo", "-health"}) {
		var test []string
		if tempo != nil {
			test = tempo.Test
		}
		t.Errorf("tempo healthcheck test = %q, want [CMD /tempo -health]", test)
	} else if tempo.Timeout == nil || time.Duration(*tempo.Timeout) <= 5*time.Second {
		t.Errorf("tempo healthcheck timeout %v, want more than -health's own 5s", tempo.Timeout)
	}
}

// TestComposeHealthyDependencies: a service waited for with service_healthy
// needs a healthcheck, or `docker compose up` waits for it forever; and what
// reads from Tempo starts once Tempo is ready. Both files, alone and merged.
func TestComposeHealthyDependencies(t *testing.T) {
	for name, load := range composeProjects {
		t.Run(name, func(t *testing.T) {
			project := load(t)
			for svcName, svc := range project.Services {
				for dep, cond := range svc.DependsOn {
					if cond.Condition != types.ServiceConditionHealthy {
						continue
					}
					if hc := project.Services[dep].HealthCheck; hc == nil || hc.Disable || len(hc.Test) == 0 {
						t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", svcName, dep, dep)
					}
				}
			}
			readers := []string{"otel-collector", "grafana"}
			if _, ok := project.Services["otel-sampler"]; ok {
				// The gateway sends to the samplers; they write to Tempo.
				readers = []string{"otel-sampler", "grafana"}
			}
			for _, r := range readers {
				if cond, ok := project.Services[r].DependsOn["tempo"]; !ok || cond.Condition != types.ServiceConditionHealthy {
					t.Errorf("%s depends on tempo with %q, want service_healthy", r, cond.Condition)
				}
			}
		})
	}
}

// composeProjects are the two ways the stack runs.
var composeProjects = map[string]func(*testing.T) *types.Project{
	"docker-compose.yml":       loadCompose,
	"docker-compose.scale.yml": loadScaleCompose,
}

// minStopGrace is the least stop_grace_period of each service that keeps
// data on a named volume: Docker's 10 s default kills some of them while
// they write it, and the data is then lost or replayed at the next start.
// docker-compose.yml gives the reasons next to each value.
var minStopGrace = map[string]struct {
	min time.Duration
	why string
}{
	"tempo":        {45 * time.Second, "measured: Tempo 3.0.3 takes about 30s to stop (the live-store completes its WAL blocks)"},
	"grafana":      {31 * time.Second, "Grafana waits up to 30s for its services to stop"},
	"postgres":     {20 * time.Second, "fast shutdown writes a checkpoint of every dirty buffer"},
	"redis":        {20 * time.Second, "SHUTDOWN fsyncs the AOF, then saves the RDB snapshot synchronously"},
	"prometheus":   {30 * time.Second, "drains the alert queue (10s per batch), stops compaction, closes the TSDB"},
	"loki":         {30 * time.Second, "the ingester closes its WAL, index and compactor their files"},
	"pyroscope":    {30 * time.Second, "the ingester flushes its in-memory head to a block"},
	"alertmanager": {15 * time.Second, "a last snapshot of silences and the notification log"},
	"tempo-init":   {0, "a one-shot chown that exits before Tempo starts"},
}

// appShutdownTimeout is SHUTDOWN_TIMEOUT's default (app/internal/config),
// which compose does not set; appTelemetryFlush bounds the flush after it
// (shutdownTelemetry in app/serve.go).
const (
	appShutdownTimeout = 20 * time.Second
	appTelemetryFlush  = 10 * time.Second
)

func TestComposeStopGracePeriods(t *testing.T) {
	for name, load := range composeProjects {
		t.Run(name, func(t *testing.T) {
			project := load(t)
			for svcName, svc := range project.Services {
				named := slices.ContainsFunc(svc.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Type == types.VolumeTypeVolume })
				if !named {
					continue
				}
				want, ok := minStopGrace[svcName]
				if !ok {
					t.Errorf("%s keeps data on a named volume: add its shutdown time to minStopGrace and a stop_grace_period", svcName)
					continue
				}
				if want.min == 0 {
					continue
				}
				if svc.StopGracePeriod == nil || time.Duration(*svc.StopGracePeriod) < want.min {
					t.Errorf("%s stop_grace_period %v, want at least %v: %s", svcName, svc.StopGracePeriod, want.min, want.why)
				}
			}
			// The app and the worker finish their work within their own
			// timeouts, then flush telemetry: the grace period covers all.
			drain, err := time.ParseDuration(deref(project.Services["app"].Environment["SHUTDOWN_DRAIN_DELAY"]))
			if err != nil {
				t.Fatalf("app SHUTDOWN_DRAIN_DELAY: %v", err)
			}
			for svcName, need := range map[string]time.Duration{
				"app":    drain + appShutdownTimeout + appTelemetryFlush,
				"worker": appShutdownTimeout + appTelemetryFlush,
			} {
				svc := project.Services[svcName]
				if _, set := svc.Environment["SHUTDOWN_TIMEOUT"]; set {
					t.Errorf("%s sets SHUTDOWN_TIMEOUT: compute its grace period from that value here", svcName)
				}
				if svc.StopGracePeriod == nil || time.Duration(*svc.StopGracePeriod) < need {
					t.Errorf("%s stop_grace_period %v, want at least %v (drain, SHUTDOWN_TIMEOUT, telemetry flush)", svcName, svc.StopGracePeriod, need)
				}
			}
		})
	}
}

// builtBy returns the service that builds image, or "" when none does.
func builtBy(project *types.Project, image string) string {
	for name, svc := range project.Services {
		if svc.Build != nil && svc.Image == image {
			return name
		}
	}
	return ""
}

// hardened lists the services that run with no capabilities and
// no-new-privileges (the x-hardening anchor), and whether their root
// filesystem is read-only too (then /tmp is a tmpfs). The others are
// official images whose entrypoints need capabilities (chown, setuid) or
// write where they please: their own images' business.
var hardened = map[string]bool{
	"app":            true,
	"worker":         true,
	"mailpit":        true,
	"alertmanager":   true,
	"pyroscope":      true,
	"otel-collector": false,
}

func TestComposeHardening(t *testing.T) {
	project := loadCompose(t)
	for name, readOnly := range hardened {
		svc, ok := project.Services[name]
		if !ok {
			t.Errorf("%s: no such service", name)
			continue
		}
		if !slices.Equal(svc.SecurityOpt, []string{"no-new-privileges:true"}) || !slices.Equal(svc.CapDrop, []string{"ALL"}) {
			t.Errorf("%s: security_opt %v cap_drop %v, want the x-hardening anchor (no-new-privileges:true, ALL)", name, svc.SecurityOpt, svc.CapDrop)
		}
		if len(svc.CapAdd) > 0 || svc.Privileged {
			t.Errorf("%s: cap_add %v privileged %v, want neither", name, svc.CapAdd, svc.Privileged)
		}
		if !readOnly {
			continue
		}
		if !svc.ReadOnly {
			t.Errorf("%s: root filesystem is writable, want read_only", name)
		}
		if !slices.Contains(svc.Tmpfs, "/tmp") {
			t.Errorf("%s: read-only root without a tmpfs at /tmp (tmpfs %v)", name, svc.Tmpfs)
		}
	}
}

func TestComposeDependsOnHealthy(t *testing.T) {
	project := loadCompose(t)
	for name, svc := range project.Services {
		for dep, cond := range svc.DependsOn {
			target, ok := project.Services[dep]
			if !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
				continue
			}
			hasHealth := target.HealthCheck != nil && !target.HealthCheck.Disable
			want := types.ServiceConditionHealthy
			switch {
			case hasHealth:
			case target.Restart == "no":
				want = types.ServiceConditionCompletedSuccessfully
			default:
				want = types.ServiceConditionStarted
			}
			if cond.Condition != want {
				t.Errorf("%s depends on %s with condition %q, want %q", name, dep, cond.Condition, want)
			}
		}
	}
	deps := func(name string) []string {
		var out []string
		for d := range project.Services[name].DependsOn {
			out = append(out, d)
		}
		sort.Strings(out)
		return out
	}
	for name, want := range map[string][]string{
		"app":            {"otel-collector", "postgres", "pyroscope", "redis"},
		"worker":         {"mailpit", "otel-collector", "postgres", "pyroscope"},
		"otel-collector": {"loki", "prometheus", "tempo"},
		"prometheus":     {"alertmanager"},
		"grafana":        {"loki", "prometheus", "pyroscope", "tempo"},
	} {
		if got := deps(name); !slices.Equal(got, want) {
			t.Errorf("%s depends on %v, want %v", name, got, want)
		}
	}
}

func TestComposePublishedPorts(t *testing.T) {
	project := loadCompose(t)
	published := map[string]string{}
	for name, svc := range project.Services {
		for _, p := range svc.Ports {
			if p.Published == "" {
				t.Errorf("%s: port %d published on a random host port", name, p.Target)
				continue
			}
			published[p.Published] = name
			if p.HostIP != "127.0.0.1" {
				t.Errorf("%s: port %s bound to %q, want 127.0.0.1 by default", name, p.Published, p.HostIP)
			}
		}
		if len(svc.Expose) > 0 {
			t.Errorf("%s: expose is unnecessary on the compose network", name)
		}
	}
	want := map[string]string{"3000": "grafana", "8025": "mailpit", "8080": "app"}
	if len(published) != len(want) {
		t.Errorf("published ports = %v, want only %v", published, want)
	}
	for port, svc := range want {
		if published[port] != svc {
			t.Errorf("port %s published by %q, want %q", port, published[port], svc)
		}
	}
}

func TestComposeVolumes(t *testing.T) {
	project := loadCompose(t)
	stateful := map[string]string{
		"postgres":   "/var/lib/postgresql/data",
		"redis":      "/data",
		"prometheus": "/prometheus",
		"loki":       "/loki",
		"tempo":      "/var/tempo",
		"pyroscope":  "/data",
		"grafana":    "/var/lib/grafana",
		// Silences and the notification log (what was sent, so not again).
		"alertmanager": "/alertmanager",
	}
	for name, svc := range project.Services {
		for _, v := range svc.Volumes {
			switch v.Type {
			case types.VolumeTypeBind:
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s: bind-mounted %s does not exist: %v", name, v.Source, err)
				}
				if !v.ReadOnly {
					t.Errorf("%s: bind mount %s should be read-only", name, v.Target)
				}
			case types.VolumeTypeVolume:
				if _, ok := project.Volumes[v.Source]; !ok {
					t.Errorf("%s: volume %q is not a declared named volume", name, v.Source)
				}
			default:
				t.Errorf("%s: unexpected volume type %q", name, v.Type)
			}
		}
		if target, ok := stateful[name]; ok {
			found := slices.ContainsFunc(svc.Volumes, func(v types.ServiceVolumeConfig) bool {
				return v.Type == types.VolumeTypeVolume && v.Target == target
			})
			if !found {
				t.Errorf("%s: %s is not on a named volume; data would not survive a restart", name, target)
			}
		}
	}
}

func TestComposeAppEnvironment(t *testing.T) {
	project := loadCompose(t)
	env := project.Services["app"].Environment
	want := map[string]string{
		"DATABASE_URL":                "postgres://blog:blog@postgres:5432/blog?sslmode=disable",
		"REDIS_URL":                   "redis://redis:6379/0",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_LOGS_EXPORTER":          "otlp",
		"OTEL_METRICS_EXPORTER":       "prometheus",
		"ADMIN_ADDR":                  "0.0.0.0:9464",
		"HTTP_ADDR":                   ":8080",
		"OTEL_SERVICE_NAME":           "blog-api",
		"SENTRY_ENVIRONMENT":          "development",
		// The worker service runs the jobs; the API only enqueues them.
		"JOB_WORKERS": "0",
		// The stack's Pyroscope, on the compose network.
		"PYROSCOPE_SERVER_ADDRESS": "http://pyroscope:4040",
	}
	for k, v := range want {
		got := env[k]
		if got == nil || *got != v {
			t.Errorf("app %s = %v, want %q", k, deref(got), v)
		}
	}
	for _, k := range []string{"SENTRY_DSN", "METRICS_TOKEN", "OTEL_RESOURCE_ATTRIBUTES"} {
		if _, ok := env[k]; !ok {
			t.Errorf("app environment lacks %s", k)
		}
	}
	if ra := deref(env["OTEL_RESOURCE_ATTRIBUTES"]); !strings.Contains(ra, "deployment.environment.name=development") {
		t.Errorf("OTEL_RESOURCE_ATTRIBUTES = %q, want deployment.environment.name", ra)
	}
}

func TestComposeGrafanaAndPrometheus(t *testing.T) {
	project := loadCompose(t)
	g := project.Services["grafana"].Environment
	if deref(g["GF_AUTH_ANONYMOUS_ORG_ROLE"]) != "Viewer" {
		t.Errorf("anonymous Grafana users must be Viewer at most, got %q", deref(g["GF_AUTH_ANONYMOUS_ORG_ROLE"]))
	}
	if g["GF_SECURITY_ADMIN_PASSWORD"] == nil {
		t.Error("GF_SECURITY_ADMIN_PASSWORD must come from .env")
	}
	home := deref(g["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
	if rel, ok := strings.CutPrefix(home, "/etc/grafana/dashboards/"); !ok {
		t.Errorf("home dashboard %q is not in the mounted dashboards directory", home)
	} else if _, err := os.Stat(testproc.RepoPath(t, "grafana", "dashboards", rel)); err != nil {
		t.Errorf("home dashboard: %v", err)
	}
	cmd := strings.Join(project.Services["prometheus"].Command, " ")
	for _, flag := range []string{"--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage", "--config.file=/etc/prometheus/prometheus.yml",
		"--storage.tsdb.retention.time=7d", "--storage.tsdb.retention.size=2GB"} {
		if !strings.Contains(cmd, flag) {
			t.Errorf("prometheus command lacks %s", flag)
		}
	}
}

// TestComposeCollectorMatchesBuilder keeps the image that runs in compose and
// the collector the tests build at the same version.
func TestComposeCollectorMatchesBuilder(t *testing.T) {
	project := loadCompose(t)
	_, tag, _ := strings.Cut(project.Services["otel-collector"].Image, ":")
	if !strings.HasPrefix(project.Services["otel-collector"].Image, "otel/opentelemetry-collector-contrib:") {
		t.Errorf("collector image = %s, want the contrib distribution", project.Services["otel-collector"].Image)
	}
	b := readBuilder(t)
	if b.Dist.Version != tag {
		t.Errorf("builder.yaml dist.version = %s, compose runs %s", b.Dist.Version, tag)
	}
	for _, m := range b.modules() {
		_, v, _ := strings.Cut(m, " ")
		if v != "v"+tag {
			t.Errorf("builder.yaml: %s is not at v%s", m, tag)
		}
	}
}

// TestComposeConfigVariables checks the configs mounted into Loki, Tempo and
// Pyroscope that read environment variables (${VAR:-default}): those
// programs expand them only with -config.expand-env=true, and only what the
// service's environment sets reaches them. Without the flag Tempo would read
// the literal text as a duration and refuse to start.
func TestComposeConfigVariables(t *testing.T) {
	project := loadCompose(t)
	ref := regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)(:-[^}]*)?\}`)
	checked := 0
	for name, svc := range project.Services {
		for _, v := range svc.Volumes {
			rel, ok := strings.CutPrefix(v.Source, testproc.RepoRoot(t)+"/")
			if v.Type != "bind" || !ok || !strings.HasSuffix(rel, ".yaml") {
				continue
			}
			body, err := os.ReadFile(testproc.RepoPath(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			refs := ref.FindAllStringSubmatch(string(body), -1)
			if len(refs) == 0 {
				continue
			}
			checked++
			if !slices.Contains(svc.Command, "-config.expand-env=true") {
				t.Errorf("%s reads %s, which uses ${%s}, without -config.expand-env=true", name, rel, refs[0][1])
			}
			for _, m := range refs {
				if m[2] == "" {
					t.Errorf("%s: ${%s} has no default", rel, m[1])
				}
				if svc.Environment[m[1]] == nil {
					t.Errorf("%s uses ${%s} but the %s service does not set it", rel, m[1], name)
				}
			}
		}
	}
	if checked < 3 {
		t.Errorf("%d mounted configs use variables, want Loki's, Tempo's and Pyroscope's retention at least", checked)
	}
}

// TestComposePrometheusMatchesTests keeps the Prometheus that compose runs
// and the one the tests run at one version. The tests parse rules and
// queries with the github.com/prometheus/prometheus module of go.mod and run
// bin/prometheus and bin/promtool, built from that module (make
// bin/prometheus); the module's v0.3MM.P is Prometheus v3.MM.P.
func TestComposePrometheusMatchesTests(t *testing.T) {
	project := loadCompose(t)
	repo, tag, _ := strings.Cut(project.Services["prometheus"].Image, ":")
	if repo != "prom/prometheus" {
		t.Fatalf("prometheus image = %s, want prom/prometheus", project.Services["prometheus"].Image)
	}
	mod := goModVersion(t, "github.com/prometheus/prometheus")
	if want := prometheusRelease(t, mod); tag != want {
		t.Errorf("compose runs prom/prometheus:%s, the tests run %s (go.mod github.com/prometheus/prometheus %s): change one", tag, want, mod)
	}
	for _, prog := range []string{"prometheus", "promtool"} {
		bin := stackProgram(t, prog)
		out, err := exec.Command("go", "version", "-m", bin).Output()
		if err != nil {
			t.Fatalf("go version -m %s: %v", bin, err)
		}
		if !regexp.MustCompile(`(?m)^\s+mod\s+github.com/prometheus/prometheus\s+` + regexp.QuoteMeta(mod) + `\s`).Match(out) {
			t.Errorf("%s is not built from github.com/prometheus/prometheus %s (rebuild: make %s):\n%s", bin, mod, bin, out)
		}
	}
}

// prometheusRelease maps the Go module version v0.316.0 to v3.16.0.
func prometheusRelease(t *testing.T, mod string) string {
	m := regexp.MustCompile(`^v0\.(\d)(\d\d)\.(\d+)$`).FindStringSubmatch(mod)
	if m == nil {
		t.Fatalf("github.com/prometheus/prometheus %s: not of the form v0.3MM.P", mod)
	}
	return fmt.Sprintf("v%s.%d.%s", m[1], atoi(t, m[2]), m[3])
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// goModVersion is the version go.mod requires of module path.
func goModVersion(t *testing.T, path string) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", path).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

// TestEnvExampleListsEveryKnob keeps .env.example complete.
func TestEnvExampleListsEveryKnob(t *testing.T) {
	compose, err := os.ReadFile(testproc.RepoPath(t, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(testproc.RepoPath(t, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	for _, line := range strings.Split(string(example), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			defined[strings.TrimSpace(k)] = true
		}
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)`).FindAllStringSubmatch(string(compose), -1) {
		if !defined[m[1]] {
			t.Errorf(".env.example does not list %s", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`).FindAllStringSubmatch(string(compose), -1) {
		t.Errorf("${%s} has no default: compose must work without a .env", m[1])
	}
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(testproc.RepoPath(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	var froms []string
	for _, line := range strings.Split(df, "\n") {
		if f, ok := strings.CutPrefix(line, "FROM "); ok {
			froms = append(froms, strings.Fields(f)[0])
		}
	}
	if len(froms) != 3 {
		t.Fatalf("want 3 stages (frontend, backend, runtime), got %v", froms)
	}
	for _, img := range froms {
		if !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") {
			t.Errorf("base image %s is not pinned", img)
		}
	}
	if !strings.HasPrefix(froms[2], "gcr.io/distroless/static") || !strings.HasSuffix(froms[2], ":nonroot") {
		t.Errorf("runtime base = %s, want distroless static nonroot", froms[2])
	}
	for _, want := range []string{
		"npm ci", "npm run build", "CGO_ENABLED=0", "./app",
		"FRONTEND_DIR=/srv/frontend", "USER nonroot", `CMD ["/app", "healthcheck"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// builder is the part of collector/builder.yaml the tests read.
type builder struct {
	Dist struct {
		Version    string `yaml:"version"`
		OutputPath string `yaml:"output_path"`
	} `yaml:"dist"`
	Receivers  []gomod `yaml:"receivers"`
	Processors []gomod `yaml:"processors"`
	Exporters  []gomod `yaml:"exporters"`
	Connectors []gomod `yaml:"connectors"`
	Extensions []gomod `yaml:"extensions"`
}

type gomod struct {
	GoMod string `yaml:"gomod"`
}

func (b builder) modules() []string {
	var out []string
	for _, list := range [][]gomod{b.Receivers, b.Processors, b.Exporters, b.Connectors, b.Extensions} {
		for _, m := range list {
			out = append(out, m.GoMod)
		}
	}
	return out
}

func readBuilder(tb testing.TB) builder {
	tb.Helper()
	raw, err := os.ReadFile(testproc.RepoPath(tb, "collector", "builder.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var b builder
	if err := yaml.Unmarshal(raw, &b); err != nil {
		tb.Fatalf("collector/builder.yaml: %v", err)
	}
	return b
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
