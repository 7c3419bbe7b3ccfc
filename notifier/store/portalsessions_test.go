package store_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestPortalSessionStatements: a member's list holds their own live
// sessions only, this one marked; ending one by number ends only it, and
// another contact's number is not found; "others" spares this one; the
// organization-wide end ends every session of that organization and no
// other's; a use is written at most once a minute; the client address
// is kept as its network only.
func TestPortalSessionStatements(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	n := byte(0)
	newSession := func(email string) notifier.PortalSession {
		t.Helper()
		n++
		hash := bytes.Repeat([]byte{n}, 32)
		if _, err := b.pool.Exec(ctx, `
WITH c AS (SELECT id, organization_id FROM contacts WHERE email = $1),
     l AS (INSERT INTO portal_links (contact_id, organization_id, request_ip) SELECT id, organization_id, '' FROM c RETURNING id, contact_id, organization_id)
INSERT INTO portal_sessions (id_hash, contact_id, organization_id, link_id, expires_at, user_agent) SELECT $2, contact_id, organization_id, id, now() + interval '1 hour', 'UA ' || $1 FROM l`,
			email, hash); err != nil {
			t.Fatal(err)
		}
		sess, err := st.PortalSession(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	mine, mine2, mine3 := newSession("soc@contoso.example"), newSession("soc@contoso.example"), newSession("soc@contoso.example")
	colleague := newSession("ciso@contoso.example")
	elsewhere := newSession("sicherheit@fabrikam.example")
	live := func(s notifier.PortalSession) bool {
		_, err := st.PortalSession(ctx, s.IDHash)
		return err == nil
	}

	list, err := st.ContactPortalSessions(ctx, mine)
	if err != nil || len(list) != 3 {
		t.Fatalf("own sessions: %v %+v", err, list)
	}
	for _, d := range list {
		if d.ContactID != mine.ContactID || d.Current != (d.ID == mine.ID) || d.UserAgent != "UA soc@contoso.example" {
			t.Errorf("own session %+v", d)
		}
	}

	// A colleague's and another organization's session by number: not found, still live.
	for _, s := range []notifier.PortalSession{colleague, elsewhere} {
		if err := st.EndContactPortalSession(ctx, mine, s.ID); notifier.ErrorCode(err) != notifier.CodeNotFound || !live(s) {
			t.Errorf("ending session %d of another: %v", s.ID, err)
		}
	}
	if err := st.EndContactPortalSession(ctx, mine, mine2.ID); err != nil || live(mine2) || !live(mine) || !live(mine3) {
		t.Errorf("ending one: %v", err)
	}
	if err := st.EndContactPortalSession(ctx, mine, mine2.ID); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Errorf("ending an ended one again: %v, want not_found", err)
	}
	if n, err := st.EndContactPortalSessions(ctx, mine, false); err != nil || n != 1 || !live(mine) || live(mine3) || !live(colleague) {
		t.Errorf("ending the others: %d %v", n, err)
	}

	// The organization-wide end: contoso's sessions, not fabrikam's.
	orgList, err := st.OrganizationPortalSessions(ctx, mine.OrganizationID)
	if err != nil || len(orgList) != 2 {
		t.Errorf("the organization's sessions: %v %+v", err, orgList)
	}
	if n, err := st.EndOrganizationPortalSessions(ctx, notifier.Actor{Name: "test"}, mine.OrganizationID); err != nil || n != 2 ||
		live(mine) || live(colleague) || !live(elsewhere) {
		t.Errorf("ending the organization's: %d %v", n, err)
	}

	// A use is written at most once a minute.
	var before, after int64
	q := `SELECT extract(epoch FROM last_seen_at)::bigint FROM portal_sessions WHERE id_hash = $1`
	if _, err := b.pool.Exec(ctx, `UPDATE portal_sessions SET last_seen_at = now() - interval '30 seconds' WHERE id_hash = $1`, elsewhere.IDHash); err != nil {
		t.Fatal(err)
	}
	_ = b.pool.QueryRow(ctx, q, elsewhere.IDHash).Scan(&before)
	if !live(elsewhere) {
		t.Fatal("elsewhere ended")
	}
	_ = b.pool.QueryRow(ctx, q, elsewhere.IDHash).Scan(&after)
	if after != before {
		t.Errorf("a use 30 s after the last was written: %d → %d", before, after)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE portal_sessions SET last_seen_at = now() - interval '2 minutes' WHERE id_hash = $1`, elsewhere.IDHash); err != nil {
		t.Fatal(err)
	}
	_ = b.pool.QueryRow(ctx, q, elsewhere.IDHash).Scan(&before)
	live(elsewhere)
	_ = b.pool.QueryRow(ctx, q, elsewhere.IDHash).Scan(&after)
	if after <= before {
		t.Errorf("a use 2 min after the last was not written: %d → %d", before, after)
	}
}
