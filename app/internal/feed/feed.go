// Package feed fans new posts out to the live WebSocket clients of this
// instance and, through Redis pub/sub when it is configured, of every other
// instance. Local clients are served in-process, so the feed keeps working
// while Redis is down.
package feed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/app/internal/blog"
)

const scope = "example.com/otelstarter/app/internal/feed"

// Message is what instances publish to each other: a new post and the
// instance it came from, so that an instance skips its own posts (it has
// delivered them locally already). Its JSON form is the wire format between
// instances; a field that changes meaning needs every instance upgraded at
// once, a new optional one does not (an older instance ignores it).
type Message struct {
	Origin string    `json:"origin"`
	Post   blog.Post `json:"post"`
	// TraceContext is the W3C trace context (traceparent, and tracestate
	// and baggage when set) of the publish, inside the trace of the request
	// that created the post: the instances that deliver the post record
	// their work in that trace. Optional: without it a delivery starts a
	// trace of its own.
	TraceContext map[string]string `json:"trace_context,omitempty"`
}

// Bus is the cross-instance transport the hub needs, declared here so that
// the adapter (redisstore, on Redis pub/sub) depends on the feed and not the
// reverse.
type Bus interface {
	// Publish sends m to every subscribed instance, this one included.
	Publish(ctx context.Context, m Message) error
	// Subscribe calls fn for every message published until ctx is done,
	// reconnecting by itself after a failure.
	Subscribe(ctx context.Context, fn func(context.Context, Message))
	// Destination names the transport for the messaging spans: its system
	// ("redis") and the channel messages go through.
	Destination() (system, name string)
}

// DefaultBuffer is how many posts a client may lag behind before it is
// dropped, when New is given none. A burst of new posts queues here while a
// client that reads normally catches up: 300 posts published at once to 20
// clients put them 299 behind (TestFeedBurstKeepsReadingClients), so the
// default leaves room for that. A client that stops reading is dropped once
// this far behind, so memory per client stays bounded: the buffer is
// allocated when the client connects, 96 bytes a slot (48 KiB at the
// default; the posts' text is shared between clients).
const DefaultBuffer = 512

// Hub delivers posts to subscribers. The zero value is not usable: use New.
type Hub struct {
	bus    Bus // nil: in-process only
	origin string
	buffer int

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

var _ blog.Publisher = (*Hub)(nil)

// New returns a Hub whose subscribers may lag buffer posts behind (≤ 0
// means DefaultBuffer); bus may be nil.
func New(bus Bus, buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Hub{bus: bus, origin: hex.EncodeToString(b), buffer: buffer, subs: map[*Subscription]struct{}{}}
}

// Subscription receives posts on C until it is closed, by the client
// (Close), by the hub shutting down, or for falling behind (Dropped).
type Subscription struct {
	C       <-chan blog.Post
	c       chan blog.Post
	hub     *Hub
	once    sync.Once
	dropped bool
}

// Subscribe registers a new subscriber. It returns nil after Close.
func (h *Hub) Subscribe() *Subscription {
	c := make(chan blog.Post, h.buffer)
	s := &Subscription{C: c, c: c, hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.subs[s] = struct{}{}
	return s
}

// Close unsubscribes s; C is closed.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	s.once.Do(func() {
		delete(s.hub.subs, s)
		close(s.c)
	})
}

// Dropped reports whether the hub closed s because its client fell behind.
func (s *Subscription) Dropped() bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.dropped
}

// PublishPost delivers p to local subscribers at once and to other
// instances through the bus, as a producer span in the trace of ctx whose
// context the message carries. A bus failure is logged and recorded on the
// span, never returned: the post is stored already.
func (h *Hub) PublishPost(ctx context.Context, p blog.Post) {
	h.deliver(p)
	if h.bus == nil {
		return
	}
	system, dest := h.bus.Destination()
	ctx, span := otel.Tracer(scope).Start(ctx, "publish "+dest, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messagingAttrs(system, dest, "publish", semconv.MessagingOperationTypeSend)...))
	defer span.End()
	m := Message{Origin: h.origin, Post: p, TraceContext: map[string]string{}}
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(m.TraceContext))
	if err := h.bus.Publish(ctx, m); err != nil {
		span.SetStatus(codes.Error, err.Error())
		slog.WarnContext(ctx, "feed.publish_failed", slog.Int64("post_id", p.ID), slog.String("error", err.Error()))
	}
}

// Run relays posts published by other instances until ctx is done. Each
// relay is a consumer span, child of the publish on the other instance, so
// it sits in the trace of the request that created the post, and logs one
// line there.
func (h *Hub) Run(ctx context.Context) {
	if h.bus == nil {
		<-ctx.Done()
		return
	}
	system, dest := h.bus.Destination()
	attrs := messagingAttrs(system, dest, "process", semconv.MessagingOperationTypeProcess)
	h.bus.Subscribe(ctx, func(ctx context.Context, m Message) {
		if m.Origin == h.origin {
			return
		}
		ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(m.TraceContext))
		ctx, span := otel.Tracer(scope).Start(ctx, "process "+dest, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
		defer span.End()
		n := h.deliver(m.Post)
		slog.InfoContext(ctx, "feed.relayed", slog.Int64("post_id", m.Post.ID), slog.Int("subscribers", n))
	})
}

// messagingAttrs are the messaging semantic conventions' attributes of a
// span of the feed.
func messagingAttrs(system, dest, operation string, typ attribute.KeyValue) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.MessagingSystemKey.String(system),
		semconv.MessagingDestinationName(dest),
		semconv.MessagingOperationName(operation),
		typ,
	}
}

// deliver hands p to every local subscriber and returns how many there are.
func (h *Hub) deliver(p blog.Post) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- p:
		default:
			s.dropped = true
			s.closeLocked()
		}
	}
	return len(h.subs)
}

// Close closes every subscription and refuses new ones; WebSocket handlers
// then close their connections. Used at shutdown.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		s.closeLocked()
	}
}

// Len returns the number of subscribers.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
