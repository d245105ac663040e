package feed_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/app/internal/feed"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// wireBus connects hubs as Redis pub/sub does: every message, as JSON, to
// every subscriber, the publisher included.
type wireBus struct {
	mu   sync.Mutex
	subs []func(context.Context, feed.Message)
}

func (b *wireBus) Destination() (system, name string) { return "fake", "posts" }

func (b *wireBus) Publish(_ context.Context, m feed.Message) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	b.mu.Lock()
	subs := slices.Clone(b.subs)
	b.mu.Unlock()
	for _, fn := range subs {
		var got feed.Message
		if err := json.Unmarshal(raw, &got); err != nil {
			return err
		}
		fn(context.Background(), got)
	}
	return nil
}

func (b *wireBus) Subscribe(ctx context.Context, fn func(context.Context, feed.Message)) {
	b.mu.Lock()
	b.subs = append(b.subs, fn)
	b.mu.Unlock()
	<-ctx.Done()
}

func (b *wireBus) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// tracing records spans through the globals, with the W3C propagator that
// telemetry.Setup installs.
func tracing(tb testing.TB) *tracetest.SpanRecorder {
	tb.Helper()
	rec := telemetrytest.GlobalSpanRecorder(tb)
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	tb.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	return rec
}

// TestRelayJoinsThePublishersTrace: a post published on instance A in a
// request's trace is a producer span there, and instance B's delivery is a
// consumer span, its child, in the same trace; A records nothing for the
// echo of its own post.
func TestRelayJoinsThePublishersTrace(t *testing.T) {
	rec := tracing(t) // the globals are set outside the bubble, and restored after it
	synctest.Test(t, func(t *testing.T) {
		bus := &wireBus{}
		a, b := feed.New(bus, 0), feed.New(bus, 0)
		runHub(t, a)
		runHub(t, b)
		synctest.Wait() // both Run goroutines are blocked in Subscribe, or never got there
		if n := bus.subscribers(); n != 2 {
			t.Fatalf("%d hubs subscribed, want 2", n)
		}
		onB := subscribe(t, b)

		ctx, request := otel.Tracer("test").Start(context.Background(), "POST /api/posts", trace.WithSpanKind(trace.SpanKindServer))
		a.PublishPost(ctx, post(5))
		request.End()
		if got := receive(t, onB); got.ID != 5 {
			t.Fatalf("B delivered post %d, want 5", got.ID)
		}

		var producer, consumer []sdktrace.ReadOnlySpan
		for _, s := range rec.Ended() {
			switch s.SpanKind() {
			case trace.SpanKindProducer:
				producer = append(producer, s)
			case trace.SpanKindConsumer:
				consumer = append(consumer, s)
			}
		}
		if len(producer) != 1 || len(consumer) != 1 {
			t.Fatalf("%d producer and %d consumer spans, want 1 and 1 (none for A's own echo)", len(producer), len(consumer))
		}
		p, c := producer[0], consumer[0]
		if p.Name() != "publish posts" || c.Name() != "process posts" {
			t.Errorf("span names %q, %q", p.Name(), c.Name())
		}
		if p.Parent().SpanID() != request.SpanContext().SpanID() {
			t.Errorf("the publish is not under the request's span")
		}
		if c.SpanContext().TraceID() != request.SpanContext().TraceID() || c.Parent().SpanID() != p.SpanContext().SpanID() || !c.Parent().IsRemote() {
			t.Errorf("B's delivery (trace %s, parent %s) is not the child of A's publish (trace %s, span %s)",
				c.SpanContext().TraceID(), c.Parent().SpanID(), p.SpanContext().TraceID(), p.SpanContext().SpanID())
		}
		want := map[string]string{
			string(semconv.MessagingSystemKey):          "fake",
			string(semconv.MessagingDestinationNameKey): "posts",
			string(semconv.MessagingOperationTypeKey):   "process",
		}
		for _, kv := range c.Attributes() {
			if w, ok := want[string(kv.Key)]; ok && kv.Value.AsString() == w {
				delete(want, string(kv.Key))
			}
		}
		if len(want) != 0 {
			t.Errorf("consumer span lacks %v: %v", want, c.Attributes())
		}
	})
}

// TestRelayOfAMessageWithoutTraceContext: a message from an instance that
// does not send the trace context (an older version) is delivered, in a
// trace of its own.
func TestRelayOfAMessageWithoutTraceContext(t *testing.T) {
	rec := tracing(t)
	bus := newFakeBus()
	h := feed.New(bus, 0)
	s := subscribe(t, h)
	runHub(t, h)
	bus.deliver(t, feed.Message{Origin: "older-instance", Post: post(8)})
	if got := receive(t, s); got.ID != 8 {
		t.Fatalf("delivered post %d, want 8", got.ID)
	}
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].SpanKind() != trace.SpanKindConsumer || spans[0].Parent().IsValid() {
		t.Fatalf("want one root consumer span, got %d spans", len(spans))
	}
}
