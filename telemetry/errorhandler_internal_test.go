package telemetry

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestOTelErrorsAreThrottled(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	h := &throttledErrorHandler{logger: slog.New(slog.NewJSONHandler(&buf, nil)), interval: 10 * time.Second,
		now: func() time.Time { return now }}
	for range 50 {
		h.Handle(errors.New("export failed"))
		now = now.Add(100 * time.Millisecond)
	} // 5 s of failures: one line
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines in 5 s, want 1:\n%s", n, buf.String())
	}
	now = now.Add(10 * time.Second)
	h.Handle(errors.New("export failed"))
	if !strings.Contains(buf.String(), `"suppressed_since_last":49`) {
		t.Fatalf("second line does not count the 49 suppressed errors:\n%s", buf.String())
	}
}
