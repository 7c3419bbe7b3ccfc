package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// BouncePollTimeout bounds one poll of the bounce mailbox (a batch of
// messages, each a fetch, a transaction and a flag).
const BouncePollTimeout = 5 * time.Minute

// BouncePollArgs is the periodic poll of the bounce mailbox.
type BouncePollArgs struct{}

// Kind implements river.JobArgs.
func (BouncePollArgs) Kind() string { return "bounce_poll" }

// InsertOpts implements river.JobArgsWithInsertOpts. Only one poll exists
// at a time, whichever process inserts it (River runs periodic jobs on its
// leader, and a leader that changes mid-poll inserts nothing while the
// last poll still runs): two pollers would read the same messages. A
// failed poll is not retried: the next one comes at the interval, and the
// discarded job shows in the metrics (BreachnotifyJobsDiscarded).
func (BouncePollArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueCampaign, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled},
	}}
}

// BouncePollWorker polls the bounce mailbox.
type BouncePollWorker struct {
	river.WorkerDefaults[BouncePollArgs]
	// Poll takes in the mailbox's new messages.
	Poll func(ctx context.Context) error
}

// Timeout implements river.Worker.
func (w *BouncePollWorker) Timeout(*river.Job[BouncePollArgs]) time.Duration {
	return BouncePollTimeout
}

// Work implements river.Worker.
func (w *BouncePollWorker) Work(ctx context.Context, _ *river.Job[BouncePollArgs]) error {
	return w.Poll(ctx)
}
