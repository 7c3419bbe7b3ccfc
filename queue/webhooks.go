package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/breachnotify/breachnotify/notifier/webhook"
)

// QueueWebhook is the queue of webhook jobs, apart from email so a slow
// receiver never holds up notices.
const QueueWebhook = "webhook"

// WebhookDispatchInterval is how often new events are fanned out to
// endpoints: the longest an event waits before its first attempt.
const WebhookDispatchInterval = 5 * time.Second

// WebhookArgs is one attempt at one webhook delivery. A failed attempt
// snoozes the job until the retry its Dispatcher planned (the attempts
// are counted in webhook_deliveries, not by River).
type WebhookArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (WebhookArgs) Kind() string { return "webhook" }

// InsertOpts implements river.JobArgsWithInsertOpts. MaxAttempts bounds
// job-level failures (the database unreachable), not the receiver's.
func (WebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhook, MaxAttempts: MaxAttemptsDefault}
}

// EnqueueWebhooksTx inserts one webhook job per delivery in tx.
func (i *Inserter) EnqueueWebhooksTx(ctx context.Context, tx pgx.Tx, deliveryIDs []int64) error {
	if len(deliveryIDs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(deliveryIDs))
	for n, id := range deliveryIDs {
		params[n] = river.InsertManyParams{Args: WebhookArgs{DeliveryID: id}}
	}
	if _, err := i.client.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %d webhook jobs: %w", len(deliveryIDs), err)
	}
	return nil
}

// WebhookWorker makes webhook attempts.
type WebhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	Dispatcher *webhook.Dispatcher
}

// Timeout implements river.Worker: one request, and its bookkeeping.
func (w *WebhookWorker) Timeout(*river.Job[WebhookArgs]) time.Duration {
	return webhook.TimeoutDefault + 15*time.Second
}

// Work implements river.Worker.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	retryAt, now, err := w.Dispatcher.Attempt(ctx, job.Args.DeliveryID)
	if err != nil {
		return err
	}
	if !retryAt.IsZero() {
		// A snooze spends no job attempt: the retry lifetime bounds them.
		return river.JobSnooze(retryAt.Sub(now))
	}
	return nil
}

// WebhookDispatchArgs fans new events out to endpoints.
type WebhookDispatchArgs struct{}

// Kind implements river.JobArgs.
func (WebhookDispatchArgs) Kind() string { return "webhook_dispatch" }

// InsertOpts implements river.JobArgsWithInsertOpts: one waiting at a
// time is enough, it takes every event there is.
func (WebhookDispatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue: QueueWebhook,
		UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
			rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}},
	}
}

// WebhookDispatchWorker works the dispatch job.
type WebhookDispatchWorker struct {
	river.WorkerDefaults[WebhookDispatchArgs]
	Dispatcher *webhook.Dispatcher
}

// Work implements river.Worker.
func (w *WebhookDispatchWorker) Work(ctx context.Context, _ *river.Job[WebhookDispatchArgs]) error {
	_, err := w.Dispatcher.Dispatch(ctx)
	return err
}
