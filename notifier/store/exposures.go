package store

import (
	"context"
	"fmt"
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
		_, err = tx.Exec(ctx, `UPDATE exposure_batches SET items_new = $2, items_duplicate = $3 WHERE id = $1`,
			res.BatchID, res.ItemsNew, res.ItemsDuplicate)
		return err
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
