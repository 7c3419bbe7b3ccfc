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
	n.reminders_sent, n.last_reminded_at, n.escalated_at, n.disclosure`

func scanNotice(r pgx.CollectableRow) (notifier.Notice, error) {
	var n notifier.Notice
	err := r.Scan(&n.ID, &n.WaveID, &n.IncidentID, &n.OrganizationID, &n.OrgRef, &n.OrgName, &n.Kind, &n.ParentID, &n.Items,
		&n.CreatedAt, &n.VoidedAt, &n.AcknowledgedAt, &n.AcknowledgedBy, &n.RemindersSent, &n.LastRemindedAt, &n.EscalatedAt,
		&n.Disclosure)
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

// reportFrom is the proof of notification's rows, one per delivery of
// the incident $1, and reportOrder their order: by organization and
// contact. A reminder or an escalation shows the acknowledgement of the
// notice it chases (its parent), where acknowledgements are recorded.
const (
	reportFrom = `
FROM deliveries d
JOIN notices n ON n.id = d.notice_id
JOIN notices root ON root.id = coalesce(n.parent_id, n.id)
JOIN organizations o ON o.id = n.organization_id
JOIN contacts c ON c.id = d.contact_id
LEFT JOIN contacts ac ON ac.id = root.acknowledged_by`
	reportOrder = `
ORDER BY o.ref, lower(d.recipient), n.id, d.id`
)

// Report hands the proof-of-notification rows of an incident to fn, one
// per delivery, in reportOrder. It is written to a client as it goes, and
// a client may read slowly or not at all: so the rows are read a page at
// a time, each page whole with its connection back in the pool before fn
// sees a row, and no connection waits on the client. The order is fixed
// first (the ids alone, 8 bytes a delivery) and the pages are fetched by
// id, which costs one index lookup a row where a keyset over the order's
// four columns would sort the incident again for every page. Each row is
// as it was when its page was read.
func (s *Store) Report(ctx context.Context, incidentID int64, fn func(notifier.ReportRow) error) error {
	rows, err := s.pool.Query(ctx, `SELECT d.id`+reportFrom+` WHERE n.incident_id = $1`+reportOrder, incidentID)
	if err != nil {
		return wrap("report", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return wrap("report", err)
	}
	for len(ids) > 0 {
		page := ids[:min(s.exportPage, len(ids))]
		ids = ids[len(page):]
		list, err := s.reportPage(ctx, page)
		if err != nil {
			return err
		}
		for _, r := range list {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// reportPage reads the report rows of the deliveries ids, in reportOrder.
func (s *Store) reportPage(ctx context.Context, ids []int64) ([]notifier.ReportRow, error) {
	rows, err := s.pool.Query(ctx, `
SELECT o.ref, o.name, d.recipient, c.name, c.role, n.wave_id, n.id, n.kind, n.disclosure, d.id, d.template_version,
       coalesce(encode(d.message_sha256, 'hex'), ''), d.message_id, d.reference_code, d.status, d.smtp_reply,
       d.queued_at, d.sent_at,
       (SELECT coalesce(json_agg(json_build_object('at', e.at, 'type', e.type, 'smtp_code', e.smtp_code,
                                                   'enhanced_code', e.enhanced_code, 'reply', e.detail) ORDER BY e.id), '[]')
          FROM delivery_events e WHERE e.delivery_id = d.id),
       root.acknowledged_at, coalesce(ac.email, '')`+reportFrom+`
WHERE d.id = ANY($1)`+reportOrder, ids)
	if err != nil {
		return nil, wrap("report", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (notifier.ReportRow, error) {
		var r notifier.ReportRow
		var attempts []byte
		if err := row.Scan(&r.OrgRef, &r.OrgName, &r.ContactEmail, &r.ContactName, &r.ContactRole, &r.WaveID,
			&r.NoticeID, &r.NoticeKind, &r.Disclosure, &r.DeliveryID, &r.TemplateVersion, &r.MessageSHA256, &r.MessageID, &r.Reference,
			&r.Status, &r.FinalReply, &r.QueuedAt, &r.SentAt, &attempts, &r.AcknowledgedAt, &r.AcknowledgedBy); err != nil {
			return r, err
		}
		return r, json.Unmarshal(attempts, &r.Attempts)
	})
	return list, wrap("report", err)
}
