package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/telemetry"
)

func TestLogTraceCorrelation(t *testing.T) {
	h := newHarness(t)
	h.get(t, "/api/posts/42")
	span := h.onlySpan(t)
	out := h.lines.String()

	l := mustLine(t, out, "loading post")
	if l["trace_id"] != span.SpanContext().TraceID().String() || l["span_id"] != span.SpanContext().SpanID().String() {
		t.Errorf("log line %v, want trace_id %s span_id %s", l, span.SpanContext().TraceID(), span.SpanContext().SpanID())
	}
	if l["post_id"] != "42" {
		t.Errorf("post_id %v, want 42", l["post_id"])
	}

	a := mustLine(t, out, "http.request")
	want := map[string]any{"level": "INFO", "method": "GET", "route": "/api/posts/{id}", "status": 200.0,
		"trace_id": span.SpanContext().TraceID().String()}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("access line %s = %v, want %v", k, a[k], v)
		}
	}
	if d, ok := a["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("access line duration_ms %v, want a non-negative number", a["duration_ms"])
	}
	if b, ok := a["bytes"].(float64); !ok || b != float64(len(`{"id":"42"}`)) {
		t.Errorf("access line bytes %v", a["bytes"])
	}
}

func TestLogKeyOrder(t *testing.T) {
	h := newHarness(t)
	h.get(t, "/api/posts/1")
	out := h.lines.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("want at least 2 lines, got:\n%s", out)
	}
	for _, ln := range lines {
		dec := json.NewDecoder(strings.NewReader(ln))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("line does not open an object: %s", ln)
		}
		var keys []string
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		if len(keys) < 5 || keys[0] != "time" || keys[1] != "level" || keys[2] != "msg" || keys[3] != "trace_id" || keys[4] != "span_id" {
			t.Errorf("keys %v, want time, level, msg, trace_id, span_id first", keys)
		}
		if _, err := dec.Token(); err != nil || dec.More() {
			t.Errorf("more than one JSON value on the line: %s", ln)
		}
	}
}

func TestLogHealthProbesAtDebug(t *testing.T) {
	tests := []struct {
		name      string
		level     slog.Level
		wantLine  bool
		wantLevel string
	}{
		{"info hides probes", slog.LevelInfo, false, ""},
		{"debug shows probes", slog.LevelDebug, true, "DEBUG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, telemetry.WithLogLevel(tt.level))
			w := h.get(t, "/livez")
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			out := h.lines.String()
			a := line(t, out, "http.request")
			if (a != nil) != tt.wantLine {
				t.Fatalf("access line present %v, want %v:\n%s", a != nil, tt.wantLine, out)
			}
			if a != nil && (a["level"] != tt.wantLevel || a["trace_id"] != w.Header().Get(telemetry.RequestIDHeader)) {
				t.Errorf("probe access line %v, want level %s and trace_id = X-Request-Id", a, tt.wantLevel)
			}
			// The handler's own line carries the request ID even untraced.
			if l := mustLine(t, out, "alive"); l["trace_id"] != w.Header().Get(telemetry.RequestIDHeader) {
				t.Errorf("untraced handler line trace_id %v, want the X-Request-Id", l["trace_id"])
			}
		})
	}
}

func TestLogUntracedPathsOption(t *testing.T) {
	h := newHarness(t, telemetry.WithUntracedPaths("/api/posts/1"))
	h.get(t, "/api/posts/1")
	h.get(t, "/livez") // no longer untraced
	if n := len(h.spans.Ended()); n != 1 {
		t.Fatalf("%d spans, want 1 (for /livez only)", n)
	}
	if got := h.spans.Ended()[0].Name(); got != "GET /livez" {
		t.Errorf("span %q, want GET /livez", got)
	}
}

func TestLogTextFormat(t *testing.T) {
	h := newHarness(t, telemetry.WithLogFormat("text"))
	h.get(t, "/api/posts/9")
	span := h.onlySpan(t)
	out := h.lines.String()
	for _, want := range []string{"level=INFO", "msg=http.request", "route=/api/posts/{id}", "trace_id=" + span.SpanContext().TraceID().String()} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "{\"time\"") {
		t.Errorf("text format wrote JSON:\n%s", out)
	}
}

func TestLogDurationsAreReadable(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			h := newHarness(t, telemetry.WithLogFormat(format))
			h.tel.Logger.With(slog.Duration("interval", 90*time.Second)).WithGroup("shutdown").InfoContext(context.Background(), "stopping",
				slog.Duration("timeout", 20*time.Second), slog.Duration("waited", 1500*time.Microsecond))
			out := h.lines.String()
			for _, want := range []string{`"interval":"1m30s"`, `"timeout":"20s"`, `"waited":"1.5ms"`} {
				if format == "text" {
					want = strings.NewReplacer(`"`, "", ":", "=").Replace(want)
					want = strings.Replace(want, "timeout", "shutdown.timeout", 1)
					want = strings.Replace(want, "waited", "shutdown.waited", 1)
				}
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %s:\n%s", want, out)
				}
			}
			if strings.Contains(out, "20000000000") {
				t.Errorf("a duration written as nanoseconds:\n%s", out)
			}
		})
	}
}

// spanContext returns a context carrying a sampled span context.
func spanContext(tb testing.TB) (context.Context, trace.SpanContext) {
	tb.Helper()
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	return trace.ContextWithSpanContext(context.Background(), sc), sc
}

func TestLogGroupsAndAttrs(t *testing.T) {
	ctx, sc := spanContext(t)
	tests := []struct {
		name  string
		log   func(l *slog.Logger, ctx context.Context)
		check func(tb testing.TB, l map[string]any)
	}{
		{
			name: "WithAttrs",
			log:  func(l *slog.Logger, ctx context.Context) { l.With("a", 1).InfoContext(ctx, "m", "b", 2) },
			check: func(tb testing.TB, l map[string]any) {
				if l["a"] != 1.0 || l["b"] != 2.0 {
					tb.Errorf("attrs lost: %v", l)
				}
			},
		},
		{
			name: "WithGroup",
			log: func(l *slog.Logger, ctx context.Context) {
				l.With("a", 1).WithGroup("g").With("b", 2).WithGroup("h").InfoContext(ctx, "m", "c", 3)
			},
			check: func(tb testing.TB, l map[string]any) {
				g, _ := l["g"].(map[string]any)
				hh, _ := g["h"].(map[string]any)
				if l["a"] != 1.0 || g["b"] != 2.0 || hh["c"] != 3.0 {
					tb.Errorf("groups lost: %v", l)
				}
			},
		},
		{
			name: "empty group name",
			log:  func(l *slog.Logger, ctx context.Context) { l.WithGroup("").InfoContext(ctx, "m", "c", 3) },
			check: func(tb testing.TB, l map[string]any) {
				if l["c"] != 3.0 {
					tb.Errorf("attr lost: %v", l)
				}
			},
		},
		{
			name: "slog.Group attr",
			log: func(l *slog.Logger, ctx context.Context) {
				l.InfoContext(ctx, "m", slog.Group("req", slog.String("method", "GET")))
			},
			check: func(tb testing.TB, l map[string]any) {
				if g, _ := l["req"].(map[string]any); g["method"] != "GET" {
					tb.Errorf("group attr lost: %v", l)
				}
			},
		},
	}
	for _, tt := range tests {
		for _, traced := range []bool{true, false} {
			name := tt.name + "/untraced"
			if traced {
				name = tt.name + "/traced"
			}
			t.Run(name, func(t *testing.T) {
				h := newHarness(t)
				c := context.Background()
				if traced {
					c = ctx
				}
				tt.log(h.tel.Logger, c)
				l := mustLine(t, h.lines.String(), "m")
				tt.check(t, l)
				if traced && (l["trace_id"] != sc.TraceID().String() || l["span_id"] != sc.SpanID().String()) {
					t.Errorf("trace_id/span_id not at the top level: %v", l)
				}
				if !traced && l["trace_id"] != nil {
					t.Errorf("trace_id without a span: %v", l)
				}
				// The OTel bridge sees the same structure.
				rec := findRecord(t, h.logs, "m")
				if traced && rec.TraceID() != sc.TraceID() {
					t.Errorf("OTel record trace %s, want %s", rec.TraceID(), sc.TraceID())
				}
			})
		}
	}
}

func TestLogValuesOfAnyType(t *testing.T) {
	// Values of uncomparable types (slices, maps, funcs inside structs) must
	// be logged, not crash the redaction.
	h := newHarness(t)
	type withSlice struct{ IDs []int }
	h.tel.Logger.Info("values",
		"ids", []int{1, 2},
		"m", map[string]int{"a": 1},
		"s", withSlice{IDs: []int{3}},
		"strs", []string{"ok", "bob@example.org"},
		"nilerr", error(nil),
	)
	l := mustLine(t, h.lines.String(), "values")
	if ids, _ := l["ids"].([]any); len(ids) != 2 {
		t.Errorf("ids %v", l["ids"])
	}
	if strs, _ := l["strs"].([]any); len(strs) != 2 || strs[0] != "ok" || strs[1] != telemetry.Redacted {
		t.Errorf("strs %v, want [ok %s]", l["strs"], telemetry.Redacted)
	}
}

func TestLogLevelVar(t *testing.T) {
	var lv slog.LevelVar
	lv.Set(slog.LevelWarn)
	h := newHarness(t, telemetry.WithLogLevel(&lv))
	h.tel.Logger.Info("quiet")
	lv.Set(slog.LevelDebug)
	h.tel.Logger.Debug("loud")
	out := h.lines.String()
	if line(t, out, "quiet") != nil || line(t, out, "loud") == nil {
		t.Errorf("level var not honoured:\n%s", out)
	}
	// The OTel bridge applies the same level.
	for _, r := range h.logs.Records() {
		if r.Body().AsString() == "quiet" {
			t.Errorf("OTel bridge exported a record below the level")
		}
	}
}

func TestLogBridge(t *testing.T) {
	h := newHarness(t)
	h.get(t, "/api/posts/5")
	span := h.onlySpan(t)
	rec := findRecord(t, h.logs, "loading post")
	if rec.TraceID() != span.SpanContext().TraceID() || rec.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("OTel record trace %s/%s, want %s/%s", rec.TraceID(), rec.SpanID(),
			span.SpanContext().TraceID(), span.SpanContext().SpanID())
	}
	if got := rec.InstrumentationScope().Name; got != telemetry.ScopeName {
		t.Errorf("scope %q, want %q", got, telemetry.ScopeName)
	}
	if !strings.Contains(recordText(rec), "post_id=5") {
		t.Errorf("record %s lacks post_id", recordText(rec))
	}
	if rec.Resource() == nil || !strings.Contains(rec.Resource().String(), "service.name=unknown_service:") {
		t.Errorf("record resource %v", rec.Resource())
	}
}

func TestLogBridgeOnlyWithExporter(t *testing.T) {
	tests := []struct {
		name   string
		env    []string // the sink's URL replaces SINK
		bridge bool
	}{
		{"none", []string{"OTEL_LOGS_EXPORTER=none", "OTEL_EXPORTER_OTLP_ENDPOINT=SINK"}, false},
		{"unset with endpoint", []string{"OTEL_EXPORTER_OTLP_ENDPOINT=SINK"}, true},
		{"otlp", []string{"OTEL_LOGS_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=SINK/v1/logs"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newOTLPSink(t)
			clearOTelEnv(t)
			setenv(t, "OTEL_TRACES_EXPORTER=none", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
			for _, kv := range tt.env {
				setenv(t, strings.ReplaceAll(kv, "SINK", sink.URL))
			}
			var lines bytes.Buffer
			tel, err := telemetry.Setup(context.Background(), telemetry.WithoutGlobals(), telemetry.WithLogWriter(&lines))
			if err != nil {
				t.Fatal(err)
			}
			tel.Logger.Info("bridge-probe", "password", "hunter2", "note", "from carol@example.net")
			if err := tel.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			got := sink.received("/v1/logs")
			if (len(got) > 0) != tt.bridge {
				t.Fatalf("%d OTLP log exports, want bridge=%v", len(got), tt.bridge)
			}
			for _, b := range got {
				if !bytes.Contains(b, []byte("bridge-probe")) {
					t.Errorf("export lacks the record")
				}
				if bytes.Contains(b, []byte("hunter2")) || bytes.Contains(b, []byte("carol@example.net")) {
					t.Errorf("exported record holds a secret")
				}
			}
			if line(t, lines.String(), "bridge-probe") == nil {
				t.Errorf("JSON line missing")
			}
		})
	}
}

func TestNewRedactingHandler(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(telemetry.NewRedactingHandler(slog.NewJSONHandler(&buf, nil)))
	l.With("token", "abc").WithGroup("g").Info("mail to bob@example.org", "email", "bob@example.org", "err", errors.New("from 10.1.2.3"), "n", 1)
	out := buf.String()
	for _, secret := range []string{"abc", "bob@example.org", "10.1.2.3"} {
		if strings.Contains(out, secret) {
			t.Errorf("output holds %q: %s", secret, out)
		}
	}
	l2 := mustLine(t, out, "mail to "+telemetry.Redacted)
	if g, _ := l2["g"].(map[string]any); g["n"] != 1.0 || g["err"] != "from "+telemetry.Redacted {
		t.Errorf("line %v", l2)
	}
	if !l.Enabled(context.Background(), slog.LevelInfo) || l.Enabled(context.Background(), slog.LevelDebug) {
		t.Errorf("Enabled does not follow the next handler")
	}
}
