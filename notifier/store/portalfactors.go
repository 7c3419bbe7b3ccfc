package store

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// A portal member's second factor (issue 14): an authenticator app
// (TOTP) with single-use recovery codes. The store keeps the TOTP secret
// sealed by the caller and the recovery codes' hashes; it never sees
// either in clear.

// savePendingTOTP starts (or restarts) an enrolment: a contact with a
// confirmed factor keeps it (enrolling again needs a reset).
const savePendingTOTP = `
INSERT INTO portal_totp (contact_id, secret_sealed) VALUES ($1, $2)
ON CONFLICT (contact_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, created_at = now()
WHERE portal_totp.confirmed_at IS NULL`

// SavePendingTOTP implements notifier.PortalFactorStore.
func (s *Store) SavePendingTOTP(ctx context.Context, contactID int64, sealed []byte) error {
	_, err := s.pool.Exec(ctx, savePendingTOTP, contactID, sealed)
	return wrap("save pending totp", err)
}

// portalTOTP reads a contact's TOTP factor.
const portalTOTP = `SELECT secret_sealed, confirmed_at IS NOT NULL, last_step FROM portal_totp WHERE contact_id = $1`

// PortalTOTP implements notifier.PortalFactorStore.
func (s *Store) PortalTOTP(ctx context.Context, contactID int64) (notifier.PortalTOTP, error) {
	var t notifier.PortalTOTP
	err := s.pool.QueryRow(ctx, portalTOTP, contactID).Scan(&t.Sealed, &t.Confirmed, &t.LastStep)
	return t, wrap("portal totp", notFound(err, "no authenticator app is set up"))
}

// confirmTOTP confirms a pending enrolment whose sealed secret is still
// the one the code was checked against (a second tab may have restarted
// it).
const confirmTOTP = `UPDATE portal_totp SET confirmed_at = now(), last_step = $3, last_used_at = now()
WHERE contact_id = $1 AND secret_sealed = $2 AND confirmed_at IS NULL`

const insertRecoveryCode = `INSERT INTO portal_recovery_codes (contact_id, code_hash) SELECT $1, unnest($2::bytea[])`

// markFactorVerified notes a session's verification.
const markFactorVerified = `UPDATE portal_sessions SET factor_verified_at = now()
WHERE id_hash = $1 AND contact_id = $2 AND ended_at IS NULL`

// ConfirmTOTP implements notifier.PortalFactorStore.
func (s *Store) ConfirmTOTP(ctx context.Context, sess notifier.PortalSession, sealed []byte, step int64, codeHashes [][]byte) error {
	return wrap("confirm totp", s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, confirmTOTP, sess.ContactID, sealed, step)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notifier.Errorf(notifier.CodeConflict, "this set-up was replaced or already finished: reload the page")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM portal_recovery_codes WHERE contact_id = $1`, sess.ContactID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insertRecoveryCode, sess.ContactID, codeHashes); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, markFactorVerified, sess.IDHash, sess.ContactID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, sess.Actor(), auditEvent{"portal.factor_enrolled", "organization",
			strconv.FormatInt(sess.OrganizationID, 10), map[string]any{"contact_id": sess.ContactID, "factor": "totp", "recovery_codes": len(codeHashes)}})
	}))
}

// useTOTPStep accepts a code's step once: a step at or before the last
// accepted one is a replay.
const useTOTPStep = `UPDATE portal_totp SET last_step = $2, last_used_at = now()
WHERE contact_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2`

// useRecoveryCode spends one unused recovery code.
const useRecoveryCode = `UPDATE portal_recovery_codes SET used_at = now()
WHERE contact_id = $1 AND code_hash = $2 AND used_at IS NULL`

// VerifyPortalFactor implements notifier.PortalFactorStore.
func (s *Store) VerifyPortalFactor(ctx context.Context, sess notifier.PortalSession, v notifier.FactorUse) (bool, error) {
	ok := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		var tagRows int64
		switch {
		case v.RecoveryHash != nil:
			tag, e := tx.Exec(ctx, useRecoveryCode, sess.ContactID, v.RecoveryHash)
			tagRows, err = tag.RowsAffected(), e
		case v.Step > 0:
			tag, e := tx.Exec(ctx, useTOTPStep, sess.ContactID, v.Step)
			tagRows, err = tag.RowsAffected(), e
		}
		if err != nil {
			return err
		}
		ok = tagRows == 1
		action := "portal.factor_verify_failed"
		if ok {
			action = "portal.factor_verified"
			if _, err := tx.Exec(ctx, markFactorVerified, sess.IDHash, sess.ContactID); err != nil {
				return err
			}
		}
		return s.appendAudit(ctx, tx, sess.Actor(), auditEvent{action, "organization",
			strconv.FormatInt(sess.OrganizationID, 10), map[string]any{"contact_id": sess.ContactID, "factor": v.Kind()}})
	})
	return ok, wrap("verify portal factor", err)
}

// RecoveryCodesLeft implements notifier.PortalFactorStore.
func (s *Store) RecoveryCodesLeft(ctx context.Context, contactID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM portal_recovery_codes WHERE contact_id = $1 AND used_at IS NULL`, contactID).Scan(&n)
	return n, wrap("recovery codes left", err)
}

// resetFactors removes every factor of a contact and takes the
// verification back from its sessions, so stolen mail needs a new
// enrolment.
const resetFactors = `
WITH t AS (DELETE FROM portal_totp WHERE contact_id = $1 RETURNING 1),
     r AS (DELETE FROM portal_recovery_codes WHERE contact_id = $1 RETURNING 1),
     w AS (DELETE FROM portal_webauthn_credentials WHERE contact_id = $1 RETURNING 1),
     s AS (UPDATE portal_sessions SET factor_verified_at = NULL WHERE contact_id = $1 AND factor_verified_at IS NOT NULL RETURNING 1)
SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM w), (SELECT count(*) FROM s)`

// ResetPortalFactors implements notifier.ContactStore's reset: by is IR
// staff today (organization approvers later pass their own actor).
func (s *Store) ResetPortalFactors(ctx context.Context, by notifier.Actor, contactID int64, reason string) (notifier.FactorReset, error) {
	var out notifier.FactorReset
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := s.contact(ctx, tx, contactID, true)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, resetFactors, contactID).Scan(&out.TOTP, &out.Passkeys, &out.Sessions); err != nil {
			return err
		}
		out.ContactID, out.At = contactID, time.Now().UTC()
		return s.appendAudit(ctx, tx, by, auditEvent{"contact.factors_reset", "contact", strconv.FormatInt(contactID, 10),
			map[string]any{"org_ref": c.OrgRef, "organization_id": c.OrganizationID, "totp": out.TOTP, "passkeys": out.Passkeys,
				"sessions": out.Sessions, "reason": reason}})
	})
	return out, wrap("reset portal factors", err)
}

// saveCeremony keeps a passkey ceremony's state on the session.
const saveCeremony = `UPDATE portal_sessions SET webauthn_ceremony = $2 WHERE id_hash = $1 AND ended_at IS NULL`

// SavePasskeyCeremony implements notifier.PortalFactorStore.
func (s *Store) SavePasskeyCeremony(ctx context.Context, sessionHash, state []byte) error {
	_, err := s.pool.Exec(ctx, saveCeremony, sessionHash, state)
	return wrap("save passkey ceremony", err)
}

// takeCeremony takes the session's ceremony once: a finish replayed finds
// nothing.
const takeCeremony = `
UPDATE portal_sessions s SET webauthn_ceremony = NULL
FROM (SELECT id_hash, webauthn_ceremony FROM portal_sessions WHERE id_hash = $1 FOR UPDATE) o
WHERE s.id_hash = o.id_hash AND o.webauthn_ceremony IS NOT NULL
RETURNING o.webauthn_ceremony`

// TakePasskeyCeremony implements notifier.PortalFactorStore.
func (s *Store) TakePasskeyCeremony(ctx context.Context, sessionHash []byte) ([]byte, error) {
	var state []byte
	err := s.pool.QueryRow(ctx, takeCeremony, sessionHash).Scan(&state)
	return state, wrap("take passkey ceremony", notFound(err, "no passkey ceremony is under way: reload the page"))
}

// PortalPasskeys implements notifier.PortalFactorStore.
func (s *Store) PortalPasskeys(ctx context.Context, contactID int64) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT credential FROM portal_webauthn_credentials WHERE contact_id = $1 ORDER BY id`, contactID)
	if err != nil {
		return nil, wrap("portal passkeys", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	return list, wrap("portal passkeys", err)
}

const insertPasskey = `INSERT INTO portal_webauthn_credentials (contact_id, credential_id, public_key, sign_count, aaguid, credential, last_used_at)
VALUES ($1, $2, $3, $4, $5, $6, now())`

// AddPasskey implements notifier.PortalFactorStore.
func (s *Store) AddPasskey(ctx context.Context, sess notifier.PortalSession, p notifier.Passkey) error {
	return wrap("add passkey", s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertPasskey, sess.ContactID, p.ID, p.PublicKey, p.SignCount, p.AAGUID, p.Record); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, markFactorVerified, sess.IDHash, sess.ContactID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, sess.Actor(), auditEvent{"portal.factor_enrolled", "organization",
			strconv.FormatInt(sess.OrganizationID, 10), map[string]any{"contact_id": sess.ContactID, "factor": "passkey"}})
	}))
}

const usePasskey = `UPDATE portal_webauthn_credentials SET sign_count = $3, credential = $4, last_used_at = now()
WHERE contact_id = $1 AND credential_id = $2`

// UsePasskey implements notifier.PortalFactorStore.
func (s *Store) UsePasskey(ctx context.Context, sess notifier.PortalSession, p notifier.Passkey) error {
	return wrap("use passkey", s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, usePasskey, sess.ContactID, p.ID, p.SignCount, p.Record)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notifier.Errorf(notifier.CodeNotFound, "this passkey is not set up")
		}
		if _, err := tx.Exec(ctx, markFactorVerified, sess.IDHash, sess.ContactID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, sess.Actor(), auditEvent{"portal.factor_verified", "organization",
			strconv.FormatInt(sess.OrganizationID, 10), map[string]any{"contact_id": sess.ContactID, "factor": "passkey"}})
	}))
}
