// Package queue runs breachnotify's durable jobs on River (PostgreSQL): job
// arguments (ids only), the workers that adapt them to notifier use cases,
// and the client configuration (queues, timeouts, retry policy).
package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/webhook"
)

// QueueDeliver is the queue of delivery jobs.
const QueueDeliver = "deliver"

// Defaults for Config.
const (
	// FetchCooldownDefault is short because delivery jobs are many and
	// brief: River's 100 ms default caps a process near Workers×10 jobs/s.
	FetchCooldownDefault = 10 * time.Millisecond
	// JobTimeoutDefault bounds one chunk; a chunk that runs out of time
	// records what it sent and is snoozed to continue. It is well below
	// RescueStuckJobsAfterDefault so River never rescues a live job.
	JobTimeoutDefault           = 10 * time.Minute
	RescueStuckJobsAfterDefault = time.Hour
	// MaxAttemptsDefault bounds job-level failures (a database outage), not
	// SMTP deferrals, which have their own lifetime.
	MaxAttemptsDefault = 25
)

// DeliverArgs is a delivery job: a chunk of deliveries of one wave, or one
// deferred delivery to retry. Ids only: the rows hold the data.
type DeliverArgs struct {
	WaveID      int64   `json:"wave_id"`
	DeliveryIDs []int64 `json:"delivery_ids"`
	Retry       bool    `json:"retry,omitempty"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "deliver" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDeliver, MaxAttempts: MaxAttemptsDefault}
}

// Inserter enqueues jobs inside the caller's transaction. It wraps an
// insert-only River client, so the store can enqueue without the workers
// (which need the store) existing yet.
type Inserter struct {
	client *river.Client[pgx.Tx]
}

// NewInserter returns an Inserter on pool.
func NewInserter(pool *pgxpool.Pool, logger *slog.Logger) (*Inserter, error) {
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("river insert client: %w", err)
	}
	return &Inserter{client: c}, nil
}

// EnqueueChunksTx inserts one delivery job per chunk with COPY, in tx.
func (i *Inserter) EnqueueChunksTx(ctx context.Context, tx pgx.Tx, chunks []delivery.ScheduledChunk) error {
	if len(chunks) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(chunks))
	for n, c := range chunks {
		params[n] = river.InsertManyParams{Args: DeliverArgs{WaveID: c.WaveID, DeliveryIDs: c.DeliveryIDs, Retry: c.Retry}}
		if !c.RunAt.IsZero() {
			params[n].InsertOpts = &river.InsertOpts{ScheduledAt: c.RunAt}
		}
	}
	if _, err := i.client.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %d delivery jobs: %w", len(chunks), err)
	}
	return nil
}

// TakeOverJobsTx cancels the running delivery jobs of a dead process (their
// process is dead: River's rescuer finalises a cancelled job instead of
// running it again) and returns their chunks, for new jobs, in tx. Its jobs
// are those listed (the jobs of its claims) and those it fetched last
// (River's attempted_by names the client, whose id is the process's, or
// the lease id's prefix before a ".N" generation): a process killed
// between fetching a job and claiming its deliveries left no claim. A job
// cancelled by an earlier takeover is not taken again.
func (i *Inserter) TakeOverJobsTx(ctx context.Context, tx pgx.Tx, jobIDs []int64, deadProcess string) ([]delivery.ScheduledChunk, error) {
	rows, err := tx.Query(ctx, `SELECT j.id, j.args FROM river_job j
		WHERE j.state = 'running' AND j.kind = $2 AND NOT j.metadata ? 'cancel_attempted_at'
		  AND (j.id = ANY($1) OR j.attempted_by[cardinality(j.attempted_by)] = $3
		       OR starts_with($3, j.attempted_by[cardinality(j.attempted_by)] || '.'))
		ORDER BY j.id`, jobIDs, DeliverArgs{}.Kind(), deadProcess)
	if err != nil {
		return nil, fmt.Errorf("read dead jobs: %w", err)
	}
	var chunks []delivery.ScheduledChunk
	var ids []int64
	var id int64
	var args DeliverArgs
	if _, err := pgx.ForEachRow(rows, []any{&id, &args}, func() error {
		ids = append(ids, id)
		chunks = append(chunks, delivery.ScheduledChunk{Chunk: delivery.Chunk{WaveID: args.WaveID, DeliveryIDs: args.DeliveryIDs, Retry: args.Retry}})
		args = DeliverArgs{}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read dead jobs: %w", err)
	}
	for _, id := range ids {
		if _, err := i.client.JobCancelTx(ctx, tx, id); err != nil {
			return nil, fmt.Errorf("cancel dead job %d: %w", id, err)
		}
	}
	return chunks, nil
}

// DeliverWorker works delivery jobs with a delivery.Engine.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	Engine *delivery.Engine
	// JobTimeout bounds one job (JobTimeoutDefault when zero).
	JobTimeout time.Duration
}

// Timeout implements river.Worker.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	if w.JobTimeout > 0 {
		return w.JobTimeout
	}
	return JobTimeoutDefault
}

// Work implements river.Worker: the chunk's last outcomes and the job's
// completion commit together.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	chunk := delivery.Chunk{WaveID: job.Args.WaveID, DeliveryIDs: job.Args.DeliveryIDs, Retry: job.Args.Retry, JobID: job.ID}
	// The completion runs in the outcome writer's group commit, on the
	// writer's context; River finds its client in the job's context, which
	// may be cancelled by then (a hard stop): keep its values, take the
	// writer's deadline.
	jobCtx := context.WithoutCancel(ctx)
	err := w.Engine.Deliver(ctx, chunk, func(commitCtx context.Context, tx pgx.Tx) error {
		cctx, cancel := context.WithCancel(jobCtx)
		defer cancel()
		defer context.AfterFunc(commitCtx, cancel)()
		return completeIn(job)(cctx, tx)
	})
	return snoozeOr(err)
}

// Config configures the working River client.
type Config struct {
	// ID names the client in River's tables (attempted_by, leadership):
	// the delivery process's id, so an operator can tell whose jobs are
	// whose.
	ID string
	// Workers is the number of delivery jobs worked at once.
	Workers int
	// FetchCooldown is the pause between fetches (FetchCooldownDefault when zero).
	FetchCooldown time.Duration
	// RescueStuckJobsAfter is how long a job may run before River takes its
	// process for dead and runs it again (RescueStuckJobsAfterDefault when
	// zero). Keep Deliver.JobTimeout well below it.
	RescueStuckJobsAfter time.Duration
	// PollOnly polls for new jobs (every FetchPollInterval, River's
	// default of a second) and for leadership instead of LISTENing, for a
	// database reached through a pooler in transaction mode (PgBouncer),
	// which cannot hold a LISTEN between transactions.
	PollOnly bool
	// Deliver is the delivery worker.
	Deliver *DeliverWorker
	// Service runs the follow-up and reminder jobs.
	Service *notifier.Service
	// Maintainer runs the periodic upkeep.
	Maintainer Maintainer
	// PortalLink sends the customer portal's sign-in emails; nil leaves
	// that queue unworked.
	PortalLink *PortalLinkWorker
	// Webhooks fans out and delivers webhook events; nil leaves that
	// queue unworked.
	Webhooks *webhook.Dispatcher
	// BouncePoll polls the bounce mailbox every BouncePollInterval; nil
	// polls none.
	BouncePoll         *BouncePollWorker
	BouncePollInterval time.Duration
	Logger             *slog.Logger
}

// NewClient returns a River client that works breachnotify's queues.
func NewClient(pool *pgxpool.Pool, cfg Config) (*river.Client[pgx.Tx], error) {
	if cfg.FetchCooldown == 0 {
		cfg.FetchCooldown = FetchCooldownDefault
	}
	if cfg.RescueStuckJobsAfter == 0 {
		cfg.RescueStuckJobsAfter = RescueStuckJobsAfterDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Jobs without a timeout of their own (River's default is a minute)
	// also end well before they could be rescued.
	jobTimeout := min(river.JobTimeoutDefault, cfg.RescueStuckJobsAfter/4)
	workers := river.NewWorkers()
	river.AddWorker(workers, cfg.Deliver)
	river.AddWorker(workers, &FollowUpWorker{Service: cfg.Service})
	river.AddWorker(workers, &RemindersWorker{Service: cfg.Service})
	river.AddWorker(workers, &MaintenanceWorker{Maintainer: cfg.Maintainer})
	river.AddWorker(workers, &AuditCheckpointWorker{Service: cfg.Service})
	river.AddWorker(workers, &DeadlineWatchWorker{Service: cfg.Service})
	queues := map[string]river.QueueConfig{
		QueueDeliver:  {MaxWorkers: cfg.Workers},
		QueueCampaign: {MaxWorkers: 4},
	}
	if cfg.PortalLink != nil {
		river.AddWorker(workers, cfg.PortalLink)
		// Membership mails go the sign-in emails' way: same mailer, queue and limits.
		river.AddWorker(workers, &PortalMemberMailWorker{Mailer: cfg.PortalLink.Mailer, MaxTimeout: cfg.PortalLink.MaxTimeout})
		queues[QueuePortal] = river.QueueConfig{MaxWorkers: 2}
	}
	// River runs periodic jobs on its elected leader only: one reminder
	// pass at a time, however many processes work the queues.
	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(ReminderInterval),
			func() (river.JobArgs, *river.InsertOpts) { return RemindersArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(MaintenanceInterval),
			func() (river.JobArgs, *river.InsertOpts) { return MaintenanceArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(AuditCheckpointInterval),
			func() (river.JobArgs, *river.InsertOpts) { return AuditCheckpointArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(DeadlineWatchInterval),
			func() (river.JobArgs, *river.InsertOpts) { return DeadlineWatchArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
	}
	if cfg.Webhooks != nil {
		river.AddWorker(workers, &WebhookWorker{Dispatcher: cfg.Webhooks})
		river.AddWorker(workers, &WebhookDispatchWorker{Dispatcher: cfg.Webhooks})
		queues[QueueWebhook] = river.QueueConfig{MaxWorkers: 10}
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(WebhookDispatchInterval),
			func() (river.JobArgs, *river.InsertOpts) { return WebhookDispatchArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	if cfg.BouncePoll != nil {
		river.AddWorker(workers, cfg.BouncePoll)
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(cfg.BouncePollInterval),
			func() (river.JobArgs, *river.InsertOpts) { return BouncePollArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	return river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:                   cfg.ID,
		Queues:               queues,
		PeriodicJobs:         periodic,
		Workers:              workers,
		FetchCooldown:        cfg.FetchCooldown,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		JobTimeout:           jobTimeout,
		MaxAttempts:          MaxAttemptsDefault,
		PollOnly:             cfg.PollOnly,
		// River's nightly REINDEX needs the tables' owner; the service
		// works as a role that owns nothing (migrations.ServiceRole), so
		// it would only fail. docs/operations.md says how the owner
		// reindexes instead.
		ReindexerIndexNames: []string{},
		Logger:              cfg.Logger,
		ErrorHandler:        &errorHandler{logger: cfg.Logger},
	})
}

// errorHandler logs job failures with the job's ids.
type errorHandler struct{ logger *slog.Logger }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.logger.ErrorContext(ctx, "job failed", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "error", err)
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.logger.ErrorContext(ctx, "job panicked", "job_id", job.ID, "kind", job.Kind, "panic", fmt.Sprint(panicVal), "trace", trace)
	return nil
}
