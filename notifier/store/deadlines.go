package store

import (
	"context"
	"encoding/json"

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

// deadlineStates reads, for each incident whose clock runs, its clock and
// its affected organizations without a sent delivery, grouped by what the
// obligations look at (a few rows however many organizations).
const deadlineStates = `
SELECT ` + incidentColumns + `, now(),
    (SELECT coalesce(json_agg(json_build_object('jurisdiction', g.jurisdiction, 'notify_within_hours', g.notify_within_hours)), '[]')
       FROM (SELECT DISTINCT o.jurisdiction, o.notify_within_hours FROM organizations o
             WHERE EXISTS (SELECT 1 FROM exposure_items x WHERE x.incident_id = i.id AND x.organization_id = o.id)
               AND NOT EXISTS (SELECT 1 FROM notices n JOIN deliveries d ON d.notice_id = n.id
                               WHERE n.incident_id = i.id AND n.organization_id = o.id AND d.sent_at IS NOT NULL)) AS g)
FROM incidents i WHERE i.aware_at IS NOT NULL`

// DeadlineStates reads what the deadline metric needs, in one query.
func (s *Store) DeadlineStates(ctx context.Context) ([]notifier.IncidentDeadlineState, error) {
	rows, err := s.pool.Query(ctx, deadlineStates)
	if err != nil {
		return nil, wrap("deadline states", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.IncidentDeadlineState, error) {
		var st notifier.IncidentDeadlineState
		var groups []byte
		inc, err := scanIncident(rowWithExtra{r, []any{&st.Now, &groups}})
		if err != nil {
			return st, err
		}
		st.Slug, st.Clock = inc.Slug, inc.Clock
		return st, json.Unmarshal(groups, &st.Unnotified)
	})
	return list, wrap("deadline states", err)
}

// rowWithExtra scans an incident's columns and then extra ones into
// extra, so that scanIncident stays the one reader of incident rows.
type rowWithExtra struct {
	row   pgx.Row
	extra []any
}

func (r rowWithExtra) Scan(dest ...any) error { return r.row.Scan(append(dest, r.extra...)...) }
