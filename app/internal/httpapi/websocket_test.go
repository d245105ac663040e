package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"example.com/otelstarter/app/internal/feed"
	"example.com/otelstarter/app/internal/httpapi"
	"example.com/otelstarter/internal/testenv"
)

// TestWebSocketRefusalsAreJSON: the handshake refusals are the API's JSON
// errors, and never quote the request's Origin or Host back.
func TestWebSocketRefusalsAreJSON(t *testing.T) {
	t.Parallel()
	s := newAPI(t, httpapi.Config{})
	const evil = "https://evil.example<script>"
	upgrade := []string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}
	tests := []struct {
		name   string
		hdr    []string
		status int
		body   string
	}{
		{"no upgrade", []string{"Origin", evil}, 426, errBody("upgrade_required", "this endpoint speaks WebSocket only")},
		{"foreign origin", append(upgrade, "Origin", evil), 403, errBody("forbidden", "cross-origin WebSocket connections are not allowed")},
		{"bad key", append(upgrade[:6:6], "Sec-WebSocket-Key", evil), 400, errBody("invalid_request", "not a valid WebSocket handshake")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, s, "GET", "/api/ws", "", tt.hdr...)
			if a.status != tt.status || a.body != tt.body || a.header.Get("Content-Type") != "application/json" {
				t.Errorf("= %d %s %q, want %d %q", a.status, a.header.Get("Content-Type"), a.body, tt.status, tt.body)
			}
			if strings.Contains(a.body, "evil") {
				t.Errorf("the body quotes the request: %s", a.body)
			}
		})
	}
}

// dialFeed serves a fresh API on an in-memory listener and opens its live
// feed. It must run in a synctest bubble; everything ends with the test.
func dialFeed(t *testing.T) (*websocket.Conn, *feed.Hub) {
	t.Helper()
	hub := feed.New(nil, 0)
	ln := testenv.NewPipeListener()
	srv := &http.Server{Handler: newAPI(t, httpapi.Config{Feed: hub})}
	go func() { _ = srv.Serve(ln) }() // ends with the bubble; its error is the listener's close
	tr := &http.Transport{DialContext: ln.Dial}
	c, _, err := websocket.Dial(t.Context(), "ws://blog.test/api/ws", &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.CloseNow()
		srv.Close()
		tr.CloseIdleConnections()
	})
	synctest.Wait()
	if n := hub.Len(); n != 1 {
		t.Fatalf("%d feed subscribers after the handshake, want 1", n)
	}
	return c, hub
}

// TestWebSocketDropsAClientThatDoesNotAnswerPings: a client that reads
// nothing (gone without a FIN, or stuck) never takes the server's ping, and
// is released exactly one ping interval plus the write timeout after it
// connected.
func TestWebSocketDropsAClientThatDoesNotAnswerPings(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, hub := dialFeed(t)
		limit := httpapi.WSPingInterval + httpapi.WSWriteTimeout
		time.Sleep(limit - time.Millisecond)
		synctest.Wait()
		if n := hub.Len(); n != 1 {
			t.Fatalf("released after %v, before the ping's write timeout", limit-time.Millisecond)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n := hub.Len(); n != 0 {
			t.Fatalf("still subscribed %v after connecting, want released at %v (ping interval + write timeout)", limit, limit)
		}
	})
}

// TestWebSocketKeepsAClientThatAnswersPings: a quiet feed with a live
// client stays open across many ping intervals.
func TestWebSocketKeepsAClientThatAnswersPings(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, hub := dialFeed(t)
		read := make(chan error, 1)
		go func() { // Read answers the pings
			_, _, err := c.Read(t.Context())
			read <- err
		}()
		time.Sleep(10 * httpapi.WSPingInterval)
		synctest.Wait()
		if n := hub.Len(); n != 1 {
			t.Fatalf("a client that answers pings was released after %v", 10*httpapi.WSPingInterval)
		}
		select {
		case err := <-read:
			t.Fatalf("the client's read ended: %v", err)
		default:
		}
		c.CloseNow()
		if err := <-read; err == nil {
			t.Error("the client's read ended without an error after its close")
		}
	})
}

// TestWebSocketReleasesADataSenderThatIgnoresTheClose: a client that sends
// data is closed with 1008; one that then does not answer the close frame
// holds the handler (and its subscription) for one second, not the
// library's close handshake timeouts.
func TestWebSocketReleasesADataSenderThatIgnoresTheClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, hub := dialFeed(t)
		if err := c.Write(t.Context(), websocket.MessageText, []byte(`{"hello":"server"}`)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for hub.Len() != 0 {
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("the handler held the subscription %v after the data message, want 1s", d)
		}
	})
}
