package app_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestReattributeAfterAddingOrganizations uploads stolen mail that
// exposes nobody known after the initial wave, reads the unattributed
// report over the API, adds an organization and a free-mail contact of an
// organization already notified, and re-attributes: the new organization
// awaits its initial notice, the notified one gets a follow-up, and a
// second run adds nothing.
func TestReattributeAfterAddingOrganizations(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	ctx := context.Background()
	slug := e.LoadSample(t, "reattr")
	e.LaunchInitial(t, slug)

	var mbox bytes.Buffer
	for _, m := range []string{
		stolen("billing@eu.newcomer.example", "ap@elsewhere.example", "Invoice 4471"),
		stolen("cfo.private@gmail.com", "friend@elsewhere.example", "From home"),
	} {
		mbox.WriteString("From MAILER-DAEMON Tue Nov  3 10:00:00 2026\n" + m + "\n")
	}
	imp, err := e.Client.ImportEvidence(ctx, slug, "late.mbox", bytes.NewReader(mbox.Bytes()), int64(mbox.Len()))
	if err != nil || imp.Unattributed != 2 || imp.Batch.ItemsNew != 0 {
		t.Fatalf("import %+v, %v", imp, err)
	}
	rep, err := e.Client.UnattributedEvidence(ctx, slug, apiclient.Page{})
	if err != nil {
		t.Fatal(err)
	}
	want := []notifier.UnattributedDomain{
		{Domain: "elsewhere.example", Messages: 2},
		{Domain: "eu.newcomer.example", Messages: 1},
		{Domain: "gmail.com", Messages: 1, FreeMail: true},
	}
	if rep.Messages != 2 || !slices.Equal(rep.Domains, want) || rep.NextCursor != "" {
		t.Fatalf("report %+v, want %+v", rep, want)
	}
	page, err := e.Client.UnattributedEvidence(ctx, slug, apiclient.Page{Limit: 1})
	if err != nil || len(page.Domains) != 1 || page.NextCursor == "" {
		t.Fatalf("a page of one: %+v, %v", page, err)
	}
	rest, err := e.Client.UnattributedEvidence(ctx, slug, apiclient.Page{Limit: 5, Cursor: page.NextCursor})
	if err != nil || !slices.Equal(rest.Domains, want[1:]) {
		t.Fatalf("after the first page: %+v, %v", rest, err)
	}

	csv := "org_ref,org_name,domain,contact_email\n" +
		"newcomer,Newcomer AG,newcomer.example,soc@newcomer.example\n" +
		"contoso,Contoso Ltd,,cfo.private@gmail.com\n"
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader(csv), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	run, err := e.Client.ReattributeEvidence(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	if run.Kind != notifier.EvidenceRunReattribution || run.Attributed != 2 || run.Unattributed != 0 || run.Batch == nil || run.Batch.ItemsNew != 2 ||
		!slices.Equal(run.Batch.FollowUps, []string{"contoso"}) || !slices.Equal(run.Batch.AwaitingInitial, []string{"newcomer"}) {
		t.Fatalf("re-attribution %+v %+v: want 2 items, a follow-up for contoso, newcomer awaiting its initial notice", run, run.Batch)
	}
	if rep, err := e.Client.UnattributedEvidence(ctx, slug, apiclient.Page{}); err != nil || rep.Messages != 0 || len(rep.Domains) != 0 {
		t.Fatalf("report after: %+v, %v", rep, err)
	}
	again, err := e.Client.ReattributeEvidence(ctx, slug)
	if err != nil || again.Attributed != 0 || again.Batch.ItemsNew != 0 || len(again.Batch.FollowUps) != 0 {
		t.Fatalf("a second run: %+v, %v", again, err)
	}
	if got, err := e.Client.EvidenceImport(ctx, run.ID); err != nil || got.Kind != notifier.EvidenceRunReattribution || got.Attributed != 2 {
		t.Fatalf("the run read back: %+v, %v", got, err)
	}
}
