package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// errorLogInterval spaces the log lines about OpenTelemetry's own errors.
const errorLogInterval = 10 * time.Second

// throttledErrorHandler logs OpenTelemetry's internal errors (an exporter
// that cannot reach the collector, say) at most once per interval, with the
// number of errors since the last line. While a collector is down every
// export fails; one line per failure would flood the logs, and with logs
// exported over OTLP each line would queue one more record for the broken
// exporter.
type throttledErrorHandler struct {
	logger   *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (h *throttledErrorHandler) Handle(err error) {
	h.mu.Lock()
	now := h.now()
	if !h.last.IsZero() && now.Sub(h.last) < h.interval {
		h.suppressed++
		h.mu.Unlock()
		return
	}
	n := h.suppressed
	h.last, h.suppressed = now, 0
	h.mu.Unlock()
	h.logger.WarnContext(context.Background(), "opentelemetry error", slog.String("error", err.Error()), slog.Int("suppressed_since_last", n))
}
