// Package leaktest proves that no secret a user sends (email, password,
// token, client IP, cookie) leaves the service through any sink: the real
// app binary sends traces, logs and metrics over OTLP to the shipped
// collector/config.yaml, whose exports go to a second collector writing
// files and to a fake Prometheus remote-write endpoint; Sentry events go to
// a fake Sentry. The test then searches everything that came out.
//
// It needs bin/otelcol (`make collector`, or OTELCOL_BIN): without it the
// test is skipped loudly, or fails when CI=true. Run it with
// `make test-leak` or `go test -v ./internal/leaktest/`.
package leaktest
