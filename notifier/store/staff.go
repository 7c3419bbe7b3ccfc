package store

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

const staffSessionColumns = `s.api_key_id, k.name, s.role, s.created_at, s.expires_at`

func scanStaffSession(row pgx.Row, hash []byte) (notifier.StaffSession, error) {
	sess := notifier.StaffSession{IDHash: hash}
	err := row.Scan(&sess.KeyID, &sess.KeyName, &sess.Role, &sess.CreatedAt, &sess.ExpiresAt)
	return sess, err
}

// StartStaffSession implements notifier.StaffStore. The key is looked up
// again in the transaction, so a key revoked since it was checked starts
// no session.
func (s *Store) StartStaffSession(ctx context.Context, by notifier.Actor, idHash []byte, req notifier.AckRequest) (notifier.StaffSession, error) {
	var sess notifier.StaffSession
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		sess, err = scanStaffSession(tx.QueryRow(ctx, `
WITH s AS (
  INSERT INTO admin_sessions (id_hash, api_key_id, role, expires_at, ip, user_agent)
  SELECT $1, k.id, k.role, now() + make_interval(secs => $3), $4, $5 FROM api_keys k
  WHERE k.id = $2 AND k.revoked_at IS NULL
  RETURNING api_key_id, role, created_at, expires_at)
SELECT `+staffSessionColumns+` FROM s JOIN api_keys k ON k.id = s.api_key_id`,
			idHash, by.KeyID, notifier.StaffSessionLifetime.Seconds(), req.IP, req.UserAgent), idHash)
		if errors.Is(err, pgx.ErrNoRows) {
			return notifier.Errorf(notifier.CodeUnauthorized, "the API key is missing, malformed, unknown or revoked")
		}
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, sess.Actor(), auditEvent{"admin.sign_in", "apikey", strconv.FormatInt(sess.KeyID, 10),
			map[string]any{"role": sess.Role, "ip": req.IP, "user_agent": req.UserAgent}})
	})
	return sess, wrap("start staff session", err)
}

// StaffSession implements notifier.StaffStore: a live session of a key
// that is still valid, with the role it signed in with, is used
// (last_seen_at) by the same statement that finds it.
func (s *Store) StaffSession(ctx context.Context, idHash []byte) (notifier.StaffSession, error) {
	sess, err := scanStaffSession(s.pool.QueryRow(ctx, `
UPDATE admin_sessions s SET last_seen_at = now()
FROM api_keys k
WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()
  AND s.last_seen_at > now() - make_interval(secs => $2)
  AND k.id = s.api_key_id AND k.revoked_at IS NULL AND k.role = s.role
RETURNING `+staffSessionColumns, idHash, notifier.StaffSessionIdle.Seconds()), idHash)
	return sess, wrap("staff session", notFound(err, "this session has ended"))
}

// EndStaffSession implements notifier.StaffStore.
func (s *Store) EndStaffSession(ctx context.Context, sess notifier.StaffSession) error {
	return wrap("end staff session", s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE admin_sessions SET ended_at = now() WHERE id_hash = $1 AND ended_at IS NULL`, sess.IDHash)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return s.appendAudit(ctx, tx, sess.Actor(), auditEvent{"admin.sign_out", "apikey", strconv.FormatInt(sess.KeyID, 10), nil})
	}))
}

// RecentFailures implements notifier.StaffStore (index deliveries_failures).
func (s *Store) RecentFailures(ctx context.Context, limit int) ([]notifier.FailedDelivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+`, o.ref, o.name, i.id, i.title
		FROM deliveries d
		JOIN notices n ON n.id = d.notice_id
		JOIN organizations o ON o.id = n.organization_id
		JOIN incidents i ON i.id = n.incident_id
		WHERE d.status IN (`+failedStatuses+`)
		ORDER BY d.finished_at DESC, d.id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, wrap("recent failures", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.FailedDelivery, error) {
		var f notifier.FailedDelivery
		d := &f.Delivery
		err := r.Scan(&d.ID, &d.NoticeID, &d.WaveID, &d.ContactID, &d.Recipient, &d.Status, &d.MessageID, &d.Reference,
			&d.TemplateVersion, &d.MessageSHA256, &d.Attempts, &d.SMTPCode, &d.SMTPReply,
			&d.QueuedAt, &d.FirstAttemptAt, &d.LastAttemptAt, &d.SentAt, &d.FinishedAt,
			&f.OrgRef, &f.OrgName, &f.IncidentID, &f.IncidentTitle)
		return f, err
	})
	return list, wrap("recent failures", err)
}

// ExpireStaffSessions deletes dashboard sessions over for 30 days (the
// audit trail keeps their sign-ins and sign-outs); the maintenance job
// runs it.
func (s *Store) ExpireStaffSessions(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM admin_sessions WHERE coalesce(ended_at, expires_at) < now() - interval '30 days'`)
	return wrap("expire staff sessions", err)
}
