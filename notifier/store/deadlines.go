package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// deadlineParties are the organizations with exposure items in incident
// $1, each with its first sent delivery of the incident (any notice kind:
// the first that reached it) and that delivery's wave.
const deadlineParties = `
SELECT o.id, o.ref, o.name, o.jurisdiction, o.notify_within_hours, f.sent_at, f.wave_id
FROM organizations o
LEFT JOIN LATERAL (
    SELECT d.sent_at, n.wave_id FROM notices n JOIN deliveries d ON d.notice_id = n.id
    WHERE n.incident_id = $1 AND n.organization_id = o.id AND d.sent_at IS NOT NULL
    ORDER BY d.sent_at, d.id LIMIT 1) AS f ON true
WHERE o.id > $2 AND EXISTS (SELECT 1 FROM exposure_items i WHERE i.incident_id = $1 AND i.organization_id = o.id)
ORDER BY o.id LIMIT $3`

// DeadlineParties lists the organizations an incident affects, by id, with
// when each was first sent a notice.
func (s *Store) DeadlineParties(ctx context.Context, incidentID int64, p notifier.Page) ([]notifier.DeadlineParty, error) {
	rows, err := s.pool.Query(ctx, deadlineParties, incidentID, p.After, p.Limit+1)
	if err != nil {
		return nil, wrap("deadline board", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.DeadlineParty, error) {
		var d notifier.DeadlineParty
		err := r.Scan(&d.OrganizationID, &d.OrgRef, &d.OrgName, &d.Jurisdiction, &d.NotifyWithinHours, &d.NotifiedAt, &d.WaveID)
		if d.NotifiedAt != nil {
			*d.NotifiedAt = d.NotifiedAt.UTC()
		}
		return d, err
	})
	return list, wrap("deadline board", err)
}
