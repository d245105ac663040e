package stacktest

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"example.com/otelstarter/internal/testproc"
)

// Loki and Tempo are AGPL and cannot run here, so their configs are checked
// against the documented configuration of the pinned versions (Loki 3.7,
// "Grafana Loki configuration parameters"; Tempo 3.0, "Configure Tempo",
// "Manifest", "Migrate from Tempo 2.x to 3.0" and "Version 3.0 release notes").
// A schema maps each allowed key to the schema of its value; nil accepts any
// value (a leaf, or a block this stack does not use). A "[]" key describes
// the elements of a list. An unknown key fails: Loki and Tempo refuse to
// start on one, and a typo would otherwise only show under docker compose.
type schema map[string]schema

func keys(names ...string) schema {
	s := schema{}
	for _, n := range names {
		s[n] = nil
	}
	return s
}

func (s schema) with(name string, sub schema) schema { s[name] = sub; return s }

var attributesConfig = schema{"[]": keys("action", "attributes", "regex")}

var lokiSchema = keys(
	"target", "auth_enabled", "ballast_bytes", "shutdown_delay", "use_buffered_logger", "use_sync_logger",
	"distributor", "querier", "query_scheduler", "frontend", "query_range", "ruler_storage",
	"ingester_client", "ingester", "block_builder", "block_scheduler", "pattern_ingester", "index_gateway",
	"bloom_build", "bloom_gateway", "storage_config", "chunk_store_config", "frontend_worker",
	"table_manager", "memberlist", "kafka_config", "dataobj", "runtime_config", "operational_config",
	"tracing", "profiling", "ui", "compactor_grpc_client", "limits_config", "compactor", "ruler", "analytics",
	"server", "common", "schema_config",
).
	with("server", keys("http_listen_network", "http_listen_address", "http_listen_port", "grpc_listen_network",
		"grpc_listen_address", "grpc_listen_port", "log_level", "log_format", "http_server_read_timeout",
		"http_server_write_timeout", "http_server_idle_timeout", "grpc_server_max_recv_msg_size",
		"grpc_server_max_send_msg_size", "register_instrumentation", "graceful_shutdown_timeout", "http_path_prefix")).
	with("common", keys("path_prefix", "replication_factor", "instance_addr", "instance_interface_names",
		"compactor_address", "compactor_grpc_address", "persist_tokens").
		with("ring", keys("kvstore", "heartbeat_period", "heartbeat_timeout", "instance_addr").
			with("kvstore", keys("store", "prefix", "consul", "etcd", "multi"))).
		with("storage", keys("s3", "gcs", "azure", "alibabacloud", "bos", "swift", "cos", "hedging", "congestion_control", "object_store").
			with("filesystem", keys("chunks_directory", "rules_directory")))).
	with("schema_config", schema{"configs": schema{"[]": keys("from", "store", "object_store", "schema", "chunks", "row_shards").
		with("index", keys("prefix", "period", "tags"))}}).
	with("limits_config", keys("ingestion_rate_strategy", "ingestion_rate_mb", "ingestion_burst_size_mb",
		"max_label_name_length", "max_label_value_length", "max_label_names_per_series", "reject_old_samples",
		"reject_old_samples_max_age", "creation_grace_period", "max_line_size", "max_line_size_truncate",
		"discover_service_name", "discover_log_levels", "log_level_fields", "use_owned_stream_count",
		"max_streams_per_user", "max_global_streams_per_user", "unordered_writes", "per_stream_rate_limit",
		"per_stream_rate_limit_burst", "max_query_length", "max_query_parallelism", "max_query_series",
		"max_query_lookback", "max_entries_limit_per_query", "max_cache_freshness_per_query", "split_queries_by_interval",
		"query_timeout", "volume_enabled", "volume_max_series", "retention_period", "retention_stream",
		"allow_structured_metadata", "max_structured_metadata_size", "max_structured_metadata_entries_count",
		"deletion_mode", "shard_streams", "pattern_persistence_enabled").
		with("otlp_config", keys("severity_text_as_label").
			with("resource_attributes", keys("ignore_defaults").with("attributes_config", attributesConfig)).
			with("scope_attributes", attributesConfig).
			with("log_attributes", attributesConfig))).
	with("compactor", keys("working_directory", "compaction_interval", "apply_retention_interval",
		"retention_enabled", "retention_delete_delay", "retention_delete_worker_count", "retention_table_timeout",
		"delete_request_store", "delete_request_store_key_prefix", "delete_batch_size", "delete_request_cancel_period",
		"delete_max_interval", "max_compaction_parallelism", "upload_parallelism", "compactor_ring")).
	with("ruler", keys("external_url", "alertmanager_url", "enable_alertmanager_v2", "enable_api", "rule_path",
		"storage", "ring", "evaluation_interval", "poll_interval", "wal", "remote_write")).
	with("analytics", keys("reporting_enabled", "usage_stats_url"))

// tempoSchema is the Tempo 3.0 key set: the 2.10 set less what 3.0 removed
// (ingester, ingester_client, compactor, metrics_generator_client, the
// opencensus receiver, the local_blocks processor and its traces_storage, the
// v2 encoding knobs) plus what 3.0 added (memory, span_profiling, the backend
// scheduler's and worker's compaction/retention blocks, legacy-overrides opt-in).
var compactionConfig = keys("block_retention", "compacted_block_retention", "compaction_window",
	"max_compaction_objects", "max_block_bytes", "retention_concurrency", "max_time_per_tenant", "compaction_cycle")

var tempoSchema = keys(
	"target", "http_api_prefix", "multitenancy_enabled", "stream_over_http_enabled", "shutdown_delay",
	"autocomplete_filtering_enabled", "enable_go_runtime_metrics", "memory", "span_profiling", "memberlist",
	"query_frontend", "querier", "cache", "ingest", "block_builder", "backend_scheduler", "backend_scheduler_client",
	"backend_worker", "live_store", "server", "distributor", "metrics_generator", "storage", "overrides", "usage_report",
).
	with("server", keys("http_listen_address", "http_listen_port", "grpc_listen_address", "grpc_listen_port",
		"log_level", "log_format", "graceful_shutdown_timeout", "http_server_read_timeout", "http_server_write_timeout",
		"grpc_server_max_recv_msg_size", "grpc_server_max_send_msg_size")).
	with("distributor", keys("ring", "log_received_spans", "log_discarded_spans", "metric_received_spans",
		"forwarders", "retry_after_on_resource_exhausted", "max_attribute_bytes", "usage").
		with("receivers", keys("jaeger", "zipkin", "kafka").
			with("otlp", schema{"protocols": schema{
				"grpc": keys("endpoint", "max_recv_msg_size_mib", "tls", "keepalive", "include_metadata"),
				"http": keys("endpoint", "cors", "tls", "include_metadata"),
			}}))).
	with("backend_scheduler", keys("maintenance_interval", "backend_flush_interval", "tenant_measurement_interval", "work").
		with("provider", keys().
			with("retention", keys("interval")).
			with("compaction", keys("measure_interval", "max_jobs_per_tenant", "min_input_blocks", "max_input_blocks",
				"min_cycle_interval").with("compaction", compactionConfig)))).
	with("backend_worker", keys("backend_scheduler_addr", "finish_on_shutdown_timeout", "backoff", "ring",
		"override_ring_key").with("compaction", compactionConfig)).
	with("metrics_generator", keys("ring", "metrics_ingestion_time_range_slack", "query_timeout", "override_ring_key",
		"codec", "assigned_partitions", "disable_grpc", "ingest_concurrency").
		with("registry", keys("collection_interval", "stale_duration", "max_label_name_length", "max_label_value_length",
			"external_labels", "inject_tenant_id_as")).
		with("storage", keys("path", "wal", "remote_write_flush_deadline", "remote_write_add_org_id_header").
			with("remote_write", schema{"[]": keys("url", "send_exemplars", "headers", "name", "remote_timeout",
				"basic_auth", "authorization", "tls_config", "queue_config", "metadata_config", "write_relabel_configs",
				"send_native_histograms", "protobuf_message")})).
		with("processor", keys("host_info").
			with("service_graphs", keys("wait", "max_items", "workers", "histogram_buckets", "dimensions",
				"enable_client_server_prefix", "enable_client_latency_histogram", "enable_server_latency_histogram",
				"enable_messaging_system_latency_histogram", "enable_virtual_node_label", "peer_attributes",
				"span_multiplier_key", "filter_policies")).
			with("span_metrics", keys("histogram_buckets", "intrinsic_dimensions", "dimensions", "dimension_mappings",
				"enable_target_info", "target_info_excluded_dimensions", "filter_policies", "span_multiplier_key", "enable_instance_label")))).
	with("storage", schema{"trace": keys("backend", "block", "search", "blocklist_poll", "blocklist_poll_concurrency",
		"blocklist_poll_fallback", "blocklist_poll_tenant_index_builders", "blocklist_poll_stale_tenant_index",
		"s3", "gcs", "azure", "cache", "pool", "background_cache").
		with("wal", keys("path", "search_encoding", "ingestion_time_range_slack", "version")).
		with("local", keys("path"))}).
	with("overrides", keys("per_tenant_override_config", "per_tenant_override_period", "user_configurable_overrides",
		"enable_legacy_overrides").
		with("defaults", keys("ingestion", "read", "compaction", "global", "storage", "forwarders", "cost_attribution").
			with("metrics_generator", keys("ring_size", "disable_collection", "collection_interval",
				"generate_native_histograms", "max_active_series", "ingestion_time_range_slack", "trace_id_label_name",
				"remote_write_headers", "forwarder", "processor", "span_name_sanitization").
				with("processors", nil)))).
	with("usage_report", keys("reporting_enabled"))

// checkSchema walks v and reports every key the schema does not allow.
func checkSchema(path string, v any, s schema) []string {
	if s == nil {
		return nil
	}
	var errs []string
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			next, ok := s[k]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: unknown key", path, k))
				continue
			}
			errs = append(errs, checkSchema(path+"."+k, sub, next)...)
		}
	case []any:
		elem, ok := s["[]"]
		if !ok {
			return []string{fmt.Sprintf("%s: a list is not allowed here", path)}
		}
		for i, e := range v {
			errs = append(errs, checkSchema(fmt.Sprintf("%s[%d]", path, i), e, elem)...)
		}
	default:
		if len(s) > 0 {
			errs = append(errs, fmt.Sprintf("%s: want a block, got %v", path, v))
		}
	}
	sort.Strings(errs)
	return errs
}

func readYAML(tb testing.TB, elem ...string) map[string]any {
	tb.Helper()
	raw, err := os.ReadFile(testproc.RepoPath(tb, elem...))
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		tb.Fatalf("%s: %v", strings.Join(elem, "/"), err)
	}
	return m
}

func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// pinned is a value a config must hold at path.
type pinned struct {
	path []string
	want any
}

// checkConfig reads dir/config.yaml, reports every key s does not allow and
// every pinned value it does not hold, and returns the config.
func checkConfig(t *testing.T, dir string, s schema, pins ...pinned) map[string]any {
	t.Helper()
	cfg := readYAML(t, dir, "config.yaml")
	for _, e := range checkSchema(dir, cfg, s) {
		t.Error(e)
	}
	for _, c := range pins {
		if got := dig(cfg, c.path...); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s %s = %v, want %v", dir, strings.Join(c.path, "."), got, c.want)
		}
	}
	return cfg
}

func TestLokiConfig(t *testing.T) {
	cfg := checkConfig(t, "loki", lokiSchema,
		pinned{[]string{"auth_enabled"}, false},
		pinned{[]string{"server", "http_listen_port"}, 3100},
		pinned{[]string{"limits_config", "allow_structured_metadata"}, true},
		pinned{[]string{"common", "storage", "filesystem", "chunks_directory"}, "/loki/chunks"},
		pinned{[]string{"compactor", "delete_request_store"}, "filesystem"}, // required with retention
	)
	schemas, _ := dig(cfg, "schema_config", "configs").([]any)
	if len(schemas) == 0 {
		t.Fatal("no schema_config.configs")
	}
	last := schemas[len(schemas)-1].(map[string]any)
	if last["schema"] != "v13" || last["store"] != "tsdb" || last["object_store"] != "filesystem" {
		t.Errorf("newest schema = %v; OTLP ingestion and structured metadata need schema v13 on tsdb", last)
	}
	// trace_id stays structured metadata: never an index label.
	for _, section := range []string{"log_attributes", "scope_attributes"} {
		list, _ := dig(cfg, "limits_config", "otlp_config", section).([]any)
		for _, a := range list {
			m := a.(map[string]any)
			if strings.Contains(fmt.Sprint(m["attributes"]), "trace_id") && m["action"] != "structured_metadata" {
				t.Errorf("%s: trace_id must be structured_metadata, got %v", section, m["action"])
			}
		}
	}
	for _, section := range []string{"log_attributes", "scope_attributes"} {
		list, _ := dig(cfg, "limits_config", "otlp_config", section).([]any)
		for _, a := range list {
			if act := a.(map[string]any)["action"]; act != "structured_metadata" && act != "drop" && act != "index_label" {
				t.Errorf("%s: unknown action %v", section, act)
			}
		}
	}
}

func TestTempoConfig(t *testing.T) {
	// Tempo 3.0 monolithic: no ingester/compactor (the schema rejects them),
	// retention on the backend scheduler and worker, no local-blocks.
	const retention = "${TEMPO_RETENTION:-72h}" // expanded with -config.expand-env=true
	cfg := checkConfig(t, "tempo", tempoSchema,
		pinned{[]string{"server", "http_listen_port"}, 3200},
		pinned{[]string{"distributor", "receivers", "otlp", "protocols", "grpc", "endpoint"}, "0.0.0.0:4317"},
		pinned{[]string{"distributor", "receivers", "otlp", "protocols", "http", "endpoint"}, "0.0.0.0:4318"},
		pinned{[]string{"storage", "trace", "backend"}, "local"},
		pinned{[]string{"storage", "trace", "wal", "path"}, "/var/tempo/wal"},
		pinned{[]string{"storage", "trace", "local", "path"}, "/var/tempo/blocks"},
		pinned{[]string{"metrics_generator", "storage", "path"}, "/var/tempo/generator/wal"},
		pinned{[]string{"backend_scheduler", "provider", "compaction", "compaction", "block_retention"}, retention},
		pinned{[]string{"backend_worker", "compaction", "block_retention"}, retention},
		pinned{[]string{"usage_report", "reporting_enabled"}, false},
	)
	// Every path Tempo writes must sit on the tempo-data volume.
	var walk func(string, any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				if s, ok := sub.(string); ok && k == "path" && !strings.HasPrefix(s, "/var/tempo/") {
					t.Errorf("%s.path = %s, want under /var/tempo/", at, s)
				}
				walk(at+"."+k, sub)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", at, i), e)
			}
		}
	}
	walk("tempo", cfg)
	rw, _ := dig(cfg, "metrics_generator", "storage", "remote_write").([]any)
	if len(rw) != 1 {
		t.Fatalf("metrics generator remote_write = %v, want one Prometheus endpoint", rw)
	}
	if w := rw[0].(map[string]any); w["url"] != "http://prometheus:9090/api/v1/write" || w["send_exemplars"] != true {
		t.Errorf("metrics generator remote_write = %v, want Prometheus's /api/v1/write with exemplars", w)
	}
	procs, _ := dig(cfg, "overrides", "defaults", "metrics_generator", "processors").([]any)
	enabled := map[string]bool{}
	for _, p := range procs {
		enabled[fmt.Sprint(p)] = true
	}
	for _, p := range []string{"service-graphs", "span-metrics"} {
		if !enabled[p] {
			t.Errorf("metrics generator processors %v lack %s", procs, p)
		}
	}
	if enabled["local-blocks"] {
		t.Error("local-blocks was removed in Tempo 3.0; the live-store serves TraceQL metrics")
	}
	for _, p := range []string{"service_graphs", "span_metrics"} {
		if dims := fmt.Sprint(dig(cfg, "metrics_generator", "processor", p, "dimensions")); !strings.Contains(dims, "http.route") {
			t.Errorf("%s dimensions %s lack http.route", p, dims)
		}
	}
}

func TestSchemaChecker(t *testing.T) {
	s := keys("a").with("b", keys("c")).with("l", schema{"[]": keys("x")})
	for _, c := range []struct {
		in   string
		errs int
	}{
		{"a: 1\nb: {c: 2}\nl: [{x: 1}]", 0},
		{"a: 1\nz: 2", 1},
		{"b: {d: 2}", 1},
		{"l: [{y: 1}]", 1},
		{"b: 3", 1},
	} {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(c.in), &m); err != nil {
			t.Fatal(err)
		}
		if got := checkSchema("root", m, s); len(got) != c.errs {
			t.Errorf("%q: %v, want %d errors", c.in, got, c.errs)
		}
	}
}
