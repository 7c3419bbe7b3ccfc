package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// insertItems stores the batch's items; an item_ref already known for the
// incident and organization is skipped (ON CONFLICT), which is how a re-upload
// never double counts. RETURNING lists only the new ones.
const insertItems = `
INSERT INTO exposure_items (incident_id, organization_id, batch_id, item_ref, kind, occurred_at, subject, summary, secret_types)
SELECT $1, u.org, $2, u.ref, u.kind, u.occurred, u.subject, u.summary,
       CASE WHEN u.secrets = '' THEN '{}' ELSE string_to_array(u.secrets, ';') END
FROM unnest($3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::text[])
     AS u(org, ref, kind, occurred, subject, summary, secrets)
ON CONFLICT (incident_id, organization_id, item_ref) DO NOTHING
RETURNING id`

// ImportExposures stores an exposure batch in one transaction. Rows naming
// an unknown org_ref reject the whole batch.
func (s *Store) ImportExposures(ctx context.Context, by notifier.Actor, incidentID int64, rows []notifier.ExposureRow) (notifier.ExposureImportResult, error) {
	var res notifier.ExposureImportResult
	orgIDs, err := s.organizationIDs(ctx, rows)
	if err != nil {
		return res, err
	}
	var bad []notifier.RowError
	for _, r := range rows {
		if _, ok := orgIDs[r.OrgRef]; !ok {
			bad = append(bad, notifier.RowError{Line: r.Line, Field: "org_ref", Message: fmt.Sprintf("no organization %q; import it first", r.OrgRef)})
		}
	}
	if len(bad) > 0 {
		return res, notifier.ImportRejected(bad)
	}

	// A repeat of the same item within the file counts as a duplicate, like
	// a repeat across batches: the first row wins.
	seen := map[string]bool{}
	var orgs []int64
	var refs, kinds, subjects, summaries, secrets []string
	var occurred []*time.Time
	for _, r := range rows {
		key := r.OrgRef + "\x00" + r.ItemRef
		if seen[key] {
			continue
		}
		seen[key] = true
		orgs, refs, kinds = append(orgs, orgIDs[r.OrgRef]), append(refs, r.ItemRef), append(kinds, r.Kind)
		occurred, subjects, summaries = append(occurred, r.OccurredAt), append(subjects, r.Subject), append(summaries, r.Summary)
		secrets = append(secrets, strings.Join(r.SecretTypes, ";"))
	}
	res.Organizations = countDistinct(orgs)

	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO exposure_batches (incident_id, items_new, items_duplicate, created_by)
			VALUES ($1, 0, 0, $2) RETURNING id`, incidentID, nullableKey(by)).Scan(&res.BatchID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, insertItems, incidentID, res.BatchID, orgs, refs, kinds, occurred, subjects, summaries, secrets)
		if err != nil {
			return err
		}
		res.ItemsNew = int(tag.RowsAffected())
		res.ItemsDuplicate = len(rows) - res.ItemsNew
		if _, err = tx.Exec(ctx, `UPDATE exposure_batches SET items_new = $2, items_duplicate = $3 WHERE id = $1`,
			res.BatchID, res.ItemsNew, res.ItemsDuplicate); err != nil {
			return err
		}
		if err := s.scheduleFollowUps(ctx, tx, incidentID, res.BatchID, &res); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"exposures.import", "batch", strconv.FormatInt(res.BatchID, 10),
			map[string]any{"incident_id": incidentID, "result": res}})
	})
	return res, wrap("import exposures", err)
}

// organizationIDs resolves the org_refs named by rows.
func (s *Store) organizationIDs(ctx context.Context, rows []notifier.ExposureRow) (map[string]int64, error) {
	refSet := map[string]bool{}
	var refs []string
	for _, r := range rows {
		if !refSet[r.OrgRef] {
			refSet[r.OrgRef] = true
			refs = append(refs, r.OrgRef)
		}
	}
	dbRows, err := s.pool.Query(ctx, `SELECT ref, id FROM organizations WHERE ref = ANY($1)`, refs)
	if err != nil {
		return nil, wrap("resolve organizations", err)
	}
	ids := map[string]int64{}
	var ref string
	var id int64
	_, err = pgx.ForEachRow(dbRows, []any{&ref, &id}, func() error {
		ids[ref] = id
		return nil
	})
	return ids, wrap("resolve organizations", err)
}

func countDistinct(ids []int64) int {
	m := map[int64]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return len(m)
}

const batchColumns = `id, incident_id, items_new, items_duplicate, discovered_at, created_by`

func scanBatch(r pgx.CollectableRow) (notifier.Batch, error) {
	var b notifier.Batch
	err := r.Scan(&b.ID, &b.IncidentID, &b.ItemsNew, &b.ItemsDuplicate, &b.DiscoveredAt, &b.CreatedBy)
	return b, err
}

// Batches lists an incident's exposure batches, newest first.
func (s *Store) Batches(ctx context.Context, incidentID int64, p notifier.Page) ([]notifier.Batch, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+batchColumns+` FROM exposure_batches
		WHERE incident_id = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, incidentID, p.After, p.Limit+1)
	if err != nil {
		return nil, wrap("list batches", err)
	}
	list, err := pgx.CollectRows(rows, scanBatch)
	return list, wrap("list batches", err)
}

// Batch returns one exposure batch.
func (s *Store) Batch(ctx context.Context, id int64) (notifier.Batch, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+batchColumns+` FROM exposure_batches WHERE id = $1`, id)
	if err != nil {
		return notifier.Batch{}, wrap("get batch", err)
	}
	b, err := pgx.CollectExactlyOneRow(rows, scanBatch)
	return b, wrap("get batch", notFound(err, "no exposure batch %d", id))
}

const itemColumns = `i.id, i.incident_id, o.ref, i.batch_id, i.item_ref, i.kind, i.occurred_at, i.subject, i.summary,
	i.secret_types, (SELECT ni.notice_id FROM notice_items ni WHERE ni.item_id = i.id)`

func scanItem(r pgx.CollectableRow) (notifier.Item, error) {
	var it notifier.Item
	err := r.Scan(&it.ID, &it.IncidentID, &it.OrgRef, &it.BatchID, &it.ItemRef, &it.Kind, &it.OccurredAt, &it.Subject,
		&it.Summary, &it.SecretTypes, &it.NoticeID)
	return it, err
}

// Items lists exposure items by id. Every filter narrows; IncidentID or
// OrganizationID scope the list (the portal always sets OrganizationID).
func (s *Store) Items(ctx context.Context, f notifier.ItemFilter, p notifier.Page) ([]notifier.Item, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+itemColumns+` FROM exposure_items i JOIN organizations o ON o.id = i.organization_id
		WHERE i.id > $1 AND ($2 = 0 OR i.incident_id = $2) AND ($3 = 0 OR i.organization_id = $3)
		  AND ($4 = 0 OR i.batch_id = $4) AND ($5 = '' OR i.kind = $5) AND ($6 = '' OR $6 = ANY(i.secret_types))
		ORDER BY i.id LIMIT $7`, p.After, f.IncidentID, f.OrganizationID, f.BatchID, f.Kind, f.SecretType, p.Limit+1)
	if err != nil {
		return nil, wrap("list items", err)
	}
	list, err := pgx.CollectRows(rows, scanItem)
	return list, wrap("list items", err)
}
