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
	active metric.Int64UpDownCounter
}

func (g *wsGauge) init() (err error) {
	g.active, err = otel.Meter(scope).Int64UpDownCounter("websocket_active_connections",
		metric.WithDescription("Open WebSocket connections of the live feed."),
		metric.WithUnit("{connection}"))
	if err == nil {
		g.active.Add(context.Background(), 0) // a series from the start
	}
	return err
}

// feedMessage is one message of the live feed.
type feedMessage struct {
	Type string    `json:"type"`
	Post blog.Post `json:"post"`
}

// websocket streams new posts to the client until it leaves, falls too far
// behind (closed with 1013 "try again later", so memory per client stays
// bounded), or the server shuts down (1001 "going away").
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

	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		// Accept has answered the client already.
		slog.InfoContext(r.Context(), "ws.rejected", slog.String("error", err.Error()))
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1024) // clients send nothing but control frames

	// otelhttp's span would otherwise stay open for the connection's life;
	// the context is detached from the request's deadline, not its trace.
	ctx := c.CloseRead(context.WithoutCancel(r.Context()))
	bg := context.WithoutCancel(r.Context())
	s.wsActive.active.Add(bg, 1)
	defer s.wsActive.active.Add(bg, -1)
	slog.InfoContext(ctx, "ws.connected")

	ping := time.NewTicker(wsPingInterval)
	defer ping.Stop()
	for {
		select {
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
