package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

const incidentColumns = `id, slug, title, summary, policy, created_at, aware_at, materiality_determined_at, obligations, deadline_targets`

func scanIncident(row pgx.Row) (notifier.Incident, error) {
	var i notifier.Incident
	var policy, targets []byte
	c := &i.Clock
	if err := row.Scan(&i.ID, &i.Slug, &i.Title, &i.Summary, &policy, &i.CreatedAt,
		&c.AwareAt, &c.MaterialityDeterminedAt, &c.Obligations, &targets); err != nil {
		return i, err
	}
	if err := json.Unmarshal(targets, &c.DeadlineTargets); err != nil {
		return i, err
	}
	for _, t := range []*time.Time{c.AwareAt, c.MaterialityDeterminedAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return i, unmarshalPolicy(policy, &i)
}

// unmarshalPolicy reads a stored policy; fields an older policy lacks keep
// their defaults.
func unmarshalPolicy(b []byte, i *notifier.Incident) error {
	i.Policy = notifier.DefaultPolicy()
	return json.Unmarshal(b, &i.Policy)
}

// CreateIncident inserts an incident; a taken slug is a conflict.
func (s *Store) CreateIncident(ctx context.Context, by notifier.Actor, in notifier.NewIncident) (notifier.Incident, error) {
	const q = `INSERT INTO incidents (slug, title, summary, policy, created_by, aware_at, materiality_determined_at, obligations, deadline_targets)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ` + incidentColumns
	policy, err := json.Marshal(notifier.DefaultPolicy())
	if err != nil {
		return notifier.Incident{}, err
	}
	var clock notifier.IncidentClock
	if in.Clock != nil {
		clock = *in.Clock
	}
	targets, err := json.Marshal(clock.DeadlineTargets)
	if err != nil {
		return notifier.Incident{}, err
	}
	var inc notifier.Incident
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		row := tx.QueryRow(ctx, q, in.Slug, in.Title, in.Summary, policy, nullableKey(by),
			clock.AwareAt, clock.MaterialityDeterminedAt, nonNilStrings(clock.Obligations), targets)
		if inc, err = scanIncident(row); err != nil {
			return constraintError(err, "incidents_slug_key", "an incident with slug "+in.Slug+" already exists")
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"incident.create", "incident", inc.Slug, map[string]any{"id": inc.ID, "title": inc.Title, "clock": inc.Clock}})
	})
	return inc, wrap("create incident", err)
}

// Incident finds an incident by numeric id or by slug.
func (s *Store) Incident(ctx context.Context, idOrSlug string) (notifier.Incident, error) {
	// A slug may be all digits: an exact slug wins over an id.
	const q = `SELECT ` + incidentColumns + ` FROM incidents WHERE id = $1 OR slug = $2 ORDER BY (slug = $2) DESC LIMIT 1`
	id, _ := notifier.ParseInt(idOrSlug)
	inc, err := scanIncident(s.pool.QueryRow(ctx, q, id, idOrSlug))
	return inc, wrap("get incident", notFound(err, "no incident %q", idOrSlug))
}

// Incidents lists incidents newest first.
func (s *Store) Incidents(ctx context.Context, p notifier.Page) ([]notifier.Incident, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2`, p.After, p.Limit+1)
	if err != nil {
		return nil, wrap("list incidents", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.Incident, error) { return scanIncident(r) })
	return list, wrap("list incidents", err)
}

// UpdatePolicy applies a policy patch to an incident.
func (s *Store) UpdatePolicy(ctx context.Context, by notifier.Actor, incidentID int64, patch notifier.PolicyPatch) (notifier.Incident, error) {
	var inc notifier.Incident
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanIncident(tx.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1 FOR UPDATE`, incidentID))
		if err != nil {
			return notFound(err, "no incident %d", incidentID)
		}
		next := patch.Apply(cur.Policy)
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if inc, err = scanIncident(tx.QueryRow(ctx, `UPDATE incidents SET policy = $2 WHERE id = $1 RETURNING `+incidentColumns, incidentID, b)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"incident.policy", "incident", inc.Slug, map[string]any{"before": cur.Policy, "after": next}})
	})
	return inc, wrap("update policy", err)
}

// UpdateClock replaces an incident's deadline clock; the audit entry
// keeps the clock before and after.
func (s *Store) UpdateClock(ctx context.Context, by notifier.Actor, incidentID int64, c notifier.IncidentClock) (notifier.Incident, error) {
	const q = `UPDATE incidents SET aware_at = $2, materiality_determined_at = $3, obligations = $4, deadline_targets = $5
		WHERE id = $1 RETURNING ` + incidentColumns
	targets, err := json.Marshal(c.DeadlineTargets)
	if err != nil {
		return notifier.Incident{}, err
	}
	var inc notifier.Incident
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanIncident(tx.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1 FOR UPDATE`, incidentID))
		if err != nil {
			return notFound(err, "no incident %d", incidentID)
		}
		if inc, err = scanIncident(tx.QueryRow(ctx, q, incidentID, c.AwareAt, c.MaterialityDeterminedAt, nonNilStrings(c.Obligations), targets)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"incident.clock", "incident", inc.Slug, map[string]any{"before": cur.Clock, "after": inc.Clock}})
	})
	return inc, wrap("update deadline clock", err)
}

// nullableKey is the actor's key id, or NULL for local actions.
func nullableKey(by notifier.Actor) *int64 {
	if by.KeyID == 0 {
		return nil
	}
	return &by.KeyID
}
