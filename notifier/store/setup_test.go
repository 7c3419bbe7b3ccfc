package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/queue"
	"github.com/breachnotify/breachnotify/templates"
)

// The store's component tests, River-style: setup gives each test its own
// migrated database with two running waves, built through the use cases
// the API calls (import, plan, launch), and returns the store under test
// with a bundle of what the test drives and inspects it with. Nothing
// works the jobs: the tests call the statements themselves.

// bundle is what setup returns beside the store.
type bundle struct {
	// pool works as migrations.ServiceRole, as the service's pools do; the
	// tests read and arrange rows through it with the service's rights.
	pool *pgxpool.Pool
	jobs *queue.Inserter
	svc  *notifier.Service
	// waves are two running initial waves (of two incidents), and
	// deliveries their deliveries' ids, ascending, by wave.
	waves      [2]int64
	deliveries map[int64][]int64
}

// actor is the caller of the use cases setup and the tests run.
var actor = notifier.LocalActor("store test")

// auditSecret keys the test database's audit trail.
var auditSecret = []byte("the store tests' audit key, 32 b")

func setup(t *testing.T) (*store.Store, *bundle) {
	t.Helper()
	ctx := context.Background()
	st, b := emptySetup(t)
	if _, err := b.svc.ImportOrganizations(ctx, actor, bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV); err != nil {
		t.Fatalf("import organizations: %v", err)
	}
	for i, slug := range []string{"first-breach", "second-breach"} {
		if _, err := b.svc.CreateIncident(ctx, actor, notifier.NewIncident{Slug: slug, Title: "Mail breach " + slug, Summary: "Mailboxes were read."}); err != nil {
			t.Fatalf("create incident: %v", err)
		}
		if _, err := b.svc.ImportExposures(ctx, actor, slug, bytes.NewReader(sampledata.File(sampledata.ExposuresBatch1)), notifier.FormatCSV); err != nil {
			t.Fatalf("import exposures: %v", err)
		}
		plan, err := b.svc.PlanWave(ctx, actor, slug, templates.KindInitial)
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		w, err := b.svc.LaunchWave(ctx, actor, plan.ID, notifier.Idempotency{})
		if err != nil {
			t.Fatalf("launch: %v", err)
		}
		if w.Status != notifier.WaveRunning {
			t.Fatalf("wave %d launched %s, want running", w.ID, w.Status)
		}
		b.waves[i] = w.ID
		b.deliveries[w.ID] = b.ids(t, `SELECT id FROM deliveries WHERE wave_id = $1 ORDER BY id`, w.ID)
		if n := len(b.deliveries[w.ID]); n < 8 {
			t.Fatalf("wave %d has %d deliveries; the tests need 8", w.ID, n)
		}
	}
	return st, b
}

// emptySetup gives a test its own empty migrated database, the store
// over it, and a bundle without waves.
func emptySetup(t *testing.T) (*store.Store, *bundle) {
	t.Helper()
	pool := testdb.ServicePool(t, 4)
	jobs, err := queue.NewInserter(pool, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: auditSecret})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool, store.Config{Jobs: jobs, MessageIDDomain: "notify.example", AuditKeys: keys})
	return st, &bundle{pool: pool, jobs: jobs, svc: notifier.NewService(st, notifier.ServiceConfig{AuditKeys: keys}), deliveries: map[int64][]int64{}}
}

// waveStatus reads a wave's status.
func (b *bundle) waveStatus(t *testing.T, id int64) notifier.WaveStatus {
	t.Helper()
	var status notifier.WaveStatus
	if err := b.pool.QueryRow(context.Background(), `SELECT status FROM waves WHERE id = $1`, id).Scan(&status); err != nil {
		t.Fatal(err)
	}
	return status
}

// ids runs a query of one bigint column.
func (b *bundle) ids(t *testing.T, sql string, args ...any) []int64 {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return ids
}

// exec runs a statement that arranges the test's rows.
func (b *bundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := b.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// claimed is the claim of job jobID: its wave, sorted ids and owner;
// found is false when the job holds none.
func (b *bundle) claimed(t *testing.T, jobID int64) (waveID int64, ids []int64, owner *string, found bool) {
	t.Helper()
	err := b.pool.QueryRow(context.Background(), `SELECT wave_id, delivery_ids, owner FROM delivery_claims WHERE job_id = $1`, jobID).
		Scan(&waveID, &ids, &owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return waveID, ids, owner, true
}

// status reads a delivery's status.
func (b *bundle) status(t *testing.T, id int64) notifier.DeliveryStatus {
	t.Helper()
	var s notifier.DeliveryStatus
	if err := b.pool.QueryRow(context.Background(), `SELECT status FROM deliveries WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// claimedIDs lists a claim's delivery ids.
func claimedIDs(c delivery.Claim) []int64 {
	ids := make([]int64, len(c.Deliveries))
	for i, d := range c.Deliveries {
		ids[i] = d.ID
	}
	return ids
}
