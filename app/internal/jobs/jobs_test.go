package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/jobs"
	"example.com/otelstarter/app/internal/mailer"
	"example.com/otelstarter/app/internal/sqlstore"
	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/telemetry"
	"example.com/otelstarter/telemetry/telemetrytest"
)

// fakeMailer records what it is asked to send, failing while fail is set.
type fakeMailer struct {
	mu   sync.Mutex
	sent []mailer.Message
	fail error
	got  chan struct{}
}

func newFakeMailer() *fakeMailer { return &fakeMailer{got: make(chan struct{}, 100)} }

func (m *fakeMailer) Send(ctx context.Context, msg mailer.Message) error {
	m.mu.Lock()
	defer func() { m.mu.Unlock(); m.got <- struct{}{} }()
	// The mailer's own client span, as *mailer.Mailer starts it.
	_, span := otel.Tracer("test").Start(ctx, "smtp send", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	if m.fail != nil {
		span.SetStatus(codes.Error, m.fail.Error())
		return m.fail
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *fakeMailer) setFail(err error) { m.mu.Lock(); m.fail = err; m.mu.Unlock() }

func (m *fakeMailer) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-m.got:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// spanEnded is a span processor that signals, without blocking, that a span
// ended; registered after the test's recorder, it signals once the
// recorder holds the span.
type spanEnded chan struct{}

func (spanEnded) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (e spanEnded) OnEnd(sdktrace.ReadOnlySpan) {
	select {
	case e <- struct{}{}:
	default: // a signal is pending already
	}
}
func (spanEnded) Shutdown(context.Context) error   { return nil }
func (spanEnded) ForceFlush(context.Context) error { return nil }

// databases are the two DATABASE_URLs the service supports.
func databases(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + t.TempDir() + "/blog.db" },
		"postgres": func(t *testing.T) string { return testenv.PostgresURL(t) },
	}
}

// open returns a store whose CreateUser enqueues the welcome email, and
// the queue, started.
func open(t *testing.T, url string, m jobs.Mailer) (*sqlstore.Store, *jobs.Queue) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var reported []error
	q, err := jobs.Open(ctx, jobs.Config{
		DatabaseURL: url, DB: store.DB(), Migrate: store.WithMigrationLock,
		Workers: 2, Users: store, Mailer: m,
		ReportError: func(_ context.Context, err error) { reported = append(reported, err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	store.OnCreateUser(func(ctx context.Context, tx *sql.Tx, u blog.User) error {
		return q.EnqueueWelcomeTx(ctx, tx, u.ID)
	})
	if err := q.Start(context.WithoutCancel(ctx)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := q.Stop(sctx); err != nil {
			t.Error(err)
		}
		q.Close()
	})
	return store, q
}

func TestWelcomeEmailIsInTheRegistrationsTrace(t *testing.T) {
	for name, url := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ended := make(spanEnded, 1)
			tel := telemetrytest.New(t, append(jobs.TelemetryOptions(), telemetry.WithSpanProcessor(ended))...)
			m := newFakeMailer()
			store, _ := open(t, url(t), m)

			ctx, req := otel.Tracer("test").Start(context.Background(), "POST /api/users", trace.WithSpanKind(trace.SpanKindServer))
			u, err := store.CreateUser(ctx, "new.user@example.com", "hash")
			req.End()
			if err != nil {
				t.Fatal(err)
			}
			m.wait(t, "the welcome email")
			if len(m.sent) != 1 || m.sent[0].To != u.Email {
				t.Fatalf("sent %+v, want one email to the new user", m.sent)
			}

			traceID := req.SpanContext().TraceID()
			// River ends its work span after the job returns: look again
			// at each span's end until the three are there.
			byName := map[string]sdktrace.ReadOnlySpan{}
			complete := func() bool {
				return byName["river.insert_many"] != nil && byName["river.work/welcome_email"] != nil && byName["smtp send"] != nil
			}
			timeout := time.After(30 * time.Second)
		wait:
			for {
				for _, s := range tel.Spans.Ended() {
					if s.SpanContext().TraceID() == traceID {
						byName[s.Name()] = s
					}
				}
				if complete() {
					break
				}
				select {
				case <-ended:
				case <-timeout:
					break wait
				}
			}
			insert, work, send := byName["river.insert_many"], byName["river.work/welcome_email"], byName["smtp send"]
			if insert == nil || work == nil || send == nil {
				t.Fatalf("spans of the request's trace: %v; want river.insert_many, river.work/welcome_email and smtp send", names(byName))
			}
			if insert.Parent().SpanID() != req.SpanContext().SpanID() || insert.SpanKind() != trace.SpanKindProducer {
				t.Errorf("insert span: parent %s kind %s, want the request's span, producer", insert.Parent().SpanID(), insert.SpanKind())
			}
			if work.Parent().SpanID() != insert.SpanContext().SpanID() || work.SpanKind() != trace.SpanKindConsumer {
				t.Errorf("work span: parent %s kind %s, want the insert span, consumer", work.Parent().SpanID(), work.SpanKind())
			}
			if send.Parent().SpanID() != work.SpanContext().SpanID() {
				t.Errorf("smtp span's parent = %s, want the work span", send.Parent().SpanID())
			}
			lines := tel.LinesWith(t, "email.sent")
			if len(lines) != 1 || lines[0]["trace_id"] != traceID.String() {
				t.Errorf("email.sent lines = %v, want one with the request's trace_id", lines)
			}
			if strings.Contains(tel.Dump(t), u.Email) {
				t.Errorf("the recipient's address reached the telemetry:\n%s", tel.Dump(t))
			}
			// Seconds buckets, not the SDK's millisecond defaults.
			h := telemetrytest.Find[metricdata.Histogram[float64]](t, tel.Metrics, "river.work_duration_histogram")
			if len(h.DataPoints) == 0 || h.DataPoints[0].Bounds[0] != 0.005 {
				t.Errorf("river.work_duration_histogram bounds: %+v, want from 0.005 s", h.DataPoints)
			}
		})
	}
}

func TestRolledBackRegistrationSendsNothing(t *testing.T) {
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m := newFakeMailer()
	q, err := jobs.Open(ctx, jobs.Config{DatabaseURL: "sqlite::memory:", DB: store.DB(), Migrate: store.WithMigrationLock, Workers: 1, Users: store, Mailer: m})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	boom := errors.New("boom")
	store.OnCreateUser(func(ctx context.Context, tx *sql.Tx, u blog.User) error {
		if err := q.EnqueueWelcomeTx(ctx, tx, u.ID); err != nil {
			return err
		}
		return boom // what follows the enqueue in the transaction fails
	})
	if _, err := store.CreateUser(ctx, "a@example.com", "h"); !errors.Is(err, boom) {
		t.Fatalf("CreateUser = %v, want the hook's error", err)
	}
	if _, err := store.UserByEmail(ctx, "a@example.com"); blog.ErrorCode(err) != blog.CodeNotFound {
		t.Fatalf("the user survived the rollback: %v", err)
	}
	var n int
	if err := store.DB().QueryRowContext(ctx, `SELECT count(*) FROM river_job`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("jobs after a rolled-back registration: %d (%v), want 0", n, err)
	}
}

func TestFailedAttemptsAreRetriedAndReported(t *testing.T) {
	tel := telemetrytest.New(t)
	m := newFakeMailer()
	m.setFail(errors.New("dial tcp: connection refused"))
	store, _ := open(t, "sqlite:"+t.TempDir()+"/blog.db", m)
	if _, err := store.CreateUser(context.Background(), "retry@example.com", "h"); err != nil {
		t.Fatal(err)
	}
	m.wait(t, "the first attempt")
	m.setFail(nil)
	m.wait(t, "the second attempt") // River's backoff: about a second
	if len(m.sent) != 1 {
		t.Fatalf("sent %d emails, want 1 after the retry", len(m.sent))
	}
	failed := tel.LinesWith(t, "job.failed")
	if len(failed) != 1 || failed[0]["level"] != "WARN" || failed[0]["attempt"] != float64(1) || failed[0]["job_id"] == nil || failed[0]["trace_id"] == nil {
		t.Fatalf("job.failed lines = %v, want one warn line of attempt 1 with job_id and trace_id", failed)
	}
	var errorSpans int
	for _, s := range tel.Spans.Ended() {
		if s.Name() == "river.work/welcome_email" && s.Status().Code == codes.Error {
			errorSpans++
		}
	}
	if errorSpans != 1 {
		t.Errorf("%d work spans with status error, want 1 (the failed attempt)", errorSpans)
	}
	if events := tel.Sentry.Events(); len(events) != 0 {
		t.Errorf("a retried attempt went to Sentry: %d events", len(events))
	}
}

func names(m map[string]sdktrace.ReadOnlySpan) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	return out
}

// TestBacklogIsReported: with nobody working them (JOB_WORKERS=0), the jobs
// wait, and the gauges say how many and for how long.
func TestBacklogIsReported(t *testing.T) {
	tel := telemetrytest.New(t)
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	q, err := jobs.Open(ctx, jobs.Config{DatabaseURL: "sqlite::memory:", DB: store.DB(), Migrate: store.WithMigrationLock, Workers: 0, Users: store})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	store.OnCreateUser(func(ctx context.Context, tx *sql.Tx, u blog.User) error { return q.EnqueueWelcomeTx(ctx, tx, u.ID) })
	for _, email := range []string{"one@example.com", "two@example.com"} {
		if _, err := store.CreateUser(ctx, email, "h"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond) // an age above zero

	backlog := telemetrytest.Find[metricdata.Gauge[int64]](t, tel.Metrics, "jobs.backlog")
	got := map[string]int64{}
	for _, dp := range backlog.DataPoints {
		state, _ := dp.Attributes.Value("state")
		got[state.AsString()] = dp.Value
	}
	if got["available"] != 2 || got["retryable"] != 0 {
		t.Errorf("jobs.backlog = %v, want available 2, retryable 0", got)
	}
	age := telemetrytest.Find[metricdata.Gauge[float64]](t, tel.Metrics, "jobs.oldest_available_age")
	if len(age.DataPoints) != 1 || age.DataPoints[0].Value <= 0 || age.DataPoints[0].Value > 60 {
		t.Errorf("jobs.oldest_available_age = %+v, want one point of a few milliseconds", age.DataPoints)
	}
}
