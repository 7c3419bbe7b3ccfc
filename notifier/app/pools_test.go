package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/templates"
)

// TestCustomerPagesCannotStarveTheRest: customer requests stuck in the
// database use up the customers' pool and no more. Here the test locks
// the portal's sessions table, so every signed-in portal request waits in
// the database on a connection of the pool it came through (downloads,
// whose deadline is a minute, so they stay stuck while the test looks).
// Readiness, the staff API and a wave of 300 deliveries must go on, and
// the stuck requests must still be stuck after: before the pools were
// separate, 16 of them took every connection of the process.
func TestCustomerPagesCannotStarveTheRest(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) { c.DBPublicPoolSize = 2 }})
	ctx := context.Background()
	e.LaunchInitial(t, e.LoadSample(t, "flood"))
	wave := planBulkWave(t, e)
	v := newVisitor(t, e)
	v.signIn("soc@contoso.example")
	cookie := v.cookie("bn_portal")

	db, err := pgx.Connect(ctx, e.App.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE portal_sessions IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 16)
	for range 16 {
		go func() {
			req, _ := http.NewRequest("GET", e.App.URL()+"/portal/items.csv", nil)
			req.Header.Set("Cookie", "bn_portal="+cookie)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	// Watched from a connection of its own: pg_stat_activity is read once
	// per transaction, so the locking transaction would see one snapshot.
	watch, err := pgx.Connect(ctx, e.App.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	lockWaits := func() int {
		var n int
		if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	eventually(t, "portal requests waiting on the lock", func() bool { return lockWaits() >= 2 })

	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(e.App.URL() + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz while the customers' pool is taken: %v %v", resp, err)
	}
	resp.Body.Close()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if _, err := e.Client.LaunchWave(wctx, wave); err != nil {
		t.Fatalf("launch while the customers' pool is taken: %v", err)
	}
	if w, err := e.Client.WaitWave(wctx, wave, 50*time.Millisecond, nil); err != nil || w.Status != notifier.WaveCompleted {
		t.Fatalf("wave while the customers' pool is taken: %+v, %v", w, err)
	}
	// The flood was on all along: nothing above got through by waiting
	// for it to pass.
	if n := lockWaits(); n < 2 || len(done) != 0 {
		t.Errorf("the flood ended before the checks did (%d waiting on the lock, %d answered)", n, len(done))
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for range 16 {
		if st := <-done; st != 200 && st != 429 {
			t.Errorf("a download answered %d once the lock was gone, want 200 (or 429 past the caps)", st)
		}
	}
}

// planBulkWave plans a wave of 300 deliveries (30 organizations of 10
// contacts) in an incident of its own and returns its id.
func planBulkWave(t *testing.T, e *apptest.Env) int64 {
	t.Helper()
	ctx := context.Background()
	var orgs, items strings.Builder
	orgs.WriteString("org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n")
	items.WriteString("org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n")
	for o := range 30 {
		for c := range 10 {
			fmt.Fprintf(&orgs, "bulk%02d,Bulk %02d,bulk%02d.example,c%d@bulk%02d.example,Contact %d,security,false,en\n", o, o, o, c, o, c)
		}
		fmt.Fprintf(&items, "bulk%02d,B-%02d,email,2024-01-01T00:00:00Z,Subject,Summary,\n", o, o)
	}
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader(orgs.String()), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "bulk", Title: "Bulk", Summary: "Many contacts."}); err != nil {
		t.Fatal(err)
	}
	importItems(t, e, "bulk", items.String())
	plan, err := e.Client.PlanWave(ctx, "bulk", templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	return plan.ID
}
