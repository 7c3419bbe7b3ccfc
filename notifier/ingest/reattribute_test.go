package ingest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// unknownMail is mail of senders no organization had at import: a
// subdomain and an internationalized domain of organizations added later.
var unknownMail = []string{
	mail("sales@shop.tailwind.example", "buyer@elsewhere.example", "Quote"),
	mail("info@bücher.example", "accounts@elsewhere.example", "Rechnung"),
}

// addDirectory adds what IR staff learn after the import: Tailwind
// (whose shop.tailwind.example sent mail), the bookshop, written in its
// Unicode form, and two free-mail addresses as known contacts, one of a
// message already attributed to Woodgrove.
func addDirectory(t *testing.T, b *bundle) {
	t.Helper()
	csv := "org_ref,org_name,domains,contact_email\n" +
		"tailwind,Tailwind Traders,tailwind.example,soc@tailwind.example\n" +
		"buecher,Bücher GmbH,bücher.example,it@xn--bcher-kva.example\n" +
		"litware,Litware Inc,,anyone@gmail.example\n" +
		"fabrikam,Fabrikam GmbH,,Stranger@Gmail.example\n"
	if _, err := b.svc.ImportOrganizations(context.Background(), actor, strings.NewReader(csv), notifier.FormatCSV); err != nil {
		var e *notifier.Error
		errors.As(err, &e)
		t.Fatalf("%v %+v", err, e.Details)
	}
}

// TestUnattributedReportCountsDomains imports mail that exposes nobody
// known and reads the report IR staff decide from: the messages, their
// participants' domains by frequency over two pages, free-mail marked,
// and, once organizations are added, the domains they now own.
func TestUnattributedReportCountsDomains(t *testing.T) {
	t.Parallel()
	im, b := setup(t, 2)
	ctx := context.Background()
	if _, err := im.Import(ctx, actor, b.incident.ID, "test.mbox", messages(append(slices.Clone(mailbox), unknownMail...)...)); err != nil {
		t.Fatal(err)
	}
	viewer := notifier.Actor{KeyID: 99, Name: "auditor", Role: notifier.RoleViewer}
	first, err := im.Unattributed(ctx, viewer, b.incident.ID, notifier.Page{Limit: 2}, "")
	if err != nil {
		t.Fatal(err)
	}
	// Lunch, Quote, Rechnung and the broken message (no participant).
	want := []notifier.UnattributedDomain{
		{Domain: "elsewhere.example", Messages: 3},
		{Domain: "gmail.example", Messages: 1, FreeMail: true},
	}
	if first.Messages != 4 || !slices.Equal(first.Domains, want) || first.NextCursor == "" {
		t.Fatalf("first page %+v, want 4 messages and %+v", first, want)
	}
	second, err := im.Unattributed(ctx, viewer, b.incident.ID, notifier.Page{Limit: 2}, first.NextCursor)
	if err != nil {
		t.Fatal(err)
	}
	want = []notifier.UnattributedDomain{
		{Domain: "shop.tailwind.example", Messages: 1},
		{Domain: "xn--bcher-kva.example", Messages: 1},
	}
	if !slices.Equal(second.Domains, want) || second.NextCursor != "" {
		t.Fatalf("second page %+v, want %+v and no more", second, want)
	}

	addDirectory(t, b)
	all, err := im.Unattributed(ctx, viewer, b.incident.ID, notifier.Page{}, "")
	if err != nil {
		t.Fatal(err)
	}
	want = []notifier.UnattributedDomain{
		{Domain: "elsewhere.example", Messages: 3},
		{Domain: "gmail.example", Messages: 1, FreeMail: true},
		{Domain: "shop.tailwind.example", Messages: 1, Attributable: true},
		{Domain: "xn--bcher-kva.example", Messages: 1, Attributable: true},
	}
	if all.Messages != 4 || !slices.Equal(all.Domains, want) {
		t.Fatalf("after adding organizations: %+v, want %+v", all, want)
	}
	for _, bad := range []string{"x", "ZDE6eA", first.NextCursor + "x"} {
		if _, err := im.Unattributed(ctx, viewer, b.incident.ID, notifier.Page{}, bad); notifier.ErrorCode(err) != notifier.CodeBadRequest {
			t.Errorf("cursor %q: %v, want bad request", bad, err)
		}
	}
	if _, err := im.Unattributed(ctx, notifier.Actor{}, b.incident.ID, notifier.Page{}, ""); err == nil {
		t.Error("the report without a key was given")
	}
}

// TestReattributeFindsNewOrganizations adds organizations and contacts
// after an import and re-attributes: a subdomain goes to its parent's
// new organization, an internationalized domain matches in its ASCII
// form, a free-mail address only as the exact known contact, and a
// message already attributed gains a second organization. The run makes
// one batch of the new items only; a second run adds nothing.
func TestReattributeFindsNewOrganizations(t *testing.T) {
	t.Parallel()
	im, b := setup(t, 2)
	ctx := context.Background()
	imp, err := im.Import(ctx, actor, b.incident.ID, "test.mbox", messages(append(slices.Clone(mailbox), unknownMail...)...))
	if err != nil {
		t.Fatal(err)
	}
	// attacker@gmail.example is no contact: it must never attribute.
	addDirectory(t, b)
	operator := actor
	run, err := im.Reattribute(ctx, operator, b.incident.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Kind != notifier.EvidenceRunReattribution || run.Status != notifier.EvidenceImportDone || run.Messages != 8 ||
		run.Attributed != 4 || run.Unattributed != 1 || run.Stored != 0 || run.Batch == nil {
		t.Fatalf("re-attribution %+v", run)
	}
	if run.Batch.ItemsNew != 4 || !slices.Equal(run.Batch.AwaitingInitial, []string{"buecher", "fabrikam", "litware", "tailwind"}) {
		t.Fatalf("batch %+v", run.Batch)
	}
	rows, err := b.pool.Query(ctx, `SELECT o.ref || ': ' || i.subject || ' | ' || replace(i.summary, E'\n', ' | ')
		FROM exposure_items i JOIN organizations o ON o.id = i.organization_id WHERE i.batch_id = $1 ORDER BY 1`, run.Batch.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	want := []string{
		"buecher: Rechnung | From: info@xn--bcher-kva.example | Your people in it: info@xn--bcher-kva.example",
		"fabrikam: Board dinner | From: Camille.Private@gmail.example | Your people in it: stranger@gmail.example",
		"litware: Lunch | From: nobody@elsewhere.example | Your people in it: anyone@gmail.example",
		"tailwind: Quote | From: sales@shop.tailwind.example | Your people in it: sales@shop.tailwind.example",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("items:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The import's items are untouched, each attribution has one item.
	var importItems, orphans, unattributed int
	b.pool.QueryRow(ctx, `SELECT count(*) FROM exposure_items WHERE batch_id = $1`, imp.Batch.BatchID).Scan(&importItems)
	b.pool.QueryRow(ctx, `SELECT count(*) FROM evidence_exposures WHERE item_id IS NULL`).Scan(&orphans)
	b.pool.QueryRow(ctx, `SELECT count(*) FROM evidence_messages WHERE unattributed`).Scan(&unattributed)
	if importItems != imp.Batch.ItemsNew || orphans != 0 || unattributed != 1 {
		t.Fatalf("import items %d (was %d), attributions without item %d, unattributed messages %d (want the broken one)",
			importItems, imp.Batch.ItemsNew, orphans, unattributed)
	}
	var audited int
	b.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action IN ('evidence.reattribute.start', 'evidence.reattribute')`).Scan(&audited)
	if audited != 2 {
		t.Errorf("%d audit entries of the re-attribution, want its start and its end", audited)
	}

	again, err := im.Reattribute(ctx, operator, b.incident.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Messages != 8 || again.Attributed != 0 || again.Unattributed != 1 || again.Batch.ItemsNew != 0 {
		t.Fatalf("a second run: %+v %+v", again, again.Batch)
	}
	list, err := im.List(ctx, operator, b.incident.ID)
	if err != nil || len(list) != 3 || list[0].Kind != notifier.EvidenceRunReattribution || list[2].Kind != notifier.EvidenceRunImport {
		t.Fatalf("runs %+v, %v", list, err)
	}
	viewer := notifier.Actor{KeyID: 99, Name: "auditor", Role: notifier.RoleViewer}
	if _, err := im.Reattribute(ctx, viewer, b.incident.ID); notifier.ErrorCode(err) != notifier.CodeForbidden {
		t.Fatalf("a viewer re-attributing: %v, want forbidden", err)
	}
}

// TestReattributeConcurrently runs three re-attributions and an import of
// new mail into the same incident at once: whatever their interleaving,
// each (organization, message) is itemized once, in exactly one batch.
func TestReattributeConcurrently(t *testing.T) {
	t.Parallel()
	im, b := setup(t, 1)
	ctx := context.Background()
	if _, err := im.Import(ctx, actor, b.incident.ID, "test.mbox", messages(append(slices.Clone(mailbox), unknownMail...)...)); err != nil {
		t.Fatal(err)
	}
	addDirectory(t, b)
	more := []string{
		mail("ops@tailwind.example", "soc@contoso.example", "Shipment"),
		mail("info@bücher.example", "anyone@gmail.example", "Mahnung"),
		mail("a@fabrikam.example", "b@litware.example", "Contract"),
	}
	var wg sync.WaitGroup
	runs := make([]notifier.EvidenceImport, 4)
	errs := make([]error, 4)
	for i := range 3 {
		wg.Go(func() { runs[i], errs[i] = im.Reattribute(ctx, actor, b.incident.ID) })
	}
	wg.Go(func() { runs[3], errs[3] = im.Import(ctx, actor, b.incident.ID, "more.mbox", messages(more...)) })
	wg.Wait()
	var itemized int
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		itemized += runs[i].Batch.ItemsNew
	}
	var exposures, items, distinct, pending int
	b.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT item_id), count(*) FILTER (WHERE item_id IS NULL) FROM evidence_exposures`).
		Scan(&exposures, &distinct, &pending)
	b.pool.QueryRow(ctx, `SELECT count(*) FROM exposure_items WHERE kind = 'email'`).Scan(&items)
	// 6 from the import, 4 found by re-attribution, 6 of the new mail
	// (Shipment: tailwind, contoso; Mahnung: buecher, litware; Contract:
	// fabrikam, litware).
	const want = 16
	var first notifier.EvidenceImport
	for _, r := range runs {
		if r.Kind == notifier.EvidenceRunImport {
			first = r
		}
	}
	if exposures != want || items != want || distinct != want || pending != 0 || itemized+6 != want {
		t.Fatalf("%d attributions, %d items (%d distinct), %d pending, %d itemized by the concurrent runs (want %d, %d of them now); import %+v",
			exposures, items, distinct, pending, itemized, want, want-6, first)
	}
}
