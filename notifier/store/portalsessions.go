package store

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// devicesSelect lists live sessions; $1 is the organization, $2 the idle
// limit in seconds, $3 the current session's hash (or NULL), $4 the
// contact (or NULL: every contact of the organization).
const devicesSelect = `
SELECT s.id, s.contact_id, c.email, s.created_at, s.last_seen_at, s.user_agent, s.ip, s.id_hash = $3
FROM portal_sessions s JOIN contacts c ON c.id = s.contact_id
WHERE s.organization_id = $1 AND ($4::bigint IS NULL OR s.contact_id = $4)
  AND s.ended_at IS NULL AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(secs => $2)
ORDER BY s.created_at DESC, s.id DESC`

func (s *Store) devices(ctx context.Context, orgID int64, current []byte, contactID *int64) ([]notifier.PortalDevice, error) {
	rows, err := s.pool.Query(ctx, devicesSelect, orgID, notifier.PortalSessionIdle.Seconds(), current, contactID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (notifier.PortalDevice, error) {
		var d notifier.PortalDevice
		var cur *bool
		err := row.Scan(&d.ID, &d.ContactID, &d.ContactEmail, &d.CreatedAt, &d.LastSeenAt, &d.UserAgent, &d.Network, &cur)
		d.Current = cur != nil && *cur
		return d, err
	})
}

// ContactPortalSessions implements notifier.PortalSessionStore.
func (s *Store) ContactPortalSessions(ctx context.Context, sess notifier.PortalSession) ([]notifier.PortalDevice, error) {
	list, err := s.devices(ctx, sess.OrganizationID, sess.IDHash, &sess.ContactID)
	return list, wrap("portal sessions", err)
}

// OrganizationPortalSessions implements notifier.PortalSessionStore.
func (s *Store) OrganizationPortalSessions(ctx context.Context, orgID int64) ([]notifier.PortalDevice, error) {
	list, err := s.devices(ctx, orgID, nil, nil)
	return list, wrap("organization portal sessions", err)
}

// endContactSessions ends live sessions of one contact in one
// organization: $3 one session's number (or NULL: all), $4 a hash to
// spare (or NULL), $5 who ended them.
const endContactSessions = `
UPDATE portal_sessions SET ended_at = now(), ended_by = $5
WHERE organization_id = $1 AND contact_id = $2 AND ended_at IS NULL AND expires_at > now()
  AND ($3::bigint IS NULL OR id = $3) AND ($4::bytea IS NULL OR id_hash <> $4)
RETURNING id`

func (s *Store) endContactSessions(ctx context.Context, sess notifier.PortalSession, id *int64, spare []byte, details map[string]any) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, endContactSessions, sess.OrganizationID, sess.ContactID, id, spare, "member")
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		details["contact_id"] = sess.ContactID
		details["sessions"] = ids
		return s.appendAudit(ctx, tx, sess.Actor(), auditEvent{"portal.sessions_end", "organization",
			strconv.FormatInt(sess.OrganizationID, 10), details})
	})
	return n, err
}

// EndContactPortalSession implements notifier.PortalSessionStore.
func (s *Store) EndContactPortalSession(ctx context.Context, sess notifier.PortalSession, id int64) error {
	n, err := s.endContactSessions(ctx, sess, &id, nil, map[string]any{"scope": "one"})
	if err == nil && n == 0 {
		err = notifier.Errorf(notifier.CodeNotFound, "no such session")
	}
	return wrap("end portal session", err)
}

// EndContactPortalSessions implements notifier.PortalSessionStore.
func (s *Store) EndContactPortalSessions(ctx context.Context, sess notifier.PortalSession, all bool) (int, error) {
	spare, scope := sess.IDHash, "others"
	if all {
		spare, scope = nil, "all"
	}
	n, err := s.endContactSessions(ctx, sess, nil, spare, map[string]any{"scope": scope})
	return n, wrap("end portal sessions", err)
}

// endOrgSessions ends every live session of an organization; $2 says by
// whom (IR staff, or an approver of the organization).
const endOrgSessions = `
UPDATE portal_sessions SET ended_at = now(), ended_by = $2
WHERE organization_id = $1 AND ended_at IS NULL AND expires_at > now()`

// EndOrganizationPortalSessions implements notifier.PortalSessionStore.
func (s *Store) EndOrganizationPortalSessions(ctx context.Context, actor notifier.Actor, orgID int64) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// A portal member acts without an API role: an approver.
		endedBy := "staff"
		if actor.Role == "" {
			endedBy = "approver"
		}
		tag, err := tx.Exec(ctx, endOrgSessions, orgID, endedBy)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		return s.appendAudit(ctx, tx, actor, auditEvent{"portal.sessions_end_all", "organization",
			strconv.FormatInt(orgID, 10), map[string]any{"ended": n}})
	})
	return n, wrap("end organization portal sessions", err)
}
