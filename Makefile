# The commands a user types. `make help` lists them.
#   make run    the demo service on :8080 (SQLite, JSON logs; the UI when npm is available)
#   make test   every test: Go (unit + PostgreSQL/Redis integration), frontend, browser e2e, stack proofs

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
MODULE    := $(shell $(GO) list -m 2>/dev/null)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOTESTFLAGS ?= -race -count=1

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

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
	PPROF=$${PPROF:-true} exec bin/app

.PHONY: build
build: ## build bin/app
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/app ./app

# The suites, in order. A proof that needs a missing program or service is
# skipped outside CI (and fails with CI=true); each skip is written to
# SKIP_REPORT, and the run ends with that list, pass or fail.
TEST_SUITES := test-go test-copy test-rename test-frontend test-e2e test-stack test-k8s
SKIP_REPORT := $(CURDIR)/bin/skipped-proofs.txt

.PHONY: test
test: ## run every test (what CI runs), then list the proofs that were skipped and why
	@mkdir -p bin; : > $(SKIP_REPORT)
	@status=0; SKIP_REPORT=$(SKIP_REPORT) $(MAKE) --no-print-directory $(TEST_SUITES) || status=$$?; \
		if [ -s $(SKIP_REPORT) ]; then \
			echo; echo "make test: $$(wc -l < $(SKIP_REPORT)) proofs were SKIPPED, so NOT proven on this machine:"; \
			sed 's/^/  /' $(SKIP_REPORT); \
		else \
			echo; echo "make test: no proof was skipped"; \
		fi; \
		exit $$status

# bin/mailpit: the app's tests send the welcome email to a real Mailpit.
.PHONY: test-go
test-go: lint bin/mailpit ## Go tests: unit, API and PostgreSQL/Redis integration (with -race)
	$(GO) test $(GOTESTFLAGS) $$($(GO) list ./... | grep -vE '/internal/(stacktest|faulttest|leaktest)$$')

.PHONY: cover
cover: ## coverage of the telemetry package and the app
	$(GO) test -count=1 -coverprofile=coverage.out ./telemetry/... ./app/...
	$(GO) tool cover -func=coverage.out | tail -1

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	@for t in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' telemetry app | sed 's/func //'); do \
		pkg=$$(grep -rlE "^func $$t\(" --include='*_test.go' telemetry app | xargs dirname); \
		echo "fuzz $$t in ./$$pkg"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-20s} ./$$pkg; \
	done

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
clean: ## remove built files
	rm -rf bin coverage.out data/*.db frontend/dist

-include make/*.mk
