# Security checks: fuzzing for a bounded time, the leak proof through a real
# collector, and the frontend's dependency audit. `make vuln` (govulncheck,
# top-level Makefile) is the Go side of the audit; it needs vuln.go.dev.
# Included by the top-level Makefile (include make/*.mk).

GO           ?= go
NPM          ?= npm
# A budget in executions, not seconds: with a duration, go1.26's fuzzing
# coordinator can report a bare "context deadline exceeded" failure at the
# deadline when a loaded machine slows its workers (go.dev/issue/75804,
# fixed in Go 1.27; seen in .ci/run on FuzzParse, no input written). A count
# has no deadline to race. 100000 executions take 5-25 s per target here.
FUZZTIME     ?= 100000x
# Workers per fuzz target; empty = Go's default (GOMAXPROCS).
FUZZPARALLEL ?=

# Every fuzz target, as package:Target. The list is explicit so that a
# renamed target fails the run instead of silently dropping out of it; a
# test (TestFuzzTargetsListed in internal/stacktest) fails when a Fuzz
# function is missing from it.
FUZZ_TARGETS := \
	./telemetry:FuzzRedactString \
	./telemetry:FuzzPrechecks \
	./telemetry:FuzzRequestIDAndTraceHeaders \
	./app/internal/tunnel:FuzzParse \
	./app/internal/httpapi:FuzzDecodePostInput

.PHONY: fuzz audit test-leak

##@ test
# One mechanism for both uses: CI keeps the default budget; a longer local
# search is `make fuzz FUZZTIME=10m` (or a count, 5000000x).
fuzz: ## run each fuzz target for FUZZTIME (default 100000 executions), one after the other
	@for pt in $(FUZZ_TARGETS); do \
		pkg=$${pt%%:*}; target=$${pt##*:}; \
		echo "== fuzz $$target in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $(if $(FUZZPARALLEL),-parallel $(FUZZPARALLEL)) $$pkg || exit 1; \
	done

# npm audit needs the registry's audit endpoint. When that is unreachable
# (offline, or a mirror that does not implement it) the check cannot run:
# say so, and fail only in CI.
audit: ## npm audit of the frontend's production dependencies (high and critical)
	@out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	if (cd frontend && $(NPM) audit --omit=dev --audit-level=high) >"$$out" 2>&1; then \
		cat "$$out"; \
	elif grep -qiE 'audit endpoint returned an error|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|network request|Method Not Allowed' "$$out"; then \
		cat "$$out"; \
		if [ "$${CI:-}" = true ]; then echo "audit: FAILED: the npm audit endpoint is unreachable (CI=true)"; exit 1; fi; \
		echo "audit: SKIPPED: the npm registry's audit endpoint is unreachable from here; the frontend's dependencies were NOT audited"; \
	else \
		cat "$$out"; exit 1; \
	fi

test-leak: bin/otelcol bin/mailpit ## the leak proof: the real app through the shipped collector; no secret in any sink
	$(GO) test -count=1 -v ./internal/leaktest/
