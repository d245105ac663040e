package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/feed"
	"github.com/coder/websocket"
)

// TestFeedBurstKeepsReadingClients: 20 clients that read normally, 300
// posts from 20 writers at once: every client stays connected and receives
// every post,
// and no client is counted as dropped. The log line gives how far behind
// the clients fell, against FEED_BUFFER.
func TestFeedBurstKeepsReadingClients(t *testing.T) {
	const clients, writers, perWriter = 20, 20, 15
	a := newTestApp(t, nil)

	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = dialFeed(t, a)
	}
	waitFor(t, func() bool { return gauge(t, a, "websocket_active_connections", "", "") == clients })

	var published atomic.Int64
	maxLag := make([]int64, clients)
	received := make([]map[int64]bool, clients)
	var readers sync.WaitGroup
	errs := make([]error, clients)
	for i, c := range conns {
		received[i] = map[int64]bool{}
		readers.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for len(received[i]) < writers*perWriter {
				_, b, err := c.Read(ctx)
				if err != nil {
					errs[i] = err
					return
				}
				var m struct{ Post blog.Post }
				if err := json.Unmarshal(b, &m); err != nil {
					errs[i] = err
					return
				}
				received[i][m.Post.ID] = true
				maxLag[i] = max(maxLag[i], published.Load()-int64(len(received[i])))
			}
		})
	}

	// The writers publish into the hub, the last step of POST /api/posts,
	// so that the burst is as sharp as it can be: 300 posts within
	// microseconds, where the API's database would spread them.
	var posters sync.WaitGroup
	for w := range writers {
		posters.Go(func() {
			for i := range perWriter {
				a.app.hub.PublishPost(context.Background(), blog.Post{ID: int64(w*perWriter + i + 1), Title: "burst", Body: "a post of the burst"})
				published.Add(1)
			}
		})
	}
	posters.Wait()
	readers.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d closed after %d of %d posts: %v (close status %d)", i, len(received[i]), writers*perWriter, err, websocket.CloseStatus(err))
		}
	}
	if n := gauge(t, a, "websocket_dropped_clients", "", ""); n != 0 {
		t.Errorf("websocket_dropped_clients = %d, want 0", n)
	}
	t.Logf("%d posts to %d clients; the furthest behind a client fell: %d posts (FEED_BUFFER %d)",
		writers*perWriter, clients, slices.Max(maxLag), feed.DefaultBuffer)
}

// TestFeedDropsAClientThatStopsReading: a client that reads nothing while
// posts keep coming is closed with 1013 once FEED_BUFFER posts behind,
// and counted; memory stays bounded.
func TestFeedDropsAClientThatStopsReading(t *testing.T) {
	a := newTestApp(t, map[string]string{"FEED_BUFFER": "8"})
	stalled := dialFeed(t, a)
	waitFor(t, func() bool { return gauge(t, a, "websocket_active_connections", "", "") == 1 })

	// Large posts of random text, which compression cannot shrink, so that
	// the socket buffers fill and the server's writes block; the hub's
	// buffer fills next. The drop is checked every 50 posts: a metrics
	// collection per post (it queries the job backlog too) would pace the
	// posts to what the writer keeps up with.
	big := rand.Text()
	for len(big) < blog.MaxBodyLen {
		big += rand.Text()
	}
	big = big[:blog.MaxBodyLen]
	for i := int64(1); i%50 != 0 || gauge(t, a, "websocket_dropped_clients", "", "") == 0; i++ {
		if i > 20000 {
			t.Fatal("the stalled client is still connected after 20,000 posts")
		}
		a.app.hub.PublishPost(context.Background(), blog.Post{ID: i, Title: "t", Body: big})
	}
	// The close frame comes after everything the server had sent; the
	// client reads it all, then the 1013.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	for err == nil {
		_, _, err = stalled.Read(ctx)
	}
	if got := websocket.CloseStatus(err); got != websocket.StatusTryAgainLater {
		t.Errorf("the dropped client read %v, want close 1013", err)
	}
	waitFor(t, func() bool { return gauge(t, a, "websocket_active_connections", "", "") == 0 })
	if n := gauge(t, a, "websocket_dropped_clients", "", ""); n != 1 {
		t.Errorf("websocket_dropped_clients = %d, want 1", n)
	}
}

// TestFeedClosesAClientThatSendsData: the feed is one-way; a data message
// closes the connection with 1008 and releases it at once.
func TestFeedClosesAClientThatSendsData(t *testing.T) {
	a := newTestApp(t, nil)
	c := dialFeed(t, a)
	waitFor(t, func() bool { return gauge(t, a, "websocket_active_connections", "", "") == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"hello":"server"}`)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
		t.Errorf("read after a data message: %v, want close 1008", err)
	}
	// waitFor allows 5 s: the library's close handshake held it 15 s.
	waitFor(t, func() bool { return gauge(t, a, "websocket_active_connections", "", "") == 0 })
}
