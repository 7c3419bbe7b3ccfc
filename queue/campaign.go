package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/breachnotify/breachnotify/notifier"
)

// QueueCampaign is the queue of follow-up and reminder jobs, kept apart so
// a large wave's delivery jobs never hold them up.
const QueueCampaign = "campaign"

// ReminderInterval is how often the reminder job looks for notices to chase.
const ReminderInterval = 5 * time.Minute

// MaintenanceInterval is how often the upkeep job runs.
const MaintenanceInterval = time.Minute

// FollowUpArgs asks for a follow-up to one organization of one incident.
// There is at most one waiting per (incident, organization): a new batch
// for an organization already waiting for its follow-up adds nothing, so
// batches in a row give one follow-up.
type FollowUpArgs struct {
	IncidentID     int64 `json:"incident_id" river:"unique"`
	OrganizationID int64 `json:"organization_id" river:"unique"`
}

// Kind implements river.JobArgs.
func (FollowUpArgs) Kind() string { return "follow_up" }

// InsertOpts implements river.JobArgsWithInsertOpts. Completed jobs do not
// count: once a follow-up has covered the items, a later batch needs its own.
func (FollowUpArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueCampaign,
		MaxAttempts: MaxAttemptsDefault,
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
				rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled},
		},
	}
}

// EnqueueFollowUpsTx schedules follow-up jobs in tx; a job already waiting
// for the same incident and organization absorbs the request.
func (i *Inserter) EnqueueFollowUpsTx(ctx context.Context, tx pgx.Tx, jobs []notifier.FollowUpJob) error {
	if len(jobs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(jobs))
	for n, j := range jobs {
		params[n] = river.InsertManyParams{
			Args:       FollowUpArgs{IncidentID: j.IncidentID, OrganizationID: j.OrganizationID},
			InsertOpts: &river.InsertOpts{ScheduledAt: j.RunAt},
		}
	}
	if _, err := i.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %d follow-up jobs: %w", len(jobs), err)
	}
	return nil
}

// FollowUpWorker works follow-up jobs: the follow-up and the job's
// completion commit together.
type FollowUpWorker struct {
	river.WorkerDefaults[FollowUpArgs]
	Service *notifier.Service
}

// Work implements river.Worker.
func (w *FollowUpWorker) Work(ctx context.Context, job *river.Job[FollowUpArgs]) error {
	_, err := w.Service.SendFollowUp(ctx, job.Args.IncidentID, job.Args.OrganizationID, completeIn(job))
	return snoozeOr(err)
}

// completeIn completes job in the transaction it is given: the work the
// job did and its completion commit together.
func completeIn[T river.JobArgs](job *river.Job[T]) notifier.JobCompleter {
	return func(ctx context.Context, tx pgx.Tx) error {
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	}
}

// RemindersArgs is the periodic reminder pass.
type RemindersArgs struct{}

// Kind implements river.JobArgs.
func (RemindersArgs) Kind() string { return "reminders" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (RemindersArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueCampaign, MaxAttempts: 3}
}

// RemindersWorker runs the reminder pass.
type RemindersWorker struct {
	river.WorkerDefaults[RemindersArgs]
	Service *notifier.Service
}

// Work implements river.Worker.
func (w *RemindersWorker) Work(ctx context.Context, _ *river.Job[RemindersArgs]) error {
	_, err := w.Service.RunReminders(ctx)
	return err
}

// DeadlineWatchInterval is how often the deadline watch runs: a
// deadline.approaching event goes out at most this late.
const DeadlineWatchInterval = time.Minute

// DeadlineWatchArgs is the periodic deadline watch.
type DeadlineWatchArgs struct{}

// Kind implements river.JobArgs.
func (DeadlineWatchArgs) Kind() string { return "deadline_watch" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DeadlineWatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueCampaign, MaxAttempts: 3}
}

// DeadlineWatchWorker records deadline.approaching events
// (Service.WatchDeadlines).
type DeadlineWatchWorker struct {
	river.WorkerDefaults[DeadlineWatchArgs]
	Service *notifier.Service
}

// Work implements river.Worker.
func (w *DeadlineWatchWorker) Work(ctx context.Context, _ *river.Job[DeadlineWatchArgs]) error {
	_, err := w.Service.WatchDeadlines(ctx)
	return err
}

// MaintenanceArgs is the periodic upkeep: settle waves whose last chunk's
// process died before settling them, forget expired idempotency keys and
// stale claims and sessions, purge the evidence past its retention (see
// Maintainers).
type MaintenanceArgs struct{}

// Kind implements river.JobArgs.
func (MaintenanceArgs) Kind() string { return "maintenance" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (MaintenanceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueCampaign, MaxAttempts: 3}
}

// Maintainer is the upkeep the maintenance job runs.
type Maintainer interface {
	Maintain(ctx context.Context) error
}

// MaintainerFunc adapts a function to Maintainer.
type MaintainerFunc func(ctx context.Context) error

// Maintain implements Maintainer.
func (f MaintainerFunc) Maintain(ctx context.Context) error { return f(ctx) }

// Maintainers runs several upkeep steps in order. Each runs even when one
// before it failed (one step's outage must not stop the others); the
// errors are joined, so the job is retried. Each run is worked by one
// process, whichever takes it, so a step must be about the database, never
// about the memory of the process that happens to work it.
type Maintainers []Maintainer

// Maintain implements Maintainer.
func (ms Maintainers) Maintain(ctx context.Context) error {
	var errs []error
	for _, m := range ms {
		if err := m.Maintain(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// MaintenanceWorker runs the upkeep.
type MaintenanceWorker struct {
	river.WorkerDefaults[MaintenanceArgs]
	Maintainer Maintainer
}

// Work implements river.Worker.
func (w *MaintenanceWorker) Work(ctx context.Context, _ *river.Job[MaintenanceArgs]) error {
	return w.Maintainer.Maintain(ctx)
}

// snoozeOr maps the domain's request to come back later to River's snooze,
// which spends no attempt.
func snoozeOr(err error) error {
	var snooze *notifier.SnoozeError
	if errors.As(err, &snooze) {
		return river.JobSnooze(snooze.After)
	}
	return err
}
