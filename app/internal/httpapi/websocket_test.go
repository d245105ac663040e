package httpapi_test

import (
	"strings"
	"testing"

	"example.com/otelstarter/app/internal/httpapi"
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
