# The app's Helm chart (deploy/kubernetes/chart) and its proofs: helm lint,
# helm template, and the rendered manifests decoded strictly into k8s.io/api
# types by the Go tests of the nested module deploy/kubernetes/test (its own
# go.mod, so that k8s.io modules stay out of the kit's). Included by the
# top-level Makefile (include make/*.mk).
#
# Always bin/helm here, at HELM_VERSION; HELM itself is left to the user
# (make/k8s-install.mk runs $(HELM), default the helm on the PATH).

GO                ?= go
# renovate: datasource=go depName=helm.sh/helm/v4
HELM_VERSION      ?= v4.3.2
CHART_HELM        := $(CURDIR)/bin/helm
CHART_DIR         := deploy/kubernetes/chart
CHART_PROD_VALUES := $(CHART_DIR)/values-production.example.yaml

.PHONY: k8s-lint k8s-template test-k8s

# helm from source with the Go toolchain (no prebuilt download); a few
# minutes the first time. A file target: built once, again after `make clean`.
bin/helm:
	GOBIN=$(CURDIR)/bin GOFLAGS= $(GO) install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)

##@ deploy
# helm lint does not run the chart's `fail` checks (in lint mode they only
# log), so both value sets are rendered too.
k8s-lint: bin/helm ## helm lint --strict the chart (default values and the production example), then render both
	$(CHART_HELM) lint --strict $(CHART_DIR)
	$(CHART_HELM) lint --strict $(CHART_DIR) -f $(CHART_PROD_VALUES)
	$(CHART_HELM) template blog-api $(CHART_DIR) >/dev/null
	$(CHART_HELM) template blog-api $(CHART_DIR) -f $(CHART_PROD_VALUES) >/dev/null

k8s-template: bin/helm ## print the chart's manifests with the production example values
	@$(CHART_HELM) template blog-api $(CHART_DIR) -f $(CHART_PROD_VALUES) --api-versions monitoring.coreos.com/v1

##@ test
# With CI=true a missing helm fails the tests; elsewhere they skip and say so
# in SKIP_REPORT.
test-k8s: bin/helm ## prove the Kubernetes chart: helm lint/template, strict decode into k8s.io/api
	cd deploy/kubernetes/test && $(GO) vet ./... && HELM=$(CHART_HELM) $(GO) test -count=1 ./...
