// Package telemetry wires a Go HTTP service for observability in one call:
// OpenTelemetry traces, metrics and logs configured from the standard OTEL_*
// environment variables, a [log/slog] handler that writes JSON lines carrying
// trace_id and span_id and mirrors them to OpenTelemetry logs, redaction of
// secrets and personal data before any sink sees a record, an HTTP middleware
// that names spans and metrics after the route pattern and returns the trace
// ID as X-Request-Id, and Sentry error reporting linked to the active trace.
//
// The entry point is [Setup]. It returns a [*Telemetry] whose
// [Telemetry.Shutdown] flushes every provider; call it once when the program
// ends:
//
//	tel, err := telemetry.Setup(ctx, telemetry.WithServiceVersion(version))
//	if err != nil {
//		return err
//	}
//	defer tel.Shutdown(context.WithoutCancel(ctx))
//	handler := tel.Middleware(mux)
//
// Nothing here knows the service it runs in: without [WithServiceName] or
// OTEL_SERVICE_NAME the service is "unknown_service:" and the executable's
// name, as the specification says.
//
// # Environment
//
// Setup honours the variables of the OpenTelemetry specification:
// OTEL_SDK_DISABLED, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, OTEL_TRACES_EXPORTER,
// OTEL_LOGS_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_EXPORTER_OTLP_* and
// OTEL_BSP_* / OTEL_BLRP_*. Exporters are built by
// go.opentelemetry.io/contrib/exporters/autoexport, which also reports an
// unknown name (Setup returns its error as a [*ConfigError] naming the
// variable). The kit reads the OTEL_*_EXPORTER variables as the
// specification writes them, which autoexport alone does not: a
// comma-separated list ("otlp,console"), names in any case ("OTLP") with
// spaces around them. One difference from autoexport's defaults: when
// neither an exporter variable nor an OTLP endpoint is set, nothing is
// exported (instead of trying localhost:4318), so a service runs quietly on
// a laptop.
//
// Metrics are always served in the Prometheus format by
// [Telemetry.MetricsHandler]; OTEL_METRICS_EXPORTER=otlp (or console) adds a
// push exporter next to it.
//
// # HTTP
//
// [Telemetry.Middleware] is [otelhttp.NewHandler] configured with the
// providers of [Setup]: span names, http.route and the HTTP server metrics
// come from the Go 1.22 route pattern. The kit adds only a thin layer inside
// it: the trace ID as X-Request-Id, one access log line, panic recovery and
// Sentry. A view keeps the metrics' attributes bounded. Every span is masked
// as it ends, before any exporter or [WithSpanProcessor] processor sees it:
// client addresses, sensitive keys, and email, IP and token shapes in
// attribute values, exception events and the status description, whenever
// they were set. The exporters mask on their batch goroutine, off the
// request's. With OTEL_SDK_DISABLED=true nothing records, so Middleware
// leaves otelhttp out: requests still get their ID (the caller's trace ID
// when it sent a traceparent), the access line and recovery.
//
// Calls to other services go through [Telemetry.Transport]
// ([otelhttp.NewTransport] with the same providers): a client span under
// the caller's span, and the trace context sent on, so the called service's
// spans join the trace.
//
// # The route contract
//
// The route of a request is the pattern its router matched, which
// [http.ServeMux] sets on the request it serves ([http.Request.Pattern]).
// Put Middleware outermost, so that the span covers everything else, and:
//
//   - if the router is the handler Middleware wraps, that is all;
//   - if anything sits between them (middleware that passes on a copy of
//     the request, as every auth, tenant or locale middleware does;
//     [http.TimeoutHandler]; [http.StripPrefix]; a router built on
//     ServeMux with its own middleware stack), wrap the router with
//     [Router]: the router then works on a copy Middleware never sees, and
//     Router carries the pattern back through the request's context.
//
// A router that is not a ServeMux takes part by setting
// [http.Request.Pattern] on the request it dispatches, as ServeMux does.
// Requests no pattern matched get http.route "unmatched" on the span, the
// metrics and the access line; a handler that clears r.Pattern marks its
// request so. Without Router, a hidden router makes every request
// "unmatched"; the first such request that succeeds logs the warning
// "telemetry.route_unknown".
//
// # Logs
//
// [Telemetry.Logger] (also installed as the [slog.Default]) masks each
// record once, in a [RedactingHandler], and then writes it as a line with
// [slog.NewJSONHandler] (or [slog.NewTextHandler]), adding trace_id and
// span_id of the context's span, so the keys come in this order: time,
// level, msg, the attributes of [slog.Logger.With] given before any group,
// trace_id, span_id, then the record's attributes. With a logs exporter,
// [slog.NewMultiHandler] sends each record to the OpenTelemetry bridge too,
// which takes the trace from the context. Attributes whose key names a
// secret (password, token, authorization, cookie, email, client IP, …) are
// replaced by [Redacted], and string values shaped like an email address, an
// IP address or a bearer token are masked, wherever they occur. See
// [Redact]. The handler passes the standard library's conformance test,
// [testing/slogtest].
//
// # Profiles
//
// [WithProfiling] adds the fourth signal: when PYROSCOPE_SERVER_ADDRESS (or
// [ProfilingConfig].ServerAddress) is set, pyroscope-go pushes CPU,
// allocation, heap, goroutine, mutex and block profiles under the service's
// name, and the tracer provider is wrapped by otel-profiling-go: a sampled
// local root span carries pyroscope.profile.id, and the CPU samples taken
// while it runs carry its span ID as the span_id label. Unset, nothing
// starts.
//
// # The rest of the surface
//
// Beside [Setup], its options and the methods of [Telemetry], the package
// exports what a service needs for the sinks it adds itself: the redaction
// the kit applies everywhere ([Redact], [RedactString], [IsSensitiveKey],
// [NewRedactingHandler] in front of another [slog.Handler], and
// [ScrubEvent] as the BeforeSend of another Sentry client), the values its
// output holds ([Redacted], [MaxLogValueLen], [RequestIDHeader]), [Router]
// for the route contract and [ConfigError] for a bad variable. Everything
// else is unexported; tests reach it through export_test.go.
//
// # Only this package imports the SDK
//
// Application code uses the OpenTelemetry API only ([go.opentelemetry.io/otel],
// otel.Tracer, otel.Meter, slog.InfoContext). That keeps the SDK choice in one
// place; a test in the application enforces it.
package telemetry
