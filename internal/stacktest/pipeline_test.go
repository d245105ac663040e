package stacktest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// startCollectors is testproc.StartCollectors with the stack tests' sink
// and a collector that decides on traces within 2 s and flushes span
// metrics every second; env overrides.
func startCollectors(t *testing.T, bin, metricsAddr, promWrite string, env ...string) *testproc.Collectors {
	t.Helper()
	return testproc.StartCollectors(t, bin, repoPath(t, "internal", "stacktest", "testdata", "sink.yaml"), metricsAddr, promWrite,
		append([]string{"OTELCOL_TAIL_DECISION_WAIT=2s", "OTELCOL_SPANMETRICS_FLUSH_INTERVAL=1s"}, env...)...)
}

func isProbe(route string) bool {
	return route == "/api/health" || route == "/livez" || route == "/readyz"
}

// TestCollectorPipeline sends telemetry straight to the shipped collector, as
// a buggy or foreign service would, and reads what Tempo and Loki would get:
// tail sampling keeps errors and slow traces and drops the rest and the
// health probes; personal data is redacted from spans and logs.
func TestCollectorPipeline(t *testing.T) {
	bin := otelcol(t)
	// No random share: what arrives was kept by a rule. Remote writes go
	// nowhere (this test has no Prometheus); the exporter retries quietly.
	c := startCollectors(t, bin, freeAddr(t), "http://"+freeAddr(t)+"/api/v1/write",
		"OTELCOL_TAIL_SAMPLING_PERCENTAGE=0", "OTELCOL_TAIL_SLOW_MS=500")
	ctx := context.Background()
	now := time.Now()

	serverSpan := func(name, route string, d time.Duration, status int, extra map[string]string) otlpSpan {
		a := map[string]string{"http.route": route}
		for k, v := range extra {
			a[k] = v
		}
		s := otlpSpan{TraceID: randHex(16), SpanID: randHex(8), Name: name, Kind: spanKindServer,
			StartTimeUnixNano: nanos(now), EndTimeUnixNano: nanos(now.Add(d)), Attributes: strAttrs(a)}
		s.Status.Code = status
		return s
	}
	pii := map[string]string{
		"user.email":                        "alice@example.com",
		"client.address":                    "203.0.113.7",
		"network.peer.address":              "203.0.113.8",
		"http.request.header.authorization": "Bearer abc.def.ghi",
		"app.note":                          "contact bob@example.org from 198.51.100.23 or 2001:db8::1",
		"app.auth":                          "Bearer s3cr3t-token",
		"password":                          "hunter2",
		"session_token":                     "tok-123",
		"user_agent.original":               "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
	}
	errSpan := serverSpan("GET /api/posts/{id}", "/api/posts/{id}", time.Millisecond, statusError, pii)
	slowSpan := serverSpan("GET /api/posts", "/api/posts", 700*time.Millisecond, 0, nil)
	fastSpan := serverSpan("GET /api/posts", "/api/posts", time.Millisecond, 0, nil)
	probeSpan := serverSpan("GET /api/health", "/api/health", 900*time.Millisecond, statusError, nil)
	// A client span of the error trace, arriving in a later batch.
	child := otlpSpan{TraceID: errSpan.TraceID, SpanID: randHex(8), ParentSpanID: errSpan.SpanID, Name: "sql.conn.query",
		Kind: spanKindClient, StartTimeUnixNano: nanos(now), EndTimeUnixNano: nanos(now.Add(time.Millisecond)),
		Attributes: strAttrs(map[string]string{"db.system.name": "sqlite", "network.peer.address": "10.0.0.5"})}
	if err := sendSpans(ctx, c.CollectorHTTP, "pii-check", errSpan, slowSpan, fastSpan, probeSpan); err != nil {
		t.Fatal(err)
	}
	if err := sendSpans(ctx, c.CollectorHTTP, "pii-check", child); err != nil {
		t.Fatal(err)
	}
	logTrace := randHex(16)
	if err := sendLogs(ctx, c.CollectorHTTP, "pii-check",
		otlpLog{
			TimeUnixNano: nanos(now), SeverityNumber: 17, SeverityText: "ERROR",
			Body:       otlpValue{StringValue: ptr("login failed for carol@example.com from 192.0.2.10 with Bearer xyz.123")},
			Attributes: strAttrs(map[string]string{"user.email": "dave@example.com", "api_key": "k-1", "user_id": "42"}),
			TraceID:    logTrace, SpanID: randHex(8),
		},
		otlpLog{
			TimeUnixNano: nanos(now), SeverityNumber: 5, SeverityText: "DEBUG", Body: otlpValue{StringValue: ptr("http.request")},
			Attributes: strAttrs(map[string]string{"route": "/readyz"}), TraceID: randHex(16),
		},
	); err != nil {
		t.Fatal(err)
	}

	tracesPath := filepath.Join(c.SinkDir, "traces.jsonl")
	var spans []span
	waitFor(t, "the error and slow traces in the sink", 30*time.Second, func() (err error) {
		if spans, err = readSpans(tracesPath); err != nil {
			return err
		}
		for _, want := range []otlpSpan{errSpan, slowSpan} {
			if !slices.ContainsFunc(spans, func(s span) bool { return s.TraceID == want.TraceID }) {
				return fmt.Errorf("trace of %s (%s) not forwarded; %d spans so far", want.Name, want.EndTimeUnixNano, len(spans))
			}
		}
		return nil
	}, c.Sink, c.Collector)
	time.Sleep(3 * time.Second) // past decision_wait: the others had their chance
	spans, _ = readSpans(tracesPath)
	has := func(id string) bool { return slices.ContainsFunc(spans, func(s span) bool { return s.TraceID == id }) }

	t.Run("tail sampling", func(t *testing.T) {
		if has(fastSpan.TraceID) {
			t.Error("a fast, successful trace was kept at 0% sampling")
		}
		if has(probeSpan.TraceID) {
			t.Error("a health probe trace was kept, although it failed and was slow")
		}
		n := 0
		for _, s := range spans {
			if s.TraceID == errSpan.TraceID {
				n++
			}
		}
		if n != 2 {
			t.Errorf("the error trace arrived with %d spans, want both (server and its late SQL child)", n)
		}
	})

	t.Run("span attributes", func(t *testing.T) {
		i := slices.IndexFunc(spans, func(s span) bool { return s.SpanID == errSpan.SpanID })
		got := spans[i].Attributes
		for _, key := range []string{"client.address", "network.peer.address", "http.request.header.authorization", "password", "session_token"} {
			if v, ok := got.get(key); ok {
				t.Errorf("%s survived as %q", key, v)
			}
		}
		for key, want := range map[string]string{
			"user.email":          "[REDACTED_EMAIL]",
			"app.auth":            "Bearer [REDACTED]",
			"user_agent.original": "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
			"http.route":          "/api/posts/{id}",
			"app.note":            "contact [REDACTED_EMAIL] from [REDACTED_IP] or [REDACTED_IP]",
		} {
			if v, _ := got.get(key); v != want {
				t.Errorf("%s = %q, want %q", key, v, want)
			}
		}
		// A client span's peer is the database, not a person: it stays (IP redacted).
		j := slices.IndexFunc(spans, func(s span) bool { return s.SpanID == child.SpanID })
		if v, _ := spans[j].Attributes.get("network.peer.address"); v != "[REDACTED_IP]" {
			t.Errorf("client span network.peer.address = %q, want it kept and masked", v)
		}
	})

	t.Run("log records", func(t *testing.T) {
		var logs []logRecord
		waitFor(t, "the log record in the sink", 20*time.Second, func() (err error) {
			if logs, err = readLogs(filepath.Join(c.SinkDir, "logs.jsonl")); err != nil {
				return err
			}
			if !slices.ContainsFunc(logs, func(l logRecord) bool { return l.TraceID == logTrace }) {
				return fmt.Errorf("not forwarded; %d records so far", len(logs))
			}
			return nil
		}, c.Sink, c.Collector)
		rec := logs[slices.IndexFunc(logs, func(l logRecord) bool { return l.TraceID == logTrace })]
		if want := "login failed for [REDACTED_EMAIL] from [REDACTED_IP] with Bearer [REDACTED]"; rec.Body.String() != want {
			t.Errorf("body = %q, want %q", rec.Body.String(), want)
		}
		if v, _ := rec.Attributes.get("user.email"); v != "[REDACTED_EMAIL]" {
			t.Errorf("user.email = %q", v)
		}
		if v, ok := rec.Attributes.get("api_key"); ok {
			t.Errorf("api_key survived as %q", v)
		}
		if v, _ := rec.Attributes.get("user_id"); v != "42" {
			t.Errorf("user_id = %q, want it kept", v)
		}
		if slices.ContainsFunc(logs, func(l logRecord) bool { r, _ := l.Attributes.get("route"); return isProbe(r) }) {
			t.Error("a health probe's access log reached Loki")
		}
	})
}
