package stacktest

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"example.com/otelstarter/internal/testproc"
)

// loadScaleCompose loads docker-compose.yml with docker-compose.scale.yml on
// top, as `docker compose -f docker-compose.yml -f docker-compose.scale.yml`
// does, with no .env and an empty environment.
func loadScaleCompose(t *testing.T) *types.Project {
	t.Helper()
	project, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir: testproc.RepoRoot(t),
		ConfigFiles: []types.ConfigFile{
			{Filename: testproc.RepoPath(t, "docker-compose.yml")},
			{Filename: testproc.RepoPath(t, "docker-compose.scale.yml")},
		},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("otelstarter", true)
	})
	if err != nil {
		t.Fatalf("compose-go cannot load docker-compose.yml + docker-compose.scale.yml: %v", err)
	}
	return project
}

func replicas(svc types.ServiceConfig) int {
	if svc.Deploy != nil && svc.Deploy.Replicas != nil {
		return *svc.Deploy.Replicas
	}
	return 1
}

// configFlag is the file a collector service runs: its --config argument.
func configFlag(t *testing.T, svc types.ServiceConfig) string {
	t.Helper()
	for _, arg := range svc.Command {
		if path, ok := strings.CutPrefix(arg, "--config="); ok {
			return path
		}
	}
	t.Fatalf("%s: no --config= in command %v", svc.Name, svc.Command)
	return ""
}

// mountedSource is the repository file bind-mounted at target.
func mountedSource(t *testing.T, svc types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == target {
			rel, err := filepath.Rel(testproc.RepoRoot(t), v.Source)
			if err != nil {
				t.Fatal(err)
			}
			return filepath.ToSlash(rel)
		}
	}
	t.Fatalf("%s: nothing is mounted at %s", svc.Name, target)
	return ""
}

func TestScaleComposeTopology(t *testing.T) {
	project := loadScaleCompose(t)
	want := []string{"alertmanager", "app", "grafana", "loki", "mailpit", "otel-collector", "otel-sampler", "postgres", "prometheus", "pyroscope", "redis", "tempo", "tempo-init", "worker"}
	got := project.ServiceNames()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
	app := project.Services["app"]
	gateway := project.Services["otel-collector"]
	sampler := project.Services["otel-sampler"]

	if n := replicas(app); n != 2 {
		t.Errorf("app replicas = %d, want 2", n)
	}
	if n := replicas(sampler); n != 2 {
		t.Errorf("otel-sampler replicas = %d, want 2", n)
	}
	if n := replicas(gateway); n != 1 {
		t.Errorf("otel-collector (the gateway) replicas = %d, want 1: the app sends to it by name", n)
	}

	for name, wantFile := range map[string]string{"otel-collector": "collector/gateway.yaml", "otel-sampler": "collector/sampler.yaml"} {
		svc := project.Services[name]
		if src := mountedSource(t, svc, configFlag(t, svc)); src != wantFile {
			t.Errorf("%s runs %s, want %s", name, src, wantFile)
		}
	}
	// The gateway mounts its own config only: collector/config.yaml (the
	// single-host pipeline, tail sampling included) must not run in it.
	if len(gateway.Volumes) != 1 {
		t.Errorf("otel-collector mounts %d files, want only collector/gateway.yaml: %+v", len(gateway.Volumes), gateway.Volumes)
	}

	env := func(svc types.ServiceConfig, k string) string {
		v := svc.Environment[k]
		if v == nil {
			t.Errorf("%s does not set %s", svc.Name, k)
			return ""
		}
		return *v
	}
	if h := env(gateway, "OTELCOL_SAMPLER_HOSTNAME"); h != "otel-sampler" {
		t.Errorf("gateway OTELCOL_SAMPLER_HOSTNAME = %q, want the sampler service otel-sampler", h)
	}
	if p := env(gateway, "OTELCOL_SAMPLER_PORT"); p != "4317" {
		t.Errorf("gateway OTELCOL_SAMPLER_PORT = %q, want the sampler's OTLP/gRPC port 4317", p)
	}
	if _, ok := gateway.DependsOn["otel-sampler"]; !ok {
		t.Error("otel-collector (the gateway) does not depend on otel-sampler")
	}
	hostOf := func(endpoint string) string {
		if !strings.Contains(endpoint, "://") {
			endpoint = "grpc://" + endpoint
		}
		u, err := url.Parse(endpoint)
		if err != nil {
			t.Fatalf("endpoint %q: %v", endpoint, err)
		}
		return u.Hostname()
	}
	for k, svc := range map[string]string{"TEMPO_OTLP_ENDPOINT": "tempo", "LOKI_OTLP_ENDPOINT": "loki"} {
		if h := hostOf(env(sampler, k)); h != svc {
			t.Errorf("otel-sampler %s points at %q, want the %s service", k, h, svc)
		}
		if _, ok := sampler.DependsOn[svc]; !ok {
			t.Errorf("otel-sampler does not depend on %s", svc)
		}
	}
	if u := env(sampler, "LOKI_OTLP_ENDPOINT"); !strings.HasSuffix(u, ":3100/otlp") {
		t.Errorf("LOKI_OTLP_ENDPOINT = %q, want Loki's native OTLP path :3100/otlp", u)
	}

	// The sampler is the collector's twin: same image, hardening, limits,
	// healthcheck (none: the image is FROM scratch) and logging.
	if sampler.Image != gateway.Image {
		t.Errorf("otel-sampler image %s, otel-collector %s: keep one collector version", sampler.Image, gateway.Image)
	}
	_, tag, _ := strings.Cut(sampler.Image, ":")
	if b := readBuilder(t); b.Dist.Version != tag {
		t.Errorf("otel-sampler runs %s, collector/builder.yaml builds %s", tag, b.Dist.Version)
	}
	if !slices.Equal(sampler.SecurityOpt, gateway.SecurityOpt) || !slices.Equal(sampler.CapDrop, gateway.CapDrop) {
		t.Errorf("otel-sampler hardening %v %v, want the collector's %v %v", sampler.SecurityOpt, sampler.CapDrop, gateway.SecurityOpt, gateway.CapDrop)
	}
	if !reflect.DeepEqual(sampler.HealthCheck, gateway.HealthCheck) {
		t.Errorf("otel-sampler healthcheck %+v, want the collector's %+v", sampler.HealthCheck, gateway.HealthCheck)
	}
	if !reflect.DeepEqual(sampler.Logging, gateway.Logging) {
		t.Errorf("otel-sampler logging %+v, want the collector's %+v", sampler.Logging, gateway.Logging)
	}
	if sampler.MemLimit == 0 || sampler.Restart != gateway.Restart {
		t.Errorf("otel-sampler mem_limit %d restart %q, want a limit and the collector's restart policy %q", sampler.MemLimit, sampler.Restart, gateway.Restart)
	}

	for name, svc := range project.Services {
		for dep := range svc.DependsOn {
			if _, ok := project.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s: bind-mounted %s does not exist: %v", name, v.Source, err)
			}
			if !v.ReadOnly {
				t.Errorf("%s: bind mount %s should be read-only", name, v.Target)
			}
		}
	}
}

// TestScaleComposePorts: a service with N replicas publishes each port on a
// range of at least N host ports (one fixed port would make every replica
// but the first fail to start), and no two services share a host port.
func TestScaleComposePorts(t *testing.T) {
	project := loadScaleCompose(t)
	owner := map[int]string{}
	for name, svc := range project.Services {
		n := replicas(svc)
		for _, p := range svc.Ports {
			if p.Published == "" {
				t.Errorf("%s: port %d published on a random host port", name, p.Target)
				continue
			}
			if p.HostIP != "127.0.0.1" {
				t.Errorf("%s: port %s bound to %q, want 127.0.0.1 by default", name, p.Published, p.HostIP)
			}
			lo, hi := portRange(t, p.Published)
			if size := hi - lo + 1; size < n {
				t.Errorf("%s: %d replicas publish %d on host port(s) %s: fewer ports than replicas", name, n, p.Target, p.Published)
			}
			for port := lo; port <= hi; port++ {
				if other, dup := owner[port]; dup {
					t.Errorf("host port %d published by both %s and %s", port, other, name)
				}
				owner[port] = name
			}
		}
	}
	if owner[8080] != "app" || owner[8081] != "app" || owner[3000] != "grafana" {
		t.Errorf("host ports = %v, want app on 8080-8081 and grafana on 3000", owner)
	}
}

func portRange(t *testing.T, published string) (int, int) {
	t.Helper()
	a, b, isRange := strings.Cut(published, "-")
	lo, err := strconv.Atoi(a)
	if err != nil {
		t.Fatalf("published port %q: %v", published, err)
	}
	if !isRange {
		return lo, lo
	}
	hi, err := strconv.Atoi(b)
	if err != nil || hi < lo {
		t.Fatalf("published port range %q is not lo-hi", published)
	}
	return lo, hi
}

// TestScaleCollectorValidate runs `otelcol validate` on the gateway and the
// sampler config with the environment compose gives each service.
func TestScaleCollectorValidate(t *testing.T) {
	bin := testproc.Otelcol(t)
	project := loadScaleCompose(t)
	for _, name := range []string{"otel-collector", "otel-sampler"} {
		svc := project.Services[name]
		src := mountedSource(t, svc, configFlag(t, svc))
		var env []string
		for k, v := range svc.Environment {
			if v != nil {
				env = append(env, k+"="+*v)
			}
		}
		if out, err := otelcolValidate(t, bin, src, env); err != nil {
			t.Errorf("otelcol validate %s with %s's environment %v: %v\n%s", src, name, env, err, out)
		}
	}
}

// otelcolValidate runs `otelcol validate --config rel` from the repository
// root with env added to the test's environment.
func otelcolValidate(t *testing.T, bin, rel string, env []string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "validate", "--config", rel)
	cmd.Dir = testproc.RepoRoot(t)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
