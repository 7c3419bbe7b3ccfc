package store

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// The purges of an incident's evidence (issue 13, migration 0021).

// evidenceTables are the tables of an incident's evidence, in the order a
// purge empties them: the ciphertext first, then what the messages said
// about themselves and whom they exposed (their foreign keys point at
// evidence_messages). The exposure items, notices and imports stay.
var evidenceTables = []string{"evidence_blobs", "evidence_findings", "evidence_exposures", "evidence_messages"}

// deleteEvidenceBatch deletes up to 1000 rows of one evidence table of an
// incident; one statement per table name, each a constant.
var deleteEvidenceBatch = func() map[string]string {
	m := map[string]string{}
	for _, t := range evidenceTables {
		m[t] = `DELETE FROM ` + t + ` WHERE ctid = ANY (ARRAY(SELECT ctid FROM ` + t + ` WHERE incident_id = $1 LIMIT 1000))`
	}
	return m
}()

// deleteEvidenceRows deletes every evidence row of an incident, in
// batches of their own transactions (a purge of millions of rows holds no
// long transaction, and an interrupted one keeps what it deleted).
func (s *Store) deleteEvidenceRows(ctx context.Context, incidentID int64) (int64, error) {
	var deleted int64
	for _, table := range evidenceTables {
		for {
			tag, err := s.pool.Exec(ctx, deleteEvidenceBatch[table], incidentID)
			if err != nil {
				return deleted, wrap("delete evidence", err)
			}
			deleted += tag.RowsAffected()
			if tag.RowsAffected() == 0 {
				break
			}
		}
	}
	return deleted, nil
}

// shredKey destroys the incident's data key inside tx and records when.
func shredKey(ctx context.Context, tx pgx.Tx, incidentID int64) (hadKey bool, err error) {
	if _, err := tx.Exec(ctx, `UPDATE incidents SET evidence_shredded_at = coalesce(evidence_shredded_at, now()) WHERE id = $1`, incidentID); err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, `DELETE FROM incident_keys WHERE incident_id = $1`, incidentID)
	return tag.RowsAffected() > 0, err
}

// purgeRecordColumns reads an evidence_purges row as a record.
const purgeRecordColumns = `id, status, reason, requested_by_name, requested_at, nullif(decided_by_name, ''), decided_at`

func scanPurgeRecord(row pgx.Row) (notifier.EvidencePurgeRecord, error) {
	var r notifier.EvidencePurgeRecord
	var decidedBy *string
	err := row.Scan(&r.ID, &r.Status, &r.Reason, &r.RequestedBy, &r.RequestedAt, &decidedBy, &r.DecidedAt)
	if decidedBy != nil {
		r.DecidedBy = *decidedBy
	}
	return r, err
}

// evidencePurgeState reads the state with q (the pool, or a transaction
// that changed it).
const evidencePurgeStateSQL = `SELECT i.slug, i.policy, i.evidence_shredded_at,
	(SELECT count(*) FROM evidence_messages m WHERE m.incident_id = i.id),
	(SELECT count(*) FROM evidence_blobs b WHERE b.incident_id = i.id)
FROM incidents i WHERE i.id = $1`

func evidencePurgeState(ctx context.Context, q querier, incidentID int64) (notifier.EvidencePurge, error) {
	st := notifier.EvidencePurge{IncidentID: incidentID}
	var policy []byte
	if err := q.QueryRow(ctx, evidencePurgeStateSQL, incidentID).Scan(&st.Incident, &policy, &st.ShreddedAt, &st.Messages, &st.Blobs); err != nil {
		return st, notFound(err, "no incident %d", incidentID)
	}
	var inc notifier.Incident
	if err := unmarshalPolicy(policy, &inc); err != nil {
		return st, err
	}
	st.NeedsApproval, st.Retention = inc.Policy.PurgeNeedsApproval, inc.Policy.EvidenceRetention
	last, err := scanPurgeRecord(q.QueryRow(ctx, `SELECT `+purgeRecordColumns+` FROM evidence_purges WHERE incident_id = $1 ORDER BY id DESC LIMIT 1`, incidentID))
	switch {
	case err == nil:
		st.Last = &last
	case !errors.Is(err, pgx.ErrNoRows):
		return st, err
	}
	switch {
	case st.ShreddedAt != nil && st.Messages+st.Blobs > 0:
		st.State = notifier.EvidencePurging
	case st.ShreddedAt != nil:
		st.State = notifier.EvidencePurged
	case st.Last != nil && st.Last.Status == notifier.PurgeRequested:
		st.State = notifier.EvidencePurgeRequested
	default:
		st.State = notifier.EvidenceKept
	}
	return st, nil
}

// EvidencePurgeState reads where the incident's evidence stands.
func (s *Store) EvidencePurgeState(ctx context.Context, incidentID int64) (notifier.EvidencePurge, error) {
	st, err := evidencePurgeState(ctx, s.pool, incidentID)
	return st, wrap("evidence purge state", err)
}

// StartEvidencePurge records a purge request or destroys the incident's
// data key, under the incident's lock: the policy read is the one in
// force, a running import's group (which holds the incident FOR SHARE)
// commits before or fails after, and of two processes purging at once
// only one destroys the key and audits it.
func (s *Store) StartEvidencePurge(ctx context.Context, p notifier.PurgeParams) (notifier.EvidencePurge, error) {
	var st notifier.EvidencePurge
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var slug string
		var policy []byte
		var shredded bool
		if err := tx.QueryRow(ctx, `SELECT slug, policy, evidence_shredded_at IS NOT NULL FROM incidents WHERE id = $1 FOR UPDATE`, p.IncidentID).
			Scan(&slug, &policy, &shredded); err != nil {
			return notFound(err, "no incident %d", p.IncidentID)
		}
		if shredded {
			// Purged before: nothing to decide, only rows to delete.
			var err error
			st, err = evidencePurgeState(ctx, tx, p.IncidentID)
			return err
		}
		var inc notifier.Incident
		if err := unmarshalPolicy(policy, &inc); err != nil {
			return err
		}
		var pendingID int64
		var requestedBy *int64
		var requester string
		err := tx.QueryRow(ctx, `SELECT id, requested_by, requested_by_name FROM evidence_purges WHERE incident_id = $1 AND status = 'requested'`,
			p.IncidentID).Scan(&pendingID, &requestedBy, &requester)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		switch {
		case p.Approve && pendingID == 0:
			return notifier.Errorf(notifier.CodeConflict, "no purge request waits for incident %s; an admin asks for one with `incident purge %s`", slug, slug)
		case p.Approve && (p.By.KeyID == 0 || requestedBy != nil && *requestedBy == p.By.KeyID):
			return notifier.Errorf(notifier.CodeForbidden, "the key that asked for the purge of incident %s cannot approve it; a second admin's key must", slug)
		case !p.Approve && !p.Automatic && inc.Policy.PurgeNeedsApproval && pendingID != 0:
			return notifier.Errorf(notifier.CodeConflict, "a purge of incident %s was already asked for by %s; a second admin approves it with `incident purge %s --approve` (or cancels it with --cancel)",
				slug, requester, slug)
		case !p.Approve && !p.Automatic && inc.Policy.PurgeNeedsApproval:
			if _, err := tx.Exec(ctx, `INSERT INTO evidence_purges (incident_id, status, reason, requested_by, requested_by_name)
				VALUES ($1, 'requested', $2, $3, $4)`, p.IncidentID, p.Reason, nullableKey(p.By), actorName(p.By)); err != nil {
				return err
			}
			var err error
			if st, err = evidencePurgeState(ctx, tx, p.IncidentID); err != nil {
				return err
			}
			return s.appendAudit(ctx, tx, p.By, auditEvent{"evidence.purge.request", "incident", slug,
				map[string]any{"incident_id": p.IncidentID, "reason": p.Reason}})
		}
		// Carried out now: the waiting request (approved, or overtaken by
		// an admin's purge after the policy dropped the approval, or by
		// the retention), or a new record of a purge nobody needed to
		// approve.
		if pendingID != 0 {
			if _, err := tx.Exec(ctx, `UPDATE evidence_purges SET status = 'done', decided_by = $2, decided_by_name = $3, decided_at = now()
				WHERE id = $1`, pendingID, nullableKey(p.By), actorName(p.By)); err != nil {
				return err
			}
		} else if _, err := tx.Exec(ctx, `INSERT INTO evidence_purges (incident_id, status, reason, requested_by, requested_by_name,
				decided_by, decided_by_name, decided_at) VALUES ($1, 'done', $2, $3, $4, $3, $4, now())`,
			p.IncidentID, p.Reason, nullableKey(p.By), actorName(p.By)); err != nil {
			return err
		}
		hadKey, err := shredKey(ctx, tx, p.IncidentID)
		if err != nil {
			return err
		}
		if st, err = evidencePurgeState(ctx, tx, p.IncidentID); err != nil {
			return err
		}
		details := map[string]any{"incident_id": p.IncidentID, "reason": p.Reason, "data_key_destroyed": hadKey,
			"messages": st.Messages, "blobs": st.Blobs, "automatic": p.Automatic}
		if p.Approve {
			details["requested_by"] = requester
		}
		action := "evidence.purge"
		if p.Approve {
			action = "evidence.purge.approve"
		}
		return s.appendAudit(ctx, tx, p.By, auditEvent{action, "incident", slug, details})
	})
	return st, wrap("purge evidence", err)
}

// CancelEvidencePurge cancels the incident's waiting purge request.
func (s *Store) CancelEvidencePurge(ctx context.Context, by notifier.Actor, incidentID int64, reason string) (notifier.EvidencePurge, error) {
	var st notifier.EvidencePurge
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var slug string
		if err := tx.QueryRow(ctx, `SELECT slug FROM incidents WHERE id = $1 FOR UPDATE`, incidentID).Scan(&slug); err != nil {
			return notFound(err, "no incident %d", incidentID)
		}
		var id int64
		err := tx.QueryRow(ctx, `UPDATE evidence_purges SET status = 'cancelled', decided_by = $2, decided_by_name = $3, decided_at = now(),
			reason = CASE WHEN $4 = '' THEN reason ELSE reason || CASE WHEN reason = '' THEN '' ELSE ' / ' END || 'cancelled: ' || $4 END
			WHERE incident_id = $1 AND status = 'requested' RETURNING id`, incidentID, nullableKey(by), actorName(by), reason).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return notifier.Errorf(notifier.CodeConflict, "no purge request waits for incident %s", slug)
		}
		if err != nil {
			return err
		}
		if st, err = evidencePurgeState(ctx, tx, incidentID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"evidence.purge.cancel", "incident", slug,
			map[string]any{"incident_id": incidentID, "request": id, "reason": reason}})
	})
	return st, wrap("cancel evidence purge", err)
}

// FinishEvidencePurge deletes the evidence rows of an incident whose data
// key is destroyed, and audits how many once it deleted some. It refuses
// an incident whose key is not destroyed: rows are never deleted before
// the key, so a purge stopped at any point leaves nothing readable.
func (s *Store) FinishEvidencePurge(ctx context.Context, by notifier.Actor, incidentID int64) (int64, error) {
	var slug string
	var shredded bool
	if err := s.pool.QueryRow(ctx, `SELECT slug, evidence_shredded_at IS NOT NULL FROM incidents WHERE id = $1`, incidentID).Scan(&slug, &shredded); err != nil {
		return 0, wrap("finish evidence purge", notFound(err, "no incident %d", incidentID))
	}
	if !shredded {
		return 0, notifier.Errorf(notifier.CodeConflict, "the data key of incident %s is not destroyed: its evidence is not deleted before it", slug)
	}
	n, err := s.deleteEvidenceRows(ctx, incidentID)
	if n == 0 {
		return n, err
	}
	// What was deleted is audited even when the deletion stopped short
	// (its context ended): the next run audits the rest.
	actx := context.WithoutCancel(ctx)
	aerr := s.inTx(actx, func(tx pgx.Tx) error {
		return s.appendAudit(actx, tx, by, auditEvent{"evidence.purge.delete", "incident", slug,
			map[string]any{"incident_id": incidentID, "rows_deleted": n, "finished": err == nil}})
	})
	return n, errors.Join(err, wrap("finish evidence purge", aerr))
}

// retentionCandidates are the incidents holding evidence (a data key or
// messages) and not purged, with the end of their last import (or its
// start while it runs) and the start of their oldest running import.
const retentionCandidates = `
SELECT i.id, i.slug, i.policy,
       coalesce((SELECT max(coalesce(x.finished_at, x.started_at)) FROM evidence_imports x WHERE x.incident_id = i.id),
                (SELECT k.created_at FROM incident_keys k WHERE k.incident_id = i.id), now()),
       (SELECT min(x.started_at) FROM evidence_imports x WHERE x.incident_id = i.id AND x.status = 'running')
FROM incidents i
WHERE i.evidence_shredded_at IS NULL
  AND (EXISTS (SELECT 1 FROM incident_keys k WHERE k.incident_id = i.id)
       OR EXISTS (SELECT 1 FROM evidence_messages m WHERE m.incident_id = i.id))
ORDER BY i.id`

// EvidenceRetentionCandidates lists the incidents that hold evidence and
// are not purged; which are due is the domain's rule (RetentionDue).
func (s *Store) EvidenceRetentionCandidates(ctx context.Context) ([]notifier.RetentionCandidate, error) {
	rows, err := s.pool.Query(ctx, retentionCandidates)
	if err != nil {
		return nil, wrap("retention candidates", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.RetentionCandidate, error) {
		var c notifier.RetentionCandidate
		var policy []byte
		if err := r.Scan(&c.IncidentID, &c.Slug, &policy, &c.LastEvidenceAt, &c.RunningSince); err != nil {
			return c, err
		}
		c.Policy = notifier.DefaultPolicy()
		return c, json.Unmarshal(policy, &c.Policy)
	})
	return out, wrap("retention candidates", err)
}

// UnfinishedPurges lists the incidents whose data key is destroyed and
// evidence rows remain.
func (s *Store) UnfinishedPurges(ctx context.Context) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT i.id FROM incidents i WHERE i.evidence_shredded_at IS NOT NULL
		AND (EXISTS (SELECT 1 FROM evidence_blobs b WHERE b.incident_id = i.id)
		     OR EXISTS (SELECT 1 FROM evidence_messages m WHERE m.incident_id = i.id)) ORDER BY i.id`)
	if err != nil {
		return nil, wrap("unfinished purges", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return ids, wrap("unfinished purges", err)
}
