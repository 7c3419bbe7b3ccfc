package store

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// What the portal shows, always of one organization ($1 in every query
// below, compared with the rows' own organization_id): its notices
// (initial and follow-up, not void), the incidents they are about, and the
// exposure items they cover. Anything else is not found, whatever id is
// asked for.

// portalIncidentQuery lists the incidents the organization has notices
// about; $2, when not 0, picks one.
const portalIncidentQuery = `
SELECT inc.id, inc.title, inc.summary, min(n.created_at), count(*),
       (SELECT count(*) FROM notice_items ni JOIN notices n2 ON n2.id = ni.notice_id
         WHERE n2.organization_id = $1 AND n2.incident_id = inc.id AND n2.voided_at IS NULL)
FROM notices n
JOIN incidents inc ON inc.id = n.incident_id
WHERE n.organization_id = $1 AND n.parent_id IS NULL AND n.voided_at IS NULL
  AND ($2::bigint = 0 OR inc.id = $2::bigint)
GROUP BY inc.id
ORDER BY min(n.created_at) DESC, inc.id DESC`

func scanPortalIncident(r pgx.CollectableRow) (notifier.PortalIncident, error) {
	var i notifier.PortalIncident
	err := r.Scan(&i.ID, &i.Title, &i.Summary, &i.FirstNotifiedAt, &i.Notices, &i.Items)
	return i, err
}

// PortalIncidents implements notifier.PortalStore.
func (s *Store) PortalIncidents(ctx context.Context, orgID int64) ([]notifier.PortalIncident, error) {
	rows, err := s.pool.Query(ctx, portalIncidentQuery, orgID, 0)
	if err != nil {
		return nil, wrap("portal incidents", err)
	}
	list, err := pgx.CollectRows(rows, scanPortalIncident)
	return list, wrap("portal incidents", err)
}

// PortalIncident implements notifier.PortalStore.
func (s *Store) PortalIncident(ctx context.Context, orgID, incidentID int64) (notifier.PortalIncident, error) {
	rows, err := s.pool.Query(ctx, portalIncidentQuery, orgID, incidentID)
	if err != nil {
		return notifier.PortalIncident{}, wrap("portal incident", err)
	}
	i, err := pgx.CollectExactlyOneRow(rows, scanPortalIncident)
	return i, wrap("portal incident", notFound(err, "no such incident"))
}

// portalNoticeQuery lists the organization's notices; $2 (an incident)
// and $3 (a notice), when not 0, narrow it.
const portalNoticeQuery = `
SELECT n.id, n.incident_id, inc.title, n.kind,
       coalesce((SELECT min(d.sent_at) FROM deliveries d WHERE d.notice_id = n.id), n.created_at),
       (SELECT count(*) FROM notice_items ni WHERE ni.notice_id = n.id),
       n.acknowledged_at, coalesce(ac.email, '')
FROM notices n
JOIN incidents inc ON inc.id = n.incident_id
LEFT JOIN contacts ac ON ac.id = n.acknowledged_by
WHERE n.organization_id = $1 AND n.parent_id IS NULL AND n.voided_at IS NULL
  AND ($2::bigint = 0 OR n.incident_id = $2::bigint) AND ($3::bigint = 0 OR n.id = $3::bigint)
ORDER BY n.id DESC`

func scanPortalNotice(r pgx.CollectableRow) (notifier.PortalNotice, error) {
	var n notifier.PortalNotice
	err := r.Scan(&n.ID, &n.IncidentID, &n.IncidentTitle, &n.Kind, &n.SentAt, &n.Items, &n.AcknowledgedAt, &n.AcknowledgedBy)
	return n, err
}

// PortalNotices implements notifier.PortalStore.
func (s *Store) PortalNotices(ctx context.Context, orgID, incidentID int64) ([]notifier.PortalNotice, error) {
	rows, err := s.pool.Query(ctx, portalNoticeQuery, orgID, incidentID, 0)
	if err != nil {
		return nil, wrap("portal notices", err)
	}
	list, err := pgx.CollectRows(rows, scanPortalNotice)
	return list, wrap("portal notices", err)
}

// PortalNotice implements notifier.PortalStore.
func (s *Store) PortalNotice(ctx context.Context, orgID, noticeID int64) (notifier.PortalNotice, error) {
	return portalNotice(ctx, s.pool, orgID, noticeID)
}

func portalNotice(ctx context.Context, q querier, orgID, noticeID int64) (notifier.PortalNotice, error) {
	if noticeID <= 0 {
		return notifier.PortalNotice{}, notifier.Errorf(notifier.CodeNotFound, "no such notice")
	}
	rows, err := q.Query(ctx, portalNoticeQuery, orgID, 0, noticeID)
	if err != nil {
		return notifier.PortalNotice{}, wrap("portal notice", err)
	}
	n, err := pgx.CollectExactlyOneRow(rows, scanPortalNotice)
	return n, wrap("portal notice", notFound(err, "no such notice"))
}

// portalItemsFrom is the organization's items covered by its notices,
// with the filters of notifier.PortalItemFilter as $2..$5.
const portalItemsFrom = `
FROM exposure_items i
JOIN notice_items ni ON ni.item_id = i.id
JOIN notices n ON n.id = ni.notice_id
JOIN incidents inc ON inc.id = i.incident_id
WHERE i.organization_id = $1 AND n.organization_id = $1 AND n.voided_at IS NULL
  AND ($2::bigint = 0 OR i.incident_id = $2::bigint) AND ($3::bigint = 0 OR i.batch_id = $3::bigint)
  AND ($4::text = '' OR i.kind = $4::text) AND ($5::text = '' OR $5::text = ANY(i.secret_types))`

const portalItemColumns = `i.id, i.incident_id, inc.title, i.batch_id, n.id, i.item_ref, i.kind, i.occurred_at, i.subject, i.summary, i.secret_types`

func scanPortalItem(r pgx.CollectableRow) (notifier.PortalItem, error) {
	var it notifier.PortalItem
	err := r.Scan(&it.ID, &it.IncidentID, &it.IncidentTitle, &it.BatchID, &it.NoticeID, &it.ItemRef, &it.Kind, &it.OccurredAt,
		&it.Subject, &it.Summary, &it.SecretTypes)
	return it, err
}

func filterArgs(orgID int64, f notifier.PortalItemFilter) []any {
	return []any{orgID, f.IncidentID, f.BatchID, f.Kind, f.SecretType}
}

// PortalItems implements notifier.PortalStore: items after p.After in id
// order, p.Limit+1 of them (the extra one says there is a next page).
func (s *Store) PortalItems(ctx context.Context, orgID int64, f notifier.PortalItemFilter, p notifier.Page) ([]notifier.PortalItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+portalItemColumns+portalItemsFrom+` AND i.id > $6 ORDER BY i.id LIMIT $7`,
		append(filterArgs(orgID, f), p.After, p.Limit+1)...)
	if err != nil {
		return nil, wrap("portal items", err)
	}
	list, err := pgx.CollectRows(rows, scanPortalItem)
	return list, wrap("portal items", err)
}

// PortalItem implements notifier.PortalStore.
func (s *Store) PortalItem(ctx context.Context, orgID, itemID int64) (notifier.PortalItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+portalItemColumns+portalItemsFrom+` AND i.id = $6`,
		append(filterArgs(orgID, notifier.PortalItemFilter{}), itemID)...)
	if err != nil {
		return notifier.PortalItem{}, wrap("portal item", err)
	}
	it, err := pgx.CollectExactlyOneRow(rows, scanPortalItem)
	return it, wrap("portal item", notFound(err, "no such item"))
}

// PortalNoticeItems implements notifier.PortalStore.
func (s *Store) PortalNoticeItems(ctx context.Context, orgID, noticeID int64, limit int) ([]notifier.PortalItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+portalItemColumns+portalItemsFrom+` AND n.id = $6 ORDER BY i.id LIMIT $7`,
		append(filterArgs(orgID, notifier.PortalItemFilter{}), noticeID, limit)...)
	if err != nil {
		return nil, wrap("portal notice items", err)
	}
	list, err := pgx.CollectRows(rows, scanPortalItem)
	return list, wrap("portal notice items", err)
}

// EachPortalItem implements notifier.PortalStore. The download is written
// to a client as it goes, and a client may read slowly or not at all: so
// the items are read a page at a time (by id, after the last one seen),
// each page whole with its connection back in the pool before fn sees an
// item, and no connection waits on the client.
func (s *Store) EachPortalItem(ctx context.Context, orgID int64, f notifier.PortalItemFilter, fn func(notifier.PortalItem) error) error {
	var after int64
	for {
		rows, err := s.pool.Query(ctx, `SELECT `+portalItemColumns+portalItemsFrom+` AND i.id > $6 ORDER BY i.id LIMIT $7`,
			append(filterArgs(orgID, f), after, s.exportPage)...)
		if err != nil {
			return wrap("portal items export", err)
		}
		page, err := pgx.CollectRows(rows, scanPortalItem)
		if err != nil {
			return wrap("portal items export", err)
		}
		for _, it := range page {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(page) < s.exportPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// PortalBatches implements notifier.PortalStore.
func (s *Store) PortalBatches(ctx context.Context, orgID, incidentID int64) ([]notifier.PortalBatch, error) {
	rows, err := s.pool.Query(ctx, `SELECT b.id, b.incident_id, bi.title, b.discovered_at, count(*)
		FROM exposure_batches b
		JOIN (SELECT i.batch_id`+portalItemsFrom+`) AS x ON x.batch_id = b.id
		JOIN incidents bi ON bi.id = b.incident_id
		GROUP BY b.id, bi.title ORDER BY b.id`, orgID, incidentID, 0, "", "")
	if err != nil {
		return nil, wrap("portal batches", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.PortalBatch, error) {
		var b notifier.PortalBatch
		err := r.Scan(&b.ID, &b.IncidentID, &b.IncidentTitle, &b.DiscoveredAt, &b.Items)
		return b, err
	})
	return list, wrap("portal batches", err)
}

// PortalSecretTypes implements notifier.PortalStore.
func (s *Store) PortalSecretTypes(ctx context.Context, orgID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT unnest(i.secret_types) AS st`+portalItemsFrom+` ORDER BY st`, orgID, 0, 0, "", "")
	if err != nil {
		return nil, wrap("portal secret types", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return list, wrap("portal secret types", err)
}

// CheckPortalFilter implements notifier.PortalStore.
func (s *Store) CheckPortalFilter(ctx context.Context, orgID int64, f notifier.PortalItemFilter) error {
	var ok bool
	err := s.pool.QueryRow(ctx, `
SELECT ($2::bigint = 0 OR EXISTS (SELECT 1 FROM notices n WHERE n.organization_id = $1 AND n.incident_id = $2::bigint
                                    AND n.parent_id IS NULL AND n.voided_at IS NULL))
   AND ($3::bigint = 0 OR EXISTS (SELECT 1 FROM exposure_items i JOIN notice_items ni ON ni.item_id = i.id
                                    JOIN notices n ON n.id = ni.notice_id
                                  WHERE i.organization_id = $1 AND n.organization_id = $1 AND n.voided_at IS NULL
                                    AND i.batch_id = $3::bigint))`, orgID, f.IncidentID, f.BatchID).Scan(&ok)
	if err == nil && !ok {
		err = notifier.Errorf(notifier.CodeNotFound, "no such incident or batch")
	}
	return wrap("portal filter", err)
}

// AcknowledgeInPortal implements notifier.PortalStore: under the notice's
// row lock, the first acknowledgement is recorded with the signed-in
// contact, on the contact's delivery's timeline if it had one, and
// audited; a later one only returns the state.
func (s *Store) AcknowledgeInPortal(ctx context.Context, sess notifier.PortalSession, noticeID int64, req notifier.AckRequest) (notifier.PortalNotice, bool, error) {
	var n notifier.PortalNotice
	first := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM notices WHERE id = $1 AND organization_id = $2 AND parent_id IS NULL AND voided_at IS NULL
			FOR UPDATE`, noticeID, sess.OrganizationID).Scan(&id)
		if err != nil {
			return notFound(err, "no such notice")
		}
		tag, err := tx.Exec(ctx, `UPDATE notices SET acknowledged_at = now(), acknowledged_by = $3, ack_ip = $4, ack_user_agent = $5
			WHERE id = $1 AND organization_id = $2 AND acknowledged_at IS NULL`, noticeID, sess.OrganizationID, sess.ContactID, req.IP, req.UserAgent)
		if err != nil {
			return err
		}
		if n, err = portalNotice(ctx, tx, sess.OrganizationID, noticeID); err != nil || tag.RowsAffected() == 0 {
			return err // acknowledged before: the first one stands
		}
		first = true
		if _, err := tx.Exec(ctx, `INSERT INTO delivery_events (delivery_id, type, detail)
			SELECT d.id, 'acknowledged', 'in the portal from ' || $3 FROM deliveries d WHERE d.notice_id = $1 AND d.contact_id = $2`,
			noticeID, sess.ContactID, req.IP); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, sess.Actor(), auditEvent{"notice.acknowledge", "notice", strconv.FormatInt(noticeID, 10),
			map[string]any{"via": "portal", "organization_id": sess.OrganizationID, "contact_id": sess.ContactID,
				"ip": req.IP, "user_agent": req.UserAgent}})
	})
	return n, first, wrap("acknowledge in portal", err)
}
