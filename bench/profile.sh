#!/usr/bin/env bash
# bench/profile.sh: where the app's CPU goes under load, by package.
#
#   bench/profile.sh [BASELINE_REF]
#
# Builds the app of the working tree (and of BASELINE_REF, if given, in a
# temporary git worktree), seeds a fresh PostgreSQL database through the API,
# and for each binary and each route (GET /api/posts/{id}, a Redis cache hit;
# GET /api/posts, PostgreSQL) runs wrk for WRK_SECONDS (15) while taking a
# CPU profile of 10 s from the admin listener. Variants (VARIANTS, default
# "on off prof"): on, telemetry exporting to bin/otelcol (which discards);
# off, OTEL_SDK_DISABLED=true; prof, on plus continuous profiling
# (PYROSCOPE_SERVER_ADDRESS) pushed to the collector's HTTP port, which
# answers 404: the profiles are collected, compressed and uploaded, only
# Pyroscope's ingestion is missing. Each
# (binary, route, variant) runs RUNS times (2), alternated, the app restarted
# every run; the best run's figures and profile are kept in bench/profiles/
# (ignored by git). Then it prints, per run, req/s and p99 from wrk, the
# app's CPU per request from /proc, and the profile's flat time by package
# group (SDK traces, metrics, logs, exporters, otelhttp, GC, …).
#
# Needs wrk (Debian: apt-get install wrk), PostgreSQL on TEST_POSTGRES_URL
# and Redis on TEST_REDIS_URL (as the tests), bin/otelcol (make collector).
set -euo pipefail
cd "$(dirname "$0")/.."

BASELINE=${1:-}
RUNS=${RUNS:-2}
VARIANTS=${VARIANTS:-on off prof}
WRK_SECONDS=${WRK_SECONDS:-15}
PG=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
REDIS=${TEST_REDIS_URL:-redis://127.0.0.1:6379}/12
OUT=bench/profiles
APP_PORT=18480 ADMIN_PORT=18481 OTLP_PORT=18482

command -v wrk >/dev/null || { echo "profile: wrk not found (apt-get install wrk)" >&2; exit 1; }
[ -x bin/otelcol ] || { echo "profile: bin/otelcol missing (make collector)" >&2; exit 1; }
mkdir -p "$OUT"
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "$BASELINE" ] && [ -d "$tmp/base" ]; then git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; fi
	psql "$PG" -qc "DROP DATABASE IF EXISTS bench_profile WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== building"
CGO_ENABLED=0 go build -o "$tmp/app-tree" ./app
bins=(tree)
if [ -n "$BASELINE" ]; then
	git worktree add --detach -q "$tmp/base" "$BASELINE"
	(cd "$tmp/base" && CGO_ENABLED=0 go build -o "$tmp/app-base" ./app)
	bins+=(base)
fi

cat > "$tmp/otelcol.yaml" <<EOF
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$OTLP_PORT
exporters:
  file/discard:
    path: /dev/null
service:
  telemetry:
    logs:
      level: warn
  pipelines:
    traces: {receivers: [otlp], exporters: [file/discard]}
    logs: {receivers: [otlp], exporters: [file/discard]}
EOF
bin/otelcol --config "$tmp/otelcol.yaml" >"$tmp/otelcol.log" 2>&1 &
pids+=($!)

psql "$PG" -qc "DROP DATABASE IF EXISTS bench_profile WITH (FORCE)" >/dev/null
psql "$PG" -qc "CREATE DATABASE bench_profile" >/dev/null
DB=${PG/\/postgres\?/\/bench_profile?}
redis-cli -u "$REDIS" flushdb >/dev/null

start_app() { # start_app BIN VARIANT
	local env=(HTTP_ADDR=127.0.0.1:$APP_PORT ADMIN_ADDR=127.0.0.1:$ADMIN_PORT DATABASE_URL=$DB REDIS_URL=$REDIS
		LOG_LEVEL=info FRONTEND_DIR=$tmp/none BCRYPT_COST=4 PPROF=true
		OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$OTLP_PORT OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)
	[ "$2" = off ] && env+=(OTEL_SDK_DISABLED=true)
	[ "$2" = prof ] && env+=(PYROSCOPE_SERVER_ADDRESS=http://127.0.0.1:$OTLP_PORT)
	env "${env[@]}" "$tmp/app-$1" >"$tmp/app.log" 2>&1 &
	app_pid=$!
	pids+=("$app_pid")
	for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$APP_PORT/readyz" >/dev/null && return; sleep 0.1; done
	echo "profile: the app did not become ready:" >&2; tail -5 "$tmp/app.log" >&2; exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "== seeding"
start_app tree on
curl -sf -o /dev/null -H 'Content-Type: application/json' -d '{"email":"bench@example.com","password":"bench-password-1"}' "http://127.0.0.1:$APP_PORT/api/users"
token=$(curl -sf -H 'Content-Type: application/json' -d '{"email":"bench@example.com","password":"bench-password-1"}' "http://127.0.0.1:$APP_PORT/api/login" | sed 's/.*"token":"\([^"]*\)".*/\1/')
for i in $(seq 1 30); do
	curl -sf -o /dev/null -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
		-d "{\"title\":\"Post $i\",\"body\":\"Body of post $i, long enough to be a post.\"}" "http://127.0.0.1:$APP_PORT/api/posts"
done
kill "$app_pid"; wait "$app_pid" 2>/dev/null || true

routes=("/api/posts/1" "/api/posts")
hz=$(getconf CLK_TCK)
printf '\n%-6s %-14s %-4s %-3s %9s %9s %12s\n' binary route tel run req/s p99 "CPU/request"
for route in "${routes[@]}"; do
	for run in $(seq 1 "$RUNS"); do
		for bin in "${bins[@]}"; do
			for variant in $VARIANTS; do
				start_app "$bin" "$variant"
				wrk -t2 -c8 -d2s --latency "http://127.0.0.1:$APP_PORT$route" >/dev/null # warm-up, fills the cache
				name="$bin-$(echo "$route" | tr -c 'a-z0-9\n' '_')-$variant-$run"
				c0=$(cpu_ticks "$app_pid")
				curl -sf -o "$OUT/$name.pprof" "http://127.0.0.1:$ADMIN_PORT/debug/pprof/profile?seconds=10" &
				prof=$!
				wrk -t2 -c8 -d"${WRK_SECONDS}s" --latency "http://127.0.0.1:$APP_PORT$route" >"$OUT/$name.wrk"
				c1=$(cpu_ticks "$app_pid")
				wait "$prof" || true
				kill "$app_pid"; wait "$app_pid" 2>/dev/null || true
				reqs=$(awk '/requests in/ {print $1}' "$OUT/$name.wrk")
				rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/$name.wrk")
				p99=$(awk '$1 == "99%" {print $2}' "$OUT/$name.wrk")
				cpu=$(awk -v t=$((c1 - c0)) -v n="$reqs" -v hz="$hz" 'BEGIN {printf "%.0f µs", 1e6 * t / hz / n}')
				printf '%-6s %-14s %-4s %-3s %9s %9s %12s\n' "$bin" "$route" "$variant" "$run" "$rps" "$p99" "$cpu"
			done
		done
	done
done

# The share of CPU samples whose stack passes through each group of
# packages (pprof -focus), without the samples below the frames of the
# third field (pprof -ignore: the app's handlers under otelhttp, the
# drivers under otelsql and redisotel), from the profile of each (binary,
# route, variant)'s last run. Groups overlap: the SDK spans started by
# otelhttp count under both, say. "GC" is the collector's background work.
groups=(
	"SDK spans (start, attributes, end);go.opentelemetry.io/otel/sdk/trace\.\(\*(tracer|recordingSpan)\);"
	"span and log export (batchers, OTLP);batchSpanProcessor|sdk/log\.\(\*BatchProcessor|exporters/otlp;"
	"metrics (SDK, Prometheus);otel/sdk/metric|exporters/prometheus|client_golang;"
	"logs (slog, redaction, bridge);log/slog|bridges/otelslog|telemetry\.(Redact|redact|IsSensitive);"
	"HTTP layer: otelhttp and the kit's;otelhttp|httpsnoop|telemetry\.\(\*Telemetry\)\.serve;net/http\.\(\*ServeMux\)"
	"SQL and Redis layer: otelsql, redisotel;XSAM/otelsql|redisotel;jackc/pgx|jackc/pgconn|modernc|go-redis/v9\.\(\*baseClient\)"
	"GC (background);runtime\.gcBgMarkWorker;"
)
share() { # share PROFILE FOCUS IGNORE
	go tool pprof -top -nodecount=1000000 -nodefraction=0 -focus="$2" ${3:+-ignore="$3"} "$1" 2>/dev/null |
		awk '/Showing nodes accounting for/ { for (i = 1; i <= NF; i++) if ($i ~ /%$/) { print $i; exit } }'
}
echo
for f in "$OUT"/*-"$RUNS".pprof; do
	echo "$(basename "$f" .pprof): share of CPU samples"
	for g in "${groups[@]}"; do
		IFS=';' read -r label focus ignore <<<"$g"
		printf '  %-42s %7s\n' "$label" "$(share "$f" "$focus" "$ignore")"
	done
done
