package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/httpjson"
	"github.com/coder/websocket"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// WebSocket timing.
const (
	wsWriteTimeout = 5 * time.Second
	wsPingInterval = 30 * time.Second
)

type wsGauge struct {
	active  metric.Int64UpDownCounter
	dropped metric.Int64Counter
}

func (g *wsGauge) init() (err error) {
	m := otel.Meter(scope)
	g.active, err = m.Int64UpDownCounter("websocket_active_connections",
		metric.WithDescription("Open WebSocket connections of the live feed."),
		metric.WithUnit("{connection}"))
	if err != nil {
		return err
	}
	g.dropped, err = m.Int64Counter("websocket_dropped_clients",
		metric.WithDescription("Live-feed clients closed for falling FEED_BUFFER posts behind."),
		metric.WithUnit("{client}"))
	if err != nil {
		return err
	}
	// A series from the start, so that rates and alerts see a zero.
	g.active.Add(context.Background(), 0)
	g.dropped.Add(context.Background(), 0)
	return nil
}

// feedMessage is one message of the live feed.
type feedMessage struct {
	Type string    `json:"type"`
	Post blog.Post `json:"post"`
}

// websocket streams new posts to the client until it leaves, falls too far
// behind (closed with 1013 "try again later", so memory per client stays
// bounded), sends a data message (the feed is one-way: closed with 1008 and
// released at once), or the server shuts down (1001 "going away").
func (s *Server) websocket(w http.ResponseWriter, r *http.Request) {
	sub := s.cfg.Feed.Subscribe()
	if sub == nil {
		httpjson.Error(w, &blog.Error{Code: blog.CodeUnavailable, Message: "the server is shutting down"})
		return
	}
	defer sub.Close()

	// The server's read and write timeouts were set on the connection for
	// ordinary requests; a feed lives longer.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})

	c, err := websocket.Accept(&jsonRefusal{ResponseWriter: w}, r, nil)
	if err != nil {
		// Accept has answered the client already, through jsonRefusal.
		slog.InfoContext(r.Context(), "ws.rejected")
		return
	}
	closing := false // a Close of its own releases the connection
	defer func() {
		if !closing {
			c.CloseNow()
		}
	}()
	c.SetReadLimit(1024) // clients send nothing but control frames

	// otelhttp's span would otherwise stay open for the connection's life;
	// the context is detached from the request's deadline, not its trace.
	bg := context.WithoutCancel(r.Context())
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	// The reader answers pings and close frames. Conn.CloseRead would do
	// the same, but on a data message it holds the connection for its
	// close handshake's timeouts (about 15 s): this loop ends at once.
	gotData := make(chan struct{})
	go func() {
		defer cancel()
		if _, _, err := c.Read(ctx); err == nil {
			close(gotData)
		}
	}()
	s.wsActive.active.Add(bg, 1)
	defer s.wsActive.active.Add(bg, -1)
	slog.InfoContext(ctx, "ws.connected")

	ping := time.NewTicker(wsPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-gotData:
			slog.InfoContext(bg, "ws.unexpected_data")
			closing = true
			closeSoon(c, websocket.StatusPolicyViolation, "the feed takes no messages")
			return
		case <-ctx.Done():
			slog.InfoContext(bg, "ws.disconnected")
			return
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				slog.InfoContext(bg, "ws.ping_failed")
				return
			}
		case p, ok := <-sub.C:
			if !ok {
				if sub.Dropped() {
					s.wsActive.dropped.Add(bg, 1)
					slog.WarnContext(bg, "ws.dropped_slow_client")
					c.Close(websocket.StatusTryAgainLater, "too slow")
				} else {
					c.Close(websocket.StatusGoingAway, "server shutting down")
				}
				return
			}
			b, _ := json.Marshal(feedMessage{Type: "post.created", Post: p})
			wctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
			err := c.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				slog.InfoContext(bg, "ws.write_failed")
				return
			}
		}
	}
}

// closeSoon closes c with code, waiting at most a second for the client to
// answer the close frame; a client that does not answer keeps only the
// closing goroutine, which the library ends by its own deadlines.
func closeSoon(c *websocket.Conn, code websocket.StatusCode, reason string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Close(code, reason)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

// jsonRefusal answers the handshake refusals of websocket.Accept in the
// API's JSON error shape. Accept writes them as plain text that quotes
// the request's Origin and headers back; only the status is kept.
type jsonRefusal struct {
	http.ResponseWriter
	refused bool
}

// refusals are the API's errors for the statuses websocket.Accept refuses
// a handshake with.
var refusals = map[int]*blog.Error{
	http.StatusForbidden:        {Code: blog.CodeForbidden, Message: "cross-origin WebSocket connections are not allowed"},
	http.StatusUpgradeRequired:  {Code: httpjson.CodeUpgradeRequired, Message: "this endpoint speaks WebSocket only"},
	http.StatusMethodNotAllowed: {Code: httpjson.CodeMethodNotAllowed, Message: "a WebSocket handshake is a GET"},
	http.StatusBadRequest:       {Code: blog.CodeInvalid, Message: "not a valid WebSocket handshake"},
}

func (j *jsonRefusal) WriteHeader(status int) {
	if status == http.StatusSwitchingProtocols { // accepted
		j.ResponseWriter.WriteHeader(status)
		return
	}
	e, ok := refusals[status]
	if !ok {
		e = blog.ErrInternal
	}
	j.refused = true
	httpjson.Error(j.ResponseWriter, e)
}

func (j *jsonRefusal) Write(b []byte) (int, error) {
	if j.refused {
		return len(b), nil // Accept's own text
	}
	return j.ResponseWriter.Write(b)
}

// Unwrap lets websocket.Accept reach the connection to hijack it.
func (j *jsonRefusal) Unwrap() http.ResponseWriter { return j.ResponseWriter }
