package store

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// RecordBounce keeps one bounce notice and applies it: a permanent failure
// marks the delivery and its contact bounced; a delay, a positive report or
// a complaint only adds an event; an unknown report or one matching no
// delivery changes nothing. A message goes to one recipient, so its
// Message-ID finds the delivery; a report naming another recipient (such as
// an alias the contact forwards to) is kept unapplied (the JSON form may
// leave the recipient out), and a permanent failure applies only to a
// delivery that was sent or failed: one queued again (a resend keeps its
// Message-ID) is not bounced by a late report about its earlier attempt.
// A record with a Key that its source already delivered is not recorded
// again: the earlier bounce is returned with duplicate true.
func (s *Store) RecordBounce(ctx context.Context, by notifier.Actor, rec notifier.BounceRecord) (b notifier.Bounce, duplicate bool, err error) {
	n := rec.Notice
	b = notifier.Bounce{Kind: n.Kind, MessageID: n.MessageID, Recipient: n.Recipient, Action: n.Action, Status: n.Status, Diagnostic: n.Diagnostic}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if rec.Key != "" {
			found, err := s.bounceByKey(ctx, tx, rec.Source, rec.Key)
			if err != nil || found != nil {
				if found != nil {
					b, duplicate = *found, true
				}
				return err
			}
		}
		var deliveryID, contactID int64
		var status notifier.DeliveryStatus
		var recipient string
		if n.Kind != notifier.BounceUnknown && n.MessageID != "" {
			err := tx.QueryRow(ctx, `SELECT id, status, contact_id, recipient FROM deliveries WHERE message_id = $1 FOR UPDATE`, n.MessageID).
				Scan(&deliveryID, &status, &contactID, &recipient)
			if err != nil && err != pgx.ErrNoRows {
				return err
			}
			pending := status != notifier.DeliverySent && status != notifier.DeliveryFailed
			otherAddress := n.Recipient != "" && !strings.EqualFold(n.Recipient, recipient)
			if otherAddress || (n.Kind == notifier.BouncePermanent && pending) {
				deliveryID = 0
			}
			if deliveryID != 0 {
				b.DeliveryID = &deliveryID
			}
		}
		if deliveryID != 0 {
			if err := applyBounce(ctx, tx, &b, deliveryID, contactID, status); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO bounces (kind, message_id, recipient, action, status, diagnostic, delivery_id, source, raw, received_by, source_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id, received_at`,
			b.Kind, b.MessageID, b.Recipient, b.Action, b.Status, b.Diagnostic, b.DeliveryID, rec.Source, rec.Raw, nullableKey(by), nullable(rec.Key)).
			Scan(&b.ID, &b.ReceivedAt); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"bounce.record", "bounce", strconv.FormatInt(b.ID, 10),
			map[string]any{"kind": b.Kind, "source": rec.Source, "delivery_id": b.DeliveryID, "applied": b.Applied}})
	})
	return b, duplicate, wrap("record bounce", err)
}

// bounceByKey finds the bounce its source already delivered under key, or
// nil. It first takes a transaction lock on the key, so two deliveries of
// the same report at once (a provider's retry racing its first attempt)
// record it once: the second waits, then finds the first.
func (s *Store) bounceByKey(ctx context.Context, tx pgx.Tx, source notifier.BounceSource, key string) (*notifier.Bounce, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('bounce ' || $1 || ' ' || $2, 0))`, source, key); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT `+bounceColumns+` FROM bounces WHERE source = $1 AND source_key = $2`, source, key)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, scanBounce)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return &found[0], nil
}

// bounceColumns are the columns scanBounce reads; a permanent failure
// matched to a delivery is the one kind that was applied.
const bounceColumns = `id, kind, message_id, recipient, action, status, diagnostic, delivery_id, received_at,
		(kind = 'permanent' AND delivery_id IS NOT NULL)`

func scanBounce(r pgx.CollectableRow) (notifier.Bounce, error) {
	var b notifier.Bounce
	err := r.Scan(&b.ID, &b.Kind, &b.MessageID, &b.Recipient, &b.Action, &b.Status, &b.Diagnostic, &b.DeliveryID, &b.ReceivedAt, &b.Applied)
	return b, err
}

func applyBounce(ctx context.Context, tx pgx.Tx, b *notifier.Bounce, deliveryID, contactID int64, status notifier.DeliveryStatus) error {
	detail := b.Status + " " + b.Diagnostic
	switch b.Kind {
	case notifier.BouncePermanent:
		if status == notifier.DeliveryBounced || status == notifier.DeliveryCancelled || status == notifier.DeliverySuppressed {
			return nil
		}
		b.Applied = true
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'bounced', finished_at = now(), smtp_reply = $2 WHERE id = $1`,
			deliveryID, "bounced: "+detail); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE contacts SET status = 'bounced', status_reason = $2, status_changed_at = now(), updated_at = now()
			WHERE id = $1 AND status = 'active'`, contactID, "hard bounce: "+detail); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO delivery_events (delivery_id, type, enhanced_code, detail) VALUES ($1, 'bounced', $2, $3)`,
			deliveryID, b.Status, b.Diagnostic)
		return err
	case notifier.BounceDelayed, notifier.BounceDelivered, notifier.BounceComplaint:
		_, err := tx.Exec(ctx, `INSERT INTO delivery_events (delivery_id, type, enhanced_code, detail) VALUES ($1, $2, $3, $4)`,
			deliveryID, "dsn_"+string(b.Kind), b.Status, b.Diagnostic)
		return err
	}
	return nil
}

// Bounces lists recorded bounces newest first.
func (s *Store) Bounces(ctx context.Context, kind notifier.BounceKind, p notifier.Page) ([]notifier.Bounce, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+bounceColumns+`
		FROM bounces WHERE ($1 = 0 OR id < $1) AND ($2 = '' OR kind = $2) ORDER BY id DESC LIMIT $3`, p.After, kind, p.Limit+1)
	if err != nil {
		return nil, wrap("list bounces", err)
	}
	list, err := pgx.CollectRows(rows, scanBounce)
	return list, wrap("list bounces", err)
}

// unreachableNotices are a notice's deliveries when none reached anyone and
// none is still pending.
var unreachableNotices = `
SELECT n.id, n.wave_id, o.ref, o.name,
       (SELECT json_agg(json_build_object('delivery_id', d.id, 'recipient', d.recipient, 'status', d.status, 'reason', d.smtp_reply) ORDER BY d.id)
          FROM deliveries d WHERE d.notice_id = n.id)
FROM notices n
JOIN organizations o ON o.id = n.organization_id
WHERE n.incident_id = $1 AND n.voided_at IS NULL AND n.id > $2
  AND EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id)
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id AND d.status IN (` + reachingStatuses + `))
ORDER BY n.id LIMIT $3`

// UnreachableNotices lists an incident's notices that reached nobody.
func (s *Store) UnreachableNotices(ctx context.Context, incidentID int64, p notifier.Page) ([]notifier.UnreachableNotice, error) {
	rows, err := s.pool.Query(ctx, unreachableNotices, incidentID, p.After, p.Limit+1)
	if err != nil {
		return nil, wrap("unreachable notices", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.UnreachableNotice, error) {
		var u notifier.UnreachableNotice
		err := r.Scan(&u.NoticeID, &u.WaveID, &u.OrgRef, &u.OrgName, &u.Contacts)
		return u, err
	})
	return list, wrap("unreachable notices", err)
}

// ResendNotice sends a notice again to its organization's contacts that it
// has not reached: active contacts added since (new deliveries) and failed,
// bounced or suppressed deliveries whose contact is active again (queued
// again, their history kept). The wave runs again if it had completed.
func (s *Store) ResendNotice(ctx context.Context, by notifier.Actor, noticeID int64, chunkSize int) (notifier.Resend, error) {
	res := notifier.Resend{NoticeID: noticeID}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var waveID int64
		var voided bool
		var waveStatus notifier.WaveStatus
		err := tx.QueryRow(ctx, `SELECT n.wave_id, n.voided_at IS NOT NULL, w.status FROM notices n JOIN waves w ON w.id = n.wave_id
			WHERE n.id = $1 FOR UPDATE OF n, w`, noticeID).Scan(&waveID, &voided, &waveStatus)
		if err != nil {
			return notFound(err, "no notice %d", noticeID)
		}
		if voided || waveStatus == notifier.WaveCancelled || waveStatus == notifier.WavePlanned || waveStatus == notifier.WaveApproved {
			return notifier.Errorf(notifier.CodeConflict, "notice %d cannot be re-sent: its wave is %s", noticeID, waveStatus)
		}
		rows, err := tx.Query(ctx, `
WITH fresh AS (
    INSERT INTO deliveries (id, message_id, reference_code, notice_id, wave_id, contact_id, recipient,
                            contact_name, contact_role, contact_locale, portal_access)
    OVERRIDING SYSTEM VALUE
    SELECT `+newDeliveryKeys+`, s.notice_id, s.wave_id, s.contact_id, s.email, s.name, s.role, s.locale, s.portal_access
    FROM (SELECT n.id AS notice_id, n.wave_id, c.id AS contact_id, c.email, c.name, c.role, c.locale, c.portal_access,
                 row_number() OVER (ORDER BY c.id) AS rn
          FROM notices n JOIN contacts c ON c.organization_id = n.organization_id
          WHERE n.id = $1 AND c.status = 'active' AND `+isRecipient+`
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id AND d.contact_id = c.id)
          ORDER BY rn) AS s
    `+newDeliveryKeysFrom+`
    RETURNING id
), again AS (
    UPDATE deliveries d SET status = 'queued', queued_at = now(), first_attempt_at = NULL, next_attempt_at = NULL,
           finished_at = NULL, smtp_reply = '',
           -- a re-send goes to the contact as it is now (its fixed name or locale)
           contact_name = c.name, contact_role = c.role, contact_locale = c.locale, portal_access = c.portal_access
    FROM contacts c
    WHERE d.notice_id = $1 AND c.id = d.contact_id AND c.status = 'active'
      AND d.status IN (`+undeliveredStatuses+`)
    RETURNING d.id
)
SELECT id FROM fresh UNION ALL SELECT id FROM again`, append([]any{noticeID, s.messageIDDomain}, newDeliveryKeyBlock(0).args()...)...)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		res.Queued = len(ids)
		if len(ids) == 0 {
			return notifier.Errorf(notifier.CodeConflict, "notice %d has no active contact left to send to: add or reactivate a contact first", noticeID)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO delivery_events (delivery_id, type, detail) SELECT unnest($1::bigint[]), 'resend', $2`,
			ids, "queued again by "+actorName(by)); err != nil {
			return err
		}
		// Retry jobs claim queued deliveries whatever their past attempts.
		chunks := chunkDeliveries(waveID, ids, chunkSize)
		for i := range chunks {
			chunks[i].Retry = true
		}
		if err := s.jobs.EnqueueChunksTx(ctx, tx, chunks); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE waves SET status = 'running', completed_at = NULL WHERE id = $1 AND status = 'completed'`, waveID); err != nil {
			return err
		}
		if res.Wave, err = s.wave(ctx, tx, waveID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"notice.resend", "notice", strconv.FormatInt(noticeID, 10), map[string]any{"queued": len(ids)}})
	})
	return res, wrap("resend notice", err)
}
