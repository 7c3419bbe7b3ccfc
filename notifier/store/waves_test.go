package store_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/templates"
)

// A plan's fingerprint is now sorted bytewise and marked; a plan made by
// the build before (unmarked, in the collation's order) still launches
// while its data is unchanged, and is refused once it changed.
func TestLaunchChecksPlanFingerprintOfEitherForm(t *testing.T) {
	_, b := setup(t)
	ctx := context.Background()
	const slug = "third-breach"
	if _, err := b.svc.CreateIncident(ctx, actor, notifier.NewIncident{Slug: slug, Title: "Mail breach three", Summary: "Mailboxes were read."}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.ImportExposures(ctx, actor, slug, bytes.NewReader(sampledata.File(sampledata.ExposuresBatch1)), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	plan, err := b.svc.PlanWave(ctx, actor, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	var planned string
	var incident int64
	if err := b.pool.QueryRow(ctx, `SELECT planned_digest, incident_id FROM waves WHERE id = $1`, plan.ID).Scan(&planned, &incident); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(planned, "c:") || len(planned) != 2+64 {
		t.Fatalf("planned fingerprint %q, want c: and 64 hex digits", planned)
	}
	var legacy string
	if err := b.pool.QueryRow(ctx, store.LegacyTargetsDigest(templates.KindInitial), pgx.NamedArgs{"incident": incident, "org": 0}).Scan(&legacy); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(legacy, "c:") || len(legacy) != 64 {
		t.Fatalf("legacy fingerprint %q, want 64 hex digits", legacy)
	}

	// An old plan whose data changed since: refused.
	b.exec(t, `UPDATE waves SET planned_digest = $2 WHERE id = $1`, plan.ID, strings.Repeat("0", 64))
	if _, err := b.svc.LaunchWave(ctx, actor, plan.ID, notifier.Idempotency{}); notifier.ErrorCode(err) != notifier.CodeConflict {
		t.Fatalf("launch of a stale legacy plan: %v, want a conflict", err)
	}
	// An old plan of the same data: launched.
	b.exec(t, `UPDATE waves SET planned_digest = $2 WHERE id = $1`, plan.ID, legacy)
	w, err := b.svc.LaunchWave(ctx, actor, plan.ID, notifier.Idempotency{})
	if err != nil {
		t.Fatalf("launch of a current legacy plan: %v", err)
	}
	if w.Status != notifier.WaveRunning {
		t.Fatalf("wave %s, want running", w.Status)
	}
}
