package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// The statements of the unattributed report and of re-attribution
// (issue 13, migration 0022): both read the participants the import
// stored, never the encrypted messages.

// BeginEvidenceReattribution records the start of a re-attribution of an
// incident's stored messages; it is listed with the imports.
func (s *Store) BeginEvidenceReattribution(ctx context.Context, by notifier.Actor, incidentID int64) (notifier.EvidenceImport, error) {
	imp, err := s.beginEvidenceRun(ctx, by, incidentID, "re-attribution", notifier.EvidenceRunReattribution)
	return imp, wrap("begin re-attribution", err)
}

// selectEvidenceParticipants reads one page of an incident's messages in
// key order, after the key $2: the primary key's index walks it, so a
// page costs the same at the end of millions of messages as at the start.
const selectEvidenceParticipants = `
SELECT sha256, participants, unattributed FROM evidence_messages
WHERE incident_id = $1 AND sha256 > $2
ORDER BY sha256 LIMIT $3`

// EvidenceParticipants returns at most limit of the incident's stored
// messages whose SHA-256 follows after (nil: from the first), in order,
// with their participants.
func (s *Store) EvidenceParticipants(ctx context.Context, incidentID int64, after []byte, limit int) ([]notifier.StoredParticipants, error) {
	if after == nil {
		after = []byte{}
	}
	rows, err := s.pool.Query(ctx, selectEvidenceParticipants, incidentID, after, limit)
	if err != nil {
		return nil, wrap("evidence participants", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.StoredParticipants, error) {
		var p notifier.StoredParticipants
		err := r.Scan(&p.SHA256, &p.Participants, &p.Unattributed)
		return p, err
	})
	return out, wrap("evidence participants", err)
}

// insertReattributedExposures adds the attributions a re-attribution
// found; those the message had already are left as they were (and their
// items with them). It returns the messages that gained one.
const insertReattributedExposures = `
INSERT INTO evidence_exposures (incident_id, sha256, organization_id, participants)
SELECT $1, u.sha, u.org, ARRAY(SELECT jsonb_array_elements_text(u.people))
FROM unnest($2::bytea[], $3::bigint[], $4::jsonb[]) AS u(sha, org, people)
ON CONFLICT (incident_id, sha256, organization_id) DO NOTHING
RETURNING sha256`

// ReattributeEvidence commits one page of a re-attribution: its new
// attributions (pending itemization by FinishEvidenceImport), the
// messages no longer unattributed, and the run's progress.
func (s *Store) ReattributeEvidence(ctx context.Context, runID, incidentID int64, g notifier.ReattributionGroup) error {
	n := len(g.Exposures)
	shas, orgs, people := make([][]byte, n), make([]int64, n), make([]string, n)
	for i, e := range g.Exposures {
		shas[i], orgs[i], people[i] = e.SHA256, e.OrganizationID, jsonStrings(e.Participants)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var shredded bool
		if err := tx.QueryRow(ctx, `SELECT evidence_shredded_at IS NOT NULL FROM incidents WHERE id = $1 FOR SHARE`, incidentID).Scan(&shredded); err != nil {
			return err
		}
		if shredded {
			return ErrEvidenceShredded
		}
		gained := map[string]bool{}
		if n > 0 {
			rows, err := tx.Query(ctx, insertReattributedExposures, incidentID, shas, orgs, people)
			if err != nil {
				return err
			}
			var h []byte
			if _, err := pgx.ForEachRow(rows, []any{&h}, func() error { gained[string(h)] = true; return nil }); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE evidence_messages SET unattributed = false
				WHERE incident_id = $1 AND sha256 = ANY($2) AND unattributed`, incidentID, shas); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE evidence_imports SET messages = messages + $2, known = known + $2, attributed = attributed + $3,
			unattributed = unattributed + $4 WHERE id = $1`, runID, g.Messages, len(gained), g.StillUnattributed)
		return err
	})
	return wrap("re-attribute evidence", err)
}

// selectUnattributedDomains counts, for each domain among the
// participants of the incident's unattributed messages, the messages
// with a participant there (a message naming a domain twice counts
// once), the most frequent first, the page after ($2, $3). Only the
// unattributed messages are read (their partial index).
const selectUnattributedDomains = `
SELECT domain, messages FROM (
    SELECT p->>'domain' AS domain, count(DISTINCT m.sha256) AS messages
    FROM evidence_messages m, jsonb_array_elements(m.participants) AS p
    WHERE m.incident_id = $1 AND m.unattributed AND coalesce(p->>'domain', '') <> ''
    GROUP BY 1
) d
WHERE $3 = '' OR d.messages < $2 OR (d.messages = $2 AND d.domain > $3)
ORDER BY d.messages DESC, d.domain
LIMIT $4`

// UnattributedEvidence returns how many of the incident's messages are
// unattributed and one page (at most limit, after the cursor) of their
// participants' domains with their message counts.
func (s *Store) UnattributedEvidence(ctx context.Context, incidentID int64, after notifier.DomainCursor, limit int) (int64, []notifier.UnattributedDomain, error) {
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM evidence_messages WHERE incident_id = $1 AND unattributed`, incidentID).
		Scan(&total); err != nil {
		return 0, nil, wrap("unattributed evidence", err)
	}
	rows, err := s.pool.Query(ctx, selectUnattributedDomains, incidentID, after.Messages, after.Domain, limit)
	if err != nil {
		return 0, nil, wrap("unattributed evidence", err)
	}
	domains, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.UnattributedDomain, error) {
		var d notifier.UnattributedDomain
		err := r.Scan(&d.Domain, &d.Messages)
		return d, err
	})
	return total, domains, wrap("unattributed evidence", err)
}
