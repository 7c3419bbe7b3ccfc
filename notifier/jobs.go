package notifier

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// JobCompleter completes the queue job that carried a chunk, inside the
// transaction that records the chunk's last outcomes (river.JobCompleteTx),
// so a finished chunk is never worked again and an unfinished one always is.
// It is the one place the domain meets the store's transaction type.
type JobCompleter func(ctx context.Context, tx pgx.Tx) error

// SnoozeError asks the queue to run the job again after a while without
// counting an attempt: a limit holds it back, the relay is unreachable, or
// the process is stopping.
type SnoozeError struct {
	After  time.Duration
	Reason string
}

func (e *SnoozeError) Error() string { return "snooze " + e.After.String() + ": " + e.Reason }
