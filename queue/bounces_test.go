package queue_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/breachnotify/breachnotify/queue"
)

// One bounce poll at a time: while a poll job is waiting or running, a
// second (a new leader's periodic insert) is skipped as a duplicate; once
// the first is done, the next is inserted.
func TestBouncePollIsUnique(t *testing.T) {
	t.Parallel()
	_, b := setup(t)
	ctx := context.Background()
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	first, err := client.Insert(ctx, queue.BouncePollArgs{}, nil)
	if err != nil || first.UniqueSkippedAsDuplicate {
		t.Fatalf("first poll: %+v, %v", first, err)
	}
	if first.Job.Queue != queue.QueueCampaign || first.Job.MaxAttempts != 1 {
		t.Errorf("poll job on %s with %d attempts; want the campaign queue, one attempt", first.Job.Queue, first.Job.MaxAttempts)
	}
	for _, state := range []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateRunning} {
		if _, err := b.pool.Exec(ctx, `UPDATE river_job SET state = $2, attempted_at = now(), attempt = 1 WHERE id = $1`, first.Job.ID, state); err != nil {
			t.Fatal(err)
		}
		second, err := client.Insert(ctx, queue.BouncePollArgs{}, nil)
		if err != nil || !second.UniqueSkippedAsDuplicate {
			t.Errorf("a second poll while the first is %s: %+v, %v; want skipped", state, second, err)
		}
	}
	if _, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1`, first.Job.ID); err != nil {
		t.Fatal(err)
	}
	if next, err := client.Insert(ctx, queue.BouncePollArgs{}, nil); err != nil || next.UniqueSkippedAsDuplicate {
		t.Errorf("the poll after a completed one: %+v, %v; want inserted", next, err)
	}
}
