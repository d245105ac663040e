package telemetry

// HTTPServerView is the view of the HTTP server metrics, for the benchmarks
// of package telemetry_test.
var HTTPServerView = httpServerView
