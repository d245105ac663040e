package stacktest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
)

// startCollectors is testproc.StartCollectors with the stack tests' sink
// and a collector that decides on traces within 2 s and flushes span
// metrics every second; env overrides.
func startCollectors(t *testing.T, bin, metricsAddr, promWrite string, env ...string) *testproc.Collectors {
	t.Helper()
	return testproc.StartCollectors(t, bin, testproc.RepoPath(t, "internal", "stacktest", "testdata", "sink.yaml"), metricsAddr, promWrite,
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
	bin := testproc.Otelcol(t)
	// No random share: what arrives was kept by a rule. Remote writes go
	// nowhere (this test has no Prometheus); the exporter retries quietly.
	c := startCollectors(t, bin, "", "http://"+testenv.FreeAddr(t)+"/api/v1/write",
		"OTELCOL_TAIL_SAMPLING_PERCENTAGE=0", "OTELCOL_TAIL_SLOW_MS=500")
	ctx := context.Background()
	now := time.Now()
	nanos := func(t time.Time) uint64 { return uint64(t.UnixNano()) }

	serverSpan := func(name, route string, d time.Duration, status tracepb.Status_StatusCode, extra ...string) *tracepb.Span {
		return &tracepb.Span{TraceId: testproc.RandomID(16), SpanId: testproc.RandomID(8), Name: name, Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: nanos(now), EndTimeUnixNano: nanos(now.Add(d)),
			Attributes: testproc.StrAttrs(append([]string{"http.route", route}, extra...)...), Status: &tracepb.Status{Code: status}}
	}
	pii := []string{
		"user.email", "alice@example.com",
		"client.address", "203.0.113.7",
		"network.peer.address", "203.0.113.8",
		"http.request.header.authorization", "Bearer abc.def.ghi",
		"app.note", "contact bob@example.org from 198.51.100.23 or 2001:db8::1",
		"app.auth", "Bearer s3cr3t-token",
		"password", "hunter2",
		"session_token", "tok-123",
		"user_agent.original", "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
	}
	const ok, failed = tracepb.Status_STATUS_CODE_UNSET, tracepb.Status_STATUS_CODE_ERROR
	errSpan := serverSpan("GET /api/posts/{id}", "/api/posts/{id}", time.Millisecond, failed, pii...)
	slowSpan := serverSpan("GET /api/posts", "/api/posts", 700*time.Millisecond, ok)
	fastSpan := serverSpan("GET /api/posts", "/api/posts", time.Millisecond, ok)
	probeSpan := serverSpan("GET /api/health", "/api/health", 900*time.Millisecond, failed)
	// A client span of the error trace, arriving in a later batch.
	child := &tracepb.Span{TraceId: errSpan.TraceId, SpanId: testproc.RandomID(8), ParentSpanId: errSpan.SpanId, Name: "sql.conn.query",
		Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: nanos(now), EndTimeUnixNano: nanos(now.Add(time.Millisecond)),
		Attributes: testproc.StrAttrs("db.system.name", "sqlite", "network.peer.address", "10.0.0.5")}
	if err := testproc.SendSpans(ctx, c.CollectorHTTP, "pii-check", "stacktest", errSpan, slowSpan, fastSpan, probeSpan); err != nil {
		t.Fatal(err)
	}
	if err := testproc.SendSpans(ctx, c.CollectorHTTP, "pii-check", "stacktest", child); err != nil {
		t.Fatal(err)
	}
	logTrace := testproc.RandomID(16)
	if err := testproc.SendLogs(ctx, c.CollectorHTTP, "pii-check", "stacktest",
		&logspb.LogRecord{
			TimeUnixNano: nanos(now), SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_ERROR, SeverityText: "ERROR",
			Body:       testproc.StrValue("login failed for carol@example.com from 192.0.2.10 with Bearer xyz.123"),
			Attributes: testproc.StrAttrs("user.email", "dave@example.com", "api_key", "k-1", "user_id", "42"),
			TraceId:    logTrace, SpanId: testproc.RandomID(8),
		},
		&logspb.LogRecord{
			TimeUnixNano: nanos(now), SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_DEBUG, SeverityText: "DEBUG",
			Body: testproc.StrValue("http.request"), Attributes: testproc.StrAttrs("route", "/readyz"), TraceId: testproc.RandomID(16),
		},
	); err != nil {
		t.Fatal(err)
	}

	tracesPath := filepath.Join(c.SinkDir, "traces.jsonl")
	var spans []testproc.Span
	testproc.WaitFor(t, "the error and slow traces in the sink", 30*time.Second, func() (err error) {
		if spans, err = testproc.ReadSpans(tracesPath); err != nil {
			return err
		}
		for _, want := range []*tracepb.Span{errSpan, slowSpan} {
			if !slices.ContainsFunc(spans, func(s testproc.Span) bool { return bytes.Equal(s.TraceId, want.TraceId) }) {
				return fmt.Errorf("trace of %s (%d) not forwarded; %d spans so far", want.Name, want.EndTimeUnixNano, len(spans))
			}
		}
		return nil
	}, c.Sink, c.Collector)
	time.Sleep(3 * time.Second) // past decision_wait: the others had their chance
	spans, _ = testproc.ReadSpans(tracesPath)
	has := func(id []byte) bool {
		return slices.ContainsFunc(spans, func(s testproc.Span) bool { return bytes.Equal(s.TraceId, id) })
	}

	t.Run("tail sampling", func(t *testing.T) {
		if has(fastSpan.TraceId) {
			t.Error("a fast, successful trace was kept at 0% sampling")
		}
		if has(probeSpan.TraceId) {
			t.Error("a health probe trace was kept, although it failed and was slow")
		}
		n := 0
		for _, s := range spans {
			if bytes.Equal(s.TraceId, errSpan.TraceId) {
				n++
			}
		}
		if n != 2 {
			t.Errorf("the error trace arrived with %d spans, want both (server and its late SQL child)", n)
		}
	})

	t.Run("span attributes", func(t *testing.T) {
		i := slices.IndexFunc(spans, func(s testproc.Span) bool { return bytes.Equal(s.SpanId, errSpan.SpanId) })
		got := spans[i].Attributes
		for _, key := range []string{"client.address", "network.peer.address", "http.request.header.authorization", "password", "session_token"} {
			if v, ok := testproc.Attr(got, key); ok {
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
			if v, _ := testproc.Attr(got, key); v != want {
				t.Errorf("%s = %q, want %q", key, v, want)
			}
		}
		// A client span's peer is the database, not a person: it stays (IP redacted).
		j := slices.IndexFunc(spans, func(s testproc.Span) bool { return bytes.Equal(s.SpanId, child.SpanId) })
		if v, _ := testproc.Attr(spans[j].Attributes, "network.peer.address"); v != "[REDACTED_IP]" {
			t.Errorf("client span network.peer.address = %q, want it kept and masked", v)
		}
	})

	t.Run("log records", func(t *testing.T) {
		var logs []testproc.LogRecord
		testproc.WaitFor(t, "the log record in the sink", 20*time.Second, func() (err error) {
			if logs, err = testproc.ReadLogs(filepath.Join(c.SinkDir, "logs.jsonl")); err != nil {
				return err
			}
			if !slices.ContainsFunc(logs, func(l testproc.LogRecord) bool { return bytes.Equal(l.TraceId, logTrace) }) {
				return fmt.Errorf("not forwarded; %d records so far", len(logs))
			}
			return nil
		}, c.Sink, c.Collector)
		rec := logs[slices.IndexFunc(logs, func(l testproc.LogRecord) bool { return bytes.Equal(l.TraceId, logTrace) })]
		if want := "login failed for [REDACTED_EMAIL] from [REDACTED_IP] with Bearer [REDACTED]"; testproc.Text(rec.Body) != want {
			t.Errorf("body = %q, want %q", testproc.Text(rec.Body), want)
		}
		if v, _ := testproc.Attr(rec.Attributes, "user.email"); v != "[REDACTED_EMAIL]" {
			t.Errorf("user.email = %q", v)
		}
		if v, ok := testproc.Attr(rec.Attributes, "api_key"); ok {
			t.Errorf("api_key survived as %q", v)
		}
		if v, _ := testproc.Attr(rec.Attributes, "user_id"); v != "42" {
			t.Errorf("user_id = %q, want it kept", v)
		}
		if slices.ContainsFunc(logs, func(l testproc.LogRecord) bool { r, _ := testproc.Attr(l.Attributes, "route"); return isProbe(r) }) {
			t.Error("a health probe's access log reached Loki")
		}
	})
}
