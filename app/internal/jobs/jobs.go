// Package jobs runs the service's background work on River
// (github.com/riverqueue/river), in the service's own database: jobs are
// rows next to the data that caused them, inserted in the same transaction.
//
// The first job is the welcome email: [Queue.EnqueueWelcomeTx] inserts it in
// the transaction that creates the user, and a worker sends it over SMTP.
//
// Telemetry comes from otelriver (a producer span for the insert, a consumer
// span per attempt, job counts and durations by kind and status) plus what
// this package adds on top:
//   - the consumer span is a child of the producer span, so the job is part
//     of the trace of the request that enqueued it (otelriver only links
//     it); the context travels in the job's metadata;
//   - a failed attempt is a warn line job.failed with attempt and job_id; the
//     last one is an error line job.discarded, a Sentry event in the job's
//     trace and one more jobs.discarded;
//   - the backlog: jobs.backlog by state (available, retryable) and
//     jobs.oldest_available_age, how late the queue is.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/mailer"
	"example.com/otelstarter/telemetry"
)

// Users finds the recipient of an email: a job carries the user's ID, never
// the address, which stays in the users table.
type Users interface {
	UserByID(ctx context.Context, id int64) (blog.User, error)
}

// Mailer sends an email; *mailer.Mailer is one.
type Mailer interface {
	Send(ctx context.Context, msg mailer.Message) error
}

// Config is what Open needs.
type Config struct {
	// DatabaseURL picks River's driver: sqlite:… or postgres://…. For
	// PostgreSQL, the workers also LISTEN on a connection of their own to
	// it, so that a new job starts at once instead of at the next poll.
	DatabaseURL string
	// DB is the service's pool, whose transactions EnqueueWelcomeTx joins.
	DB *sql.DB
	// Migrate runs River's migrations holding the lock of the service's
	// own migrations (sqlstore.Store.WithMigrationLock).
	Migrate func(ctx context.Context, fn func(context.Context) error) error
	// Workers is how many jobs run at once; 0 makes a Queue that only
	// enqueues.
	Workers int
	Users   Users
	// Mailer sends the emails; nil (SMTP_URL unset) completes each email
	// job as skipped, with one log line.
	Mailer Mailer
	// Logger receives River's own lines.
	Logger *slog.Logger
	// ReportError sends the error of a job's last attempt to the error
	// tracker, with the job's trace in ctx.
	ReportError func(ctx context.Context, err error)
}

// Queue enqueues jobs and, with workers, runs them.
type Queue struct {
	client   *river.Client[*sql.Tx]
	listener *pgxpool.Pool // PostgreSQL with workers only
	workers  int
	backlog  metric.Registration
}

// scope names this package's spans and metrics.
const scope = "example.com/otelstarter/app/internal/jobs"

// Open runs River's migrations and returns a Queue on cfg.DB. Call Start to
// run jobs, Stop then Close to end.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if _, err := Migrate(ctx, cfg.DatabaseURL, cfg.DB, cfg.Migrate); err != nil {
		return nil, err
	}
	q := &Queue{workers: cfg.Workers}
	driver, err := q.driver(ctx, cfg)
	if err != nil {
		return nil, err
	}

	outcome, err := newOutcome(cfg.ReportError)
	if err != nil {
		q.Close()
		return nil, err
	}
	rc := &river.Config{
		Logger: riverLogger(cfg.Logger),
		Plugins: []rivertype.Plugin{
			// In this order: the parent first, so that otelriver's span is
			// its child; the outcome last, inside otelriver's span.
			&traceParent{},
			otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
				EnableTracePropagation:      true,
				EnableWorkSpanJobKindSuffix: true,
			}),
			outcome,
		},
	}
	if cfg.Workers > 0 {
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, &welcomeWorker{users: cfg.Users, mailer: cfg.Mailer}); err != nil {
			q.Close()
			return nil, err
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}}
		// The series exists from the start, at 0: an alert or a panel
		// on its increase sees the first discard.
		outcome.discarded.Add(ctx, 0, metric.WithAttributes(attribute.String("kind", WelcomeEmail{}.Kind())))
	}
	if q.client, err = river.NewClient(driver, rc); err != nil {
		q.Close()
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if q.backlog, err = registerBacklog(q.client, cfg.DB); err != nil {
		q.Close()
		return nil, err
	}
	return q, nil
}

// driver returns River's driver for cfg.DatabaseURL.
func (q *Queue) driver(ctx context.Context, cfg Config) (riverdriver.Driver[*sql.Tx], error) {
	if strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
		return riversqlite.New(cfg.DB), nil
	}
	if cfg.Workers == 0 {
		return riverdatabasesql.New(cfg.DB), nil
	}
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, errors.New("jobs: DATABASE_URL: invalid for the job listener") // never quote the URL
	}
	// One connection per client, taken for LISTEN and kept.
	pc.MinConns, pc.MaxConns = 0, 1
	if q.listener, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return nil, fmt.Errorf("jobs: job listener: %w", err)
	}
	return riverdatabasesql.NewWithPgxListener(cfg.DB, q.listener), nil
}

// Migrate applies River's pending migrations to db, the database of
// databaseURL, inside lock (sqlstore.Store.WithMigrationLock, the lock of
// the app's own migrations), and returns the versions it applied. Open
// calls it; app migrate up too, after the app's migrations.
func Migrate(ctx context.Context, databaseURL string, db *sql.DB, lock func(context.Context, func(context.Context) error) error) ([]int, error) {
	migrator, err := newMigrator(databaseURL, db)
	if err != nil {
		return nil, err
	}
	var applied []int
	err = lock(ctx, func(ctx context.Context) error {
		res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return err
		}
		for _, v := range res.Versions {
			applied = append(applied, v.Version)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: River's migrations: %w", err)
	}
	return applied, nil
}

// MigrationVersion returns the latest River migration applied to db (0 for
// none) and the latest this release of River has.
func MigrationVersion(ctx context.Context, databaseURL string, db *sql.DB) (current, latest int, err error) {
	migrator, err := newMigrator(databaseURL, db)
	if err != nil {
		return 0, 0, err
	}
	existing, err := migrator.ExistingVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("jobs: River's migrations: %w", err)
	}
	if len(existing) > 0 {
		current = existing[len(existing)-1].Version
	}
	all := migrator.AllVersions()
	return current, all[len(all)-1].Version, nil
}

// newMigrator returns River's migrator on db, through a driver that does
// not listen.
func newMigrator(databaseURL string, db *sql.DB) (*rivermigrate.Migrator[*sql.Tx], error) {
	var driver riverdriver.Driver[*sql.Tx] = riverdatabasesql.New(db)
	if strings.HasPrefix(databaseURL, "sqlite:") {
		driver = riversqlite.New(db)
	}
	// rivermigrate logs every migration it applies at info level; the
	// startup span already records them, and app migrate prints them.
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return migrator, nil
}

// riverLogger passes River's warnings and errors to logger. Its info lines
// ("Job errored; retrying", job counts) repeat what this package's own lines
// and metrics say, in another vocabulary.
func riverLogger(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		logger = slog.Default()
	}
	return slog.New(atLeast{logger.Handler(), slog.LevelWarn})
}

// atLeast is h without the records below level.
type atLeast struct {
	h     slog.Handler
	level slog.Level
}

func (a atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= a.level && a.h.Enabled(ctx, l)
}
func (a atLeast) Handle(ctx context.Context, r slog.Record) error { return a.h.Handle(ctx, r) }
func (a atLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atLeast{a.h.WithAttrs(attrs), a.level}
}
func (a atLeast) WithGroup(name string) slog.Handler { return atLeast{a.h.WithGroup(name), a.level} }

// EnqueueWelcomeTx inserts the welcome email of user userID in tx, the
// transaction that creates the user: the job exists if and only if the
// user does.
func (q *Queue) EnqueueWelcomeTx(ctx context.Context, tx *sql.Tx, userID int64) error {
	if _, err := q.client.InsertTx(ctx, tx, WelcomeEmail{UserID: userID}, nil); err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", WelcomeEmail{}.Kind(), err)
	}
	return nil
}

// Start runs the workers in the background until Stop; it does nothing for
// a Queue without workers. ctx should not be cancelled before Stop.
func (q *Queue) Start(ctx context.Context) error {
	if q.workers == 0 {
		return nil
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for the running ones until ctx is
// done; then it cancels them, and they run again later, elsewhere (their
// attempt is not counted as failed when the worker honours cancellation).
func (q *Queue) Stop(ctx context.Context) error {
	if q.workers == 0 {
		return nil
	}
	err := q.client.Stop(ctx)
	if ctx.Err() != nil {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = q.client.StopAndCancel(hctx)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

// Close releases what Open took. Stop first.
func (q *Queue) Close() error {
	var err error
	if q.backlog != nil {
		err = q.backlog.Unregister()
	}
	if q.listener != nil {
		q.listener.Close()
	}
	return err
}

// registerBacklog reports the jobs waiting and the age of the oldest, at
// each metrics collection: every process reports the same figures, so
// dashboards take the max.
func registerBacklog(client *river.Client[*sql.Tx], db *sql.DB) (metric.Registration, error) {
	meter := otel.Meter(scope)
	backlog, err := meter.Int64ObservableGauge("jobs.backlog", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs waiting to run, by state: available (due now) and retryable (waiting for their next attempt)."))
	if err != nil {
		return nil, err
	}
	oldest, err := meter.Float64ObservableGauge("jobs.oldest_available_age", metric.WithUnit("s"),
		metric.WithDescription("How long the oldest available job has been due: how late the background work runs (0 when none waits)."))
	if err != nil {
		return nil, err
	}
	states := map[string]attribute.Set{
		string(rivertype.JobStateAvailable): attribute.NewSet(attribute.String("state", string(rivertype.JobStateAvailable))),
		string(rivertype.JobStateRetryable): attribute.NewSet(attribute.String("state", string(rivertype.JobStateRetryable))),
	}
	return meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		counts := map[string]int64{}
		rows, err := db.QueryContext(ctx,
			`SELECT state, count(*) FROM river_job WHERE state IN ('available', 'retryable') GROUP BY state`)
		if err != nil {
			return fmt.Errorf("jobs: backlog: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				state string
				n     int64
			)
			if err := rows.Scan(&state, &n); err != nil {
				return fmt.Errorf("jobs: backlog: %w", err)
			}
			counts[state] = n
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("jobs: backlog: %w", err)
		}
		for state, set := range states {
			o.ObserveInt64(backlog, counts[state], metric.WithAttributeSet(set))
		}

		age := 0.0
		if counts[string(rivertype.JobStateAvailable)] > 0 {
			res, err := client.JobList(ctx, river.NewJobListParams().
				States(rivertype.JobStateAvailable).
				OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).
				First(1))
			if err != nil {
				return fmt.Errorf("jobs: oldest available job: %w", err)
			}
			if len(res.Jobs) > 0 {
				age = max(0, time.Since(res.Jobs[0].ScheduledAt).Seconds())
			}
		}
		o.ObserveFloat64(oldest, age)
		return nil
	}, backlog, oldest)
}

// TelemetryOptions are the settings the jobs' metrics need from
// telemetry.Setup: otelriver records durations in seconds without bucket
// advice, which the SDK's default buckets (for milliseconds) make useless
// for a p95. These span 5 ms to 2 min, a job's range.
func TelemetryOptions() []telemetry.Option {
	return []telemetry.Option{telemetry.WithHistogramBuckets(
		"github.com/riverqueue/rivercontrib/otelriver", "river.*duration*",
		0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
	)}
}
