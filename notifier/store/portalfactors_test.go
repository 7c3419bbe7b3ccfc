package store_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestPortalFactorStatements runs the second factor's statements on a
// real session: a pending enrolment is replaced until confirmed, a
// confirmed one is kept; a TOTP step and a recovery code are accepted
// once; every attempt is audited; a reset removes everything and takes
// the verification back from the contact's sessions only.
func TestPortalFactorStatements(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	// A session of soc@contoso, as a used sign-in link leaves it, and one
	// of another contact of the organization.
	newSession := func(email string, hash []byte) notifier.PortalSession {
		t.Helper()
		if _, err := b.pool.Exec(ctx, `
WITH c AS (SELECT id, organization_id FROM contacts WHERE email = $1),
     l AS (INSERT INTO portal_links (contact_id, organization_id, request_ip) SELECT id, organization_id, '' FROM c RETURNING id, contact_id, organization_id)
INSERT INTO portal_sessions (id_hash, contact_id, organization_id, link_id, expires_at) SELECT $2, contact_id, organization_id, id, now() + interval '1 hour' FROM l`,
			email, hash); err != nil {
			t.Fatal(err)
		}
		sess, err := st.PortalSession(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	sess := newSession("soc@contoso.example", bytes.Repeat([]byte{1}, 32))
	other := newSession("ciso@contoso.example", bytes.Repeat([]byte{2}, 32))
	if sess.FactorEnrolled || sess.FactorVerifiedAt != nil {
		t.Fatalf("new session: enrolled %v, verified %v", sess.FactorEnrolled, sess.FactorVerifiedAt)
	}
	if _, err := st.PortalTOTP(ctx, sess.ContactID); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Fatalf("no factor: %v, want not_found", err)
	}

	// Enrolment: the second pending secret replaces the first; confirming
	// the first then conflicts.
	for _, sealed := range []string{"first", "second"} {
		if err := st.SavePendingTOTP(ctx, sess.ContactID, []byte(sealed)); err != nil {
			t.Fatal(err)
		}
	}
	hashes := [][]byte{notifier.HashRecoveryCode("AAAAA-BBBBB"), notifier.HashRecoveryCode("CCCCC-DDDDD")}
	if err := st.ConfirmTOTP(ctx, sess, []byte("first"), 100, hashes); notifier.ErrorCode(err) != notifier.CodeConflict {
		t.Fatalf("confirm a replaced secret: %v, want conflict", err)
	}
	if err := st.ConfirmTOTP(ctx, sess, []byte("second"), 100, hashes); err != nil {
		t.Fatal(err)
	}
	if err := st.SavePendingTOTP(ctx, sess.ContactID, []byte("third")); err != nil {
		t.Fatal(err)
	}
	if f, err := st.PortalTOTP(ctx, sess.ContactID); err != nil || string(f.Sealed) != "second" || !f.Confirmed || f.LastStep != 100 {
		t.Fatalf("after confirming: %+v %v, want the confirmed secret kept", f, err)
	}
	if s, _ := st.PortalSession(ctx, sess.IDHash); !s.FactorEnrolled || s.FactorVerifiedAt == nil {
		t.Fatalf("after enrolment: enrolled %v, verified %v", s.FactorEnrolled, s.FactorVerifiedAt)
	}

	// A step and a recovery code work once; an earlier step never.
	uses := []struct {
		name string
		use  notifier.FactorUse
		ok   bool
	}{
		{"the enrolment's step again", notifier.FactorUse{Step: 100}, false},
		{"an earlier step", notifier.FactorUse{Step: 99}, false},
		{"the next step", notifier.FactorUse{Step: 101}, true},
		{"the next step again", notifier.FactorUse{Step: 101}, false},
		{"a recovery code", notifier.FactorUse{RecoveryHash: notifier.HashRecoveryCode("aaaaa bbbbb")}, true},
		{"the same recovery code", notifier.FactorUse{RecoveryHash: notifier.HashRecoveryCode("AAAAA-BBBBB")}, false},
		{"an unknown recovery code", notifier.FactorUse{RecoveryHash: notifier.HashRecoveryCode("EEEEE-FFFFF")}, false},
		{"nothing", notifier.FactorUse{}, false},
	}
	for _, u := range uses {
		if ok, err := st.VerifyPortalFactor(ctx, sess, u.use); err != nil || ok != u.ok {
			t.Errorf("%s: %v %v, want %v", u.name, ok, err, u.ok)
		}
	}
	// Another contact's session cannot spend this contact's code.
	if ok, _ := st.VerifyPortalFactor(ctx, other, notifier.FactorUse{RecoveryHash: notifier.HashRecoveryCode("CCCCC-DDDDD")}); ok {
		t.Error("another contact spent the recovery code")
	}
	if n, _ := st.RecoveryCodesLeft(ctx, sess.ContactID); n != 1 {
		t.Errorf("recovery codes left: %d, want 1", n)
	}
	audited := map[string]int{}
	rows, _ := b.pool.Query(ctx, `SELECT action, count(*) FROM audit_log WHERE action LIKE 'portal.factor%' GROUP BY action`)
	for rows.Next() {
		var a string
		var n int
		_ = rows.Scan(&a, &n)
		audited[a] = n
	}
	rows.Close()
	if audited["portal.factor_enrolled"] != 1 || audited["portal.factor_verified"] != 2 || audited["portal.factor_verify_failed"] != 7 {
		t.Errorf("audited %v, want 1 enrolment, 2 successes, 7 failures", audited)
	}

	// The reset.
	if _, err := b.pool.Exec(ctx, `UPDATE portal_sessions SET factor_verified_at = now() WHERE id_hash = $1`, other.IDHash); err != nil {
		t.Fatal(err)
	}
	r, err := st.ResetPortalFactors(ctx, actor, sess.ContactID, "lost phone")
	if err != nil || r.TOTP != 1 || r.Sessions != 1 {
		t.Fatalf("reset: %+v %v, want one factor and one session", r, err)
	}
	if s, _ := st.PortalSession(ctx, sess.IDHash); s.FactorEnrolled || s.FactorVerifiedAt != nil {
		t.Errorf("after the reset: enrolled %v, verified %v", s.FactorEnrolled, s.FactorVerifiedAt)
	}
	if s, _ := st.PortalSession(ctx, other.IDHash); s.FactorVerifiedAt == nil {
		t.Error("the reset took the verification of another contact's session")
	}
	if n, _ := st.RecoveryCodesLeft(ctx, sess.ContactID); n != 0 {
		t.Errorf("recovery codes after the reset: %d", n)
	}
	if _, err := st.ResetPortalFactors(ctx, actor, 999999, "x"); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Errorf("reset of an unknown contact: %v, want not_found", err)
	}

	// Passkeys: a ceremony is taken once; a passkey makes the contact
	// enrolled, its use updates the sign count; the reset removes it.
	if _, err := st.TakePasskeyCeremony(ctx, sess.IDHash); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Errorf("no ceremony: %v, want not_found", err)
	}
	if err := st.SavePasskeyCeremony(ctx, sess.IDHash, []byte(`{"challenge":"c"}`)); err != nil {
		t.Fatal(err)
	}
	if got, err := st.TakePasskeyCeremony(ctx, sess.IDHash); err != nil || !bytes.Contains(got, []byte(`"c"`)) {
		t.Errorf("take the ceremony: %s %v", got, err)
	}
	if _, err := st.TakePasskeyCeremony(ctx, sess.IDHash); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Errorf("the ceremony taken twice: %v, want not_found", err)
	}
	key := notifier.Passkey{ID: []byte("cred-1"), PublicKey: []byte("pk"), AAGUID: make([]byte, 16), SignCount: 1, Record: []byte(`{"id":"a"}`)}
	if err := st.AddPasskey(ctx, sess, key); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.PortalSession(ctx, sess.IDHash); !s.FactorEnrolled || s.FactorVerifiedAt == nil {
		t.Errorf("after a passkey: enrolled %v, verified %v", s.FactorEnrolled, s.FactorVerifiedAt)
	}
	key.SignCount, key.Record = 5, []byte(`{"id":"b"}`)
	if err := st.UsePasskey(ctx, sess, key); err != nil {
		t.Fatal(err)
	}
	if err := st.UsePasskey(ctx, other, key); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Errorf("another contact used the passkey: %v, want not_found", err)
	}
	if recs, err := st.PortalPasskeys(ctx, sess.ContactID); err != nil || len(recs) != 1 || !bytes.Contains(recs[0], []byte(`"b"`)) {
		t.Errorf("passkeys: %q %v", recs, err)
	}
	if r, err := st.ResetPortalFactors(ctx, actor, sess.ContactID, "left"); err != nil || r.Passkeys != 1 {
		t.Errorf("reset: %+v %v, want one passkey", r, err)
	}
}
