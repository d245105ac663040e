# What observability costs, measured (bench/README.md). Included by the
# top-level Makefile (include make/*.mk); recipes run from the repository root.
#   make bench  micro-benchmarks of telemetry/: bench/micro.txt, benchstat, and
#               the micro section of bench/RESULTS.md
#   make load   the real app under load, with PostgreSQL, Redis and bin/otelcol:
#               the load section of bench/RESULTS.md (~10 minutes); with
#               BASELINE=<git ref> also that revision's app CPU per request
#   make load-collector  the shipped gateway and sampler collectors under
#               telemetrygen: spans/s per core, RSS, the memory_limiter above
#               capacity; the tiers section of bench/RESULTS.md (~7 minutes)

GO               ?= go
BENCH_PATTERN    ?= BenchmarkMiddleware|BenchmarkLogRecord
BENCH_COUNT      ?= 6
# Goals of the micro section, against naive_full (the same signals through
# the same libraries, composed as the tutorials do): the middleware at most
# MICRO_GOAL_MIDDLEWARE× in ns/op with at most MICRO_GOAL_EXTRA_ALLOCS
# allocations more, a log record at most MICRO_GOAL_LOG× in ns/op.
MICRO_GOAL_MIDDLEWARE   ?= 1.15
MICRO_GOAL_EXTRA_ALLOCS ?= 6
MICRO_GOAL_LOG          ?= 1.20
# e.g. LOAD_FLAGS='-duration 3s -outage 20s -runs 1' for a quick look
LOAD_FLAGS       ?=
# e.g. LOAD_COLLECTOR_FLAGS='-step 3s -max 5000 -repeats 0 -overload 15s' for a smoke run
LOAD_COLLECTOR_FLAGS ?=
# A git revision (BASELINE=main, BASELINE=HEAD~3) whose app `make load` also
# builds and alternates with the working tree's, comparing CPU per request.
BASELINE         ?=

# benchstat as a go.mod tool when the module has it, else the released one.
BENCHSTAT ?= $(shell $(GO) tool -n benchstat >/dev/null 2>&1 && echo '$(GO) tool benchstat' || echo '$(GO) run golang.org/x/perf/cmd/benchstat@latest')

# bench/ is a directory: without .PHONY `make bench` would be "up to date".
.PHONY: bench load load-collector

##@ performance
bench: ## micro-benchmarks of telemetry/ (kit vs naive_full, naive, plain) into bench/RESULTS.md
	$(GO) test -run '^$$' -bench '$(BENCH_PATTERN)' -benchmem -count $(BENCH_COUNT) ./telemetry/ > bench/micro.txt
	@stat=$$(mktemp); trap 'rm -f "$$stat"' EXIT; \
		echo "$(BENCHSTAT) bench/micro.txt"; \
		$(BENCHSTAT) bench/micro.txt > "$$stat"; \
		$(GO) run ./bench/load micro -in bench/micro.txt -benchstat "$$stat" \
			-goal-middleware $(MICRO_GOAL_MIDDLEWARE) -goal-extra-allocs $(MICRO_GOAL_EXTRA_ALLOCS) -goal-log $(MICRO_GOAL_LOG)

load: bin/otelcol ## the real app under load, telemetry on vs off, collector outage, cold start, /metrics (needs PostgreSQL, Redis)
	$(GO) run ./bench/load $(LOAD_FLAGS) $(if $(BASELINE),-baseline '$(BASELINE)')
	HASH_FLOOD=1 $(GO) test -count=1 -run '^TestRegistrationFloodLeavesReadsFast$$' -v ./app/ | grep -E 'median|^(ok|FAIL|---)' 

load-collector: bin/otelcol bin/telemetrygen ## spans/s per core and RSS of the gateway and sampler collectors, the memory_limiter above capacity (telemetrygen)
	$(GO) run ./bench/load collector-tiers $(LOAD_COLLECTOR_FLAGS)
