package feed_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/feed"
)

// fakeBus records what the hub publishes and lets the test inject messages
// as if another instance had published them.
type fakeBus struct {
	mu        sync.Mutex
	published []feed.Message
	err       error // returned by Publish
	fn        func(context.Context, feed.Message)
	ready     chan struct{} // closed once Subscribe is called
}

var _ feed.Bus = (*fakeBus)(nil)

func newFakeBus() *fakeBus { return &fakeBus{ready: make(chan struct{})} }

func (b *fakeBus) Publish(_ context.Context, m feed.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published = append(b.published, m)
	return b.err
}

func (b *fakeBus) Destination() (system, name string) { return "fake", "posts" }

func (b *fakeBus) Subscribe(ctx context.Context, fn func(context.Context, feed.Message)) {
	b.mu.Lock()
	b.fn = fn
	b.mu.Unlock()
	close(b.ready)
	<-ctx.Done()
}

// deliver hands m to the subscribed hub, as Redis would.
func (b *fakeBus) deliver(tb testing.TB, m feed.Message) {
	tb.Helper()
	select {
	case <-b.ready:
	case <-time.After(5 * time.Second):
		tb.Fatal("the hub never subscribed to the bus")
	}
	b.mu.Lock()
	fn := b.fn
	b.mu.Unlock()
	fn(context.Background(), m)
}

func (b *fakeBus) messages() []feed.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]feed.Message(nil), b.published...)
}

// subscribe returns a new subscription, failing tb if the hub refuses it.
func subscribe(tb testing.TB, h *feed.Hub) *feed.Subscription {
	tb.Helper()
	s := h.Subscribe()
	if s == nil {
		tb.Fatal("Subscribe returned nil on an open hub")
	}
	return s
}

// receive returns the next post on s, failing tb after a while (at once in
// a bubble's fake time, when nothing can send it any more).
func receive(tb testing.TB, s *feed.Subscription) blog.Post {
	tb.Helper()
	select {
	case p, open := <-s.C:
		if !open {
			tb.Fatal("subscription closed, want a post")
		}
		return p
	case <-time.After(5 * time.Second):
		tb.Fatal("no post received within 5s")
	}
	return blog.Post{}
}

// nothing checks that s has nothing to read once every goroutine of the
// test's bubble is blocked, when nothing more can arrive. It must run in a
// synctest bubble.
func nothing(tb testing.TB, s *feed.Subscription) {
	tb.Helper()
	synctest.Wait()
	select {
	case p, open := <-s.C:
		if open {
			tb.Errorf("unexpected post %+v", p)
		} else {
			tb.Error("subscription unexpectedly closed")
		}
	default:
	}
}

// closed checks that s.C is closed once the buffered posts are drained,
// and returns how many were buffered.
func closed(tb testing.TB, s *feed.Subscription) int {
	tb.Helper()
	n := 0
	for {
		select {
		case _, open := <-s.C:
			if !open {
				return n
			}
			n++
		case <-time.After(5 * time.Second):
			tb.Fatal("subscription not closed")
			return n
		}
	}
}

// runHub starts h.Run until the test ends.
func runHub(tb testing.TB, h *feed.Hub) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.Run(ctx)
		close(done)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
}

func post(id int64) blog.Post { return blog.Post{ID: id, Title: "t", Body: "b", AuthorID: 1} }

func TestLocalDelivery(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3, 10} {
		t.Run(fmt.Sprintf("subscribers=%d", n), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := feed.New(nil, 0)
				subs := make([]*feed.Subscription, n)
				for i := range subs {
					subs[i] = subscribe(t, h)
				}
				if got := h.Len(); got != n {
					t.Errorf("Len = %d, want %d", got, n)
				}
				h.PublishPost(context.Background(), post(1))
				h.PublishPost(context.Background(), post(2))
				for i, s := range subs {
					for _, want := range []int64{1, 2} {
						if got := receive(t, s); got.ID != want {
							t.Errorf("subscriber %d got post %d, want %d", i, got.ID, want)
						}
					}
					nothing(t, s)
				}
			})
		})
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := feed.New(nil, 0)
		slow := subscribe(t, h) // never reads
		fast := subscribe(t, h) // reads every post as it comes

		total := feed.DefaultBuffer + 5
		for i := 1; i <= total; i++ {
			h.PublishPost(context.Background(), post(int64(i)))
			if got := receive(t, fast); got.ID != int64(i) {
				t.Fatalf("fast subscriber got post %d, want %d", got.ID, i)
			}
			if want := i > feed.DefaultBuffer; slow.Dropped() != want {
				t.Fatalf("after %d posts (buffer %d): slow Dropped = %v, want %v",
					i, feed.DefaultBuffer, slow.Dropped(), want)
			}
		}
		if fast.Dropped() {
			t.Error("Dropped = true for a subscriber that keeps up")
		}
		if n := closed(t, slow); n != feed.DefaultBuffer {
			t.Errorf("dropped subscriber had %d posts buffered, want %d", n, feed.DefaultBuffer)
		}
		if got := h.Len(); got != 1 {
			t.Errorf("Len = %d after dropping one of two, want 1", got)
		}
		slow.Close() // closing a dropped subscription again is harmless
	})
}

func TestSubscriptionClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := feed.New(nil, 0)
		a, b := subscribe(t, h), subscribe(t, h)
		a.Close()
		a.Close() // idempotent
		if got := h.Len(); got != 1 {
			t.Errorf("Len = %d after one Close, want 1", got)
		}
		if a.Dropped() {
			t.Error("Dropped = true after the client closed it")
		}
		if n := closed(t, a); n != 0 {
			t.Errorf("closed subscription delivered %d posts", n)
		}
		h.PublishPost(context.Background(), post(1))
		if got := receive(t, b); got.ID != 1 {
			t.Errorf("got post %d, want 1", got.ID)
		}
	})
}

func TestHubClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := feed.New(nil, 0)
		subs := []*feed.Subscription{subscribe(t, h), subscribe(t, h), subscribe(t, h)}
		h.Close()
		for i, s := range subs {
			if n := closed(t, s); n != 0 {
				t.Errorf("subscription %d delivered %d posts", i, n)
			}
			if s.Dropped() {
				t.Errorf("subscription %d: Dropped = true after hub Close", i)
			}
			s.Close() // after the hub closed it: no double close panic
		}
		if got := h.Len(); got != 0 {
			t.Errorf("Len = %d after Close, want 0", got)
		}
		if s := h.Subscribe(); s != nil {
			t.Error("Subscribe after Close returned a subscription, want nil")
		}
		h.PublishPost(context.Background(), post(1)) // no subscribers, no panic
		h.Close()                                    // idempotent
	})
}

func TestPublishThroughBus(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		bus := newFakeBus()
		h := feed.New(bus, 0)
		s := subscribe(t, h)

		h.PublishPost(context.Background(), post(7))
		if got := receive(t, s); got.ID != 7 {
			t.Errorf("local subscriber got post %d, want 7", got.ID)
		}
		nothing(t, s) // delivered once, not again through the bus

		msgs := bus.messages()
		if len(msgs) != 1 {
			t.Fatalf("bus got %d messages, want 1", len(msgs))
		}
		if msgs[0].Post.ID != 7 {
			t.Errorf("published post %d, want 7", msgs[0].Post.ID)
		}
		if msgs[0].Origin == "" {
			t.Error("published message has no origin")
		}
	})
}

func TestOriginsDiffer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, b := newFakeBus(), newFakeBus()
		feed.New(a, 0).PublishPost(context.Background(), post(1))
		feed.New(b, 0).PublishPost(context.Background(), post(1))
		ma, mb := a.messages(), b.messages()
		if len(ma) != 1 || len(mb) != 1 {
			t.Fatalf("published %d and %d messages, want 1 each", len(ma), len(mb))
		}
		if ma[0].Origin == mb[0].Origin {
			t.Errorf("two hubs share the origin %q", ma[0].Origin)
		}
	})
}

func TestRunRelaysOtherOrigins(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		bus := newFakeBus()
		h := feed.New(bus, 0)
		s := subscribe(t, h)
		runHub(t, h)

		// Learn this hub's origin from what it publishes.
		h.PublishPost(context.Background(), post(1))
		if got := receive(t, s); got.ID != 1 {
			t.Fatalf("got post %d, want 1", got.ID)
		}
		own := bus.messages()[0]

		tests := []struct {
			name    string
			msg     feed.Message
			deliver bool
		}{
			{"own echo is ignored", own, false},
			{"another instance's post is delivered", feed.Message{Origin: "other-instance", Post: post(2)}, true},
			{"empty origin counts as another instance", feed.Message{Post: post(3)}, true},
			{"own origin with a new post is ignored", feed.Message{Origin: own.Origin, Post: post(4)}, false},
		}
		// Steps of one hub, in order (t.Run cannot be called in a bubble).
		for _, tt := range tests {
			bus.deliver(t, tt.msg)
			if !tt.deliver {
				synctest.Wait()
				select {
				case p := <-s.C:
					t.Errorf("%s: got post %d, want none", tt.name, p.ID)
				default:
				}
				continue
			}
			if got := receive(t, s); got.ID != tt.msg.Post.ID {
				t.Errorf("%s: got post %d, want %d", tt.name, got.ID, tt.msg.Post.ID)
			}
		}
	})
}

func TestBusErrorDoesNotStopLocalDelivery(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		bus := newFakeBus()
		bus.err = errors.New("redis: connection refused")
		h := feed.New(bus, 0)
		s := subscribe(t, h)
		h.PublishPost(context.Background(), post(5))
		if got := receive(t, s); got.ID != 5 {
			t.Errorf("got post %d, want 5", got.ID)
		}
		if n := len(bus.messages()); n != 1 {
			t.Errorf("bus saw %d publish attempts, want 1", n)
		}
	})
}

func TestRunWithoutBus(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := feed.New(nil, 0)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			h.Run(ctx)
			close(done)
		}()
		synctest.Wait() // Run is blocked, or has returned
		select {
		case <-done:
			t.Fatal("Run without a bus returned before its context was done")
		default:
		}
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	})
}

// TestConcurrentUse runs publishers, subscribers and closers at once; its
// point is the race detector.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		bus := newFakeBus()
		h := feed.New(bus, 0)
		runHub(t, h)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				s := h.Subscribe()
				if s == nil {
					return
				}
				for range 5 {
					select {
					case <-s.C:
					case <-time.After(10 * time.Millisecond):
					}
				}
				_ = s.Dropped()
				s.Close()
			})
			wg.Go(func() {
				for j := range 20 {
					h.PublishPost(context.Background(), post(int64(i*100+j)))
				}
			})
		}
		// Subscribe has run once deliver returns here; relay from another
		// goroutine while the rest is going on.
		bus.deliver(t, feed.Message{Origin: "elsewhere", Post: post(998)})
		wg.Go(func() {
			bus.mu.Lock()
			fn := bus.fn
			bus.mu.Unlock()
			fn(context.Background(), feed.Message{Origin: "elsewhere", Post: post(999)})
		})
		wg.Wait()
		h.Close()
		if got := h.Len(); got != 0 {
			t.Errorf("Len = %d after Close, want 0", got)
		}
	})
}
