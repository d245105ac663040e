package telemetry

// Internal names the tests of package telemetry_test check.
var (
	HTTPServerView = httpServerView
	RouteOf        = routeOf
	ValidRequestID = validRequestID
)

const (
	ScopeName      = scopeName
	UnmatchedRoute = unmatchedRoute
)
