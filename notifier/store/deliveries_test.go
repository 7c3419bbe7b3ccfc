package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
)

// The statements the delivery engine relies on: claims, the group commit
// of outcomes, and the takeover of a dead process's claims.

func TestClaimDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("claims queued deliveries and records the claim with its owner", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		wave := b.waves[0]
		ids := b.deliveries[wave][:5]
		listed := slices.Clone(ids)
		slices.Reverse(listed) // the claim sorts them
		claim, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: listed, JobID: 101, Owner: "proc-a"})
		if err != nil {
			t.Fatal(err)
		}
		if claim.WaveStatus != notifier.WaveRunning || claim.Now.IsZero() {
			t.Errorf("claim: wave %s at %v, want running at the database's time", claim.WaveStatus, claim.Now)
		}
		if got := claimedIDs(claim); !slices.Equal(got, ids) {
			t.Fatalf("claimed %v, want %v", got, ids)
		}
		for _, d := range claim.Deliveries {
			if d.WaveID != wave || d.Recipient == "" || d.MessageID == "" || d.Reference == "" || d.AckToken == "" || d.Attempts != 0 {
				t.Errorf("delivery %d: %+v lacks what sending needs", d.ID, d)
			}
			if d.Notice == nil || d.Notice.OrgName == "" || d.Notice.IncidentTitle == "" || d.Notice.ItemCount == 0 {
				t.Errorf("delivery %d: notice %+v lacks its content", d.ID, d.Notice)
			}
		}
		gotWave, gotIDs, owner, found := b.claimed(t, 101)
		if !found || gotWave != wave || !slices.Equal(gotIDs, ids) || owner == nil || *owner != "proc-a" {
			t.Errorf("claim row: found %v, wave %d, ids %v, owner %v; want wave %d, ids %v, owner proc-a", found, gotWave, gotIDs, owner, wave, ids)
		}
		var tokens int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM ack_tokens WHERE delivery_id = ANY($1)`, ids).Scan(&tokens); err != nil {
			t.Fatal(err)
		}
		if tokens != len(ids) {
			t.Errorf("%d acknowledgement tokens stored, want %d", tokens, len(ids))
		}
		// The job claiming again (a rescued or snoozed job) gets its
		// deliveries back, under the owner it runs under now.
		again, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids, JobID: 101, Owner: "proc-b"})
		if err != nil {
			t.Fatal(err)
		}
		if got := claimedIDs(again); !slices.Equal(got, ids) {
			t.Errorf("the same job claiming again got %v, want %v", got, ids)
		}
		if _, _, owner, _ := b.claimed(t, 101); owner == nil || *owner != "proc-b" {
			t.Errorf("owner after claiming again: %v, want proc-b", owner)
		}
	})

	t.Run("another job listing the same deliveries gets none of them while the claim stands", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		wave := b.waves[0]
		ids := b.deliveries[wave]
		if _, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:4], JobID: 101, Owner: "proc-a"}); err != nil {
			t.Fatal(err)
		}
		second, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:4], JobID: 102, Owner: "proc-b"})
		if err != nil {
			t.Fatal(err)
		}
		if len(second.Deliveries) != 0 {
			t.Errorf("a second job got %v of the first job's claim", claimedIDs(second))
		}
		if _, _, _, found := b.claimed(t, 102); found {
			t.Error("a job that got nothing recorded a claim")
		}
		// Overlapping lists: only what nobody holds.
		overlap, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[2:6], JobID: 102, Owner: "proc-b"})
		if err != nil {
			t.Fatal(err)
		}
		if got := claimedIDs(overlap); !slices.Equal(got, ids[4:6]) {
			t.Errorf("overlapping claim got %v, want %v", got, ids[4:6])
		}
		// The other wave's claims do not count.
		other := b.deliveries[b.waves[1]]
		if c, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: b.waves[1], DeliveryIDs: other[:2], JobID: 103}); err != nil || len(c.Deliveries) != 2 {
			t.Errorf("the other wave's claim: %v, %v", claimedIDs(c), err)
		}
		// Once the first job gives its claim up, they are free.
		if err := st.ReleaseClaim(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:4], JobID: 101}, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, _, found := b.claimed(t, 101); found {
			t.Error("the released claim is still there")
		}
		after, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:4], JobID: 104, Owner: "proc-b"})
		if err != nil {
			t.Fatal(err)
		}
		if got := claimedIDs(after); !slices.Equal(got, ids[:4]) {
			t.Errorf("after the release a new job got %v, want %v", got, ids[:4])
		}
	})

	t.Run("a chunk job leaves deferred and final deliveries; a retry job takes a deferred one", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		wave := b.waves[0]
		ids := b.deliveries[wave][:4]
		b.exec(t, `UPDATE deliveries SET status = 'deferred', attempts = 1 WHERE id = $1`, ids[0])
		b.exec(t, `UPDATE deliveries SET status = 'sent', attempts = 1, sent_at = now() WHERE id = $1`, ids[1])
		b.exec(t, `UPDATE deliveries SET status = 'bounced', attempts = 1 WHERE id = $1`, ids[2])
		chunk, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids, JobID: 101})
		if err != nil {
			t.Fatal(err)
		}
		if got := claimedIDs(chunk); !slices.Equal(got, ids[3:]) {
			t.Errorf("chunk job claimed %v, want %v", got, ids[3:])
		}
		retry, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:1], JobID: 102, Retry: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := claimedIDs(retry); !slices.Equal(got, ids[:1]) || retry.Deliveries[0].Attempts != 1 {
			t.Errorf("retry job claimed %v (%+v), want %v with 1 attempt", got, retry.Deliveries, ids[:1])
		}
	})

	t.Run("a paused wave claims nothing", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		wave := b.waves[0]
		if _, err := b.svc.PauseWave(ctx, actor, wave); err != nil {
			t.Fatal(err)
		}
		claim, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: b.deliveries[wave], JobID: 101, Owner: "proc-a"})
		if err != nil {
			t.Fatal(err)
		}
		if claim.WaveStatus != notifier.WavePaused || len(claim.Deliveries) != 0 {
			t.Errorf("paused wave: status %s, claimed %v; want paused, nothing", claim.WaveStatus, claimedIDs(claim))
		}
		if _, _, _, found := b.claimed(t, 101); found {
			t.Error("a paused wave recorded a claim")
		}
		for _, id := range b.deliveries[wave] {
			if s := b.status(t, id); s != notifier.DeliveryQueued {
				t.Errorf("delivery %d is %s, want queued", id, s)
			}
		}
	})

	t.Run("a cancelled wave cancels the listed pending deliveries no other job holds", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		wave := b.waves[0]
		ids := b.deliveries[wave]
		// Two jobs hold claims when the wave is cancelled: cancelling
		// leaves their deliveries to them.
		if _, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:4], JobID: 101, Owner: "proc-a"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[4:6], JobID: 102, Owner: "proc-a"}); err != nil {
			t.Fatal(err)
		}
		b.exec(t, `UPDATE deliveries SET status = 'sent', attempts = 1, sent_at = now() WHERE id = $1`, ids[0])
		if _, err := b.svc.CancelWave(ctx, actor, wave); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids[6:] {
			if s := b.status(t, id); s != notifier.DeliveryCancelled {
				t.Fatalf("unclaimed delivery %d is %s after the cancel, want cancelled", id, s)
			}
		}
		// The first job runs again (late, or rescued) listing both claims.
		claim, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:6], JobID: 101, Owner: "proc-a"})
		if err != nil {
			t.Fatal(err)
		}
		if claim.WaveStatus != notifier.WaveCancelled || len(claim.Deliveries) != 0 {
			t.Errorf("cancelled wave: status %s, claimed %v; want cancelled, nothing", claim.WaveStatus, claimedIDs(claim))
		}
		want := map[int64]notifier.DeliveryStatus{ids[0]: notifier.DeliverySent,
			ids[1]: notifier.DeliveryCancelled, ids[2]: notifier.DeliveryCancelled, ids[3]: notifier.DeliveryCancelled,
			ids[4]: notifier.DeliveryQueued, ids[5]: notifier.DeliveryQueued}
		for id, w := range want {
			if s := b.status(t, id); s != w {
				t.Errorf("delivery %d is %s, want %s", id, s, w)
			}
		}
		if _, _, _, found := b.claimed(t, 101); found {
			t.Error("the cancelled job's claim is still there")
		}
		if _, _, _, found := b.claimed(t, 102); !found {
			t.Error("the other job's claim is gone")
		}

		// The first job completes (the engine's finish); then the second
		// runs, cancels its own, and completes: the wave ends with every
		// notice no delivery reached voided, and the sent one kept.
		done := &completer{}
		waves, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{{WaveID: wave, JobID: 101, Complete: done.complete}})
		if err != nil || waves[wave] != notifier.WaveCancelled {
			t.Fatalf("completing the first job: %v, %v; want the wave cancelled", waves, err)
		}
		if claim, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[4:6], JobID: 102}); err != nil || len(claim.Deliveries) != 0 {
			t.Fatalf("the second job's claim: %v, %v", claimedIDs(claim), err)
		}
		if _, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{{WaveID: wave, JobID: 102, Complete: done.complete}}); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids[1:] {
			if s := b.status(t, id); s != notifier.DeliveryCancelled {
				t.Errorf("delivery %d is %s at the end, want cancelled", id, s)
			}
		}
		var unvoided []int64
		rows, err := b.pool.Query(ctx, `SELECT n.id FROM notices n WHERE n.wave_id = $1 AND n.voided_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id AND d.status = 'sent')`, wave)
		if err == nil {
			unvoided, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		if err != nil || len(unvoided) != 0 {
			t.Errorf("notices that reached nobody and are not voided: %v, %v", unvoided, err)
		}
		var sentVoided bool
		if err := b.pool.QueryRow(ctx, `SELECT n.voided_at IS NOT NULL FROM notices n JOIN deliveries d ON d.notice_id = n.id WHERE d.id = $1`, ids[0]).
			Scan(&sentVoided); err != nil || sentVoided {
			t.Errorf("the notice a delivery reached was voided (%v, %v)", sentVoided, err)
		}
	})
}

// sentOutcomes are the outcomes of ids of wave accepted by the relay.
func sentOutcomes(wave int64, ids []int64) []delivery.Outcome {
	outs := make([]delivery.Outcome, len(ids))
	for i, id := range ids {
		outs[i] = delivery.Outcome{DeliveryID: id, WaveID: wave, Status: notifier.DeliverySent, Attempted: true, Code: 250}
	}
	return outs
}

// completer is a JobCompleter that records being called inside the
// commit's transaction.
type completer struct {
	calls int
	nilTx bool
}

func (c *completer) complete(_ context.Context, tx pgx.Tx) error {
	c.calls++
	c.nilTx = c.nilTx || tx == nil
	return nil
}

// deliveryRow is what an outcome writes on a delivery.
type deliveryRow struct {
	Status     notifier.DeliveryStatus
	Attempts   int
	Code       *int
	Reply      string
	SHA        []byte
	Version    string
	FirstAt    *time.Time
	SentAt     *time.Time
	NextAt     *time.Time
	FinishedAt *time.Time
}

func (b *bundle) delivery(t *testing.T, id int64) deliveryRow {
	t.Helper()
	var r deliveryRow
	if err := b.pool.QueryRow(context.Background(), `SELECT status, attempts, smtp_code, smtp_reply, message_sha256, template_version,
		first_attempt_at, sent_at, next_attempt_at, finished_at FROM deliveries WHERE id = $1`, id).
		Scan(&r.Status, &r.Attempts, &r.Code, &r.Reply, &r.SHA, &r.Version, &r.FirstAt, &r.SentAt, &r.NextAt, &r.FinishedAt); err != nil {
		t.Fatal(err)
	}
	return r
}

// events lists a delivery's timeline as "type code enhanced".
func (b *bundle) events(t *testing.T, id int64) []string {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT type || ' ' || coalesce(smtp_code::text, '-') || ' ' || enhanced_code
		FROM delivery_events WHERE delivery_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// deliverJob is a River delivery job as the tests read it.
type deliverJob struct {
	ID          int64
	State       string
	ScheduledAt time.Time
	Args        struct {
		WaveID      int64   `json:"wave_id"`
		DeliveryIDs []int64 `json:"delivery_ids"`
		Retry       bool    `json:"retry"`
	}
	Metadata map[string]any
}

// deliverJobs lists the delivery jobs listing id (any id when 0).
func (b *bundle) deliverJobs(t *testing.T, id int64) []deliverJob {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT id, state, scheduled_at, args, metadata FROM river_job
		WHERE kind = 'deliver' AND ($1 = 0 OR args->'delivery_ids' @> to_jsonb($1)) ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []deliverJob
	var j deliverJob
	var args, meta []byte
	if _, err := pgx.ForEachRow(rows, []any{&j.ID, &j.State, &j.ScheduledAt, &args, &meta}, func() error {
		j.Args.WaveID, j.Args.DeliveryIDs, j.Args.Retry, j.Metadata = 0, nil, false, nil
		if err := json.Unmarshal(args, &j.Args); err != nil {
			return err
		}
		if err := json.Unmarshal(meta, &j.Metadata); err != nil {
			return err
		}
		jobs = append(jobs, j)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return jobs
}

func TestRecordOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a group of two waves' batches", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		waveA, waveB := b.waves[0], b.waves[1]
		a, bb := b.deliveries[waveA], b.deliveries[waveB]
		for _, c := range []delivery.Chunk{
			{WaveID: waveA, DeliveryIDs: a[:4], JobID: 201, Owner: "proc-a"},
			{WaveID: waveB, DeliveryIDs: bb[:3], JobID: 202, Owner: "proc-a"},
		} {
			if claim, err := st.ClaimDeliveries(ctx, c); err != nil || len(claim.Deliveries) != len(c.DeliveryIDs) {
				t.Fatalf("claim %v: %v, %v", c.DeliveryIDs, claimedIDs(claim), err)
			}
		}
		// A bounce recorded while a[3] was being sent again.
		b.exec(t, `UPDATE deliveries SET status = 'bounced', smtp_reply = 'bounced: mailbox unknown' WHERE id = $1`, a[3])
		var now time.Time
		if err := b.pool.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			t.Fatal(err)
		}
		retryAt := now.Add(time.Hour).Truncate(time.Microsecond)
		sha := []byte("0123456789abcdef0123456789abcdef")
		done := &completer{}
		waves, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{
			{WaveID: waveA, JobID: 201, Complete: done.complete, Outcomes: []delivery.Outcome{
				{DeliveryID: a[0], WaveID: waveA, Status: notifier.DeliverySent, Attempted: true, Code: 250, Detail: "2.0.0", Reply: "250 2.0.0 queued as 1A2B", SHA256: sha, TemplateVersion: "v7"},
				{DeliveryID: a[1], WaveID: waveA, Status: notifier.DeliveryFailed, Attempted: true, Code: 550, Detail: "5.1.1", Reply: "550 5.1.1 no such user"},
				{DeliveryID: a[2], WaveID: waveA, Status: notifier.DeliveryQueued, Event: "throttled", Reply: "held back: domain paused"},
				{DeliveryID: a[3], WaveID: waveA, Status: notifier.DeliverySent, Attempted: true, Code: 250, Reply: "250 late"},
			}},
			{WaveID: waveB, JobID: 202, Retries: []delivery.ScheduledChunk{
				{Chunk: delivery.Chunk{WaveID: waveB, DeliveryIDs: []int64{bb[1]}, Retry: true}, RunAt: retryAt},
			}, Outcomes: []delivery.Outcome{
				{DeliveryID: bb[0], WaveID: waveB, Status: notifier.DeliverySent, Attempted: true, Code: 250, Reply: "250 ok", SHA256: sha},
				{DeliveryID: bb[1], WaveID: waveB, Status: notifier.DeliveryDeferred, Attempted: true, Code: 451, Detail: "4.7.1", Reply: "451 greylisted", RetryAt: retryAt},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int64]notifier.WaveStatus{waveA: notifier.WaveRunning, waveB: notifier.WaveRunning}; !maps.Equal(waves, want) {
			t.Errorf("wave statuses %v, want %v", waves, want)
		}

		sent := b.delivery(t, a[0])
		if sent.Status != notifier.DeliverySent || sent.Attempts != 1 || sent.Code == nil || *sent.Code != 250 || sent.Reply != "250 2.0.0 queued as 1A2B" ||
			string(sent.SHA) != string(sha) || sent.Version != "v7" || sent.SentAt == nil || sent.FirstAt == nil || sent.FinishedAt == nil {
			t.Errorf("sent delivery: %+v", sent)
		}
		if failed := b.delivery(t, a[1]); failed.Status != notifier.DeliveryFailed || failed.Attempts != 1 || failed.SentAt != nil || failed.FinishedAt == nil {
			t.Errorf("failed delivery: %+v", failed)
		}
		if held := b.delivery(t, a[2]); held.Status != notifier.DeliveryQueued || held.Attempts != 0 || held.Code != nil || held.FirstAt != nil {
			t.Errorf("held-back delivery (no attempt): %+v", held)
		}
		if late := b.delivery(t, a[3]); late.Status != notifier.DeliveryBounced || late.Reply != "bounced: mailbox unknown" || late.SentAt != nil {
			t.Errorf("a late outcome overwrote the bounce: %+v", late)
		}
		deferred := b.delivery(t, bb[1])
		if deferred.Status != notifier.DeliveryDeferred || deferred.Attempts != 1 || deferred.NextAt == nil || !deferred.NextAt.Equal(retryAt) || deferred.FinishedAt != nil {
			t.Errorf("deferred delivery: %+v, want next attempt at %v", deferred, retryAt)
		}
		for id, want := range map[int64][]string{
			a[0]: {"sent 250 2.0.0"}, a[1]: {"failed 550 5.1.1"}, a[2]: {"throttled - "},
			bb[0]: {"sent 250 "}, bb[1]: {"deferred 451 4.7.1"},
		} {
			if got := b.events(t, id); !slices.Equal(got, want) {
				t.Errorf("events of %d: %q, want %q", id, got, want)
			}
		}

		// The deferred delivery has its retry job, and no claim holds it.
		var retries []deliverJob
		for _, j := range b.deliverJobs(t, bb[1]) {
			if j.Args.Retry {
				retries = append(retries, j)
			}
		}
		if len(retries) != 1 || retries[0].Args.WaveID != waveB || !slices.Equal(retries[0].Args.DeliveryIDs, bb[1:2]) ||
			!retries[0].ScheduledAt.Equal(retryAt) || retries[0].State != "scheduled" {
			t.Errorf("retry jobs of %d: %+v, want one scheduled at %v", bb[1], retries, retryAt)
		}
		if _, ids, _, found := b.claimed(t, 202); !found || !slices.Equal(ids, []int64{bb[0], bb[2]}) {
			t.Errorf("claim of the deferring job: %v (found %v), want %v", ids, found, []int64{bb[0], bb[2]})
		}
		// The completing batch dropped its job's claim and completed the
		// job in the commit.
		if _, _, _, found := b.claimed(t, 201); found {
			t.Error("the completed job's claim is still there")
		}
		if done.calls != 1 || done.nilTx {
			t.Errorf("completer called %d times (nil tx: %v), want once in the transaction", done.calls, done.nilTx)
		}
	})

	t.Run("a failing completer rolls the whole group back", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		wave := b.waves[0]
		ids := b.deliveries[wave]
		if _, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:2], JobID: 201}); err != nil {
			t.Fatal(err)
		}
		_, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{{WaveID: wave, JobID: 201,
			Complete: func(context.Context, pgx.Tx) error { return errBoom },
			Outcomes: []delivery.Outcome{{DeliveryID: ids[0], WaveID: wave, Status: notifier.DeliverySent, Attempted: true, Code: 250}}}})
		if err == nil || !strings.Contains(err.Error(), errBoom.Error()) {
			t.Fatalf("RecordOutcomes: %v, want the completer's error", err)
		}
		if s := b.status(t, ids[0]); s != notifier.DeliveryQueued {
			t.Errorf("delivery %d is %s after the rollback, want queued", ids[0], s)
		}
		if _, _, _, found := b.claimed(t, 201); !found {
			t.Error("the claim was dropped although the commit failed")
		}
	})

	t.Run("the last batch of a wave completes it", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		wave := b.waves[0]
		ids := b.deliveries[wave]
		if _, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids, JobID: 201}); err != nil {
			t.Fatal(err)
		}
		done := &completer{}
		waves, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{{WaveID: wave, JobID: 201, Outcomes: sentOutcomes(wave, ids), Complete: done.complete}})
		if err != nil {
			t.Fatal(err)
		}
		if waves[wave] != notifier.WaveRunning {
			t.Errorf("returned status %s, want running (read before settling)", waves[wave])
		}
		if status := b.waveStatus(t, wave); status != notifier.WaveCompleted {
			t.Errorf("wave is %s after its last outcome, want completed", status)
		}
		if other, _ := b.svc.Wave(ctx, actor, b.waves[1]); other.Status != notifier.WaveRunning {
			t.Errorf("the other wave is %s, want running", other.Status)
		}
	})

	t.Run("a wave completes with the last of its chunks, not while another holds a claim", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		wave := b.waves[0]
		ids := b.deliveries[wave]
		half := len(ids) / 2
		chunks := []delivery.Chunk{{WaveID: wave, DeliveryIDs: ids[:half], JobID: 201}, {WaveID: wave, DeliveryIDs: ids[half:], JobID: 202}}
		for _, c := range chunks {
			if _, err := st.ClaimDeliveries(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		// The second chunk's outcomes are committed first, without
		// completing it: nothing is pending, but its claim is held.
		if _, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{{WaveID: wave, JobID: 202, Outcomes: sentOutcomes(wave, ids[half:])}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{{WaveID: wave, JobID: 201, Outcomes: sentOutcomes(wave, ids[:half]), Complete: (&completer{}).complete}}); err != nil {
			t.Fatal(err)
		}
		if s := b.waveStatus(t, wave); s != notifier.WaveRunning {
			t.Fatalf("wave is %s while chunk 202 still holds its claim, want running", s)
		}
		if _, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{{WaveID: wave, JobID: 202, Complete: (&completer{}).complete}}); err != nil {
			t.Fatal(err)
		}
		if s := b.waveStatus(t, wave); s != notifier.WaveCompleted {
			t.Fatalf("wave is %s after its last chunk completed, want completed", s)
		}
	})

	t.Run("a batch for a paused wave is written and returns paused", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		wave := b.waves[1]
		ids := b.deliveries[wave]
		if _, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:2], JobID: 202}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.PauseWave(ctx, actor, wave); err != nil {
			t.Fatal(err)
		}
		waves, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{
			{WaveID: wave, JobID: 202, Outcomes: []delivery.Outcome{{DeliveryID: ids[0], WaveID: wave, Status: notifier.DeliverySent, Attempted: true, Code: 250}}},
			{WaveID: b.waves[0], JobID: 201}, // no outcomes: its wave's status still comes back
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int64]notifier.WaveStatus{wave: notifier.WavePaused, b.waves[0]: notifier.WaveRunning}; !maps.Equal(waves, want) {
			t.Errorf("wave statuses %v, want %v", waves, want)
		}
		if s := b.status(t, ids[0]); s != notifier.DeliverySent {
			t.Errorf("the in-flight send's outcome was not written: %s", s)
		}
	})

	t.Run("a requeued chunk gets a job at its time", func(t *testing.T) {
		t.Parallel()
		st, b := setup(t)
		wave := b.waves[0]
		ids := b.deliveries[wave]
		before := len(b.deliverJobs(t, 0))
		runAt := time.Now().Add(30 * time.Minute).Truncate(time.Microsecond)
		_, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{{WaveID: wave, JobID: 201,
			Requeue: &delivery.ScheduledChunk{Chunk: delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:3]}, RunAt: runAt}}})
		if err != nil {
			t.Fatal(err)
		}
		jobs := b.deliverJobs(t, 0)
		if len(jobs) != before+1 {
			t.Fatalf("%d delivery jobs, want %d", len(jobs), before+1)
		}
		j := jobs[len(jobs)-1]
		if !slices.Equal(j.Args.DeliveryIDs, ids[:3]) || j.Args.Retry || !j.ScheduledAt.Equal(runAt) {
			t.Errorf("requeued job %+v, want %v at %v", j, ids[:3], runAt)
		}
	})
}

var errBoom = errors.New("the job could not be completed")

// runningJob enqueues a delivery job for chunk as the launch does and
// marks it running under process owner, as River does when a worker
// fetches it, and returns its id.
func (b *bundle) runningJob(t *testing.T, chunk delivery.Chunk, owner string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if err := b.jobs.EnqueueChunksTx(ctx, tx, []delivery.ScheduledChunk{{Chunk: chunk}}); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(), attempted_by = ARRAY[$1]
			WHERE id = (SELECT max(id) FROM river_job WHERE kind = 'deliver') RETURNING id`, owner).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestTakeOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, b := setup(t)
	waveA, waveB := b.waves[0], b.waves[1]
	a, bb := b.deliveries[waveA], b.deliveries[waveB]
	const ttl = 30 * time.Second
	for _, p := range []delivery.Process{{ID: "dead", Host: "host-1", PID: 101}, {ID: "live", Host: "host-2", PID: 202}} {
		if err := st.RegisterProcess(ctx, p, ttl); err != nil {
			t.Fatal(err)
		}
	}

	// The dead process works a chunk of wave A (one delivery of which it
	// got sent before dying); the live one another; a claim of wave B
	// names a process whose lease row is already gone (an orphan).
	deadChunk := delivery.Chunk{WaveID: waveA, DeliveryIDs: a[:3], Owner: "dead"}
	deadChunk.JobID = b.runningJob(t, deadChunk, "dead")
	liveChunk := delivery.Chunk{WaveID: waveA, DeliveryIDs: a[3:5], Owner: "live"}
	liveChunk.JobID = b.runningJob(t, liveChunk, "live")
	orphanChunk := delivery.Chunk{WaveID: waveB, DeliveryIDs: bb[:2], Owner: "ghost", Retry: true}
	orphanChunk.JobID = b.runningJob(t, orphanChunk, "ghost")
	for _, c := range []delivery.Chunk{deadChunk, liveChunk, orphanChunk} {
		if claim, err := st.ClaimDeliveries(ctx, c); err != nil || len(claim.Deliveries) != len(c.DeliveryIDs) {
			t.Fatalf("claim %v: %v, %v", c.DeliveryIDs, claimedIDs(claim), err)
		}
	}
	b.exec(t, `UPDATE deliveries SET status = 'sent', attempts = 1, sent_at = now() WHERE id = $1`, a[0])

	// Nothing has lapsed yet.
	if taken, err := st.TakeOver(ctx, "live", 5*time.Second); err != nil || len(taken) != 1 || taken[0].Owner != "ghost" {
		t.Fatalf("before any lease lapsed: %+v, %v; want the orphan only", taken, err)
	}
	// A lease counts as lapsed only margin after its end.
	var leaseLeft time.Duration
	if err := b.pool.QueryRow(ctx, `SELECT lease_until - now() FROM delivery_processes WHERE id = 'dead'`).Scan(&leaseLeft); err != nil {
		t.Fatal(err)
	}
	if leaseLeft <= ttl/2 || leaseLeft > ttl {
		t.Errorf("a lease registered for %v ends in %v", ttl, leaseLeft)
	}
	b.exec(t, `UPDATE delivery_processes SET lease_until = now() - interval '10 seconds' WHERE id = 'dead'`)
	if taken, err := st.TakeOver(ctx, "live", time.Minute); err != nil || len(taken) != 0 {
		t.Fatalf("a lease 10 s over with a margin of a minute: took over %+v, %v; want nothing", taken, err)
	}
	// The first sweep took the orphan; claim it again, to see it taken
	// over together with the dead process.
	orphanChunk.JobID = b.runningJob(t, delivery.Chunk{WaveID: waveB, DeliveryIDs: bb[:2], Retry: true}, "ghost")
	if claim, err := st.ClaimDeliveries(ctx, orphanChunk); err != nil || len(claim.Deliveries) != 2 {
		t.Fatalf("claim the orphan again: %v, %v", claimedIDs(claim), err)
	}
	b.exec(t, `UPDATE waves SET taken_over_at = NULL, takeover_note = NULL`)

	b.exec(t, `UPDATE delivery_processes SET lease_until = now() - interval '2 minutes' WHERE id = 'dead'`)
	taken, err := st.TakeOver(ctx, "live", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(taken, func(x, y delivery.Takeover) int { return strings.Compare(x.Owner, y.Owner) })
	if len(taken) != 2 {
		t.Fatalf("took over %+v, want the dead process and the orphan", taken)
	}
	if d := taken[0]; d.Owner != "dead" || d.Host != "host-1" || d.PID != 101 || d.Jobs != 1 || d.Deliveries != 2 ||
		!slices.Equal(d.WaveIDs, []int64{waveA}) || d.LeaseUntil.IsZero() {
		t.Errorf("dead process taken over: %+v; want host-1/101, 1 job, 2 pending deliveries of wave %d", d, waveA)
	}
	if o := taken[1]; o.Owner != "ghost" || o.Host != "" || o.Jobs != 1 || o.Deliveries != 2 || !slices.Equal(o.WaveIDs, []int64{waveB}) {
		t.Errorf("orphan taken over: %+v; want 1 job, 2 pending deliveries of wave %d", o, waveB)
	}

	if procs := b.ids(t, `SELECT pid::bigint FROM delivery_processes ORDER BY pid`); !slices.Equal(procs, []int64{202}) {
		t.Errorf("processes left: %v, want the live one (202)", procs)
	}
	for _, c := range []delivery.Chunk{deadChunk, orphanChunk} {
		if _, _, _, found := b.claimed(t, c.JobID); found {
			t.Errorf("the claim of job %d (%s) is still there", c.JobID, c.Owner)
		}
	}
	if _, ids, owner, found := b.claimed(t, liveChunk.JobID); !found || !slices.Equal(ids, liveChunk.DeliveryIDs) || owner == nil || *owner != "live" {
		t.Errorf("the live process's claim: %v owner %v (found %v), want it untouched", ids, owner, found)
	}
	// The dead jobs are cancel-attempted (River finalises them when it
	// rescues them) and their chunks have new jobs, Retry kept.
	for _, c := range []delivery.Chunk{deadChunk, orphanChunk} {
		var old, fresh []deliverJob
		for _, j := range b.deliverJobs(t, c.DeliveryIDs[1]) {
			if j.ID == c.JobID {
				old = append(old, j)
			} else if j.ID > c.JobID && j.Args.WaveID == c.WaveID && slices.Equal(j.Args.DeliveryIDs, c.DeliveryIDs) {
				fresh = append(fresh, j)
			}
		}
		if len(old) != 1 || old[0].Metadata["cancel_attempted_at"] == nil {
			t.Errorf("old job %d of %s: %+v, want it cancel-attempted", c.JobID, c.Owner, old)
		}
		if len(fresh) != 1 || fresh[0].Args.Retry != c.Retry || fresh[0].State != "available" {
			t.Errorf("new jobs for %s's chunk %v: %+v, want one available, retry %v", c.Owner, c.DeliveryIDs, fresh, c.Retry)
		}
	}
	if live := b.deliverJobs(t, liveChunk.DeliveryIDs[0]); live[len(live)-1].ID != liveChunk.JobID || live[len(live)-1].Metadata["cancel_attempted_at"] != nil {
		t.Errorf("the live process's job was touched: %+v", live)
	}
	// The waves say what happened.
	for wave, who := range map[int64]string{waveA: "dead", waveB: "ghost"} {
		var at *time.Time
		var note *string
		if err := b.pool.QueryRow(ctx, `SELECT taken_over_at, takeover_note FROM waves WHERE id = $1`, wave).Scan(&at, &note); err != nil {
			t.Fatal(err)
		}
		if at == nil || note == nil || !strings.Contains(*note, "process "+who+" ") || !strings.Contains(*note, "by live") {
			t.Errorf("wave %d: taken over at %v, note %v; want a note naming %s and live", wave, at, note, who)
		}
	}
	// The chunk's deliveries can be claimed by its new job.
	claim, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: waveA, DeliveryIDs: deadChunk.DeliveryIDs, JobID: 9001, Owner: "live"})
	if err != nil || !slices.Equal(claimedIDs(claim), a[1:3]) {
		t.Errorf("the new job claimed %v, %v; want %v", claimedIDs(claim), err, a[1:3])
	}

	again, err := st.TakeOver(ctx, "live", 5*time.Second)
	if err != nil || len(again) != 0 {
		t.Errorf("a second takeover found %+v, %v; want nothing", again, err)
	}
	if ok, err := st.RenewLease(ctx, "dead", ttl); err != nil || ok {
		t.Errorf("renewing the taken-over lease: %v, %v; want false", ok, err)
	}
	if ok, err := st.RenewLease(ctx, "live", ttl); err != nil || !ok {
		t.Errorf("renewing the live lease: %v, %v; want true", ok, err)
	}
	if err := st.EndProcess(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.RenewLease(ctx, "live", ttl); err != nil || ok {
		t.Errorf("renewing an ended lease: %v, %v; want false", ok, err)
	}
}
