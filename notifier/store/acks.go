package store

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// Now is the database's clock (notifier.Clock).
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := s.pool.QueryRow(ctx, `SELECT now()`).Scan(&t)
	return t, wrap("clock", err)
}

// ackTarget finds a link's delivery and the notice it acknowledges: the
// delivery's notice, or its parent for a reminder or escalation. Whoever
// has the mail has the link: a minimal-disclosure notice's page does not
// name the incident either (its title is empty).
var ackTarget = `
SELECT d.id, root.id, ` + titleIfFull("root", "inc") + `, o.name, d.recipient, root.acknowledged_at, coalesce(ac.email, ''),
  coalesce(d.contact_locale, (SELECT rc.locale FROM contacts rc WHERE rc.id = d.contact_id), '')
FROM ack_tokens t
JOIN deliveries d ON d.id = t.delivery_id
JOIN notices n ON n.id = d.notice_id
JOIN notices root ON root.id = coalesce(n.parent_id, n.id)
JOIN incidents inc ON inc.id = root.incident_id
JOIN organizations o ON o.id = root.organization_id
LEFT JOIN contacts ac ON ac.id = root.acknowledged_by
WHERE t.token_hash = $1 AND t.created_at > now() - make_interval(secs => $2)`

func scanAck(row pgx.Row, hash []byte) (notifier.AckView, error) {
	v := notifier.AckView{TokenHash: hash}
	var by string
	err := row.Scan(&v.DeliveryID, &v.NoticeID, &v.IncidentTitle, &v.OrgName, &v.Recipient, &v.AcknowledgedAt, &by, &v.Locale)
	v.AcknowledgedBy = by
	return v, notFound(err, "this link is not valid or has expired")
}

// AckTarget implements notifier.AckStore.
func (s *Store) AckTarget(ctx context.Context, tokenHash []byte, lifetime time.Duration) (notifier.AckView, error) {
	v, err := scanAck(s.pool.QueryRow(ctx, ackTarget, tokenHash, lifetime.Seconds()), tokenHash)
	return v, wrap("acknowledgement link", err)
}

// RecordLinkOpened implements notifier.AckStore.
func (s *Store) RecordLinkOpened(ctx context.Context, deliveryID int64, detail string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO delivery_events (delivery_id, type, detail) VALUES ($1, 'link_opened', $2)`, deliveryID, detail)
	return wrap("record link opened", err)
}

// Acknowledge implements notifier.AckStore: under the notice's row lock,
// the first acknowledgement is recorded (contact, time, IP, user agent) and
// audited; any later one only returns the state.
func (s *Store) Acknowledge(ctx context.Context, tokenHash []byte, lifetime time.Duration, req notifier.AckRequest) (notifier.AckView, bool, error) {
	var v notifier.AckView
	first := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if v, err = scanAck(tx.QueryRow(ctx, ackTarget, tokenHash, lifetime.Seconds()), tokenHash); err != nil {
			return err
		}
		var contactID int64
		var email string
		if err := tx.QueryRow(ctx, `SELECT c.id, c.email FROM deliveries d JOIN contacts c ON c.id = d.contact_id WHERE d.id = $1`,
			v.DeliveryID).Scan(&contactID, &email); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE notices SET acknowledged_at = now(), acknowledged_by = $2, ack_ip = $3, ack_user_agent = $4
			WHERE id = $1 AND acknowledged_at IS NULL`, v.NoticeID, contactID, req.IP, req.UserAgent)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // acknowledged before: the first one stands
		}
		first = true
		if err := tx.QueryRow(ctx, `SELECT acknowledged_at FROM notices WHERE id = $1`, v.NoticeID).Scan(&v.AcknowledgedAt); err != nil {
			return err
		}
		v.AcknowledgedBy = email
		if _, err := tx.Exec(ctx, `INSERT INTO delivery_events (delivery_id, type, detail) VALUES ($1, 'acknowledged', $2)`,
			v.DeliveryID, "from "+req.IP); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, notifier.Actor{Name: "contact " + email}, auditEvent{"notice.acknowledge", "notice",
			strconv.FormatInt(v.NoticeID, 10), map[string]any{"delivery_id": v.DeliveryID, "ip": req.IP, "user_agent": req.UserAgent}})
	})
	return v, first, wrap("acknowledge", err)
}
