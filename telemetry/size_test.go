package telemetry_test

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"example.com/otelstarter/telemetry"
)

// TestUnknownMethodIsOther: a method the client made up is "_OTHER" in the
// access line, as on spans and metrics, so that its size and its values
// stay bounded.
func TestUnknownMethodIsOther(t *testing.T) {
	for _, method := range []string{strings.Repeat("X", 4000), "PROPFIND", "get"} {
		h := newHarness(t)
		serve(t, h.handler(), httptest.NewRequest(method, "/api/posts/1", nil))
		l := mustLine(t, h.lines.String(), "http.request")
		if l["method"] != "_OTHER" {
			t.Errorf("method %.10q… logged as %q, want _OTHER", method, l["method"])
		}
		if n := len(h.lines.String()); n > 1024 {
			t.Errorf("access line of %d bytes for a %d-byte method", n, len(method))
		}
	}
	h := newHarness(t)
	serve(t, h.handler(), httptest.NewRequest("DELETE", "/api/posts/1", nil))
	if l := mustLine(t, h.lines.String(), "http.request"); l["method"] != "DELETE" {
		t.Errorf("DELETE logged as %q", l["method"])
	}
}

// TestLongValuesAreCapped: every string value logged is cut at
// MaxLogValueLen bytes on a character boundary, marked, on the stdout
// handler and the OpenTelemetry bridge alike.
func TestLongValuesAreCapped(t *testing.T) {
	for _, v := range []string{strings.Repeat("a", 100<<10), strings.Repeat("é", 50<<10), strings.Repeat("日本", 20<<10)} {
		h := newHarness(t)
		h.tel.Logger.Info("big", slog.String("value", v), slog.Group("g", slog.String("inner", v)))
		line := h.lines.String()
		if n := len(line); n > 2*telemetry.MaxLogValueLen+512 {
			t.Errorf("a line of %d bytes for two %d-byte values", n, len(v))
		}
		l := mustLine(t, line, "big")
		got, _ := l["value"].(string)
		if len(got) > telemetry.MaxLogValueLen || !strings.HasSuffix(got, "…[truncated]") || !utf8.ValidString(got) {
			t.Errorf("value of %d bytes, valid UTF-8 %v, suffix %q", len(got), utf8.ValidString(got), got[max(0, len(got)-20):])
		}
		if inner, _ := l["g"].(map[string]any)["inner"].(string); len(inner) > telemetry.MaxLogValueLen {
			t.Errorf("grouped value of %d bytes", len(inner))
		}
		// The bridge: the OpenTelemetry record holds the capped values too.
		if n := len(recordText(findRecord(t, h.logs, "big"))); n > 2*telemetry.MaxLogValueLen+256 {
			t.Errorf("bridged record of %d bytes", n)
		}
	}
}
