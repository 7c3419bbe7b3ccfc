package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// participant is a stored participant as the import writes it.
type participant struct {
	Header string `json:"header"`
	Depth  int    `json:"depth"`
	Addr   string `json:"address"`
	Domain string `json:"domain,omitempty"`
}

// TestUnattributedDomainsAndReattribution stores messages without
// attribution and checks the statements of the report and of a
// re-attribution: a domain counts each message once (however often it
// appears in it, at any depth), participants without a domain are left
// out, the pages follow each other; a re-attribution's attributions are
// added once (a second identical page adds nothing), clear the
// unattributed flag, and are itemized once by the closing transaction.
func TestUnattributedDomainsAndReattribution(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	incidentID := b.ids(t, `SELECT id FROM incidents WHERE slug = 'first-breach'`)[0]
	contoso := b.ids(t, `SELECT id FROM organizations WHERE ref = 'contoso'`)[0]
	msg := func(subject string, people ...participant) notifier.StoredEvidence {
		raw, _ := json.Marshal(append([]participant{}, people...)) // [] as the importer writes, never null
		return notifier.StoredEvidence{SHA256: sha256.Sum256([]byte(subject)), Source: subject, Size: 1, Subject: subject,
			Participants: raw, Ciphertext: []byte("sealed " + subject)}
	}
	group := notifier.EvidenceGroup{Read: 4, Messages: []notifier.StoredEvidence{
		msg("a", participant{"From", 0, "x@new.example", "new.example"}, participant{"To", 0, "y@new.example", "new.example"},
			participant{"From", 1, "z@new.example", "new.example"}),
		msg("b", participant{"From", 0, "x@new.example", "new.example"}, participant{"To", 0, "p@gmail.example", "gmail.example"}),
		msg("c", participant{"From", 0, "undisclosed", ""}, participant{"To", 0, "q@other.example", "other.example"}),
		msg("d"),
	}}
	imp, err := st.BeginEvidenceImport(ctx, actor, incidentID, "store test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.StoreEvidence(ctx, imp.ID, incidentID, group); err != nil {
		t.Fatal(err)
	}
	total, first, err := st.UnattributedEvidence(ctx, incidentID, notifier.DomainCursor{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []notifier.UnattributedDomain{{Domain: "new.example", Messages: 2}, {Domain: "gmail.example", Messages: 1}}
	if total != 4 || !slices.Equal(first, want) {
		t.Fatalf("first page: %d messages, %+v; want 4, %+v", total, first, want)
	}
	_, rest, err := st.UnattributedEvidence(ctx, incidentID, notifier.DomainCursor{Messages: 1, Domain: "gmail.example"}, 2)
	if err != nil || !slices.Equal(rest, []notifier.UnattributedDomain{{Domain: "other.example", Messages: 1}}) {
		t.Fatalf("after gmail.example: %+v, %v", rest, err)
	}

	run, err := st.BeginEvidenceReattribution(ctx, actor, incidentID)
	if err != nil || run.Kind != notifier.EvidenceRunReattribution || run.Name != "re-attribution" {
		t.Fatalf("begin: %+v, %v", run, err)
	}
	page, err := st.EvidenceParticipants(ctx, incidentID, nil, 10)
	if err != nil || len(page) != 4 || !slices.IsSortedFunc(page, func(x, y notifier.StoredParticipants) int { return slices.Compare(x.SHA256, y.SHA256) }) {
		t.Fatalf("participants: %d, %v", len(page), err)
	}
	next, err := st.EvidenceParticipants(ctx, incidentID, page[1].SHA256, 10)
	if err != nil || len(next) != 2 || !slices.Equal(next[0].SHA256, page[2].SHA256) {
		t.Fatalf("after the second message: %d, %v", len(next), err)
	}
	a, bb := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	g := notifier.ReattributionGroup{Messages: 4, StillUnattributed: 2, Exposures: []notifier.MessageExposure{
		{SHA256: a[:], EvidenceExposure: notifier.EvidenceExposure{OrganizationID: contoso, Participants: []string{"x@new.example"}}},
		{SHA256: bb[:], EvidenceExposure: notifier.EvidenceExposure{OrganizationID: contoso, Participants: []string{"x@new.example"}}},
	}}
	for range 2 {
		if err := st.ReattributeEvidence(ctx, run.ID, incidentID, g); err != nil {
			t.Fatal(err)
		}
	}
	done, err := st.FinishEvidenceImport(ctx, actor, run.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if done.Messages != 8 || done.Attributed != 2 || done.Batch.ItemsNew != 2 || !slices.Equal(done.Batch.FollowUps, []string{"contoso"}) {
		t.Fatalf("run %+v, batch %+v: want 2 messages attributed once, 2 items, a follow-up for contoso (notified)", done, done.Batch)
	}
	if total, _, _ := st.UnattributedEvidence(ctx, incidentID, notifier.DomainCursor{}, 10); total != 2 {
		t.Fatalf("%d unattributed after, want 2", total)
	}
	var actions []string
	rows, _ := b.pool.Query(ctx, `SELECT action FROM audit_log WHERE action LIKE 'evidence.reattribute%' ORDER BY id`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		actions = append(actions, s)
	}
	if !slices.Equal(actions, []string{"evidence.reattribute.start", "evidence.reattribute"}) {
		t.Fatalf("audit %q", actions)
	}
}
