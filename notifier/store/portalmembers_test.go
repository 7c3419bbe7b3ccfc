package store_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

// TestPortalMemberStatements: the default approvers and levels, read
// with the session; invitations at the organization's domains only and
// never of an approver by an approver; a level change and a revocation
// count on the next lookup (the revocation ends the sessions in its own
// transaction) and survive a re-import; IR staff restore and set
// approvers; every statement is scoped to its organization; access
// requests: one pending per address, none for a member or a domain no
// organization has, the approvers' mails queued; decisions once; the
// changes listed to the organization.
func TestPortalMemberStatements(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	n := byte(100)
	newSession := func(email string) notifier.PortalSession {
		t.Helper()
		n++
		hash := bytes.Repeat([]byte{n}, 32)
		if _, err := b.pool.Exec(ctx, `
WITH c AS (SELECT id, organization_id FROM contacts WHERE email = $1),
     l AS (INSERT INTO portal_links (contact_id, organization_id, request_ip) SELECT id, organization_id, '' FROM c RETURNING id, contact_id, organization_id)
INSERT INTO portal_sessions (id_hash, contact_id, organization_id, link_id, expires_at) SELECT $2, contact_id, organization_id, id, now() + interval '1 hour' FROM l`,
			email, hash); err != nil {
			t.Fatal(err)
		}
		sess, err := st.PortalSession(ctx, hash)
		if err != nil {
			t.Fatalf("session of %s: %v", email, err)
		}
		return sess
	}
	soc, ciso := newSession("soc@contoso.example"), newSession("ciso@contoso.example")
	fabrikam := newSession("sicherheit@fabrikam.example")
	if !soc.Approver || !soc.MailAccess || ciso.Approver || ciso.MailAccess || !fabrikam.Approver {
		t.Fatalf("defaults: soc %v/%v, ciso %v/%v, fabrikam %v", soc.Approver, soc.MailAccess, ciso.Approver, ciso.MailAccess, fabrikam.Approver)
	}
	org := soc.OrganizationID
	byApprover, byStaff := notifier.MemberActor{Actor: soc.Actor()}, notifier.MemberActor{Actor: actor, Staff: true}
	code := func(err error) notifier.Code {
		if err == nil {
			return ""
		}
		return notifier.ErrorCode(err)
	}

	m, err := st.Members(ctx, org)
	if err != nil || len(m.Members) != 2 || m.Members[0].Email != "soc@contoso.example" || m.Members[1].Level != notifier.AccessNotices {
		t.Fatalf("members: %v %+v", err, m.Members)
	}

	// Invitations.
	if _, err := st.InviteMember(ctx, byApprover, org, notifier.InviteParams{Email: "x@elsewhere.example", Level: "mail"}); code(err) != notifier.CodeForbidden {
		t.Errorf("invite at another domain: %v", err)
	}
	if _, err := st.InviteMember(ctx, byApprover, org, notifier.InviteParams{Email: "SOC@contoso.example", Level: "notices"}); code(err) != notifier.CodeConflict {
		t.Errorf("approver inviting an approver: %v", err)
	}
	newbie, err := st.InviteMember(ctx, byApprover, org, notifier.InviteParams{Email: "newbie@contoso.example", Level: "mail"})
	if err != nil || newbie.Role != notifier.ContactMember || newbie.Level != notifier.AccessMail || newbie.InvitedAt == nil {
		t.Fatalf("invite: %v %+v", err, newbie)
	}
	var mails int
	_ = b.pool.QueryRow(ctx, `SELECT count(*) FROM portal_member_mails WHERE kind = 'invite' AND recipient = 'newbie@contoso.example'`).Scan(&mails)
	if mails != 1 {
		t.Errorf("invitation mails queued: %d", mails)
	}
	if sess := newSession("newbie@contoso.example"); !sess.MailAccess || sess.Approver {
		t.Errorf("invitee's session: %+v", sess)
	}

	// Levels: counted on the next lookup; an approver's is not theirs to set.
	if err := st.SetMemberLevel(ctx, byApprover, org, ciso.ContactID, notifier.AccessMail); err != nil {
		t.Fatal(err)
	}
	if again, err := st.PortalSession(ctx, ciso.IDHash); err != nil || !again.MailAccess {
		t.Errorf("after the level change: %v %+v", err, again)
	}
	if err := st.SetMemberLevel(ctx, byApprover, org, soc.ContactID, notifier.AccessNotices); code(err) != notifier.CodeConflict {
		t.Errorf("an approver's level: %v", err)
	}
	// Scoped: contoso's member through fabrikam is not found.
	if err := st.SetMemberLevel(ctx, byStaff, fabrikam.OrganizationID, ciso.ContactID, notifier.AccessNotices); code(err) != notifier.CodeNotFound {
		t.Errorf("level through another organization: %v", err)
	}
	if _, err := st.RevokeMember(ctx, byStaff, fabrikam.OrganizationID, ciso.ContactID); code(err) != notifier.CodeNotFound {
		t.Errorf("revoke through another organization: %v", err)
	}

	// Revocation.
	if _, err := st.RevokeMember(ctx, byApprover, org, soc.ContactID); code(err) != notifier.CodeConflict {
		t.Errorf("an approver revoking themselves: %v", err)
	}
	if ended, err := st.RevokeMember(ctx, byApprover, org, ciso.ContactID); err != nil || ended != 1 {
		t.Fatalf("revoke: %d %v", ended, err)
	}
	if _, err := st.PortalSession(ctx, ciso.IDHash); code(err) != notifier.CodeNotFound {
		t.Errorf("revoked member's session: %v", err)
	}
	if _, err := b.svc.ImportOrganizations(ctx, actor, bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if links, err := st.CreatePortalLinks(ctx, "ciso@contoso.example", ""); err != nil || links != 0 {
		t.Errorf("revoked, re-imported: %d sign-in links %v", links, err)
	}
	if err := st.RestoreMember(ctx, actor, org, ciso.ContactID); err != nil {
		t.Fatal(err)
	}
	if links, err := st.CreatePortalLinks(ctx, "ciso@contoso.example", ""); err != nil || links != 1 {
		t.Errorf("restored: %d sign-in links %v", links, err)
	}

	// Approvers: IR staff's choice overrides the rule, nil returns to it.
	yes := true
	if err := st.SetApprover(ctx, actor, org, ciso.ContactID, &yes); err != nil {
		t.Fatal(err)
	}
	if s := newSession("ciso@contoso.example"); !s.Approver || !s.MailAccess {
		t.Errorf("made approver: %+v", s)
	}
	if err := st.SetApprover(ctx, actor, org, ciso.ContactID, nil); err != nil {
		t.Fatal(err)
	}
	if s := newSession("ciso@contoso.example"); s.Approver {
		t.Errorf("back to the rule, still approver")
	}

	// Access requests.
	for addr, want := range map[string]int{"asker@contoso.example": 1, "soc@contoso.example": 0, "asker@nowhere.example": 0} {
		if got, err := st.RequestAccess(ctx, addr, "de"); err != nil || got != want {
			t.Errorf("request from %s: %d %v, want %d", addr, got, err, want)
		}
	}
	if got, _ := st.RequestAccess(ctx, "ASKER@contoso.example", "en"); got != 0 {
		t.Errorf("a second pending request: %d", got)
	}
	var reqID int64
	var approverMails int
	if err := b.pool.QueryRow(ctx, `SELECT id FROM portal_access_requests WHERE email = 'asker@contoso.example'`).Scan(&reqID); err != nil {
		t.Fatal(err)
	}
	_ = b.pool.QueryRow(ctx, `SELECT count(*) FROM portal_member_mails WHERE kind = 'request' AND about = 'asker@contoso.example'`).Scan(&approverMails)
	if approverMails != 1 {
		t.Errorf("approvers mailed: %d, want 1 (soc)", approverMails)
	}
	if err := st.DecideAccessRequest(ctx, byStaff, fabrikam.OrganizationID, reqID, true, "mail"); code(err) != notifier.CodeNotFound {
		t.Errorf("decide through another organization: %v", err)
	}
	if err := st.DecideAccessRequest(ctx, byApprover, org, reqID, true, notifier.AccessNotices); err != nil {
		t.Fatal(err)
	}
	if err := st.DecideAccessRequest(ctx, byApprover, org, reqID, false, ""); code(err) != notifier.CodeNotFound {
		t.Errorf("decided twice: %v", err)
	}
	if s := newSession("asker@contoso.example"); s.MailAccess {
		t.Errorf("approved at notices, reads mail")
	}

	m, err = st.Members(ctx, org)
	if err != nil || len(m.Requests) != 1 || m.Requests[0].Decision != notifier.DecisionApproved {
		t.Fatalf("members: %v %+v", err, m.Requests)
	}
	seen := map[string]bool{}
	for _, e := range m.Activity {
		seen[e.Action] = true
		if e.Actor != "" && e.Actor != soc.Actor().Name {
			t.Errorf("activity names actor %q: only members are named", e.Actor)
		}
	}
	for _, a := range []string{notifier.ActionMemberInvite, notifier.ActionMemberLevel, notifier.ActionMemberRevoke, notifier.ActionMemberRestore,
		notifier.ActionMemberApprover, notifier.ActionMemberRequest, notifier.ActionMemberRequestDecide} {
		if !seen[a] {
			t.Errorf("activity lacks %s", a)
		}
	}
	if fm, _ := st.Members(ctx, fabrikam.OrganizationID); len(fm.Activity) != 0 || len(fm.Requests) != 0 {
		t.Errorf("fabrikam sees contoso's membership: %+v", fm)
	}
}
