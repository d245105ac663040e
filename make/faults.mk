# Fault injection (issue 6): the real app binary against a collector that
# goes away or never answers, a PostgreSQL that stops, SIGTERM under load and
# slow clients. Included by the top-level Makefile (include make/*.mk); .ci/run
# runs it after `make test`. With CI=true a missing program (bin/otelcol,
# initdb/pg_ctl) fails the test; elsewhere it is skipped loudly.
# `go test ./...` skips these tests unless FAULT_TESTS=1: they take minutes.

GO             ?= go
FAULT_TEST_RUN ?= .

.PHONY: test-faults

##@ test
test-faults: bin/otelcol ## fault-injection tests against the real binary (collector down/hung, PostgreSQL down, SIGTERM, slow clients)
	FAULT_TESTS=1 $(GO) test -count=1 -timeout 5m -v -run '$(FAULT_TEST_RUN)' ./internal/faulttest/
