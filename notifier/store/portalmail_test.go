package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/store"
)

// storeMail stores stolen messages in incident "first-breach" as an
// import would: subject → organizations (by ref) and date (nil: none).
func storeMail(t *testing.T, st *store.Store, b *bundle, msgs []testMail) (incident int64, refs map[string]notifier.MessageRef) {
	t.Helper()
	ctx := context.Background()
	org := map[string]int64{}
	for _, ref := range []string{"contoso", "fabrikam"} {
		o, err := st.Organization(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		org[ref] = o.ID
	}
	if err := b.pool.QueryRow(ctx, `SELECT id FROM incidents WHERE slug = 'first-breach'`).Scan(&incident); err != nil {
		t.Fatal(err)
	}
	imp, err := st.BeginEvidenceImport(ctx, actor, incident, "test")
	if err != nil {
		t.Fatal(err)
	}
	refs = map[string]notifier.MessageRef{}
	var g notifier.EvidenceGroup
	for _, m := range msgs {
		sum := sha256.Sum256([]byte(m.subject))
		se := notifier.StoredEvidence{SHA256: sum, Source: "test", Size: 10, Subject: m.subject, SentAt: m.at, From: m.from,
			Participants: []byte(fmt.Sprintf(`[{"header":"From","depth":0,"address":%q,"domain":%q}]`, m.from, m.from[len("x@"):])),
			Attachments:  []byte(`[]`), Ciphertext: []byte("not really"), SecretTypes: m.secrets}
		if len(m.secrets) > 0 {
			part := "text"
			if m.subjectSecret {
				part = "subject"
			}
			se.Findings = []notifier.EvidenceFinding{{Type: m.secrets[0], RuleID: "r", Part: part, Line: 1, Column: 1, Fingerprint: "f", Masked: "••"}}
		}
		for _, o := range m.orgs {
			se.Exposures = append(se.Exposures, notifier.EvidenceExposure{OrganizationID: org[o], Participants: []string{m.from}})
		}
		g.Messages = append(g.Messages, se)
		refs[m.subject] = notifier.MessageRef{IncidentID: incident, SHA256: sum}
	}
	if err := st.StoreEvidence(ctx, imp.ID, incident, g); err != nil {
		t.Fatal(err)
	}
	return incident, refs
}

type testMail struct {
	subject, from string
	at            *time.Time
	orgs          []string
	secrets       []string
	// subjectSecret puts the secret in the subject.
	subjectSecret bool
}

// TestPortalMessagesScoped pages through each organization's mail list
// by its cursor: every message attributed to it once, newest first,
// undated last, none of the other's; a message of both is in both; the
// filters narrow; one message, and the record of its uses, are found for
// its organizations only.
func TestPortalMessagesScoped(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	var msgs []testMail
	day := func(d int) *time.Time { t := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, d); return &t }
	for i := range 60 {
		m := testMail{subject: fmt.Sprintf("contoso %02d", i), from: "x@contoso.example", at: day(i % 40), orgs: []string{"contoso"}}
		if i%10 == 0 {
			m.at = nil
		}
		msgs = append(msgs, m)
	}
	msgs = append(msgs,
		testMail{subject: "shared", from: "x@sub.fabrikam.example", at: day(5), orgs: []string{"contoso", "fabrikam"}, secrets: []string{"password"}},
		testMail{subject: "fabrikam alone", from: "x@fabrikam.example", at: day(6), orgs: []string{"fabrikam"}},
		testMail{subject: "password: hunter2", from: "x@fabrikam.example", at: day(7), orgs: []string{"fabrikam"}, secrets: []string{"password"}, subjectSecret: true})
	_, refs := storeMail(t, st, b, msgs)
	orgID := map[string]int64{}
	for _, ref := range []string{"contoso", "fabrikam"} {
		o, _ := st.Organization(ctx, ref)
		orgID[ref] = o.ID
	}

	all := func(org string, f notifier.PortalMessageFilter) []notifier.PortalMessage {
		var out []notifier.PortalMessage
		var after *notifier.MessageCursor
		for range 100 {
			page, err := st.PortalMessages(ctx, orgID[org], f, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) <= 7 {
				return append(out, page...)
			}
			page = page[:7]
			out = append(out, page...)
			last := page[6]
			// Through the opaque cursor, as the page does.
			c, err := notifier.DecodeMessageCursor(notifier.MessageCursor{SortAt: last.SortAt, IncidentID: last.Ref.IncidentID, SHA256: last.Ref.SHA256}.Encode())
			if err != nil {
				t.Fatal(err)
			}
			after = c
		}
		t.Fatal("the pages never end")
		return nil
	}
	subjects := func(list []notifier.PortalMessage) []string {
		var s []string
		for _, m := range list {
			s = append(s, m.Subject)
		}
		return s
	}

	c := all("contoso", notifier.PortalMessageFilter{})
	if len(c) != 61 || slices.Contains(subjects(c), "fabrikam alone") || !slices.Contains(subjects(c), "shared") {
		t.Fatalf("contoso's list: %d messages %v", len(c), subjects(c))
	}
	seen := map[string]bool{}
	for i, m := range c {
		if seen[m.Subject] {
			t.Errorf("%q listed twice", m.Subject)
		}
		seen[m.Subject] = true
		if i > 0 && c[i-1].SortAt.Before(m.SortAt) {
			t.Errorf("not newest first at %d: %v then %v", i, c[i-1].SortAt, m.SortAt)
		}
		if i < 55 && m.SentAt == nil || i >= 55 && m.SentAt != nil {
			t.Errorf("message %d %q dated %v: the 6 undated come last", i, m.Subject, m.SentAt)
		}
	}
	fab := all("fabrikam", notifier.PortalMessageFilter{})
	if f := subjects(fab); !slices.Equal(f, []string{"password: hunter2", "fabrikam alone", "shared"}) || !fab[0].SubjectHasSecret || fab[1].SubjectHasSecret {
		t.Errorf("fabrikam's list: %v (the first's subject flagged as holding a secret: %v)", f, fab[0].SubjectHasSecret)
	}

	for _, fc := range []struct {
		name string
		f    notifier.PortalMessageFilter
		want int
	}{
		{"subject", notifier.PortalMessageFilter{Subject: "CONTOSO 1"}, 10},
		{"domain with subdomains", notifier.PortalMessageFilter{Participant: "fabrikam.example"}, 1},
		{"address", notifier.PortalMessageFilter{Participant: "x@contoso.example"}, 60},
		{"not a participant", notifier.PortalMessageFilter{Participant: "abrikam.example"}, 0},
		{"secrets", notifier.PortalMessageFilter{HasSecrets: true}, 1},
		{"dates", notifier.PortalMessageFilter{From: *day(5), To: *day(6)}, 5},
		{"a LIKE pattern is text", notifier.PortalMessageFilter{Subject: "%"}, 0},
	} {
		if got := all("contoso", fc.f); len(got) != fc.want {
			t.Errorf("%s: %d messages %v, want %d", fc.name, len(got), subjects(got), fc.want)
		}
	}

	if _, err := st.PortalMessage(ctx, orgID["fabrikam"], refs["contoso 01"]); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Errorf("fabrikam reads contoso's message: %v", err)
	}
	for _, org := range []string{"contoso", "fabrikam"} {
		d, err := st.PortalMessage(ctx, orgID[org], refs["shared"])
		if err != nil || len(d.Findings) != 1 || d.Findings[0].Masked != "••" {
			t.Errorf("%s reads the shared message: %+v %v", org, d, err)
		}
	}

	// Uses are recorded against the session's organization.
	sess := notifier.PortalSession{ContactID: 1, ContactEmail: "soc@contoso.example", OrganizationID: orgID["contoso"]}
	if _, err := b.svc.PortalEvidence(ctx, sess, refs["shared"], notifier.EvidenceUse{Action: notifier.ActionEvidenceReveal, What: "secret", Finding: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.PortalEvidence(ctx, sess, refs["fabrikam alone"], notifier.EvidenceUse{Action: notifier.ActionEvidenceView, What: "message"}); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Errorf("contoso's session uses fabrikam's message: %v", err)
	}
	got, err := st.EvidenceAccess(ctx, orgID["contoso"], notifier.Page{Limit: 10})
	if err != nil || len(got) != 1 || got[0].Action != "reveal" || got[0].Subject != "shared" || got[0].Finding != 0 || got[0].ContactEmail != "soc@contoso.example" {
		t.Errorf("contoso's record: %+v %v", got, err)
	}
	if got, err := st.EvidenceAccess(ctx, orgID["fabrikam"], notifier.Page{Limit: 10}); err != nil || len(got) != 0 {
		t.Errorf("fabrikam's record: %+v %v", got, err)
	}
	// A subject with a secret is not in the record.
	fsess := notifier.PortalSession{ContactID: 2, ContactEmail: "sicherheit@fabrikam.example", OrganizationID: orgID["fabrikam"]}
	if d, err := b.svc.PortalEvidence(ctx, fsess, refs["password: hunter2"], notifier.EvidenceUse{Action: notifier.ActionEvidenceView, What: "message"}); err != nil || !d.SubjectHasSecret {
		t.Fatalf("fabrikam views its message: %v %v", d.SubjectHasSecret, err)
	}
	if got, err := st.EvidenceAccess(ctx, orgID["fabrikam"], notifier.Page{Limit: 10}); err != nil || len(got) != 1 || got[0].Subject != "" || got[0].Message == "" {
		t.Errorf("fabrikam's record: %+v %v", got, err)
	}
}
