package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// An exposure file is copied as it is read into a temporary table, which
// goes with the transaction; the checks and the insert then run in the
// database, so neither the file nor its rows are ever held in memory.
const createImportTable = `
CREATE TEMPORARY TABLE import_exposures (
    line         int NOT NULL,
    org_ref      text NOT NULL,
    item_ref     text NOT NULL,
    kind         text NOT NULL,
    occurred_at  timestamptz,
    subject      text NOT NULL,
    summary      text NOT NULL,
    secret_types text[] NOT NULL
) ON COMMIT DROP`

var importColumns = []string{"line", "org_ref", "item_ref", "kind", "occurred_at", "subject", "summary", "secret_types"}

// unknownOrganizations lists the rows naming an org_ref that does not
// exist, the first $1 of them, with how many there are in all.
const unknownOrganizations = `
SELECT s.line, s.org_ref, count(*) OVER ()
FROM import_exposures s
WHERE NOT EXISTS (SELECT 1 FROM organizations o WHERE o.ref = s.org_ref)
ORDER BY s.line LIMIT $1`

// conflictingItems lists the rows that repeat an earlier row's org_ref and
// item_ref with other content, with the earlier row's line: which of the
// two is right only the user knows. Rows repeated word for word are not
// listed; the insert takes them once.
const conflictingItems = `
WITH d AS (
    SELECT line, org_ref, item_ref, first_value(line) OVER w AS first_line,
           (kind, occurred_at, subject, summary, secret_types) IS DISTINCT FROM
           (first_value(kind) OVER w, first_value(occurred_at) OVER w, first_value(subject) OVER w,
            first_value(summary) OVER w, first_value(secret_types) OVER w) AS differs
    FROM import_exposures
    WINDOW w AS (PARTITION BY org_ref, item_ref ORDER BY line)
)
SELECT line, org_ref, item_ref, first_line, count(*) OVER ()
FROM d WHERE differs ORDER BY line LIMIT $1`

// insertItems stores the batch's items; an item_ref already known for the
// incident and organization is skipped (ON CONFLICT), which is how a re-upload
// never double counts, and so is a row repeated within the file.
const insertItems = `
INSERT INTO exposure_items (incident_id, organization_id, batch_id, item_ref, kind, occurred_at, subject, summary, secret_types)
SELECT $1, o.id, $2, s.item_ref, s.kind, s.occurred_at, s.subject, s.summary, s.secret_types
FROM import_exposures s JOIN organizations o ON o.ref = s.org_ref
ORDER BY s.line
ON CONFLICT (incident_id, organization_id, item_ref) DO NOTHING`

// maxListedProblems bounds the problems of each kind the database lists;
// the file's Verdict caps the whole list and counts the rest.
const maxListedProblems = 1000

// ImportExposures stores an exposure batch in one transaction, reading the
// file as it goes. Rows naming an unknown org_ref, or repeating an item_ref
// with other content, reject the whole batch, as does any problem the file
// itself has: all of them are listed in one reply.
func (s *Store) ImportExposures(ctx context.Context, by notifier.Actor, incidentID int64, file *notifier.ExposureFile) (notifier.ExposureImportResult, error) {
	var res notifier.ExposureImportResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, createImportTable); err != nil {
			return err
		}
		total, err := tx.CopyFrom(ctx, pgx.Identifier{"import_exposures"}, importColumns, pgx.CopyFromFunc(func() ([]any, error) {
			r, ok := file.Next()
			if !ok {
				return nil, file.Err()
			}
			secrets := r.SecretTypes
			if secrets == nil {
				secrets = []string{}
			}
			return []any{r.Line, r.OrgRef, r.ItemRef, r.Kind, r.OccurredAt, r.Subject, r.Summary, secrets}, nil
		}))
		if file.Err() != nil {
			return file.Err() // the file's own error (too large, unreadable), not the COPY's wrapping of it
		}
		if err != nil {
			return err
		}
		found, unlisted, err := importProblems(ctx, tx)
		if err != nil {
			return err
		}
		if err := file.Verdict(found, unlisted); err != nil {
			return err
		}

		if err := tx.QueryRow(ctx, `INSERT INTO exposure_batches (incident_id, items_new, items_duplicate, created_by)
			VALUES ($1, 0, 0, $2) RETURNING id`, incidentID, nullableKey(by)).Scan(&res.BatchID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, insertItems, incidentID, res.BatchID)
		if err != nil {
			return err
		}
		res.ItemsNew = int(tag.RowsAffected())
		res.ItemsDuplicate = int(total) - res.ItemsNew
		if err := tx.QueryRow(ctx, `SELECT count(DISTINCT org_ref) FROM import_exposures`).Scan(&res.Organizations); err != nil {
			return err
		}
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

// importProblems runs the checks of a copied exposure file that need the
// database, and returns what they found (at most maxListedProblems of each)
// and how many more there are.
func importProblems(ctx context.Context, tx pgx.Tx) ([]notifier.RowError, int, error) {
	var found []notifier.RowError
	unlisted := 0
	var line, firstLine, all int
	var orgRef, itemRef string
	rows, err := tx.Query(ctx, unknownOrganizations, maxListedProblems)
	if err != nil {
		return nil, 0, err
	}
	if _, err := pgx.ForEachRow(rows, []any{&line, &orgRef, &all}, func() error {
		found = append(found, notifier.RowError{Line: line, Field: "org_ref", Message: fmt.Sprintf("no organization %q; import it first", orgRef)})
		unlisted = all
		return nil
	}); err != nil {
		return nil, 0, err
	}
	unlisted -= len(found)
	listed := len(found)
	rows, err = tx.Query(ctx, conflictingItems, maxListedProblems)
	if err != nil {
		return nil, 0, err
	}
	more := 0
	if _, err := pgx.ForEachRow(rows, []any{&line, &orgRef, &itemRef, &firstLine, &all}, func() error {
		found = append(found, notifier.RowError{Line: line, Field: "item_ref", Message: fmt.Sprintf(
			"item_ref %q of org_ref %q is also on line %d, with other content; keep one of lines %d and %d", itemRef, orgRef, firstLine, firstLine, line)})
		more = all
		return nil
	}); err != nil {
		return nil, 0, err
	}
	if more > 0 {
		unlisted += more - (len(found) - listed)
	}
	return found, unlisted, nil
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
