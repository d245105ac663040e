# SLOs as code: the SLO spec in prometheus/slo/ (sloth's prometheus/v1
# format) is the one place where the SLIs, objectives and burn-rate alerts
# are written; prometheus/rules/slo.yml is generated from it by sloth, and
# TestSLORulesUpToDate (internal/stacktest) fails when the two differ.
# Included by the top-level Makefile (-include make/*.mk).
#
# sloth is a Go tool pinned in its own module file, prometheus/slo/sloth.mod
# (with sloth.sum), not in go.mod: a go.mod tool is built at go.mod's
# versions, and sloth v0.16.0 does not compile against the
# prometheus/prometheus and client_golang versions go.mod pins for the stack.
# To upgrade it:
#   go get -modfile=prometheus/slo/sloth.mod -tool github.com/slok/sloth/cmd/sloth@vX.Y.Z

GO ?= go

SLOTH     = $(GO) tool -modfile=prometheus/slo/sloth.mod sloth
# Found by its folder, not its name: `make rename` rewrites "blog-api" in
# file contents, not in file names.
SLO_SPEC  = $(wildcard prometheus/slo/*.yml)
SLO_RULES = prometheus/rules/slo.yml

.PHONY: slo
##@ stack
slo: ## regenerate prometheus/rules/slo.yml from prometheus/slo/ with sloth
	@if [ "$(words $(SLO_SPEC))" != 1 ]; then echo "make slo: want one SLO spec in prometheus/slo/*.yml, found: $(SLO_SPEC)"; exit 1; fi
	$(SLOTH) generate --no-log -i $(SLO_SPEC) -o $(SLO_RULES)
