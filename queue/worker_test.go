package queue_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/queue"
	"github.com/breachnotify/breachnotify/templates"
)

// The DeliverWorker under a real River client, on the real store, with a
// fake relay: what a delivery job does from fetch to completion.

// relay is a fake delivery.Sender: it accepts every message except those
// to the recipients in deferTo, which it answers 451.
type relay struct {
	mu      sync.Mutex
	sent    map[string]int // Message-ID -> times accepted
	deferTo map[string]bool
}

func (r *relay) Conn(context.Context) (delivery.SenderConn, error) { return r, nil }
func (r *relay) Release(bool)                                      {}
func (r *relay) Send(_ context.Context, m *notifier.Message) delivery.SendResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.deferTo[m.To.Address] {
		return delivery.SendResult{Code: 451, Detail: "4.3.0", Reply: "451 4.3.0 local problem, try later"}
	}
	r.sent[m.MessageID]++
	return delivery.SendResult{Verdict: delivery.Accepted, Code: 250, Detail: "2.0.0", Reply: "250 2.0.0 ok", SHA256: make([]byte, 32)}
}

func (r *relay) accepted() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.sent))
	for k, v := range r.sent {
		out[k] = v
	}
	return out
}

// defaultTemplates are compiled once: it takes seconds under the race detector.
var defaultTemplates = sync.OnceValues(templates.Defaults)

// workerBundle is what setupWorker returns beside the River client.
type workerBundle struct {
	*bundle
	store *store.Store
	svc   *notifier.Service
	relay *relay
	// wave is a launched wave whose one delivery job waits in the queue.
	wave int64
}

var actor = notifier.LocalActor("queue test")

// setupWorker launches a wave through the use cases and builds, without
// starting it, a River client working it with a DeliverWorker over the
// real store and a fake relay.
func setupWorker(t *testing.T, deferTo ...string) (*river.Client[pgx.Tx], *workerBundle) {
	t.Helper()
	ctx := context.Background()
	ins, b := setup(t)
	keys, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: []byte("the queue tests' audit key, 32 b")})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(b.pool, store.Config{Jobs: ins, MessageIDDomain: "notify.example", AuditKeys: keys})
	svc := notifier.NewService(st, notifier.ServiceConfig{AuditKeys: keys})
	wb := &workerBundle{bundle: b, store: st, svc: svc, relay: &relay{sent: map[string]int{}, deferTo: map[string]bool{}}}
	for _, r := range deferTo {
		wb.relay.deferTo[r] = true
	}
	if _, err := svc.ImportOrganizations(ctx, actor, bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateIncident(ctx, actor, notifier.NewIncident{Slug: "mail-breach", Title: "Mail breach"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ImportExposures(ctx, actor, "mail-breach", bytes.NewReader(sampledata.File(sampledata.ExposuresBatch1)), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	plan, err := svc.PlanWave(ctx, actor, "mail-breach", templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	w, err := svc.LaunchWave(ctx, actor, plan.ID, notifier.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	wb.wave = w.ID

	set, err := defaultTemplates()
	if err != nil {
		t.Fatal(err)
	}
	writer := delivery.NewWriter(delivery.WriterConfig{Store: st})
	go writer.Run()
	t.Cleanup(func() { writer.Close(context.Background()) })
	d := delivery.NewEngine(delivery.EngineConfig{
		Store: st, Sender: wb.relay, Writer: writer,
		Renderer: notifier.NewRenderer(set, mail.Address{Name: "Security Notices", Address: "security-notice@notify.example"}, "https://notify.example"),
		Retry:    delivery.RetryPolicy{Min: time.Hour, Max: 2 * time.Hour, Lifetime: 96 * time.Hour},
	})
	logger := slog.New(slog.DiscardHandler)
	client, err := queue.NewClient(b.pool, queue.Config{ID: "queue-test", Workers: 2, Deliver: &queue.DeliverWorker{Engine: d},
		Service: svc, Maintainer: st, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return client, wb
}

// start starts client and returns the delivery jobs' events of kinds.
func start(t *testing.T, client *river.Client[pgx.Tx], kinds ...river.EventKind) <-chan *river.Event {
	t.Helper()
	events, cancel := client.Subscribe(kinds...)
	t.Cleanup(cancel)
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.Stop(ctx); err != nil {
			t.Errorf("stop river: %v", err)
		}
	})
	return events
}

// next waits for the next event about a delivery job.
func next(t *testing.T, events <-chan *river.Event) *river.Event {
	t.Helper()
	timeout := time.NewTimer(time.Minute) // a guard, not a wait: events come in milliseconds
	defer timeout.Stop()
	for {
		select {
		case ev := <-events:
			if ev.Job.Kind == (queue.DeliverArgs{}).Kind() {
				return ev
			}
		case <-timeout.C:
			t.Fatal("no delivery job event within a minute")
		}
	}
}

func TestDeliverWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a chunk job sends its deliveries and completes with their outcomes", func(t *testing.T) {
		t.Parallel()
		client, b := setupWorker(t, "legal@contoso.example")
		events := start(t, client, river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobSnoozed)
		ev := next(t, events)
		if ev.Kind != river.EventKindJobCompleted {
			t.Fatalf("delivery job: %s (%v), want completed", ev.Kind, ev.Job.Errors)
		}
		rows, err := b.pool.Query(ctx, `SELECT message_id, recipient, status, attempts FROM deliveries WHERE wave_id = $1 ORDER BY id`, b.wave)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			MessageID, Recipient string
			Status               notifier.DeliveryStatus
			Attempts             int
		}
		dels, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			t.Fatal(err)
		}
		accepted := b.relay.accepted()
		var deferred int64
		for _, d := range dels {
			switch {
			case d.Recipient == "legal@contoso.example":
				if d.Status != notifier.DeliveryDeferred || d.Attempts != 1 || accepted[d.MessageID] != 0 {
					t.Errorf("deferred recipient: %+v (accepted %d times)", d, accepted[d.MessageID])
				}
				if err := b.pool.QueryRow(ctx, `SELECT id FROM deliveries WHERE message_id = $1`, d.MessageID).Scan(&deferred); err != nil {
					t.Fatal(err)
				}
			case d.Status != notifier.DeliverySent || d.Attempts != 1 || accepted[d.MessageID] != 1:
				t.Errorf("delivery %+v: accepted %d times, want sent once", d, accepted[d.MessageID])
			}
		}
		if len(accepted) != len(dels)-1 {
			t.Errorf("the relay accepted %d messages for %d deliveries (one deferred)", len(accepted), len(dels))
		}
		var completed, retries, claims int
		if err := b.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM river_job WHERE kind = 'deliver' AND state = 'completed'),
			(SELECT count(*) FROM river_job WHERE kind = 'deliver' AND state = 'scheduled' AND args->>'retry' = 'true'
			   AND args->'delivery_ids' = jsonb_build_array($1::bigint)),
			(SELECT count(*) FROM delivery_claims)`, deferred).Scan(&completed, &retries, &claims); err != nil {
			t.Fatal(err)
		}
		if completed != 1 || retries != 1 || claims != 0 {
			t.Errorf("%d completed delivery jobs, %d retry jobs for the deferred delivery, %d claims left; want 1, 1, 0", completed, retries, claims)
		}
		if w, err := b.svc.Wave(ctx, actor, b.wave); err != nil || w.Status != notifier.WaveRunning {
			t.Errorf("wave: %s, %v; want running (a delivery waits for its retry)", w.Status, err)
		}
	})

	t.Run("a paused wave's job snoozes without sending", func(t *testing.T) {
		t.Parallel()
		client, b := setupWorker(t)
		if _, err := b.svc.PauseWave(ctx, actor, b.wave); err != nil {
			t.Fatal(err)
		}
		events := start(t, client, river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobSnoozed)
		ev := next(t, events)
		if ev.Kind != river.EventKindJobSnoozed {
			t.Fatalf("delivery job of a paused wave: %s, want snoozed", ev.Kind)
		}
		if n := len(b.relay.accepted()); n != 0 {
			t.Errorf("a paused wave sent %d messages", n)
		}
		var state string
		var attempts, maxAttempts int
		if err := b.pool.QueryRow(ctx, `SELECT state, attempt, max_attempts FROM river_job WHERE id = $1`, ev.Job.ID).Scan(&state, &attempts, &maxAttempts); err != nil {
			t.Fatal(err)
		}
		// A snooze spends no attempt, and the job comes back.
		if (state != "scheduled" && state != "available") || maxAttempts-attempts != queue.MaxAttemptsDefault {
			t.Errorf("snoozed job: %s, attempt %d of %d; want it waiting with %d attempts left", state, attempts, maxAttempts, queue.MaxAttemptsDefault)
		}
	})
}
