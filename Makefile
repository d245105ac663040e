# The commands a user types. `make help` lists them by area.
#   make run        the demo service on :8080 (SQLite, JSON logs; the UI when npm is available)
#   make test       the everyday loop: lint, Go tests that need no built program, the copied
#                   telemetry/, the frontend's lint, types and unit tests (under 2 minutes warm)
#   make test-all   what CI runs: `make test`, then every proof that builds or drives a real program

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
MODULE    := $(shell $(GO) list -m 2>/dev/null)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOTESTFLAGS ?= -race -count=1

# `make help` prints each `target: ## text` under the `##@ area` line above
# it (areas may recur across make/*.mk), areas in HELP_AREAS order.
HELP_AREAS := run test stack deploy performance other

.PHONY: help
##@ run
help: ## list the targets by area
	@awk -v order="$(HELP_AREAS)" ' \
		FNR == 1 { area = "other" } \
		/^##@ / { area = $$2; next } \
		/^[a-zA-Z0-9_\/.-]+:.*## / { \
			split($$0, parts, /:.*## /); \
			lines[area] = lines[area] sprintf("  %-20s %s\n", parts[1], parts[2]); next } \
		END { n = split(order, areas, " "); \
			for (i = 1; i <= n; i++) if (areas[i] in lines) { printf "%s:\n%s", areas[i], lines[areas[i]]; delete lines[areas[i]] } \
			for (a in lines) printf "%s:\n%s", a, lines[a] }' $(MAKEFILE_LIST)

##@ run
.PHONY: run
run: ## run the demo service on :8080 (builds the frontend first when npm is available)
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory frontend; \
	else \
		echo "make run: npm not found, serving the API only (install Node.js 20+ and npm to get the UI at /)"; \
	fi
	@$(MAKE) --no-print-directory build
	@# exec: the app replaces the shell, so a signal to make (SIGTERM, Ctrl-C)
	@# reaches the app itself; `go run` would leave its child running.
	PPROF=$${PPROF:-true} SHUTDOWN_DRAIN_DELAY=$${SHUTDOWN_DRAIN_DELAY:-0} exec bin/app

.PHONY: build
build: ## build bin/app
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/app ./app

##@ test
# Two tiers. TEST_SUITES is the everyday loop: `go test -short` skips each
# test that builds or drives a real program (the app binary, Mailpit, a
# collector), and the packages that only hold such proofs are left out.
# SLOW_SUITES is everything else CI runs; test-go-full runs again, without
# -short, the packages that skipped tests under it. A proof that needs a
# missing program or service is skipped outside CI (and fails with
# CI=true); each skip is written to SKIP_REPORT, and the run ends with that
# list, pass or fail.
TEST_SUITES := lint test-go test-copy test-frontend
SLOW_SUITES := test-go-full test-frontend-build test-e2e test-stack test-rename test-k8s test-faults test-leak fuzz
SKIP_REPORT := $(CURDIR)/bin/skipped-proofs.txt

# run_suites runs the make targets $(1) under the name $(2), then lists the
# proofs that were skipped; it fails if a suite failed.
define run_suites
	@mkdir -p bin; : > $(SKIP_REPORT)
	@status=0; SKIP_REPORT=$(SKIP_REPORT) $(MAKE) --no-print-directory $(1) || status=$$?; \
		if [ -s $(SKIP_REPORT) ]; then \
			echo; echo "make $(2): $$(wc -l < $(SKIP_REPORT)) proofs were SKIPPED, so NOT proven on this machine:"; \
			sed 's/^/  /' $(SKIP_REPORT); \
		else \
			echo; echo "make $(2): no proof was skipped"; \
		fi; \
		exit $$status
endef

.PHONY: test test-slow test-all
test: ## the everyday loop: lint, Go tests (-short, -race; PostgreSQL and Redis), test-copy, frontend unit tests
	$(call run_suites,$(TEST_SUITES),test)

test-slow: ## every proof that builds or drives a real program: e2e, stack, two tiers, rename, k8s, faults, leak, fuzz
	$(call run_suites,$(SLOW_SUITES),test-slow)

test-all: ## what CI runs: make test, then make test-slow
	$(call run_suites,$(TEST_SUITES) $(SLOW_SUITES),test-all)

# The packages that hold only proofs of real programs have their own suites.
PROGRAM_TEST_PKGS := /internal/(stacktest|faulttest|leaktest)$$

.PHONY: test-go test-go-full
test-go: ## Go tests with -short: unit, API, PostgreSQL/Redis integration (with -race)
	$(GO) test -short $(GOTESTFLAGS) $$($(GO) list ./... | grep -vE '$(PROGRAM_TEST_PKGS)')

# The packages with a test that -short skips: those that check
# testing.Short() or start a program through testproc.
test-go-full: bin/mailpit ## the Go tests that test-go skips (-short), run in full
	@pkgs=$$(grep -rlE 'testing\.Short\(\)|testproc\.(Start|Otelcol|BuildApp)' --include='*_test.go' app telemetry internal \
		| xargs -r -n1 dirname | sort -u | sed 's#^#./#' | grep -vE '$(PROGRAM_TEST_PKGS)' || true); \
		pkgs=$$(echo $$pkgs); echo "$(GO) test $(GOTESTFLAGS) $$pkgs"; \
		[ -z "$$pkgs" ] || $(GO) test $(GOTESTFLAGS) $$pkgs

.PHONY: cover
cover: ## coverage of the telemetry package and the app
	$(GO) test -count=1 -coverprofile=coverage.out ./telemetry/... ./app/...
	$(GO) tool cover -func=coverage.out | tail -1

# The linters and their rules live in .golangci.yml (gofmt, go vet,
# staticcheck, sloglint, depguard, errcheck, ineffassign, unused);
# actionlint checks .github/workflows. Each is a Go tool in a module of its
# own under tools/, so neither enters the go.mod a team copies (and
# actionlint's YAML library conflicts with golangci-lint's). `go tool` caches
# the built binaries: the first run builds them (minutes), later ones start
# at once.
GOLANGCI_LINT := $(GO) tool -modfile=tools/lint/go.mod golangci-lint
ACTIONLINT    := $(GO) tool -modfile=tools/actionlint/go.mod actionlint

.PHONY: lint
lint: ## golangci-lint (.golangci.yml: gofmt, vet, staticcheck, sloglint, depguard, ...) and actionlint
	$(GOLANGCI_LINT) fmt --diff
	$(GOLANGCI_LINT) run ./...
	$(ACTIONLINT)

.PHONY: vuln
vuln: ## govulncheck (needs the vulnerability database to be reachable)
	$(GO) tool govulncheck ./...

# What a user does who takes only telemetry/: a fresh module with nothing
# but the package, its import path rewritten, tidied, vetted and tested.
# The kit's go.mod seeds the new one, so the copy is tested at the versions
# the kit pins (tidy drops every module telemetry/ does not need).
COPY_MODULE := example.org/copied/svc

.PHONY: test-copy
test-copy: ## prove telemetry/ builds and passes its tests alone, copied into a fresh module
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
		cp -r telemetry "$$tmp"/; \
		sed -e '/^tool (/,/^)/d' -e '/^tool /d' go.mod > "$$tmp"/go.mod; cp go.sum "$$tmp"/; \
		cd "$$tmp"; \
		$(GO) mod edit -module $(COPY_MODULE); \
		grep -rlF --null '$(MODULE)/' telemetry | xargs -0 -r sed -i 's#$(MODULE)/#$(COPY_MODULE)/#g'; \
		$(GO) mod tidy; \
		$(GO) vet ./... && $(GO) test -count=1 ./...; \
		echo "test-copy: ok; a copy of telemetry/ requires:"; \
		$(GO) list -m -f '{{if not .Indirect}}{{if not .Main}}  {{.Path}} {{.Version}}{{end}}{{end}}' all

.PHONY: clean
##@ run
clean: ## remove built files
	rm -rf bin coverage.out data/*.db frontend/dist

-include make/*.mk
