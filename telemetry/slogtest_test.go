package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"example.com/otelstarter/telemetry"
)

// TestLoggerConformsToSlogtest runs the standard library's conformance test
// of the slog.Handler contract (groups, WithAttrs, empty attributes, zero
// time, …) on the logger of Setup: both line formats, with and without the
// OpenTelemetry bridge behind slog.NewMultiHandler.
func TestLoggerConformsToSlogtest(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		for _, bridged := range []bool{false, true} {
			name := format
			if bridged {
				name += "+bridge"
			}
			t.Run(name, func(t *testing.T) {
				clearOTelEnv(t)
				var lines bytes.Buffer
				opts := []telemetry.Option{telemetry.WithoutGlobals(), telemetry.WithLogWriter(&lines), telemetry.WithLogFormat(format)}
				logs := &logProcessor{}
				if bridged {
					opts = append(opts, telemetry.WithLoggerProviderOptions(sdklog.WithProcessor(logs)))
				}
				tel, err := telemetry.Setup(context.Background(), opts...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { tel.Shutdown(context.Background()) })

				slogtest.Run(t, func(t *testing.T) slog.Handler {
					lines.Reset()
					return tel.Logger.Handler()
				}, func(t *testing.T) map[string]any {
					out := strings.TrimSuffix(lines.String(), "\n")
					if strings.Contains(out, "\n") {
						t.Fatalf("want one line, got:\n%s", out)
					}
					if format == "json" {
						var m map[string]any
						if err := json.Unmarshal([]byte(out), &m); err != nil {
							t.Fatalf("line is not JSON: %v: %s", err, out)
						}
						return m
					}
					return parseTextLine(t, out)
				})
				if bridged && len(logs.Records()) == 0 {
					t.Error("no record reached the bridge")
				}
			})
		}
	}
}

// parseTextLine reads a line of slog.TextHandler into the map slogtest
// wants: "g.h.a=1" becomes {"g": {"h": {"a": "1"}}}. Values are unquoted
// where quoted; the test's values hold no spaces or dots.
func parseTextLine(tb testing.TB, line string) map[string]any {
	tb.Helper()
	m := map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(line))
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			tb.Fatalf("%q is not key=value in %q", sc.Text(), line)
		}
		v = strings.Trim(v, `"`)
		keys := strings.Split(k, ".")
		if k == "time" || k == "msg" || k == "level" {
			keys = []string{k}
		}
		cur := m
		for _, g := range keys[:len(keys)-1] {
			next, ok := cur[g].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[g] = next
			}
			cur = next
		}
		cur[keys[len(keys)-1]] = v
	}
	return m
}
