package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/notifier/vault"
	"github.com/breachnotify/breachnotify/notifier/webhook"
)

// webhookEvent is one row of the outbox.
type webhookEvent struct {
	Type     string
	Incident *int64
	Data     map[string]any
}

// webhookEvents reads the outbox of type typ (every type when empty), in order.
func (b *bundle) webhookEvents(t *testing.T, typ string) []webhookEvent {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT type, incident_id, data FROM webhook_events WHERE $1 = '' OR type = $1 ORDER BY id`, typ)
	if err != nil {
		t.Fatal(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhookEvent, error) {
		var e webhookEvent
		err := r.Scan(&e.Type, &e.Incident, &e.Data)
		return e, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// webhooks builds the webhook use cases on the store, as an admin calls them.
func webhooks(t *testing.T, st *store.Store) *webhook.Service {
	t.Helper()
	ring, err := vault.NewKeyring(bytes.Repeat([]byte{3}, vault.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return webhook.NewService(webhook.Config{Store: st, Keyring: ring})
}

var admin = notifier.Actor{Name: "store test admin", Role: notifier.RoleAdmin}

// TestWebhookEvents: each change writes its event in its own transaction
// (a rolled-back change writes none), with ids and counts only.
func TestWebhookEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, b := setup(t)
	wave := b.waves[0]
	ids := b.deliveries[wave]

	// A delivery failed by the engine's outcome writer.
	if claim, err := st.ClaimDeliveries(ctx, delivery.Chunk{WaveID: wave, DeliveryIDs: ids[:1], JobID: 301}); err != nil || len(claim.Deliveries) != 1 {
		t.Fatalf("claim: %v, %v", claim, err)
	}
	if _, err := st.RecordOutcomes(ctx, []delivery.OutcomeBatch{{WaveID: wave, JobID: 301, Outcomes: []delivery.Outcome{
		{DeliveryID: ids[0], WaveID: wave, Status: notifier.DeliveryFailed, Attempted: true, Code: 550, Reply: "550 5.1.1 no such user"},
	}}}); err != nil {
		t.Fatal(err)
	}
	failed := b.webhookEvents(t, string(webhook.DeliveryFailed))
	if len(failed) != 1 || failed[0].Data["delivery_id"] != float64(ids[0]) || failed[0].Data["smtp_code"] != float64(550) ||
		failed[0].Data["wave_id"] != float64(wave) || failed[0].Incident == nil {
		t.Fatalf("delivery.failed events: %+v", failed)
	}

	// A change rolled back emits nothing.
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'bounced' WHERE id = $1`, ids[1]); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatal(err)
	}
	if got := b.webhookEvents(t, string(webhook.DeliveryBounced)); len(got) != 0 {
		t.Fatalf("a rolled-back bounce emitted %+v", got)
	}
	b.exec(t, `UPDATE deliveries SET status = 'bounced' WHERE id = $1`, ids[1])
	if got := b.webhookEvents(t, string(webhook.DeliveryBounced)); len(got) != 1 || got[0].Data["delivery_id"] != float64(ids[1]) {
		t.Fatalf("delivery.bounced events: %+v", got)
	}

	// Every delivery of one notice fails: it is unreachable, once.
	var notice int64
	if err := b.pool.QueryRow(ctx, `SELECT notice_id FROM deliveries WHERE id = $1`, ids[2]).Scan(&notice); err != nil {
		t.Fatal(err)
	}
	b.exec(t, `UPDATE deliveries SET status = 'failed' WHERE notice_id = $1 AND status <> 'failed'`, notice)
	b.exec(t, `UPDATE deliveries SET status = 'suppressed' WHERE notice_id = $1`, notice)
	// (The bounce above left its own notice, of one contact, unreachable too.)
	var unreachable []webhookEvent
	for _, e := range b.webhookEvents(t, string(webhook.NoticeUnreachable)) {
		if e.Data["notice_id"] == float64(notice) {
			unreachable = append(unreachable, e)
		}
	}
	if len(unreachable) != 1 || unreachable[0].Data["deliveries"] != float64(3) {
		t.Fatalf("notice.unreachable events of notice %d: %+v", notice, unreachable)
	}

	b.exec(t, `UPDATE notices SET acknowledged_at = now() WHERE id = $1`, notice)
	b.exec(t, `UPDATE notices SET acknowledged_at = now() WHERE id = $1`, notice) // already acknowledged: nothing new
	if got := b.webhookEvents(t, string(webhook.NoticeAcknowledged)); len(got) != 1 || got[0].Data["notice_id"] != float64(notice) ||
		got[0].Data["organization_ref"] == "" {
		t.Fatalf("notice.acknowledged events: %+v", got)
	}

	b.exec(t, `UPDATE waves SET status = 'completed', completed_at = now() WHERE id = $1`, wave)
	completed := b.webhookEvents(t, string(webhook.WaveCompleted))
	if len(completed) != 1 || completed[0].Data["wave_id"] != float64(wave) {
		t.Fatalf("wave.completed events: %+v", completed)
	}
	if counts, _ := completed[0].Data["deliveries"].(map[string]any); counts["suppressed"] != float64(3) {
		t.Errorf("wave.completed counts %v, want the unreachable notice's 3 suppressed", counts)
	}

	// A follow-up wave's event is built at commit, from its final counts.
	var incident int64
	if err := b.pool.QueryRow(ctx, `SELECT incident_id FROM waves WHERE id = $1`, wave).Scan(&incident); err != nil {
		t.Fatal(err)
	}
	if err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO waves (incident_id, kind) VALUES ($1, 'follow_up') RETURNING id`, incident).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE waves SET planned_notices = 3, planned_deliveries = 7 WHERE id = $1`, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := b.webhookEvents(t, string(webhook.FollowUpPlanned)); len(got) != 1 || got[0].Data["notices"] != float64(3) || got[0].Data["deliveries"] != float64(7) {
		t.Fatalf("followup.planned events: %+v", got)
	}

	// A contact's view of stolen mail, from its audit entry.
	if err := st.Audit(ctx, actor, notifier.ActionEvidenceView, "organization", "5",
		map[string]any{"message": "42-" + strings.Repeat("ab", 32), "contact_id": 9, "contact_email": "soc@example.org", "page": "message"}); err != nil {
		t.Fatal(err)
	}
	// An entry that is not what a view records (no message ref, another
	// target) still commits: the trigger never fails the view.
	if err := st.Audit(ctx, actor, notifier.ActionEvidenceDownload, "evidence", "x", map[string]any{"message": "not a ref"}); err != nil {
		t.Fatal(err)
	}
	viewed := b.webhookEvents(t, string(webhook.EvidenceViewed))
	if len(viewed) == 2 && viewed[1].Incident == nil && viewed[1].Data["organization_id"] == nil {
		viewed = viewed[:1]
	}
	if len(viewed) != 1 || viewed[0].Incident == nil || *viewed[0].Incident != 42 || viewed[0].Data["contact_id"] != float64(9) {
		t.Fatalf("evidence.viewed events: %+v", viewed)
	}

	due := time.Date(2026, 12, 9, 12, 0, 0, 0, time.UTC)
	if err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		return st.EmitDeadlineApproaching(ctx, tx, webhook.DeadlineNear{IncidentID: incident, Deadline: "regulator_notification", DueAt: due})
	}); err != nil {
		t.Fatal(err)
	}
	if got := b.webhookEvents(t, string(webhook.DeadlineApproaching)); len(got) != 1 || got[0].Data["due_at"] != "2026-12-09T12:00:00Z" {
		t.Fatalf("deadline.approaching events: %+v", got)
	}

	// Every type written is one an endpoint can subscribe to, and no
	// payload carries an address (no contact's, no stolen one).
	for _, e := range b.webhookEvents(t, "") {
		if !webhook.Known(webhook.EventType(e.Type)) {
			t.Errorf("event type %q is not one of webhook.EventTypes", e.Type)
		}
		raw, _ := json.Marshal(e.Data)
		if bytes.Contains(raw, []byte("@")) {
			t.Errorf("%s carries an address: %s", e.Type, raw)
		}
	}
}

var errRollback = errorString("roll back")

type errorString string

func (e errorString) Error() string { return string(e) }

// TestDispatchWebhookEvents: an event goes to the enabled endpoints that
// want it (global or of its incident, its type or every type), with one
// job per delivery, once.
func TestDispatchWebhookEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, b := setup(t)
	svc := webhooks(t, st)
	endpoint := func(in webhook.EndpointInput) int64 {
		t.Helper()
		e, err := svc.CreateEndpoint(ctx, admin, in)
		if err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	url := "https://hooks.example.com/in"
	completedOnly := []webhook.EventType{webhook.WaveCompleted}
	second, off := "second-breach", false
	all := endpoint(webhook.EndpointInput{URL: &url})
	secondCompleted := endpoint(webhook.EndpointInput{URL: &url, Incident: &second, Events: &completedOnly})
	endpoint(webhook.EndpointInput{URL: &url, Enabled: &off})

	b.exec(t, `UPDATE waves SET status = 'completed', completed_at = now() WHERE id = ANY ($1)`, b.waves[:])
	b.exec(t, `UPDATE deliveries SET status = 'bounced' WHERE id = $1`, b.deliveries[b.waves[1]][0])

	n, err := st.DispatchWebhookEvents(ctx, 2)
	if err != nil || n != 2 {
		t.Fatalf("first dispatch: %d, %v; want 2 (the limit)", n, err)
	}
	events := len(b.webhookEvents(t, ""))
	if n, err = st.DispatchWebhookEvents(ctx, 10); err != nil || n != events-2 {
		t.Fatalf("second dispatch: %d, %v; want the %d left", n, err, events-2)
	}
	if n, err = st.DispatchWebhookEvents(ctx, 10); err != nil || n != 0 {
		t.Fatalf("third dispatch: %d, %v; want none", n, err)
	}
	got := b.ids(t, `SELECT d.endpoint_id FROM webhook_deliveries d ORDER BY d.endpoint_id`)
	want := []int64{secondCompleted}
	for range events {
		want = slices.Insert(want, 0, all)
	}
	if !slices.Equal(got, want) {
		t.Errorf("deliveries to endpoints %v, want %v", got, want)
	}
	jobs := b.ids(t, `SELECT (args->>'delivery_id')::bigint FROM river_job WHERE kind = 'webhook' ORDER BY 1`)
	if want := b.ids(t, `SELECT id FROM webhook_deliveries ORDER BY id`); !slices.Equal(jobs, want) {
		t.Errorf("jobs for deliveries %v, want %v", jobs, want)
	}

	// Past the retention, settled events go with their log; pending stay.
	b.exec(t, `UPDATE webhook_events SET dispatched_at = now() - interval '31 days'`)
	settled := b.ids(t, `SELECT event_id FROM webhook_deliveries WHERE endpoint_id = $1`, secondCompleted)
	b.exec(t, `UPDATE webhook_deliveries SET status = 'succeeded' WHERE event_id = ANY ($1)`, settled)
	if err := st.ForgetOldWebhookEvents(ctx); err != nil {
		t.Fatal(err)
	}
	if left := b.ids(t, `SELECT d.endpoint_id FROM webhook_deliveries d ORDER BY d.id`); len(left) != events-1 || slices.Contains(left, secondCompleted) {
		t.Errorf("deliveries left to endpoints %v: want the %d pending to the first", left, events-1)
	}
}

// TestWebhookDeliveryLog: attempts are logged with their next retry; a
// redelivery and a test event each write their job and audit entry.
func TestWebhookDeliveryLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, b := setup(t)
	svc := webhooks(t, st)
	url := "https://hooks.example.com/in"
	e, err := svc.CreateEndpoint(ctx, admin, webhook.EndpointInput{URL: &url})
	if err != nil {
		t.Fatal(err)
	}
	if e.Secret == "" || len(e.Secrets) != 1 {
		t.Fatalf("created endpoint %+v: want its one secret shown", e)
	}
	d, err := svc.SendTest(ctx, admin, e.ID)
	if err != nil || d.Type != webhook.Test || d.Status != webhook.StatusPending {
		t.Fatalf("test event: %+v, %v", d, err)
	}
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	if err := st.RecordWebhookAttempt(ctx, webhook.AttemptRecord{DeliveryID: d.ID, Status: webhook.StatusPending, StatusCode: 503,
		Latency: 12 * time.Millisecond, Error: "HTTP 503", NextRetryAt: next}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordWebhookAttempt(ctx, webhook.AttemptRecord{DeliveryID: d.ID, Status: webhook.StatusSucceeded, StatusCode: 204, Latency: 3 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	log, err := svc.Deliveries(ctx, admin, e.ID, notifier.Page{Limit: 10})
	if err != nil || len(log.Items) != 1 {
		t.Fatalf("log: %+v, %v", log, err)
	}
	got := log.Items[0]
	if got.Status != webhook.StatusSucceeded || len(got.Attempts) != 2 || got.Attempts[0].StatusCode != 503 || got.Attempts[0].LatencyMS != 12 ||
		got.Attempts[0].NextRetryAt == nil || !got.Attempts[0].NextRetryAt.Equal(next) || got.Attempts[1].StatusCode != 204 || got.Attempts[1].NextRetryAt != nil {
		t.Fatalf("logged delivery %+v", got)
	}

	again, err := svc.Redeliver(ctx, admin, e.ID, d.ID)
	if err != nil || again.Status != webhook.StatusPending || len(again.Attempts) != 2 {
		t.Fatalf("redelivered: %+v, %v", again, err)
	}
	if _, err := svc.Redeliver(ctx, admin, e.ID+1, d.ID); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Errorf("redelivery through another endpoint: %v, want not_found", err)
	}
	if jobs := b.ids(t, `SELECT id FROM river_job WHERE kind = 'webhook' AND (args->>'delivery_id')::bigint = $1`, d.ID); len(jobs) != 2 {
		t.Errorf("%d jobs for the delivery, want 2 (the test's and the redelivery's)", len(jobs))
	}
	actions := b.ids(t, `SELECT count(*) FROM audit_log WHERE action IN ('webhook.create', 'webhook.test', 'webhook.redeliver') AND target_id = $1`, strconv.FormatInt(e.ID, 10))
	if actions[0] != 3 {
		t.Errorf("%d audit entries, want 3 (create, test, redeliver)", actions[0])
	}
	if _, err := svc.SendTest(ctx, notifier.Actor{Name: "operator", Role: notifier.RoleOperator}, e.ID); notifier.ErrorCode(err) != notifier.CodeForbidden {
		t.Errorf("test by an operator: %v, want forbidden", err)
	}
}

// TestNoticeUnreachableRace: two transactions fail a notice's last two
// deliveries at once; whichever commits last sees the other's failure,
// and the notice.unreachable event is written exactly once.
func TestNoticeUnreachableRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, b := setup(t)
	var notice int64
	if err := b.pool.QueryRow(ctx, `SELECT notice_id FROM deliveries GROUP BY notice_id HAVING count(*) >= 2 ORDER BY notice_id LIMIT 1`).Scan(&notice); err != nil {
		t.Fatal(err)
	}
	ids := b.ids(t, `SELECT id FROM deliveries WHERE notice_id = $1 ORDER BY id`, notice)
	b.exec(t, `UPDATE deliveries SET status = 'failed' WHERE id = ANY ($1)`, ids[2:])

	first, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	if _, err := first.Exec(ctx, `UPDATE deliveries SET status = 'failed' WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		second <- pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'bounced' WHERE id = $1`, ids[1])
			return err
		})
	}()
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events WHERE type = 'notice.unreachable' AND subject = $1`, strconv.FormatInt(notice, 10)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d notice.unreachable events for notice %d, want 1", n, notice)
	}
}
