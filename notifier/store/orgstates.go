package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// orgStateConds are the states of notifier.OrgStates, in its field order,
// built from the conditions waves and the unreachable list use so that the
// console counts what they act on.
var orgStateConds = []string{
	orgIs(wasTold, "a.id"),
	`EXISTS (SELECT 1 FROM notices n WHERE n.incident_id = @incident AND n.organization_id = a.id
	   AND n.voided_at IS NULL AND n.acknowledged_at IS NOT NULL)`,
	`EXISTS (SELECT 1 FROM notices n WHERE n.incident_id = @incident AND n.organization_id = a.id AND n.voided_at IS NULL
	   AND EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id)
	   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id AND d.status IN (` + reachingStatuses + `)))`,
	`NOT ` + orgIs(hasInitialNotice, "a.id"),
	orgIs(isUrgent, "a.id"),
}

// orgStatesQuery evaluates every state once per affected organization and
// aggregates: one count and the first @sample refs per state.
var orgStatesQuery = func() string {
	cols, aggs := "", ""
	for i, c := range orgStateConds {
		s := "s" + string(rune('0'+i))
		cols += ",\n  " + c + " AS " + s
		if i > 0 {
			aggs += ",\n  "
		}
		aggs += "count(*) FILTER (WHERE " + s + "), coalesce((array_agg(ref ORDER BY ref) FILTER (WHERE " + s + "))[1:@sample], '{}')"
	}
	return `
WITH affected AS (SELECT DISTINCT organization_id AS id FROM exposure_items WHERE incident_id = @incident),
states AS (SELECT o.ref` + cols + `
  FROM affected a JOIN organizations o ON o.id = a.id)
SELECT ` + aggs + `
FROM states`
}()

// OrganizationStates implements notifier.Store.
func (s *Store) OrganizationStates(ctx context.Context, incidentID int64, sample int) (notifier.OrgStates, error) {
	var st notifier.OrgStates
	fields := []*notifier.OrgState{&st.Notified, &st.Acknowledged, &st.Unreachable, &st.AwaitingInitial, &st.Urgent}
	var dest []any
	for _, f := range fields {
		dest = append(dest, &f.Count, &f.First)
	}
	err := s.pool.QueryRow(ctx, orgStatesQuery, pgx.NamedArgs{"incident": incidentID, "sample": sample}).Scan(dest...)
	return st, wrap("organization states", err)
}
