package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

const incidentColumns = `id, slug, title, summary, created_at`

func scanIncident(row pgx.Row) (notifier.Incident, error) {
	var i notifier.Incident
	err := row.Scan(&i.ID, &i.Slug, &i.Title, &i.Summary, &i.CreatedAt)
	return i, err
}

// CreateIncident inserts an incident; a taken slug is a conflict.
func (s *Store) CreateIncident(ctx context.Context, by notifier.Actor, in notifier.NewIncident) (notifier.Incident, error) {
	const q = `INSERT INTO incidents (slug, title, summary, created_by) VALUES ($1, $2, $3, $4) RETURNING ` + incidentColumns
	inc, err := scanIncident(s.pool.QueryRow(ctx, q, in.Slug, in.Title, in.Summary, nullableKey(by)))
	err = constraintError(err, "incidents_slug_key", "an incident with slug "+in.Slug+" already exists")
	return inc, wrap("create incident", err)
}

// Incident finds an incident by numeric id or by slug.
func (s *Store) Incident(ctx context.Context, idOrSlug string) (notifier.Incident, error) {
	const q = `SELECT ` + incidentColumns + ` FROM incidents WHERE id = $1 OR slug = $2`
	id, _ := notifier.ParseInt(idOrSlug)
	inc, err := scanIncident(s.pool.QueryRow(ctx, q, id, idOrSlug))
	return inc, wrap("get incident", notFound(err, "no incident %q", idOrSlug))
}

// nullableKey is the actor's key id, or NULL for local actions.
func nullableKey(by notifier.Actor) *int64 {
	if by.KeyID == 0 {
		return nil
	}
	return &by.KeyID
}
