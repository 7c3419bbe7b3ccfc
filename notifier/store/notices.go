package store

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

const noticeColumns = `n.id, n.wave_id, n.incident_id, n.organization_id, o.ref, o.name, n.kind, n.parent_id,
	(SELECT count(*) FROM notice_items ni WHERE ni.notice_id = n.id), n.created_at, n.voided_at,
	n.acknowledged_at, coalesce((SELECT c.email FROM contacts c WHERE c.id = n.acknowledged_by), ''),
	n.reminders_sent, n.last_reminded_at, n.escalated_at`

func scanNotice(r pgx.CollectableRow) (notifier.Notice, error) {
	var n notifier.Notice
	err := r.Scan(&n.ID, &n.WaveID, &n.IncidentID, &n.OrganizationID, &n.OrgRef, &n.OrgName, &n.Kind, &n.ParentID, &n.Items,
		&n.CreatedAt, &n.VoidedAt, &n.AcknowledgedAt, &n.AcknowledgedBy, &n.RemindersSent, &n.LastRemindedAt, &n.EscalatedAt)
	return n, err
}

// Notices lists notices by id.
func (s *Store) Notices(ctx context.Context, f notifier.NoticeFilter, p notifier.Page) ([]notifier.Notice, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+noticeColumns+` FROM notices n JOIN organizations o ON o.id = n.organization_id
		WHERE n.id > $1 AND ($2 = 0 OR n.incident_id = $2) AND ($3 = 0 OR n.wave_id = $3) AND ($4 = 0 OR n.organization_id = $4)
		  AND ($6::bool IS NULL OR (n.parent_id IS NULL AND n.voided_at IS NULL AND (n.acknowledged_at IS NOT NULL) = $6::bool))
		  AND ($7 = '' OR n.kind = $7)
		ORDER BY n.id LIMIT $5`, p.After, f.IncidentID, f.WaveID, f.OrganizationID, p.Limit+1, f.Acknowledged, f.Kind)
	if err != nil {
		return nil, wrap("list notices", err)
	}
	list, err := pgx.CollectRows(rows, scanNotice)
	return list, wrap("list notices", err)
}

// Notice returns a notice with its items and deliveries.
func (s *Store) Notice(ctx context.Context, id int64) (notifier.NoticeDetail, error) {
	var d notifier.NoticeDetail
	rows, err := s.pool.Query(ctx, `SELECT `+noticeColumns+` FROM notices n JOIN organizations o ON o.id = n.organization_id WHERE n.id = $1`, id)
	if err != nil {
		return d, wrap("get notice", err)
	}
	if d.Notice, err = pgx.CollectExactlyOneRow(rows, scanNotice); err != nil {
		return d, wrap("get notice", notFound(err, "no notice %d", id))
	}
	rows, err = s.pool.Query(ctx, `SELECT `+itemColumns+` FROM notice_items ni JOIN exposure_items i ON i.id = ni.item_id
		JOIN organizations o ON o.id = i.organization_id WHERE ni.notice_id = $1 ORDER BY i.id`, id)
	if err != nil {
		return d, wrap("notice items", err)
	}
	if d.ItemList, err = pgx.CollectRows(rows, scanItem); err != nil {
		return d, wrap("notice items", err)
	}
	if d.Deliveries, err = s.Deliveries(ctx, notifier.DeliveryFilter{NoticeID: id}, notifier.Page{Limit: 10000}); err != nil {
		return d, err
	}
	rows, err = s.pool.Query(ctx, `SELECT `+noticeColumns+` FROM notices n JOIN organizations o ON o.id = n.organization_id
		WHERE n.parent_id = $1 ORDER BY n.id`, id)
	if err != nil {
		return d, wrap("notice chases", err)
	}
	d.Chases, err = pgx.CollectRows(rows, scanNotice)
	return d, wrap("notice chases", err)
}

// Report streams the proof-of-notification rows of an incident, one per
// delivery, ordered by organization and contact, to fn. A reminder or an
// escalation shows the acknowledgement of the notice it chases (its
// parent), where acknowledgements are recorded.
func (s *Store) Report(ctx context.Context, incidentID int64, fn func(notifier.ReportRow) error) error {
	rows, err := s.pool.Query(ctx, `
SELECT o.ref, o.name, d.recipient, c.name, c.role, n.wave_id, n.id, n.kind, d.id, d.template_version,
       coalesce(encode(d.message_sha256, 'hex'), ''), d.message_id, d.reference_code, d.status, d.smtp_reply,
       d.queued_at, d.sent_at,
       (SELECT coalesce(json_agg(json_build_object('at', e.at, 'type', e.type, 'smtp_code', e.smtp_code,
                                                   'enhanced_code', e.enhanced_code, 'reply', e.detail) ORDER BY e.id), '[]')
          FROM delivery_events e WHERE e.delivery_id = d.id),
       root.acknowledged_at, coalesce(ac.email, '')
FROM deliveries d
JOIN notices n ON n.id = d.notice_id
JOIN notices root ON root.id = coalesce(n.parent_id, n.id)
JOIN organizations o ON o.id = n.organization_id
JOIN contacts c ON c.id = d.contact_id
LEFT JOIN contacts ac ON ac.id = root.acknowledged_by
WHERE n.incident_id = $1
ORDER BY o.ref, lower(d.recipient), n.id, d.id`, incidentID)
	if err != nil {
		return wrap("report", err)
	}
	var r notifier.ReportRow
	var attempts []byte
	_, err = pgx.ForEachRow(rows, []any{&r.OrgRef, &r.OrgName, &r.ContactEmail, &r.ContactName, &r.ContactRole, &r.WaveID,
		&r.NoticeID, &r.NoticeKind, &r.DeliveryID, &r.TemplateVersion, &r.MessageSHA256, &r.MessageID, &r.Reference,
		&r.Status, &r.FinalReply, &r.QueuedAt, &r.SentAt, &attempts, &r.AcknowledgedAt, &r.AcknowledgedBy}, func() error {
		r.Attempts = nil
		if err := json.Unmarshal(attempts, &r.Attempts); err != nil {
			return err
		}
		return fn(r)
	})
	return wrap("report", err)
}
