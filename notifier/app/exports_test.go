package app_test

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/store"
)

// TestExportsHoldNoConnectionWhileWriting: the proof report and the
// portal's download are written to a client as they are read, and a
// client may never read. Each reads its rows a page at a time, so while
// its rows are being written (fn runs) it holds no database connection:
// on a pool of one connection, a query made from inside fn goes through.
// Pages of 2 rows make the exports cross many page boundaries, and every
// row must come exactly once, in order.
func TestExportsHoldNoConnectionWhileWriting(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	slug := e.LoadSample(t, "exports")
	e.LaunchInitial(t, slug)
	ctx := context.Background()

	pc, err := pgxpool.ParseConfig(e.App.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st := store.New(pool, store.Config{ExportPageSize: 2})
	// writing stands for a write to a client: it needs the pool's only
	// connection, which it gets only if the export does not hold it.
	writing := func(what string) error {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := st.Ping(wctx); err != nil {
			t.Fatalf("%s holds the pool's only connection while its rows are written: %v", what, err)
		}
		return nil
	}

	inc, err := e.App.Store.Incident(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	var report []notifier.ReportRow
	if err := st.Report(ctx, inc.ID, func(r notifier.ReportRow) error {
		report = append(report, r)
		return writing("the report")
	}); err != nil {
		t.Fatal(err)
	}
	var deliveries int
	if err := e.App.Pool.QueryRow(ctx, `SELECT count(*) FROM deliveries d JOIN notices n ON n.id = d.notice_id WHERE n.incident_id = $1`,
		inc.ID).Scan(&deliveries); err != nil {
		t.Fatal(err)
	}
	if len(report) != deliveries || deliveries < 5 {
		t.Errorf("report has %d rows, want one per delivery (%d)", len(report), deliveries)
	}
	if !slices.IsSortedFunc(report, func(a, b notifier.ReportRow) int {
		return cmp.Or(cmp.Compare(a.OrgRef, b.OrgRef), cmp.Compare(strings.ToLower(a.ContactEmail), strings.ToLower(b.ContactEmail)),
			cmp.Compare(a.NoticeID, b.NoticeID), cmp.Compare(a.DeliveryID, b.DeliveryID))
	}) {
		t.Errorf("report rows are not by organization and contact: %+v", report)
	}
	seen := map[int64]bool{}
	for _, r := range report {
		if seen[r.DeliveryID] {
			t.Errorf("delivery %d is in the report twice", r.DeliveryID)
		}
		seen[r.DeliveryID] = true
		if r.Status != notifier.DeliverySent || len(r.Attempts) == 0 {
			t.Errorf("report row of delivery %d: status %s, %d attempts", r.DeliveryID, r.Status, len(r.Attempts))
		}
	}

	var orgID int64
	if err := e.App.Pool.QueryRow(ctx, `SELECT id FROM organizations WHERE ref = 'contoso'`).Scan(&orgID); err != nil {
		t.Fatal(err)
	}
	var items []int64
	if err := st.EachPortalItem(ctx, orgID, notifier.PortalItemFilter{}, func(it notifier.PortalItem) error {
		items = append(items, it.ID)
		return writing("the portal download")
	}); err != nil {
		t.Fatal(err)
	}
	// The list pages of the portal are the reference.
	want, err := e.App.Store.PortalItems(ctx, orgID, notifier.PortalItemFilter{}, notifier.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var wantIDs []int64
	for _, it := range want {
		wantIDs = append(wantIDs, it.ID)
	}
	if len(wantIDs) < 3 || !slices.Equal(items, wantIDs) {
		t.Errorf("portal download items %v, want %v", items, wantIDs)
	}
}
