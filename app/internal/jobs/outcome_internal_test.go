package jobs

import (
	"context"
	"errors"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"example.com/otelstarter/telemetry/telemetrytest"
)

// TestLastAttemptIsReported: only the last failed attempt (or a
// cancellation) reaches the error tracker, in the job's trace, and counts
// as discarded; earlier ones are warn lines.
func TestLastAttemptIsReported(t *testing.T) {
	tel := telemetrytest.New(t)
	var reported []trace.SpanContext
	o, err := newOutcome(func(ctx context.Context, err error) {
		reported = append(reported, trace.SpanContextFromContext(ctx))
	})
	if err != nil {
		t.Fatal(err)
	}
	fail := func(err error) func(context.Context) error {
		return func(context.Context) error { return err }
	}
	ctx, span := otel.Tracer("test").Start(context.Background(), "river.work/welcome_email")
	defer span.End()
	boom := errors.New("smtp: connection refused")

	for _, c := range []struct {
		job      rivertype.JobRow
		err      error
		reported int
	}{
		{rivertype.JobRow{ID: 7, Kind: "welcome_email", Attempt: 1, MaxAttempts: 10}, boom, 0},
		{rivertype.JobRow{ID: 7, Kind: "welcome_email", Attempt: 10, MaxAttempts: 10}, boom, 1},
		{rivertype.JobRow{ID: 8, Kind: "welcome_email", Attempt: 1, MaxAttempts: 10}, river.JobCancel(boom), 2},
		{rivertype.JobRow{ID: 9, Kind: "welcome_email", Attempt: 10, MaxAttempts: 10}, nil, 2},
	} {
		if got := o.Work(ctx, &c.job, fail(c.err)); !errors.Is(got, c.err) {
			t.Errorf("Work returned %v, want the job's own %v", got, c.err)
		}
		if len(reported) != c.reported {
			t.Fatalf("after attempt %d/%d (%v): %d reports, want %d", c.job.Attempt, c.job.MaxAttempts, c.err, len(reported), c.reported)
		}
	}
	for _, sc := range reported {
		if sc.TraceID() != span.SpanContext().TraceID() {
			t.Errorf("reported in trace %s, want the job's %s", sc.TraceID(), span.SpanContext().TraceID())
		}
	}
	if warn := tel.LinesWith(t, "job.failed"); len(warn) != 1 || warn[0]["level"] != "WARN" {
		t.Errorf("job.failed lines: %v, want one warn line", warn)
	}
	if discarded := tel.LinesWith(t, "job.discarded"); len(discarded) != 2 || discarded[0]["level"] != "ERROR" {
		t.Errorf("job.discarded lines: %v, want two error lines", discarded)
	}
	sum := telemetrytest.Find[metricdata.Sum[int64]](t, tel.Metrics, "jobs.discarded")
	if len(sum.DataPoints) != 1 || sum.DataPoints[0].Value != 2 {
		t.Errorf("jobs.discarded = %+v, want 2 for welcome_email", sum.DataPoints)
	}
}
