# The observability stack on Kubernetes, from the official Helm charts at the
# versions pinned in deploy/kubernetes/charts.env, with the values files in
# deploy/kubernetes/values/, then the kit's own chart (deploy/kubernetes/chart).
# Included by the top-level Makefile (include make/*.mk).
#
# Uses the helm on the PATH; `make k8s-install HELM=bin/helm` uses the one
# make/k8s.mk builds. The current kube context is the target cluster.

include deploy/kubernetes/charts.env

K8S_HELM       = $(or $(HELM),helm)
K8S_NAMESPACE ?= observability
APP_NAMESPACE ?= blog
K8S_VALUES    := deploy/kubernetes/values
K8S_GENERATED := $(K8S_VALUES)/generated
# Your own kube-prometheus-stack values, applied last: where alerts go (the
# SMTP server, addresses, a webhook or Slack receiver; docs/stack.md, "Alerts").
# e.g. make k8s-install ALERTMANAGER_VALUES=my-alertmanager.yaml
ALERTMANAGER_VALUES ?=
# helm upgrade --install RELEASE CHART VERSION VALUES...: idempotent, waits
# until the release's pods are ready (so CRDs and Services exist for the next).
k8s_release = $(K8S_HELM) upgrade --install $(1) $(2) --version $(3) \
	--namespace $(K8S_NAMESPACE) --create-namespace --wait --timeout 10m \
	$(foreach f,$(4),-f $(f))

.PHONY: k8s-values k8s-repos k8s-install k8s-uninstall

##@ deploy
k8s-values: ## regenerate deploy/kubernetes/values/generated/ from collector/, prometheus/rules/, alertmanager/ and grafana/
	$(GO) run ./internal/cmd/k8svalues

k8s-repos: ## add (or update) the Helm repositories of the pinned official charts
	$(K8S_HELM) repo add --force-update $(OTEL_REPO_NAME) $(OTEL_REPO_URL)
	$(K8S_HELM) repo add --force-update $(PROMETHEUS_COMMUNITY_REPO_NAME) $(PROMETHEUS_COMMUNITY_REPO_URL)
	$(K8S_HELM) repo add --force-update $(GRAFANA_COMMUNITY_REPO_NAME) $(GRAFANA_COMMUNITY_REPO_URL)
	$(K8S_HELM) repo add --force-update $(GRAFANA_LABS_REPO_NAME) $(GRAFANA_LABS_REPO_URL)
	$(K8S_HELM) repo update $(OTEL_REPO_NAME) $(PROMETHEUS_COMMUNITY_REPO_NAME) $(GRAFANA_COMMUNITY_REPO_NAME) $(GRAFANA_LABS_REPO_NAME)

# Order: Prometheus first (its CRDs: the other releases create
# ServiceMonitors), then the backends, the sampler tier before the gateway
# that resolves it, the agents, Grafana, and the app last.
k8s-install: k8s-repos ## install the observability stack (pinned official charts) and the app chart into the current kube context
	@$(GO) run ./internal/cmd/k8svalues -check
	$(call k8s_release,kps,$(KUBE_PROMETHEUS_STACK_CHART),$(KUBE_PROMETHEUS_STACK_VERSION),$(K8S_VALUES)/prometheus.yaml $(K8S_GENERATED)/prometheus-rules.yaml $(K8S_GENERATED)/alertmanager.yaml $(ALERTMANAGER_VALUES))
	$(call k8s_release,loki,$(LOKI_CHART),$(LOKI_VERSION),$(K8S_VALUES)/loki.yaml)
	$(call k8s_release,tempo,$(TEMPO_CHART),$(TEMPO_VERSION),$(K8S_VALUES)/tempo.yaml)
	$(call k8s_release,pyroscope,$(PYROSCOPE_CHART),$(PYROSCOPE_VERSION),$(K8S_VALUES)/pyroscope.yaml)
	$(call k8s_release,otel-sampler,$(OTEL_COLLECTOR_CHART),$(OTEL_COLLECTOR_VERSION),$(K8S_VALUES)/otel-sampler.yaml $(K8S_GENERATED)/otel-sampler-config.yaml)
	$(call k8s_release,otel-gateway,$(OTEL_COLLECTOR_CHART),$(OTEL_COLLECTOR_VERSION),$(K8S_VALUES)/otel-gateway.yaml $(K8S_GENERATED)/otel-gateway-config.yaml)
	$(call k8s_release,otel-agent,$(OTEL_COLLECTOR_CHART),$(OTEL_COLLECTOR_VERSION),$(K8S_VALUES)/otel-agent.yaml)
	$(call k8s_release,grafana,$(GRAFANA_CHART),$(GRAFANA_VERSION),$(K8S_VALUES)/grafana.yaml $(K8S_GENERATED)/grafana-provisioning.yaml)
	$(K8S_HELM) upgrade --install blog-api deploy/kubernetes/chart \
		--namespace $(APP_NAMESPACE) --create-namespace --wait --timeout 10m \
		-f $(K8S_VALUES)/app.yaml
	@echo
	@echo "  Grafana:  kubectl -n $(K8S_NAMESPACE) port-forward svc/grafana 3000:80, then http://localhost:3000"
	@echo "  Password: kubectl -n $(K8S_NAMESPACE) get secret grafana -o jsonpath='{.data.admin-password}' | base64 -d"
	@echo

k8s-uninstall: ## remove the app and every stack release (PersistentVolumeClaims and the namespaces stay)
	-$(K8S_HELM) uninstall blog-api --namespace $(APP_NAMESPACE) --wait
	-$(K8S_HELM) uninstall grafana otel-agent otel-gateway otel-sampler pyroscope tempo loki kps --namespace $(K8S_NAMESPACE) --wait
