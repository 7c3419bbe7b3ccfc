package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/breachnotify/breachnotify/notifier"
)

// AuditCheckpointInterval is how often the audit chain's head is
// checkpointed (when it moved): the most a truncated tail can hide in.
const AuditCheckpointInterval = 15 * time.Minute

// AuditCheckpointArgs is the periodic checkpoint of the audit chain.
type AuditCheckpointArgs struct{}

// Kind implements river.JobArgs.
func (AuditCheckpointArgs) Kind() string { return "audit_checkpoint" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (AuditCheckpointArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueCampaign, MaxAttempts: 3}
}

// AuditCheckpointWorker runs the periodic checkpoint: it checks the entries
// since the last checkpoint and takes one of the head when it moved. A
// broken chain fails the job, so it is logged, retried and finally
// discarded, which alerts (BreachnotifyJobsDiscarded).
type AuditCheckpointWorker struct {
	river.WorkerDefaults[AuditCheckpointArgs]
	Service *notifier.Service
}

// Work implements river.Worker.
func (w *AuditCheckpointWorker) Work(ctx context.Context, _ *river.Job[AuditCheckpointArgs]) error {
	_, _, err := w.Service.CheckpointAudit(ctx)
	return err
}
