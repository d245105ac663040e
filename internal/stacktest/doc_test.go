// Package stacktest proves the local observability stack without Docker: each
// config that docker-compose.yml mounts is read by the real program (or the
// library) that reads it in production. Run it with `make test-stack`.
//
// Programs a test needs (bin/otelcol from `make collector`, promtool and
// prometheus from Debian's prometheus package, redis-server) are looked up on
// the PATH; when one is missing the test is skipped with a message naming what
// to install, or fails when CI=true.
package stacktest
