package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

// TestSlogLogger: go-redis's own lines become one slog warning each, with
// the formatted text as an attribute, so they are JSON like every other line.
func TestSlogLogger(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	slogLogger{}.Printf(context.Background(), "redis: %s after %d tries", "reconnected", 3)

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	if line["level"] != "WARN" || line["msg"] != "redis.client" || line["detail"] != "redis: reconnected after 3 tries" {
		t.Fatalf("line = %v", line)
	}
}
