package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/mailer"
)

// WelcomeEmail is the job that greets a new user. It carries the user's
// ID: the address is read when the email is sent, so no job row, log line
// or span holds it.
type WelcomeEmail struct {
	UserID int64 `json:"user_id"`
}

// Kind implements river.JobArgs.
func (WelcomeEmail) Kind() string { return "welcome_email" }

// InsertOpts implements river.JobArgsWithInsertOpts. Ten attempts with
// River's backoff (attempt⁴ seconds) span about four hours: a welcome
// email later than that is not worth sending.
func (WelcomeEmail) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

type welcomeWorker struct {
	river.WorkerDefaults[WelcomeEmail]
	users  Users
	mailer Mailer
}

// Timeout bounds an attempt: connecting and talking to the SMTP server.
func (w *welcomeWorker) Timeout(*river.Job[WelcomeEmail]) time.Duration { return 30 * time.Second }

func (w *welcomeWorker) Work(ctx context.Context, job *river.Job[WelcomeEmail]) error {
	if w.mailer == nil {
		slog.InfoContext(ctx, "email.skipped", slog.String("kind", job.Kind), slog.Int64("job_id", job.ID),
			slog.String("reason", "SMTP_URL is not set"))
		return nil
	}
	u, err := w.users.UserByID(ctx, job.Args.UserID)
	if blog.ErrorCode(err) == blog.CodeNotFound {
		// The account was deleted before its welcome: nothing to do.
		slog.InfoContext(ctx, "email.skipped", slog.String("kind", job.Kind), slog.Int64("job_id", job.ID),
			slog.String("reason", "the user no longer exists"))
		return nil
	}
	if err != nil {
		return err
	}
	err = w.mailer.Send(ctx, mailer.Message{
		To:      u.Email,
		Subject: "Welcome to the blog",
		Text: "Welcome!\n\nYour account is ready: sign in and write your first post.\n\n" +
			"You receive this email because this address was used to register. " +
			"If that was not you, ignore it.\n",
	})
	if mailer.Permanent(err) {
		// The server refuses the address for good: more attempts would be
		// refused too.
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	slog.InfoContext(ctx, "email.sent", slog.String("kind", job.Kind), slog.Int64("job_id", job.ID))
	return nil
}

// traceParent makes the job's spans children of the span that inserted it.
// otelriver writes that span's context into the job's metadata, but starts
// the work span as a new trace with a link to it; Tempo and Grafana follow
// a parent, not a link, from the request to its job. It reads the metadata
// with the configured propagator and runs before otelriver.
type traceParent struct{ river.MiddlewareDefaults }

func (*traceParent) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	var meta map[string]any
	if len(job.Metadata) > 0 && json.Unmarshal(job.Metadata, &meta) == nil {
		carrier := propagation.MapCarrier{}
		for k, v := range meta {
			if s, ok := v.(string); ok {
				carrier[k] = s
			}
		}
		ctx = otel.GetTextMapPropagator().Extract(ctx, carrier)
	}
	return doInner(ctx)
}

// outcome reports failed attempts, inside the job's span.
type outcome struct {
	river.MiddlewareDefaults
	report    func(context.Context, error)
	discarded metric.Int64Counter
}

func newOutcome(report func(context.Context, error)) (*outcome, error) {
	discarded, err := otel.Meter(scope).Int64Counter("jobs.discarded", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs that will not run again after a failure: last attempt failed, or cancelled."))
	if err != nil {
		return nil, err
	}
	if report == nil {
		report = func(context.Context, error) {}
	}
	return &outcome{report: report, discarded: discarded}, nil
}

func (o *outcome) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			// River records the panic and retries the job; this only
			// reports it, with the trace, then lets it go on.
			o.failed(ctx, job, fmt.Errorf("panic: %v", p))
			panic(p)
		}
	}()
	err = doInner(ctx)
	var snooze *river.JobSnoozeError
	if err == nil || errors.As(err, &snooze) {
		return err
	}
	o.failed(ctx, job, err)
	return err
}

func (o *outcome) failed(ctx context.Context, job *rivertype.JobRow, err error) {
	var cancel *river.JobCancelError
	last := job.Attempt >= job.MaxAttempts || errors.As(err, &cancel)
	attrs := []any{
		slog.String("kind", job.Kind),
		slog.Int64("job_id", job.ID),
		slog.Int("attempt", job.Attempt),
		slog.Int("max_attempts", job.MaxAttempts),
		slog.String("error", err.Error()),
	}
	if !last {
		slog.WarnContext(ctx, "job.failed", attrs...)
		return
	}
	slog.ErrorContext(ctx, "job.discarded", attrs...)
	o.discarded.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", job.Kind)))
	o.report(ctx, fmt.Errorf("job %s discarded after attempt %d: %w", job.Kind, job.Attempt, err))
}
