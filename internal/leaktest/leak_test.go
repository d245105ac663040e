package leaktest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to break the app's database from outside

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"example.com/otelstarter/internal/testproc"
)

// The secrets of the scripted session: distinctive, so that any occurrence
// in a sink is a leak and not a coincidence.
const (
	email     = "leak.proof.q7x9@example.net"
	emailUser = "leak.proof.q7x9"
	password  = "Zq8-leak-pass-W4rd"
	clientIP  = "203.0.113.199"
	clientIP6 = "2001:db8::c0ff:ee"
	cookie    = "cookie-leak-5kq2"
)

// The secrets sent straight to the collector, as a careless service would.
const (
	directEmail  = "direct.leak.r5t2@example.org"
	directIP     = "192.0.2.147"
	directXFF    = "198.51.100.222"
	directBearer = "direct-tok-8Hq2x"
	directCookie = "direct-cookie-c00k1e"
)

// client talks to the app as the browser does.
type client struct {
	t    *testing.T
	base string
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (c client) do(method, path, contentType, body, token string, hdr ...string) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// Every request carries the client's addresses and a cookie, as one
	// behind a proxy would.
	req.Header.Set("X-Forwarded-For", clientIP+", "+clientIP6)
	req.Header.Set("X-Real-Ip", clientIP)
	req.Header.Set("Cookie", "sid="+cookie+"; theme=dark")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 Safari/537.36")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (c client) want(a answer, status int, what string) answer {
	c.t.Helper()
	if a.status != status {
		c.t.Fatalf("%s: status %d, want %d: %s", what, a.status, status, a.body)
	}
	return a
}

// TestNoSecretLeavesTheProcess is the leak proof of the service: one
// scripted browser session full of distinctive secrets, including a
// frontend error through the Sentry tunnel and a backend failure reported
// to Sentry; then every sink is searched and must hold none of them.
func TestNoSecretLeavesTheProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two collectors and the app; skipped with -short")
	}
	otelcolBin := testproc.Otelcol(t)
	appBin := testproc.BuildApp(t)
	dir := t.TempDir()

	// The fakes: Sentry (both DSNs, told apart by project ID) and the
	// Prometheus remote-write endpoint. bin/otelcol has no remote-write
	// receiver (builder.yaml holds only what the configs use), so the
	// test decodes the writes itself.
	sentry := newRecorder(t, http.StatusOK, `{"id":"00000000000000000000000000000000"}`)
	promWrite := newRecorder(t, http.StatusNoContent, "")
	sentryHost := strings.TrimPrefix(sentry.URL, "http://")
	backendDSN := "http://backendpublickey@" + sentryHost + "/1"
	frontendDSN := "http://frontendpublickey@" + sentryHost + "/2"

	// Keep every trace, decide fast, flush span metrics often.
	s := testproc.StartCollectors(t, otelcolBin, testproc.RepoPath(t, "internal", "leaktest", "testdata", "sink.yaml"),
		"", promWrite.URL+"/api/v1/write",
		"OTELCOL_TAIL_SAMPLING_PERCENTAGE=100", "OTELCOL_TAIL_DECISION_WAIT=1s", "OTELCOL_SPANMETRICS_FLUSH_INTERVAL=1s")

	// The welcome email's job takes the worst path: the mail server refuses
	// the recipient and echoes the address in its answer, as many do; the
	// job is then cancelled, logged as an error and sent to Sentry.
	mail := testproc.StartMailpit(t, "--smtp-allowed-recipients", "^nobody-is-allowed@")
	_, smtpPort, _ := strings.Cut(mail.SMTP, ":")

	dbPath := filepath.Join(dir, "blog.db")
	app := testproc.StartApp(t, "app", []string{
		"DATABASE_URL=sqlite:" + dbPath,
		"FRONTEND_DIR=" + filepath.Join(dir, "no-frontend"),
		"REDIS_URL=",
		"METRICS_TOKEN=",
		"LOG_LEVEL=debug", // the most the app ever writes
		"LOG_FORMAT=json",
		"BCRYPT_COST=4",
		"OTEL_SERVICE_NAME=blog-api",
		"OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=leaktest",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.CollectorHTTP,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_LOGS_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=otlp",
		"OTEL_METRIC_EXPORT_INTERVAL=1000",
		"OTEL_TRACES_SAMPLER=always_on",
		"OTEL_BSP_SCHEDULE_DELAY=200",
		"OTEL_BLRP_SCHEDULE_DELAY=200",
		"SENTRY_DSN=" + backendDSN,
		"SENTRY_FRONTEND_DSN=" + frontendDSN,
		"SENTRY_ENVIRONMENT=development",
		"SMTP_URL=smtp://localhost:" + smtpPort,
	}, appBin)
	base := app.URL
	testproc.WaitFor(t, "app ready", 60*time.Second, func() error { return testproc.HTTPOK(base + "/readyz") }, app.Process, s.Collector, s.Sink)

	// 1. The session.
	c := client{t, base}
	creds := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
	const js = "application/json"
	c.want(c.do("POST", "/api/users", js, creds, ""), 201, "register")
	testproc.WaitFor(t, "the welcome email's job to be discarded", 30*time.Second, func() error {
		if !strings.Contains(app.Output(), `"msg":"job.discarded"`) {
			return fmt.Errorf("no job.discarded line yet")
		}
		return nil
	}, app.Process)
	var login struct {
		Token string `json:"token"`
	}
	l := c.want(c.do("POST", "/api/login", js, creds, ""), 200, "login")
	if err := json.Unmarshal([]byte(l.body), &login); err != nil || len(login.Token) < 40 {
		t.Fatalf("login answer %q: %v", l.body, err)
	}
	token := login.Token
	c.want(c.do("POST", "/api/login", js, fmt.Sprintf(`{"email":%q,"password":%q}`, email, password+"-wrong"), ""), 401, "wrong password")
	c.want(c.do("POST", "/api/users", js, creds, ""), 409, "register again")
	p := c.want(c.do("POST", "/api/posts", js, `{"title":"hello","body":"first post"}`, token), 201, "create post")
	var post struct {
		ID int64 `json:"id"`
	}
	_ = json.Unmarshal([]byte(p.body), &post)
	c.want(c.do("PUT", fmt.Sprintf("/api/posts/%d", post.ID), js, `{"title":"hello again","body":"edited"}`, token), 200, "update post")
	c.want(c.do("GET", "/api/posts?author="+email+"&ip="+clientIP, "", "", token), 200, "list with secrets in the query")
	c.do("POST", "/api/posts", js, `{"title":"`+email+`","body":"`+password+`"`, token) // malformed: 400
	c.want(c.do("GET", "/api/posts/999999", "", "", token), 404, "missing post")

	// A frontend error through the tunnel: the browser's own data, with the
	// email and IP in the exception message. Not the password: the
	// frontend.error line keeps the message, masked by shape (emails, IPs,
	// bearer tokens), and no pattern can recognise a free-form password.
	browserTrace, browserSpan := testproc.RandomHex(16), testproc.RandomHex(8)
	envelope := fmt.Sprintf(`{"event_id":"%s","dsn":%q,"sent_at":"%s","trace":{"trace_id":"%s","public_key":"frontendpublickey"}}`+"\n"+
		`{"type":"event"}`+"\n"+
		`{"event_id":"%s","platform":"javascript","exception":{"values":[{"type":"TypeError","value":"cannot load the profile of %s from %s"}]},"contexts":{"trace":{"trace_id":"%s","span_id":"%s"}},"user":{"email":%q,"ip_address":"{{auto}}"}}`+"\n",
		testproc.RandomHex(16), frontendDSN, time.Now().UTC().Format(time.RFC3339), browserTrace,
		testproc.RandomHex(16), email, clientIP, browserTrace, browserSpan, email)
	c.want(c.do("POST", "/api/sentry-tunnel", "text/plain;charset=UTF-8", envelope, ""), 200, "sentry tunnel")

	// A backend failure with the secrets in flight: the posts table goes
	// away under the running app, then a post is created (500, reported to
	// Sentry, logged, recorded on the span).
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TABLE posts`); err != nil {
		t.Fatalf("drop the posts table: %v", err)
	}
	db.Close()
	failed := c.want(c.do("POST", "/api/posts", js, fmt.Sprintf(`{"title":%q,"body":%q}`, email, password), token), 500, "create post on a broken database")
	errTrace := failed.header.Get("X-Request-Id")
	if len(errTrace) != 32 {
		t.Fatalf("the 500 has X-Request-Id %q", errTrace)
	}

	// 2. The same kind of data sent straight to the collector by a
	// careless service: its redaction is the second line of defence.
	direct := sendDirect(t, s.CollectorHTTP)

	// 3. The app's own /metrics, in both formats (OpenMetrics has exemplars).
	scrape := ""
	for _, accept := range []string{"text/plain", "application/openmetrics-text; version=1.0.0"} {
		status, b, err := testproc.Get(context.Background(), app.AdminURL+"/metrics", "Accept", accept)
		if err != nil {
			t.Fatal(err)
		}
		if status != 200 {
			t.Fatalf("GET /metrics (%s): status %d", accept, status)
		}
		scrape += string(b)
	}

	// 4. Stop the app: the shutdown flushes spans, logs, metrics and Sentry.
	app.Stop()
	if app.Err() != nil {
		t.Errorf("the app did not stop cleanly: %v", app.Err())
	}

	// 5. Wait until every sink holds what the session must have produced,
	// so that finding no secret there proves something.
	tracesPath, logsPath := filepath.Join(s.SinkDir, "traces.jsonl"), filepath.Join(s.SinkDir, "logs.jsonl")
	testproc.WaitFor(t, "the session in every sink", 90*time.Second, func() error {
		spans, _ := testproc.ReadSpans(tracesPath)
		if !slices.ContainsFunc(spans, func(sp testproc.Span) bool { return sp.HexTraceID() == errTrace }) {
			return fmt.Errorf("the failed request's trace %s is not in the sink (%d spans)", errTrace, len(spans))
		}
		if !slices.ContainsFunc(spans, func(sp testproc.Span) bool { return sp.HexTraceID() == direct.traceID }) {
			return fmt.Errorf("the direct span is not in the sink")
		}
		logs, _ := testproc.ReadLogs(logsPath)
		if !slices.ContainsFunc(logs, func(r testproc.LogRecord) bool { return r.HexTraceID() == browserTrace }) {
			return fmt.Errorf("the frontend.error record (trace %s) is not in the sink (%d records)", browserTrace, len(logs))
		}
		if !slices.ContainsFunc(logs, func(r testproc.LogRecord) bool { return r.HexTraceID() == direct.logTraceID }) {
			return fmt.Errorf("the direct log record is not in the sink")
		}
		if !strings.Contains(remoteWrites(promWrite), "http_server_request_duration_seconds") {
			return fmt.Errorf("no remote write with the app's HTTP metrics yet")
		}
		if !strings.Contains(backendSentry(t, sentry, envelope), errTrace) {
			return fmt.Errorf("no backend Sentry event for trace %s yet", errTrace)
		}
		return nil
	}, s.Collector, s.Sink)
	// Stop the collectors in pipeline order: the shutdown flushes the batch
	// processors, the tail-sampling buffer, the remote-write queue and the
	// file exporters, so that nothing still in flight escapes the search.
	s.Collector.Stop()
	s.Sink.Stop()

	// 6. The search.
	sinks := map[string]string{
		"app stdout":                       app.Stdout.String(),
		"app stderr":                       app.Stderr.String(),
		"app /metrics scrape":              scrape,
		"sink traces (Tempo)":              readFile(t, tracesPath),
		"sink logs (Loki)":                 readFile(t, logsPath),
		"sink metrics (OTLP)":              readFile(t, filepath.Join(s.SinkDir, "metrics.jsonl")),
		"remote write (Prometheus)":        remoteWrites(promWrite),
		"backend Sentry envelopes":         backendSentry(t, sentry, envelope),
		"collector's own output":           s.Collector.Stdout.String() + s.Collector.Stderr.String(),
		"sink collector's own output":      s.Sink.Stdout.String() + s.Sink.Stderr.String(),
		"fake servers' undecodable bodies": undecodable(sentry, promWrite),
	}
	secrets := map[string]string{
		"email": email, "email local part": emailUser, "password": password,
		"token": token, "token prefix": token[:12], "client IPv4": clientIP, "client IPv6": clientIP6,
		"cookie":       cookie,
		"direct email": directEmail, "direct client.address": directIP, "direct X-Forwarded-For": directXFF,
		"direct bearer": directBearer, "direct cookie": directCookie,
	}
	names := make([]string, 0, len(sinks))
	for n := range sinks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, sink := range names {
		text := sinks[sink]
		hits := 0
		for what, secret := range secrets {
			if n := count(text, secret); n > 0 {
				hits += n
				t.Errorf("%s: %d× the %s: …%s…", sink, n, what, around(text, secret))
			}
		}
		t.Logf("%-32s %8d bytes, %d secret hits", sink, len(text), hits)
	}
	rw, _ := promWrite.requests()
	sentryReqs, _ := sentry.requests()
	spans, _ := testproc.ReadSpans(tracesPath)
	logs, _ := testproc.ReadLogs(logsPath)
	t.Logf("records: %d spans, %d log records in the sink; %d remote writes; %d Sentry envelopes (1 forwarded by the tunnel)",
		len(spans), len(logs), len(rw), len(sentryReqs))
	for _, sink := range []string{"app stdout", "app /metrics scrape", "sink traces (Tempo)", "sink logs (Loki)", "remote write (Prometheus)", "backend Sentry envelopes"} {
		if len(sinks[sink]) == 0 {
			t.Errorf("%s is empty: the search proves nothing there", sink)
		}
	}

	// The sinks carry what they should: the IDs that link them.
	stdout := sinks["app stdout"]
	if !strings.Contains(stdout, `"msg":"frontend.error"`) || !strings.Contains(stdout, browserTrace) {
		t.Error("app stdout has no frontend.error line in the browser's trace")
	}
	if !strings.Contains(stdout, errTrace) || !strings.Contains(stdout, `"user_id":`) {
		t.Error("app stdout lacks the failed request's trace or any user_id")
	}

	// The tunnel forwarded the browser's envelope unchanged, and only it.
	var forwarded int
	reqs, _ := sentry.requests()
	for _, r := range reqs {
		if r.Path == "/api/2/envelope/" {
			forwarded++
			if !bytes.Equal(r.Body, []byte(envelope)) {
				t.Errorf("the tunnel changed the envelope:\nsent %q\ngot  %q", envelope, r.Body)
			}
		}
	}
	if forwarded != 1 {
		t.Errorf("the tunnel forwarded %d envelopes to the frontend project, want 1", forwarded)
	}

	direct.check(t, tracesPath, logsPath)
}

// direct is what sendDirect sent.
type direct struct {
	traceID, spanID, logTraceID string
}

// sendDirect posts a span (with an event) and a log record full of
// personal data straight to the shipped collector's OTLP/HTTP receiver.
func sendDirect(t *testing.T, collector string) direct {
	t.Helper()
	now := uint64(time.Now().UnixNano())
	traceID, spanID, logTraceID := testproc.RandomID(16), testproc.RandomID(8), testproc.RandomID(16)
	d := direct{traceID: hex.EncodeToString(traceID), spanID: hex.EncodeToString(spanID), logTraceID: hex.EncodeToString(logTraceID)}
	sp := &tracepb.Span{
		TraceId: traceID, SpanId: spanID, Name: "POST /api/login", Kind: tracepb.Span_SPAN_KIND_SERVER,
		StartTimeUnixNano: now, EndTimeUnixNano: now + uint64(time.Millisecond),
		Attributes: testproc.StrAttrs(
			"http.route", "/api/login",
			"user.email", directEmail,
			"client.address", directIP,
			"http.request.header.authorization", "Bearer "+directBearer,
			"http.request.header.cookie", "sid="+directCookie,
			"http.request.header.x-forwarded-for", directXFF,
			"app.note", "mail "+directEmail+" from "+directIP+" with Bearer "+directBearer,
		),
		Events: []*tracepb.Span_Event{{TimeUnixNano: now, Name: "exception", Attributes: testproc.StrAttrs(
			"exception.message", "login of "+directEmail+" from "+directIP+" failed",
		)}},
		// error: kept by tail sampling whatever the share
		Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testproc.SendSpans(ctx, collector, "careless-service", "leaktest", sp); err != nil {
		t.Fatal(err)
	}
	lr := &logspb.LogRecord{TimeUnixNano: now, SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_ERROR, SeverityText: "ERROR",
		Body:    testproc.StrValue("login failed for " + directEmail + " from " + directIP + " with Bearer " + directBearer),
		TraceId: logTraceID, SpanId: testproc.RandomID(8),
		Attributes: testproc.StrAttrs("user.email", directEmail, "client.address", directIP, "http.request.header.cookie", "sid="+directCookie, "user_id", "42")}
	if err := testproc.SendLogs(ctx, collector, "careless-service", "leaktest", lr); err != nil {
		t.Fatal(err)
	}
	return d
}

// check asserts the collector redacted, not dropped, the direct records.
func (d direct) check(t *testing.T, tracesPath, logsPath string) {
	t.Helper()
	spans, _ := testproc.ReadSpans(tracesPath)
	i := slices.IndexFunc(spans, func(s testproc.Span) bool { return hex.EncodeToString(s.SpanId) == d.spanID })
	if i < 0 {
		t.Fatal("the direct span did not arrive")
	}
	sp := spans[i]
	for _, key := range []string{"client.address", "http.request.header.authorization", "http.request.header.cookie", "http.request.header.x-forwarded-for"} {
		if v, ok := testproc.Attr(sp.Attributes, key); ok {
			t.Errorf("direct span: %s survived as %q", key, v)
		}
	}
	for key, want := range map[string]string{
		"user.email": "[REDACTED_EMAIL]",
		"app.note":   "mail [REDACTED_EMAIL] from [REDACTED_IP] with Bearer [REDACTED]",
		"http.route": "/api/login",
	} {
		if v, _ := testproc.Attr(sp.Attributes, key); v != want {
			t.Errorf("direct span: %s = %q, want %q", key, v, want)
		}
	}
	if len(sp.Events) != 1 {
		t.Errorf("direct span has %d events, want 1", len(sp.Events))
	} else if v, _ := testproc.Attr(sp.Events[0].Attributes, "exception.message"); v != "login of [REDACTED_EMAIL] from [REDACTED_IP] failed" {
		t.Errorf("direct span event: exception.message = %q", v)
	}

	logs, _ := testproc.ReadLogs(logsPath)
	j := slices.IndexFunc(logs, func(r testproc.LogRecord) bool { return r.HexTraceID() == d.logTraceID })
	if j < 0 {
		t.Fatal("the direct log record did not arrive")
	}
	lr := logs[j]
	if _, ok := lr.Body.GetValue().(*commonpb.AnyValue_StringValue); !ok || testproc.Text(lr.Body) != "login failed for [REDACTED_EMAIL] from [REDACTED_IP] with Bearer [REDACTED]" {
		t.Errorf("direct log body = %v", lr.Body)
	}
	if v, _ := testproc.Attr(lr.Attributes, "user.email"); v != "[REDACTED_EMAIL]" {
		t.Errorf("direct log: user.email = %q", v)
	}
	for _, key := range []string{"client.address", "http.request.header.cookie"} {
		if v, ok := testproc.Attr(lr.Attributes, key); ok {
			t.Errorf("direct log: %s survived as %q", key, v)
		}
	}
	if v, _ := testproc.Attr(lr.Attributes, "user_id"); v != "42" {
		t.Errorf("direct log: user_id = %q, want it kept", v)
	}
}

// backendSentry returns every envelope the fake Sentry received except the
// tunnel's forwarded copy of the browser's own envelope.
func backendSentry(t *testing.T, rec *recorder, browserEnvelope string) string {
	t.Helper()
	var sb strings.Builder
	reqs, _ := rec.requests()
	for _, r := range reqs {
		if r.Path == "/api/2/envelope/" && string(r.Body) == browserEnvelope {
			continue
		}
		sb.WriteString(r.Path + "\n")
		sb.Write(r.Body)
		sb.WriteString("\n")
	}
	return sb.String()
}

// remoteWrites returns the decoded remote-write bodies (protobuf: label
// names and values are plain bytes in it).
func remoteWrites(rec *recorder) string {
	var sb strings.Builder
	reqs, _ := rec.requests()
	for _, r := range reqs {
		sb.Write(r.Body)
	}
	return sb.String()
}

// undecodable lists bodies the fakes could not decode: none expected, and
// a secret inside one would otherwise go unnoticed.
func undecodable(recs ...*recorder) string {
	var sb strings.Builder
	for _, r := range recs {
		_, errs := r.requests()
		for _, err := range errs {
			sb.WriteString(err.Error() + "\n")
		}
	}
	return sb.String()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
