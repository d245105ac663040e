package telemetry

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// Transport returns base instrumented for calls to other services; use it
// for every outbound HTTP client:
//
//	client := &http.Client{Transport: tel.Transport(nil), Timeout: 5 * time.Second}
//
// It is [otelhttp.NewTransport] with the providers and propagator of t:
// each request made with a context (http.NewRequestWithContext) gets a
// client span, child of the span in that context, and carries the trace
// context (traceparent, baggage) to the service it calls, so that service's
// spans join the same trace; the HTTP client metrics are recorded. Its spans
// are masked as every span is (url.full's credentials and secret query
// values). A nil base is [http.DefaultTransport].
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(t.TracerProvider),
		otelhttp.WithMeterProvider(t.MeterProvider),
		otelhttp.WithPropagators(t.Propagator),
	)
}
