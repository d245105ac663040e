package stacktest

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v4"

	"example.com/otelstarter/internal/k8svalues"
	"example.com/otelstarter/internal/testproc"
)

// Pyroscope (AGPL) cannot run here either: pyroscope/config.yaml is checked
// against the documented configuration of the pinned version, Pyroscope 1.21
// with the v1 storage ("Pyroscope configuration parameters", the compactor's
// and the filesystem bucket's options, the image's example
// cmd/pyroscope/pyroscope.yaml), with the same checker as Loki's and Tempo's.
// Pyroscope refuses to start on an unknown key, as they do.

// pyroscopeImage is the image docker-compose.yml runs, without its tag.
const pyroscopeImage = "grafana/pyroscope"

// pyroscopeDataDir is the volume Pyroscope keeps everything on: the image's
// /data, owned by its user.
const pyroscopeDataDir = "/data"

var pyroscopeCompactor = keys("block_ranges", "block_sync_concurrency", "meta_sync_concurrency", "data_dir",
	"compaction_interval", "compaction_retries", "compaction_concurrency", "first_level_compaction_wait_period",
	"cleanup_interval", "cleanup_concurrency", "deletion_delay", "tenant_cleanup_delay", "max_compaction_time",
	"no_blocks_file_cleanup_enabled", "downsampler_enabled", "max_opening_blocks_concurrency", "enabled_tenants",
	"disabled_tenants", "sharding_ring", "compaction_jobs_order", "compaction_split_by")

var pyroscopeSchema = keys(
	"target", "api", "server", "distributor", "querier", "frontend", "frontend_worker", "limits", "query_scheduler",
	"ingester", "store_gateway", "memberlist", "pyroscopedb", "tracing", "runtime_config", "compactor", "storage",
	"self_profiling", "multitenancy_enabled", "analytics", "show_banner", "embedded_grafana",
).
	with("server", keys("http_listen_network", "http_listen_address", "http_listen_port", "grpc_listen_network",
		"grpc_listen_address", "grpc_listen_port", "log_level", "log_format", "graceful_shutdown_timeout",
		"http_server_read_timeout", "http_server_write_timeout", "http_server_idle_timeout",
		"grpc_server_max_recv_msg_size", "grpc_server_max_send_msg_size", "register_instrumentation", "http_path_prefix")).
	with("storage", keys("backend", "s3", "gcs", "azure", "swift", "cos", "storage_prefix").
		with("filesystem", keys("dir"))).
	with("pyroscopedb", keys("data_path", "max_block_duration", "row_group_target_size", "min_free_disk_gb",
		"min_disk_available_percentage", "enforcement_interval", "disable_enforcement")).
	with("compactor", pyroscopeCompactor).
	with("limits", keys("ingestion_rate_mb", "ingestion_burst_size_mb", "max_label_name_length",
		"max_label_value_length", "max_label_names_per_series", "max_sessions_per_series", "enforce_labels_order",
		"max_profile_size_bytes", "max_profile_stacktrace_samples", "max_profile_stacktrace_sample_labels",
		"max_profile_stacktrace_depth", "max_profile_symbol_value_length", "distributor_aggregation_window",
		"distributor_aggregation_period", "ingestion_tenant_shard_size", "max_local_series_per_tenant",
		"max_global_series_per_tenant", "max_query_lookback", "max_query_length", "max_query_parallelism",
		"query_analysis_enabled", "query_analysis_series_enabled", "max_flamegraph_nodes_default",
		"max_flamegraph_nodes_max", "store_gateway_tenant_shard_size", "split_queries_by_interval",
		"query_sanitize_on_merge", "compactor_blocks_retention_period", "compactor_split_and_merge_shards",
		"compactor_split_and_merge_stage_size", "compactor_split_groups", "compactor_tenant_shard_size",
		"compactor_partial_block_deletion_delay", "compactor_downsampler_enabled", "reject_older_than",
		"reject_newer_than", "ingestion_relabeling_rules")).
	with("self_profiling", keys("disable_push", "mutex_profile_fraction", "block_profile_rate", "use_k6_middleware")).
	with("analytics", keys("reporting_enabled"))

func TestPyroscopeConfig(t *testing.T) {
	// The retention bounds both what the compactor keeps and how far back a
	// query reaches (max_query_lookback defaults to 7 days): a longer
	// retention would otherwise keep profiles no query can read.
	const retention = "${PYROSCOPE_RETENTION:-7d}" // expanded with -config.expand-env=true
	cfg := checkConfig(t, "pyroscope", pyroscopeSchema,
		pinned{[]string{"server", "http_listen_port"}, pyroscopePort},
		// A bucket on the volume: the compactor applies the retention there.
		pinned{[]string{"storage", "backend"}, "filesystem"},
		pinned{[]string{"limits", "compactor_blocks_retention_period"}, retention},
		pinned{[]string{"limits", "max_query_lookback"}, retention},
		pinned{[]string{"self_profiling", "disable_push"}, true},
		pinned{[]string{"analytics", "reporting_enabled"}, false},
	)
	if _, err := model.ParseDuration(envDefault(t, retention)); err != nil {
		t.Errorf("retention default %s: %v (Pyroscope reads Prometheus-style durations)", retention, err)
	}
	// Every directory Pyroscope is told to write to is on the volume; the
	// root filesystem is read-only.
	var walk func(string, any)
	walk = func(at string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, sub := range m {
			if s, ok := sub.(string); ok && slices.Contains([]string{"dir", "data_dir", "data_path"}, k) &&
				!strings.HasPrefix(s, pyroscopeDataDir+"/") {
				t.Errorf("%s.%s = %s, want under %s/ (the pyroscope-data volume)", at, k, s, pyroscopeDataDir)
			}
			walk(at+"."+k, sub)
		}
	}
	walk("pyroscope", cfg)
	if dig(cfg, "compactor", "data_dir") == nil {
		t.Error("compactor.data_dir unset: its default ./data-compactor is on the read-only root filesystem")
	}
}

// pyroscopePort is Pyroscope's HTTP port, where profiles are pushed and
// queried.
const pyroscopePort = 4040

// envDefault returns the default of a ${VAR:-default} reference.
func envDefault(t *testing.T, ref string) string {
	t.Helper()
	m := regexp.MustCompile(`^\$\{[A-Z0-9_]+:-([^}]*)\}$`).FindStringSubmatch(ref)
	if m == nil {
		t.Fatalf("%q is not ${VAR:-default}", ref)
	}
	return m[1]
}

// TestComposePyroscope: the service runs the config above at the pinned
// version, its data on the volume, and the app and the worker push to the
// port the config listens on.
func TestComposePyroscope(t *testing.T) {
	project := loadCompose(t)
	svc := project.Services["pyroscope"]
	repo, tag, _ := strings.Cut(svc.Image, ":")
	if repo != pyroscopeImage || !strings.HasPrefix(tag, "1.21.") {
		t.Errorf("pyroscope image = %s, want %s:1.21.x, the version pyroscope/config.yaml is checked against", svc.Image, pyroscopeImage)
	}
	if src := mountedSource(t, svc, configFlagValue(t, svc.Command, "-config.file")); src != "pyroscope/config.yaml" {
		t.Errorf("pyroscope runs %s, want pyroscope/config.yaml", src)
	}
	if !slices.ContainsFunc(svc.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Target == pyroscopeDataDir && v.Source == "pyroscope-data"
	}) {
		t.Errorf("pyroscope volumes %+v: want the named volume pyroscope-data at %s", svc.Volumes, pyroscopeDataDir)
	}
	if svc.User != "10001:10001" {
		t.Errorf("pyroscope user %q, want the image's own 10001:10001, which owns %s", svc.User, pyroscopeDataDir)
	}
	if got := strings.Join(svc.HealthCheck.Test, " "); got != fmt.Sprintf("CMD /usr/bin/profilecli ready --url=http://127.0.0.1:%d", pyroscopePort) {
		t.Errorf("pyroscope healthcheck = %q, want the image's profilecli ready on port %d", got, pyroscopePort)
	}
	// The retention knob's default is the one .env.example documents.
	example, err := os.ReadFile(testproc.RepoPath(t, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	if got := deref(svc.Environment["PYROSCOPE_RETENTION"]); !strings.Contains(string(example), "\nPYROSCOPE_RETENTION="+got+"\n") {
		t.Errorf("pyroscope PYROSCOPE_RETENTION defaults to %q, which .env.example does not say", got)
	}

	want := fmt.Sprintf("http://pyroscope:%d", pyroscopePort)
	for _, name := range []string{"app", "worker"} {
		if got := deref(project.Services[name].Environment["PYROSCOPE_SERVER_ADDRESS"]); got != want {
			t.Errorf("%s PYROSCOPE_SERVER_ADDRESS = %q, want %s", name, got, want)
		}
		for _, k := range []string{"PYROSCOPE_BASIC_AUTH_USER", "PYROSCOPE_BASIC_AUTH_PASSWORD", "PYROSCOPE_TENANT_ID"} {
			if _, ok := project.Services[name].Environment[k]; ok {
				t.Errorf("%s sets %s: the stack's Pyroscope has no auth and one tenant", name, k)
			}
		}
	}
}

// configFlagValue returns the value of -name=value in a command.
func configFlagValue(t *testing.T, cmd []string, name string) string {
	t.Helper()
	for _, a := range cmd {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	t.Fatalf("command %v has no %s", cmd, name)
	return ""
}

// TestK8sPyroscope: the pyroscope release runs the image and the settings of
// the compose stack (pyroscope/config.yaml, in the chart's structuredConfig,
// with the retention written out), its Service is where Grafana and the app
// chart's pods go, and the chart installs no collector or MinIO of its own.
func TestK8sPyroscope(t *testing.T) {
	values := readYAMLMap(t, k8sValuesDir+"/pyroscope.yaml")
	if name := digString(values, "pyroscope", "fullnameOverride"); svcName(name) != k8svalues.PyroscopeService {
		t.Errorf("pyroscope.yaml pyroscope.fullnameOverride %q does not make the Service %s", name, k8svalues.PyroscopeService)
	}
	if p := digAny(values, "pyroscope", "service", "port"); p != nil && p != pyroscopePort {
		t.Errorf("pyroscope.yaml service port %v, want %d", p, pyroscopePort)
	}
	project := loadCompose(t)
	if _, tag, _ := strings.Cut(project.Services["pyroscope"].Image, ":"); digString(values, "pyroscope", "image", "tag") != tag {
		t.Errorf("pyroscope.yaml runs Pyroscope %s, docker-compose.yml %s", digString(values, "pyroscope", "image", "tag"), tag)
	}
	if digAny(values, "architecture", "storage", "v1") != true || digAny(values, "architecture", "storage", "v2") != false {
		t.Errorf("pyroscope.yaml architecture.storage = %v, want the v1 storage only, as in compose", digAny(values, "architecture", "storage"))
	}
	for _, sub := range []string{"alloy", "agent", "minio"} {
		if digAny(values, sub, "enabled") != false {
			t.Errorf("pyroscope.yaml: the chart's %s is not disabled", sub)
		}
	}
	if digAny(values, "pyroscope", "persistence", "enabled") != true {
		t.Error("pyroscope.yaml: persistence off; profiles and the bucket would live in an emptyDir")
	}

	// structuredConfig is pyroscope/config.yaml with ${VAR:-default} written
	// out, less the server block: the chart sets the port and the log level
	// by flags.
	raw, err := os.ReadFile(testproc.RepoPath(t, "pyroscope", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	expanded := regexp.MustCompile(`\$\{[A-Z0-9_]+:-([^}]*)\}`).ReplaceAll(raw, []byte("$1"))
	var want map[string]any
	if err := yaml.Unmarshal(expanded, &want); err != nil {
		t.Fatal(err)
	}
	delete(want, "server")
	got, _ := digAny(values, "pyroscope", "structuredConfig").(map[string]any)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pyroscope.yaml structuredConfig differs from pyroscope/config.yaml:\n got %v\nwant %v", got, want)
	}
	for _, e := range checkSchema("pyroscope.yaml structuredConfig", any(got), pyroscopeSchema) {
		t.Error(e)
	}

	// The app chart's pods push where Grafana reads.
	app := readYAMLMap(t, k8sValuesDir+"/app.yaml")
	if got := digString(app, "profiling", "serverAddress"); got != k8svalues.DatasourceURLs["pyroscope"] {
		t.Errorf("app.yaml profiling.serverAddress = %q, want the pyroscope Service %s", got, k8svalues.DatasourceURLs["pyroscope"])
	}
}

// svcName is the in-cluster DNS name of the Service name in the stack's namespace.
func svcName(name string) string { return name + "." + k8svalues.Namespace + ".svc.cluster.local" }
