# The local observability stack: docker compose, the collector the tests
# build, demo traffic, and the tests that prove the stack without Docker.
# Included by the top-level Makefile (include make/*.mk).

GO             ?= go
# renovate: datasource=go depName=go.opentelemetry.io/collector/cmd/builder
OCB_VERSION    ?= v0.161.0
OCB            ?= $(shell $(GO) env GOPATH)/bin/builder
# Compose v2 as the docker plugin, else the standalone docker-compose; empty
# when neither runs (compose-check then says so). Expanded only by the
# recipes that need it.
COMPOSE        ?= $(shell if docker compose version >/dev/null 2>&1; then echo docker compose; \
	elif docker-compose version >/dev/null 2>&1; then echo docker-compose; fi)
TRAFFIC_URL    ?= http://localhost:8080
TRAFFIC_FOR    ?= 2m
STACK_TEST_RUN ?= .

.PHONY: collector up down logs compose-check traffic test-stack lint-stack

##@ stack
collector: bin/otelcol ## build bin/otelcol from collector/builder.yaml (only when it changed)

$(OCB):
	GOFLAGS= $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

# ocb generates a Go module in bin/otelcol-build and compiles it there; the
# first build takes ~8 minutes on 2 cores, later ones reuse the Go build cache.
# A file target: CI builds it once, and again only when builder.yaml changes.
bin/otelcol: collector/builder.yaml | $(OCB)
	@mkdir -p bin
	GOFLAGS=-buildvcs=false $(OCB) --config collector/builder.yaml
	cp bin/otelcol-build/otelcol $@

# One line that says what is missing, instead of docker's own error for a
# compose subcommand it does not know ("unknown shorthand flag: 'd'").
compose-check: ## check that Docker Compose is installed (up, down and logs run it first)
	$(if $(COMPOSE),,$(error $(if $(shell command -v docker),docker is installed but Docker Compose is not: install the compose plugin (docker compose) or docker-compose,Docker Compose not found: install Docker with the compose plugin (https://docs.docker.com/compose/install/))))

# Prometheus and promtool at the version go.mod pins for the rule and query
# tests, which docker-compose.yml's image matches (a test checks). Without
# the service discoveries (remove_all_sd): the stack's configs use static
# targets only, and the build takes half the time.
PROMETHEUS_VERSION = $(shell $(GO) list -m -f '{{.Version}}' github.com/prometheus/prometheus)

bin/prometheus bin/promtool &: go.mod
	GOBIN=$(CURDIR)/bin GOFLAGS= $(GO) install -tags remove_all_sd \
		github.com/prometheus/prometheus/cmd/prometheus@$(PROMETHEUS_VERSION) \
		github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION)

# The OpenTelemetry load generator, from the collector-contrib release
# bin/otelcol is built from: the two-tier test and make load-collector drive
# the collectors with it.
# renovate: datasource=go depName=github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen
TELEMETRYGEN_VERSION = v0.161.0

bin/telemetrygen:
	GOBIN=$(CURDIR)/bin GOFLAGS= $(GO) install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$(TELEMETRYGEN_VERSION)

# Mailpit, the local SMTP server and inbox (docker-compose.yml runs its
# image at this version; a test checks): the app's integration tests send
# the welcome email to bin/mailpit and read it back through its API.
# renovate: datasource=go depName=github.com/axllent/mailpit
MAILPIT_VERSION = v1.33.1

bin/mailpit:
	GOBIN=$(CURDIR)/bin GOFLAGS= $(GO) install github.com/axllent/mailpit@$(MAILPIT_VERSION)

# Alertmanager and amtool, at the version of docker-compose.yml's
# prom/alertmanager image (a test checks both binaries and the image): the
# routing tests run bin/amtool, the live runs bin/alertmanager.
# To upgrade: change ALERTMANAGER_VERSION and the image tag, then
#   cd tools/alertmanager && go get -tool github.com/prometheus/alertmanager/cmd/alertmanager@<version> && go mod tidy
# renovate: datasource=go depName=github.com/prometheus/alertmanager
ALERTMANAGER_VERSION = v0.35.0
ALERTMANAGER_TOOLS   := tools/alertmanager
ALERTMANAGER_BUILD   := bin/alertmanager-build
# The release builds stamp their version with these flags (promu); without
# them --version and the build_info metric would say nothing.
ALERTMANAGER_LDFLAGS  = -X github.com/prometheus/common/version.Version=$(ALERTMANAGER_VERSION:v%=%)

bin/amtool:
	GOBIN=$(CURDIR)/bin GOFLAGS= $(GO) install -ldflags '$(ALERTMANAGER_LDFLAGS)' \
		github.com/prometheus/alertmanager/cmd/amtool@$(ALERTMANAGER_VERSION)

# `go install` cannot build alertmanager: its ui package embeds the built web
# UI (ui/app/dist), which the Go module does not ship ("pattern app/dist: no
# matching files found"). So: vendor the tools module (its go.sum pins every
# dependency) in a throwaway copy under bin/, put a placeholder file where
# the UI goes, and build from there. The API, routing, inhibition and
# notifiers are whole; only the web pages are missing (the image has them,
# and Grafana shows alerts and silences through its Alertmanager
# datasource). Nothing vendored is committed.
bin/alertmanager: $(ALERTMANAGER_TOOLS)/go.mod $(ALERTMANAGER_TOOLS)/go.sum
	@v=$$(cd $(ALERTMANAGER_TOOLS) && GOFLAGS= $(GO) list -m -f '{{.Version}}' github.com/prometheus/alertmanager); \
		if [ "$$v" != "$(ALERTMANAGER_VERSION)" ]; then \
			echo "$(ALERTMANAGER_TOOLS)/go.mod requires alertmanager $$v, ALERTMANAGER_VERSION is $(ALERTMANAGER_VERSION): upgrade both (make/stack.mk says how)"; exit 1; fi
	rm -rf $(ALERTMANAGER_BUILD)
	mkdir -p $(ALERTMANAGER_BUILD)
	cp $(ALERTMANAGER_TOOLS)/go.mod $(ALERTMANAGER_TOOLS)/go.sum $(ALERTMANAGER_BUILD)/
	@# -e: vendor despite the missing embed; any other gap fails the build below.
	cd $(ALERTMANAGER_BUILD) && { GOFLAGS=-buildvcs=false $(GO) mod vendor -e 2>vendor.log || { cat vendor.log >&2; exit 1; }; }; \
		grep -v 'pattern app/dist: no matching files found' vendor.log >&2 || true
	@# Something for the embed to hold. The ui package serves only the
	@# compressed pages of a real UI build, so / and /ui/ answer 404.
	dist=$(ALERTMANAGER_BUILD)/vendor/github.com/prometheus/alertmanager/ui/app/dist; \
		mkdir -p $$dist && echo 'No web UI: built by make bin/alertmanager from the Go module.' > $$dist/README.txt
	cd $(ALERTMANAGER_BUILD) && GOFLAGS=-buildvcs=false CGO_ENABLED=0 $(GO) build -mod=vendor -trimpath \
		-ldflags '$(ALERTMANAGER_LDFLAGS)' -o $(CURDIR)/bin/alertmanager github.com/prometheus/alertmanager/cmd/alertmanager

up: compose-check ## start the whole stack (docker compose) in the background and print the URLs
	$(COMPOSE) up -d --build
	@echo
	@echo "  Grafana     http://localhost:$${GRAFANA_PORT:-3000}  (admin / GF_SECURITY_ADMIN_PASSWORD from .env)"
	@echo "  Blog + API  http://localhost:$${APP_PORT:-8080}"
	@echo "  Mailpit     http://localhost:$${MAILPIT_PORT:-8025}  (the emails the app sent)"
	@echo "  Demo load   make traffic"
	@echo

down: compose-check ## stop the stack (data stays in the named volumes; `docker compose down -v` drops it)
	$(COMPOSE) down

logs: compose-check ## follow the logs of every stack service
	$(COMPOSE) logs -f --tail=100

traffic: ## send realistic demo traffic to the running app for TRAFFIC_FOR (2m)
	$(GO) run ./internal/cmd/traffic -url $(TRAFFIC_URL) -duration $(TRAFFIC_FOR)

##@ test
# Everything runs from Go tests in internal/stacktest: otelcol validate,
# promtool, compose-go, dashboards, and the end-to-end run of the real app,
# collector and Prometheus. With CI=true a missing program fails the test.
test-stack: bin/otelcol bin/prometheus bin/promtool bin/telemetrygen bin/mailpit bin/alertmanager bin/amtool ## prove the stack's configs with the real programs (bin/otelcol, bin/prometheus, bin/promtool, bin/telemetrygen, bin/mailpit, bin/alertmanager, bin/amtool, redis)
	$(GO) test -count=1 -run '$(STACK_TEST_RUN)' ./internal/stacktest/ ./internal/traffic/

lint-stack: bin/otelcol bin/promtool bin/amtool ## check the stack's config files without starting anything
	$(GO) test -short -count=1 ./internal/stacktest/

# The versions the stack runs live in one place, docker-compose.yml's image
# tags; the tests fail when a program they run (the collector built from
# collector/builder.yaml, Prometheus and promtool from go.mod's
# prometheus/prometheus module, Mailpit at MAILPIT_VERSION, Alertmanager and
# amtool at ALERTMANAGER_VERSION) is at another version than its image.
.PHONY: versions
##@ stack
versions: ## print every pinned version: the stack's images and the programs the tests run
	@echo "Images (docker-compose.yml):"
	@awk '/^services:/ {s=1; next} s && /^[^ #]/ {s=0} s && /^  [a-z0-9-]+:$$/ {svc=$$1; sub(":", "", svc)} s && /^    image:/ {printf "  %-16s %s\n", svc, $$2}' docker-compose.yml
	@echo "Tested with (must match the images):"
	@printf "  %-16s %s\n" "otelcol (ocb)" "$$(awk '/^dist:/ {d=1} d && /version:/ {print $$2; exit}' collector/builder.yaml)"
	@printf "  %-16s %s\n" "prometheus" "$$($(GO) list -m -f '{{.Version}}' github.com/prometheus/prometheus) (Go module v0.3MM.P = Prometheus 3.MM.P)"
	@printf "  %-16s %s\n" "mailpit" "$(MAILPIT_VERSION) (MAILPIT_VERSION, make bin/mailpit)"
	@printf "  %-16s %s\n" "alertmanager" "$(ALERTMANAGER_VERSION) (ALERTMANAGER_VERSION, make bin/alertmanager bin/amtool)"
	@echo "Go toolchain:   $$($(GO) env GOVERSION)"
