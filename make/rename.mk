# Making the kit yours: `make rename` rewrites the module path and the
# names the stack shows (compose project, image, Grafana folder and
# provider, default service names of the API and the worker, Prometheus
# jobs, dashboards' default $service, SLO spec, the alerts' runbook links), and `make test-rename`
# proves a renamed copy still builds and passes its unit and stack tests. Included by the Makefile.

GO ?= go

# SERVICE defaults to the module path's last element: example.com/acme/shop
# gives the service, job, compose project and image name "shop".
SERVICE ?= $(notdir $(MODULE))

# The names the kit ships with. The worker's service name becomes
# SERVICE-worker.
KIT_SERVICE := blog-api
KIT_WORKER  := blog-worker
KIT_PROJECT := otelstarter
KIT_FOLDER  := Blog API
# The repository the alerts' runbook_url annotations point into
# (…/blob/main/docs/runbooks/). A module on GitHub gives its own
# (github.com/OWNER/REPO: the module path's first three elements); any other
# module gets github.com/example/SERVICE, a placeholder to replace by hand.
KIT_REPO    := github.com/example/$(KIT_PROJECT)

.PHONY: rename test-rename

##@ run
rename: ## rename the module and the service everywhere: make rename MODULE=example.com/you/svc [SERVICE=svc]
	@new="$(MODULE)"; old="$$($(GO) list -m)"; svc="$(SERVICE)"; \
		if [ -z "$$new" ] || [ "$$new" = "$$old" ]; then echo "usage: make rename MODULE=example.com/you/svc [SERVICE=svc] (now: $$old)"; exit 2; fi; \
		case "$$new" in *[!A-Za-z0-9._~/-]*) echo "rename: $$new is not a valid module path"; exit 2;; esac; \
		if ! printf '%s' "$$svc" | grep -qE '^[a-z][a-z0-9-]{0,62}$$'; then \
			echo "rename: service name \"$$svc\" must be lowercase letters, digits and dashes, starting with a letter (set SERVICE=)"; exit 2; fi; \
		$(GO) mod edit -module "$$new"; \
		case "$$new" in github.com/*/*) repo=$$(printf '%s' "$$new" | cut -d/ -f1-3);; *) repo="github.com/example/$$svc";; esac; \
		files() { git ls-files -z 2>/dev/null || find . -type f -not -path './frontend/node_modules/*' -not -path './.git/*' -not -path './bin/*' -print0; }; \
		files | grep -zvE '(^|/)(go\.sum|package-lock\.json)$$|\.(png|ico|woff2?)$$' \
			| xargs -0 -r grep -lZ -e "$$old" -e '$(KIT_SERVICE)' -e '$(KIT_WORKER)' -e '$(KIT_PROJECT)' -e '$(KIT_FOLDER)' 2>/dev/null \
			| xargs -0 -r sed -i -e "s#$(KIT_REPO)/#$$repo/#g" -e "s#$$old#$$new#g" -e "s#$(KIT_SERVICE)#$$svc#g" -e "s#$(KIT_WORKER)#$$svc-worker#g" -e "s#$(KIT_PROJECT)#$$svc#g" -e "s#$(KIT_FOLDER)#$$svc#g"; \
		echo "renamed: module $$old -> $$new; service, compose project, image and Grafana folder -> $$svc; worker -> $$svc-worker; runbook links -> https://$$repo/blob/main/docs/runbooks/"

##@ test
# The copy has the tracked files only, plus bin/otelcol, bin/prometheus, bin/promtool,
# bin/telemetrygen, bin/mailpit, bin/alertmanager and bin/amtool so that its stack tests
# run the real programs instead of skipping.
test-rename: bin/otelcol bin/prometheus bin/promtool bin/telemetrygen bin/mailpit bin/alertmanager bin/amtool ## prove a `make rename` copy builds and passes its unit and stack tests
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
		git ls-files -z | xargs -0 -I{} cp --parents {} "$$tmp"/ ; \
		mkdir -p "$$tmp"/bin && cp bin/otelcol bin/prometheus bin/promtool bin/telemetrygen bin/mailpit bin/alertmanager bin/amtool "$$tmp"/bin/; \
		$(MAKE) --no-print-directory -C "$$tmp" rename MODULE=example.org/acme/renamed-svc >/dev/null; \
		cd "$$tmp"; \
		test "$$($(GO) list -m)" = example.org/acme/renamed-svc; \
		! grep -rqF --exclude-dir=node_modules --exclude-dir=bin --exclude=go.sum -e '$(MODULE)' -e '$(KIT_SERVICE)' -e '$(KIT_WORKER)' -e '$(KIT_PROJECT)' . \
			|| { echo "rename left old names behind:"; grep -rnF --exclude-dir=node_modules --exclude-dir=bin --exclude=go.sum -e '$(MODULE)' -e '$(KIT_SERVICE)' -e '$(KIT_WORKER)' -e '$(KIT_PROJECT)' . | head; exit 1; }; \
		$(GO) build ./... && $(GO) vet ./...; \
		$(GO) test -count=1 ./telemetry/ ./app/internal/blog/ ./app/internal/config/ ./internal/stacktest/; \
		echo "rename: ok"
