package queue_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/queue"
)

// The queue's component tests, River-style: setup gives each test its own
// migrated database and returns the Inserter under test with a bundle.

// bundle is what setup returns beside the Inserter.
type bundle struct {
	// pool works as migrations.ServiceRole, as the service's pools do.
	pool *pgxpool.Pool
}

func setup(t *testing.T) (*queue.Inserter, *bundle) {
	t.Helper()
	pool := testdb.ServicePool(t, 4)
	ins, err := queue.NewInserter(pool, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return ins, &bundle{pool: pool}
}

// inTx runs fn in a committed transaction.
func (b *bundle) inTx(t *testing.T, fn func(tx pgx.Tx) error) {
	t.Helper()
	if err := pgx.BeginFunc(context.Background(), b.pool, fn); err != nil {
		t.Fatal(err)
	}
}

// job is a river_job row as the tests read it.
type job struct {
	ID          int64
	Kind        string
	Queue       string
	State       string
	MaxAttempts int
	ScheduledAt time.Time
	Args        queue.DeliverArgs
	Metadata    map[string]any
}

// jobs lists every job, oldest first.
func (b *bundle) jobs(t *testing.T) []job {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT id, kind, queue, state, max_attempts, scheduled_at, args, metadata FROM river_job ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var out []job
	var j job
	var args, meta []byte
	if _, err := pgx.ForEachRow(rows, []any{&j.ID, &j.Kind, &j.Queue, &j.State, &j.MaxAttempts, &j.ScheduledAt, &args, &meta}, func() error {
		j.Args, j.Metadata = queue.DeliverArgs{}, nil
		if j.Kind == (queue.DeliverArgs{}).Kind() {
			if err := json.Unmarshal(args, &j.Args); err != nil {
				return err
			}
		}
		if err := json.Unmarshal(meta, &j.Metadata); err != nil {
			return err
		}
		out = append(out, j)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeliverArgs(t *testing.T) {
	t.Parallel()
	for _, args := range []queue.DeliverArgs{
		{WaveID: 7, DeliveryIDs: []int64{1, 2, 3}},
		{WaveID: 9, DeliveryIDs: []int64{42}, Retry: true},
		{WaveID: 1, DeliveryIDs: []int64{}},
	} {
		raw, err := json.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		var back queue.DeliverArgs
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		if back.WaveID != args.WaveID || !slices.Equal(back.DeliveryIDs, args.DeliveryIDs) || back.Retry != args.Retry {
			t.Errorf("%s came back as %+v, want %+v", raw, back, args)
		}
	}
	// The stored names are a contract with jobs already in the database
	// (and with TakeOverJobsTx's reading): they must not drift.
	raw, _ := json.Marshal(queue.DeliverArgs{WaveID: 7, DeliveryIDs: []int64{1, 2}})
	if want := `{"wave_id":7,"delivery_ids":[1,2]}`; string(raw) != want {
		t.Errorf("chunk job args %s, want %s (retry left out)", raw, want)
	}
	raw, _ = json.Marshal(queue.DeliverArgs{WaveID: 7, DeliveryIDs: []int64{1}, Retry: true})
	if want := `{"wave_id":7,"delivery_ids":[1],"retry":true}`; string(raw) != want {
		t.Errorf("retry job args %s, want %s", raw, want)
	}
	var args queue.DeliverArgs
	if args.Kind() != "deliver" {
		t.Errorf("kind %q, want deliver", args.Kind())
	}
	if opts := args.InsertOpts(); opts.Queue != queue.QueueDeliver || opts.MaxAttempts != queue.MaxAttemptsDefault {
		t.Errorf("insert opts %+v, want queue %q and %d attempts", opts, queue.QueueDeliver, queue.MaxAttemptsDefault)
	}
	if queue.JobTimeoutDefault >= queue.RescueStuckJobsAfterDefault {
		t.Errorf("a job may run %v, longer than River waits before rescuing it (%v)", queue.JobTimeoutDefault, queue.RescueStuckJobsAfterDefault)
	}
}

func TestDeliverWorkerTimeout(t *testing.T) {
	t.Parallel()
	if got := (&queue.DeliverWorker{}).Timeout(nil); got != queue.JobTimeoutDefault {
		t.Errorf("default timeout %v, want %v", got, queue.JobTimeoutDefault)
	}
	if got := (&queue.DeliverWorker{JobTimeout: 90 * time.Second}).Timeout(nil); got != 90*time.Second {
		t.Errorf("timeout %v, want 90s", got)
	}
}

func TestEnqueueChunksTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ins, b := setup(t)
	var now time.Time
	if err := b.pool.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Hour).Truncate(time.Microsecond)
	chunks := []delivery.ScheduledChunk{
		{Chunk: delivery.Chunk{WaveID: 1, DeliveryIDs: []int64{10, 11, 12}}},
		{Chunk: delivery.Chunk{WaveID: 1, DeliveryIDs: []int64{13}, Retry: true}, RunAt: later},
	}
	// Rolled back with the transaction, as a failed launch must.
	if err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if err := ins.EnqueueChunksTx(ctx, tx, chunks); err != nil {
			t.Fatal(err)
		}
		return context.Canceled
	}); err != context.Canceled {
		t.Fatal(err)
	}
	if jobs := b.jobs(t); len(jobs) != 0 {
		t.Fatalf("a rolled-back enqueue left %d jobs", len(jobs))
	}
	b.inTx(t, func(tx pgx.Tx) error {
		if err := ins.EnqueueChunksTx(ctx, tx, nil); err != nil {
			return err
		}
		return ins.EnqueueChunksTx(ctx, tx, chunks)
	})
	jobs := b.jobs(t)
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want 2", len(jobs))
	}
	for i, j := range jobs {
		c := chunks[i]
		if j.Kind != "deliver" || j.Queue != queue.QueueDeliver || j.MaxAttempts != queue.MaxAttemptsDefault ||
			j.Args.WaveID != c.WaveID || !slices.Equal(j.Args.DeliveryIDs, c.DeliveryIDs) || j.Args.Retry != c.Retry {
			t.Errorf("job %d: %+v, want chunk %+v", i, j, c)
		}
	}
	if jobs[0].State != "available" || jobs[0].ScheduledAt.After(now.Add(time.Minute)) {
		t.Errorf("a chunk without a time: %s at %v, want available now", jobs[0].State, jobs[0].ScheduledAt)
	}
	if jobs[1].State != "scheduled" || !jobs[1].ScheduledAt.Equal(later) {
		t.Errorf("a chunk at %v: %s at %v", later, jobs[1].State, jobs[1].ScheduledAt)
	}
}

func TestTakeOverJobsTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ins, b := setup(t)
	chunks := []delivery.ScheduledChunk{
		{Chunk: delivery.Chunk{WaveID: 1, DeliveryIDs: []int64{10, 11, 12}}},
		{Chunk: delivery.Chunk{WaveID: 2, DeliveryIDs: []int64{20}, Retry: true}},
		{Chunk: delivery.Chunk{WaveID: 1, DeliveryIDs: []int64{13, 14}}}, // waiting: not running
		{Chunk: delivery.Chunk{WaveID: 1, DeliveryIDs: []int64{15}}},     // running, not listed
	}
	b.inTx(t, func(tx pgx.Tx) error {
		if err := ins.EnqueueChunksTx(ctx, tx, chunks); err != nil {
			return err
		}
		return ins.EnqueueFollowUpsTx(ctx, tx, []notifier.FollowUpJob{{IncidentID: 1, OrganizationID: 2, RunAt: time.Now()}})
	})
	jobs := b.jobs(t)
	if len(jobs) != 5 || jobs[4].Kind != "follow_up" {
		t.Fatalf("jobs %+v, want four deliveries and a follow-up", jobs)
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	// A dead process was working jobs 0, 1, 3 and the follow-up.
	if _, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(), attempted_by = ARRAY['dead']
		WHERE id = ANY($1)`, []int64{ids[0], ids[1], ids[3], ids[4]}); err != nil {
		t.Fatal(err)
	}

	listed := []int64{ids[4], ids[2], ids[1], ids[0], 999999}
	var got []delivery.ScheduledChunk
	b.inTx(t, func(tx pgx.Tx) error {
		var err error
		got, err = ins.TakeOverJobsTx(ctx, tx, listed, "another-process")
		return err
	})
	want := []delivery.ScheduledChunk{chunks[0], chunks[1]}
	if len(got) != len(want) {
		t.Fatalf("took over %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].WaveID != want[i].WaveID || !slices.Equal(got[i].DeliveryIDs, want[i].DeliveryIDs) || got[i].Retry != want[i].Retry ||
			!got[i].RunAt.IsZero() || got[i].JobID != 0 {
			t.Errorf("chunk %d: %+v, want %+v to run now", i, got[i], want[i])
		}
	}
	after := b.jobs(t)
	for i, j := range after {
		cancelled := j.Metadata["cancel_attempted_at"] != nil
		if wantCancelled := i == 0 || i == 1; cancelled != wantCancelled {
			t.Errorf("job %d (%s, %s): cancel attempted %v, want %v", i, j.Kind, j.State, cancelled, wantCancelled)
		}
		// River cancels a running job when its worker (or the rescuer)
		// next sees it; the row stays as it was meanwhile.
		if wantState := []string{"running", "running", "available", "running", "running"}[i]; j.State != wantState {
			t.Errorf("job %d is %s, want %s", i, j.State, wantState)
		}
	}

	// Nothing running among the ids: nothing to take over.
	b.inTx(t, func(tx pgx.Tx) error {
		none, err := ins.TakeOverJobsTx(ctx, tx, []int64{ids[2], 999999}, "another-process")
		if err != nil || len(none) != 0 {
			t.Errorf("took over %+v, %v; want nothing", none, err)
		}
		return nil
	})

	// By the dead process's id (here its lease's second generation): the
	// running delivery job it fetched but never claimed for, not those an
	// earlier takeover cancelled, not the follow-up.
	b.inTx(t, func(tx pgx.Tx) error {
		byOwner, err := ins.TakeOverJobsTx(ctx, tx, nil, "dead.2")
		if err != nil || len(byOwner) != 1 || !slices.Equal(byOwner[0].DeliveryIDs, chunks[3].DeliveryIDs) {
			t.Errorf("took over %+v, %v; want the unlisted running chunk %v", byOwner, err, chunks[3].DeliveryIDs)
		}
		return nil
	})
}

// DeliverArgs carries its own queue and attempts, whoever inserts it.
var _ river.JobArgsWithInsertOpts = queue.DeliverArgs{}
