// Package otelopt holds the options the app's instrumented adapters
// (sqlstore, redisstore) share: which OpenTelemetry providers their client
// spans and metrics go to. The service leaves them unset, so the global
// providers that telemetry.Setup installed are used; tests pass their own.
package otelopt

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Providers are the providers an adapter instruments its client with.
type Providers struct {
	Tracer trace.TracerProvider
	Meter  metric.MeterProvider
}

// Option sets one of the [Providers].
type Option func(*Providers)

// New returns the global providers with opts applied.
func New(opts ...Option) Providers {
	p := Providers{Tracer: otel.GetTracerProvider(), Meter: otel.GetMeterProvider()}
	for _, o := range opts {
		o(&p)
	}
	return p
}

// WithTracerProvider sets the provider of the tracer that records the client
// spans; nil keeps the global one ([otel.GetTracerProvider]).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(p *Providers) {
		if tp != nil {
			p.Tracer = tp
		}
	}
}

// WithMeterProvider sets the provider of the meter that records the client
// metrics (call durations, pool statistics); nil keeps the global one
// ([otel.GetMeterProvider]).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(p *Providers) {
		if mp != nil {
			p.Meter = mp
		}
	}
}
