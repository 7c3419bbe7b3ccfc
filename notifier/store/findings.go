package store

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// The review of secrets found in stolen mail (issue 13, migration 0021).

// findingsSelect reads findings (aliased e, so that evidenceItemRefSQL
// names their message's items) in id order, one page after a cursor.
const findingsSelect = `
SELECT e.sha256, e.seq, ` + evidenceItemRefSQL + `, e.type, e.rule_id, e.part, e.line, e.col, e.masked, e.live,
       e.dismissed_at, e.dismissed_by_name, e.dismiss_reason
FROM evidence_findings e
WHERE e.incident_id = $1`

const findingsPage = findingsSelect + `
  AND ($2::text = '' OR e.type = $2::text)
  AND ($3::bool IS NULL OR (e.dismissed_at IS NOT NULL) = $3::bool)
  AND ($4::bool IS NULL OR e.live = $4::bool)
  AND ($5::bytea IS NULL OR (e.sha256, e.seq) > ($5::bytea, $6::integer))
ORDER BY e.sha256, e.seq
LIMIT $7`

func scanFinding(row pgx.Row) (notifier.Finding, error) {
	var f notifier.Finding
	var id notifier.FindingID
	var sha []byte
	var at *time.Time
	var by, reason string
	if err := row.Scan(&sha, &id.Seq, &f.ItemRef, &f.Type, &f.RuleID, &f.Part, &f.Line, &f.Column, &f.Masked, &f.Live,
		&at, &by, &reason); err != nil {
		return f, err
	}
	copy(id.Message[:], sha)
	f.ID, f.Message = id.String(), hex.EncodeToString(sha)
	if at != nil {
		f.Dismissed = &notifier.FindingDismissal{At: *at, By: by, Reason: reason}
	}
	return f, nil
}

// EvidenceFindings lists an incident's findings in id order (the
// message's SHA-256, then the finding's number), at most limit.
func (s *Store) EvidenceFindings(ctx context.Context, f notifier.FindingFilter, limit int) ([]notifier.Finding, error) {
	var after []byte
	var seq int32
	if f.After != nil {
		after, seq = f.After.Message[:], f.After.Seq
	}
	rows, err := s.pool.Query(ctx, findingsPage, f.IncidentID, f.Type, f.Dismissed, f.Live, after, seq, limit)
	if err != nil {
		return nil, wrap("evidence findings", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.Finding, error) { return scanFinding(r) })
	return out, wrap("evidence findings", err)
}

// recomputeSecretTypes sets a message's secret types to those of its
// findings still counting, and returns them.
const recomputeSecretTypes = `
UPDATE evidence_messages SET secret_types = ARRAY(
    SELECT DISTINCT f.type FROM evidence_findings f
    WHERE f.incident_id = $1 AND f.sha256 = $2 AND f.dismissed_at IS NULL ORDER BY f.type)
WHERE incident_id = $1 AND sha256 = $2
RETURNING secret_types`

// retypeOpenItems gives the message's exposure items that no notice holds
// yet its new secret types. An item a notice holds keeps what that notice
// said: it was sent (or is frozen for sending) as it was.
const retypeOpenItems = `
UPDATE exposure_items i SET secret_types = $3
FROM evidence_exposures e
WHERE e.incident_id = $1 AND e.sha256 = $2 AND e.item_id = i.id
  AND NOT EXISTS (SELECT 1 FROM notice_items ni WHERE ni.item_id = i.id)
  AND i.secret_types IS DISTINCT FROM $3::text[]`

// itemsInNotices counts the message's exposure items a notice holds.
const itemsInNotices = `
SELECT count(*) FROM evidence_exposures e JOIN notice_items ni ON ni.item_id = e.item_id
WHERE e.incident_id = $1 AND e.sha256 = $2`

// SetFindingDismissed dismisses (dismiss true) or restores a finding and,
// in the same transaction, recomputes the secret types of its message and
// of the message's exposure items no notice holds yet, and audits it with
// reason. Dismissing a dismissed finding, or restoring one that is not,
// is a conflict.
func (s *Store) SetFindingDismissed(ctx context.Context, by notifier.Actor, incidentID int64, id notifier.FindingID, dismiss bool, reason string) (notifier.Finding, error) {
	var out notifier.Finding
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The incident first, shared: an import's closing transaction
		// (which holds it exclusively while it itemizes messages) either
		// ends before, and its items are linked and retyped here, or
		// starts after and itemizes the recomputed types; a purge waits.
		var slug string
		var shredded bool
		if err := tx.QueryRow(ctx, `SELECT slug, evidence_shredded_at IS NOT NULL FROM incidents WHERE id = $1 FOR SHARE`, incidentID).
			Scan(&slug, &shredded); err != nil {
			return notFound(err, "no incident %d", incidentID)
		}
		if shredded {
			return ErrEvidenceShredded
		}
		// Then the message: two dismissals in one message recompute its
		// types one after the other, each seeing the other's.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM evidence_messages WHERE incident_id = $1 AND sha256 = $2 FOR UPDATE`, incidentID, id.Message[:]); err != nil {
			return err
		}
		var dismissed bool
		var typ string
		if err := tx.QueryRow(ctx, `SELECT dismissed_at IS NOT NULL, type FROM evidence_findings
			WHERE incident_id = $1 AND sha256 = $2 AND seq = $3 FOR UPDATE`, incidentID, id.Message[:], id.Seq).Scan(&dismissed, &typ); err != nil {
			return notFound(err, "no finding %s in this incident", id)
		}
		switch {
		case dismiss && dismissed:
			return notifier.Errorf(notifier.CodeConflict, "finding %s is dismissed already", id)
		case !dismiss && !dismissed:
			return notifier.Errorf(notifier.CodeConflict, "finding %s is not dismissed", id)
		}
		var err error
		if dismiss {
			_, err = tx.Exec(ctx, `UPDATE evidence_findings SET dismissed_at = now(), dismissed_by = $4, dismissed_by_name = $5, dismiss_reason = $6
				WHERE incident_id = $1 AND sha256 = $2 AND seq = $3`, incidentID, id.Message[:], id.Seq, nullableKey(by), actorName(by), reason)
		} else {
			_, err = tx.Exec(ctx, `UPDATE evidence_findings SET dismissed_at = NULL, dismissed_by = NULL, dismissed_by_name = '', dismiss_reason = ''
				WHERE incident_id = $1 AND sha256 = $2 AND seq = $3`, incidentID, id.Message[:], id.Seq)
		}
		if err != nil {
			return err
		}
		var types []string
		if err := tx.QueryRow(ctx, recomputeSecretTypes, incidentID, id.Message[:]).Scan(&types); err != nil {
			return err
		}
		retyped, err := tx.Exec(ctx, retypeOpenItems, incidentID, id.Message[:], types)
		if err != nil {
			return err
		}
		var kept int64
		if err := tx.QueryRow(ctx, itemsInNotices, incidentID, id.Message[:]).Scan(&kept); err != nil {
			return err
		}
		if out, err = scanFinding(tx.QueryRow(ctx, findingsSelect+` AND e.sha256 = $2 AND e.seq = $3`, incidentID, id.Message[:], id.Seq)); err != nil {
			return err
		}
		action := "evidence.finding.dismiss"
		if !dismiss {
			action = "evidence.finding.undismiss"
		}
		return s.appendAudit(ctx, tx, by, auditEvent{action, "finding", id.String(), map[string]any{
			"incident": slug, "type": typ, "reason": reason, "message_secret_types": nonNilStrings(types),
			"items_retyped": retyped.RowsAffected(), "items_in_notices_unchanged": kept}})
	})
	return out, wrap("dismiss finding", err)
}

// nonNilStrings makes an empty list audit as [] rather than null.
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
