package redisstore

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// config is what the options of [Open] set.
type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
}

func newConfig(opts []Option) config {
	c := config{
		tracerProvider: otel.GetTracerProvider(),
		meterProvider:  otel.GetMeterProvider(),
	}
	for _, o := range opts {
		o.apply(&c)
	}
	return c
}

// Option configures [Open].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTracerProvider sets the provider of the tracer that records the Redis
// client spans. The default is the global provider ([otel.GetTracerProvider]);
// nil keeps the default.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tracerProvider = tp
		}
	})
}

// WithMeterProvider sets the provider of the meter that records the command
// durations and the connection pool metrics. The default is the global
// provider ([otel.GetMeterProvider]); nil keeps the default.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}
