package store

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// The statements of an evidence import (issue 13, migration 0019).

// EvidenceDirectory returns what attribution matches participants
// against: every organization's domains, and every imported contact's
// address (lower case, as given and in its ASCII form, since stolen mail
// may carry either), to the organization's id. A member let in from the
// portal does not steer attribution: who the IR team knows does.
func (s *Store) EvidenceDirectory(ctx context.Context) (domains, contacts map[string]int64, err error) {
	domains, contacts = map[string]int64{}, map[string]int64{}
	rows, err := s.pool.Query(ctx, `SELECT d, o.id FROM organizations o, unnest(o.domains) AS d`)
	if err != nil {
		return nil, nil, wrap("evidence directory", err)
	}
	var key string
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error { domains[key] = id; return nil }); err != nil {
		return nil, nil, wrap("evidence directory", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT lower(email), organization_id FROM contacts c WHERE `+isRecipient+`
		UNION SELECT lower(email_ascii), organization_id FROM contacts c WHERE `+isRecipient)
	if err != nil {
		return nil, nil, wrap("evidence directory", err)
	}
	_, err = pgx.ForEachRow(rows, []any{&key, &id}, func() error { contacts[key] = id; return nil })
	return domains, contacts, wrap("evidence directory", err)
}

// BeginEvidenceImport records the start of an import into an incident.
func (s *Store) BeginEvidenceImport(ctx context.Context, by notifier.Actor, incidentID int64, name string) (notifier.EvidenceImport, error) {
	imp, err := s.beginEvidenceRun(ctx, by, incidentID, name, notifier.EvidenceRunImport)
	return imp, wrap("begin evidence import", err)
}

// evidenceRunAudit is the audit action of each kind of run; its start is
// the action with ".start".
var evidenceRunAudit = map[string]string{
	notifier.EvidenceRunImport:        "evidence.import",
	notifier.EvidenceRunReattribution: "evidence.reattribute",
}

// beginEvidenceRun records the start of an import or a re-attribution.
func (s *Store) beginEvidenceRun(ctx context.Context, by notifier.Actor, incidentID int64, name, kind string) (notifier.EvidenceImport, error) {
	var imp notifier.EvidenceImport
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var shredded bool
		if err := tx.QueryRow(ctx, `SELECT evidence_shredded_at IS NOT NULL FROM incidents WHERE id = $1 FOR SHARE`, incidentID).Scan(&shredded); err != nil {
			return notFound(err, "no incident %d", incidentID)
		}
		if shredded {
			return ErrEvidenceShredded
		}
		if err := tx.QueryRow(ctx, `INSERT INTO evidence_imports (incident_id, name, kind, created_by) VALUES ($1, $2, $3, $4) RETURNING id`,
			incidentID, name, kind, nullableKey(by)).Scan(&imp.ID); err != nil {
			return err
		}
		var err error
		if imp, err = evidenceImport(ctx, tx, imp.ID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{evidenceRunAudit[kind] + ".start", "evidence_import", strconv.FormatInt(imp.ID, 10),
			map[string]any{"incident_id": incidentID, "name": name}})
	})
	return imp, err
}

// KnownEvidence returns which of hashes the incident already holds.
func (s *Store) KnownEvidence(ctx context.Context, incidentID int64, hashes [][32]byte) (map[[32]byte]bool, error) {
	arg := make([][]byte, len(hashes))
	for i := range hashes {
		arg[i] = hashes[i][:]
	}
	rows, err := s.pool.Query(ctx, `SELECT sha256 FROM evidence_messages WHERE incident_id = $1 AND sha256 = ANY($2)`, incidentID, arg)
	if err != nil {
		return nil, wrap("known evidence", err)
	}
	known := map[[32]byte]bool{}
	var h []byte
	_, err = pgx.ForEachRow(rows, []any{&h}, func() error {
		known[[32]byte(h)] = true
		return nil
	})
	return known, wrap("known evidence", err)
}

// insertEvidenceMessages stores a group's messages; one already stored
// (an import running beside this one) is skipped and not counted.
const insertEvidenceMessages = `
INSERT INTO evidence_messages (incident_id, sha256, import_id, source, size, message_id, in_reply_to, subject, sent_at,
                               from_address, participants, attachments, problems, unparseable, unattributed, secret_types)
SELECT $1, u.sha, $2, u.source, u.size, u.message_id, u.in_reply_to, u.subject, u.sent_at, u.from_address,
       u.participants, u.attachments,
       ARRAY(SELECT jsonb_array_elements_text(u.problems)), u.unparseable, u.unattributed,
       ARRAY(SELECT jsonb_array_elements_text(u.secret_types))
FROM unnest($3::bytea[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::text[],
            $11::jsonb[], $12::jsonb[], $13::jsonb[], $14::text[], $15::bool[], $16::jsonb[])
     AS u(sha, source, size, message_id, in_reply_to, subject, sent_at, from_address, participants, attachments,
          problems, unparseable, unattributed, secret_types)
ON CONFLICT (incident_id, sha256) DO NOTHING
RETURNING sha256`

// StoreEvidence commits one group of an import: the messages not stored
// yet, their ciphertext and attribution, and the import's progress.
func (s *Store) StoreEvidence(ctx context.Context, importID, incidentID int64, g notifier.EvidenceGroup) error {
	n := len(g.Messages)
	shas, sources, msgIDs, replies, subjects, froms, unparseable := make([][]byte, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	sizes, sent := make([]int64, n), make([]any, n)
	parts, atts, problems, unattributed := make([]string, n), make([]string, n), make([]string, n), make([]bool, n)
	secretTypes := make([]string, n)
	for i, m := range g.Messages {
		shas[i], sources[i], sizes[i], msgIDs[i], replies[i] = m.SHA256[:], m.Source, m.Size, m.MessageID, m.InReplyTo
		subjects[i], froms[i], unparseable[i] = m.Subject, m.From, m.Unparseable
		if m.SentAt != nil {
			sent[i] = *m.SentAt
		}
		parts[i], atts[i] = jsonOr(m.Participants), jsonOr(m.Attachments)
		problems[i], secretTypes[i] = jsonStrings(m.Problems), jsonStrings(m.SecretTypes)
		unattributed[i] = len(m.Exposures) == 0
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var shredded bool
		if err := tx.QueryRow(ctx, `SELECT evidence_shredded_at IS NOT NULL FROM incidents WHERE id = $1 FOR SHARE`, incidentID).Scan(&shredded); err != nil {
			return err
		}
		if shredded {
			return ErrEvidenceShredded
		}
		rows, err := tx.Query(ctx, insertEvidenceMessages, incidentID, importID, shas, sources, sizes, msgIDs, replies, subjects,
			sent, froms, parts, atts, problems, unparseable, unattributed, secretTypes)
		if err != nil {
			return err
		}
		inserted := map[string]bool{}
		var h []byte
		if _, err := pgx.ForEachRow(rows, []any{&h}, func() error { inserted[string(h)] = true; return nil }); err != nil {
			return err
		}
		var objects []EvidenceObject
		var findings [][]any
		var expSha [][]byte
		var expOrg []int64
		var expPeople []string
		var stored, unattr int64
		for _, m := range g.Messages {
			if !inserted[string(m.SHA256[:])] {
				continue
			}
			stored++
			if len(m.Exposures) == 0 {
				unattr++
			}
			objects = append(objects, EvidenceObject{Name: m.SHA256[:], Ciphertext: m.Ciphertext})
			for i, f := range m.Findings {
				findings = append(findings, []any{incidentID, m.SHA256[:], int32(i), f.Type, f.RuleID, f.Part, int32(f.Line), int32(f.Column),
					f.Fingerprint, f.Masked, f.Live})
			}
			for _, e := range m.Exposures {
				expSha, expOrg, expPeople = append(expSha, m.SHA256[:]), append(expOrg, e.OrganizationID), append(expPeople, jsonStrings(e.Participants))
			}
		}
		if len(objects) > 0 {
			if err := s.WriteEvidence(ctx, tx, incidentID, objects); err != nil {
				return err
			}
		}
		if len(findings) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"evidence_findings"}, []string{"incident_id", "sha256", "seq", "type", "rule_id",
				"part", "line", "col", "fingerprint", "masked", "live"}, pgx.CopyFromRows(findings)); err != nil {
				return err
			}
		}
		if len(expSha) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO evidence_exposures (incident_id, sha256, organization_id, participants)
				SELECT $1, u.sha, u.org, ARRAY(SELECT jsonb_array_elements_text(u.people))
				FROM unnest($2::bytea[], $3::bigint[], $4::jsonb[]) AS u(sha, org, people)`, incidentID, expSha, expOrg, expPeople); err != nil {
				return err
			}
		}
		// A message stored by an import running beside this one counts
		// as known here.
		known := g.Known + int64(n) - stored
		_, err = tx.Exec(ctx, `UPDATE evidence_imports SET messages = messages + $2, bytes = bytes + $3, stored = stored + $4,
			known = known + $5, unparseable = unparseable + $6, unattributed = unattributed + $7 WHERE id = $1`,
			importID, g.Read, g.Bytes, stored, known, g.Unparseable, unattr)
		return err
	})
	return wrap("store evidence", err)
}

// itemizeEvidence makes the exposure items of an incident's attributions
// not yet itemized, in batch $2: one per (organization, message), its ref
// "MSG-" and the first 80 bits of the message's SHA-256 in upper-case
// hex (evidenceItemRefSQL), its summary the message's sender,
// that organization's people in it and the attachments. An item with the
// same ref that exists already is left as it is (ON CONFLICT).
const itemizeEvidence = `
INSERT INTO exposure_items (incident_id, organization_id, batch_id, item_ref, kind, occurred_at, subject, secret_types, summary)
SELECT $1, e.organization_id, $2, ` + evidenceItemRefSQL + `, 'email', m.sent_at, left(m.subject, 500), m.secret_types,
       left(concat_ws(E'\n',
            'From: ' || nullif(m.from_address, ''),
            'Your people in it: ' || nullif(array_to_string(e.participants, ', '), ''),
            'Attachments: ' || nullif((SELECT string_agg(coalesce(nullif(a->>'name', ''), '(unnamed)') || ' (' || (a->>'size') || ' bytes)', ', ')
                                       FROM jsonb_array_elements(m.attachments) AS a), '')), 4000)
FROM evidence_exposures e JOIN evidence_messages m USING (incident_id, sha256)
WHERE e.incident_id = $1 AND e.item_id IS NULL
ON CONFLICT (incident_id, organization_id, item_ref) DO NOTHING`

// linkEvidenceItems records the item of each attribution itemized (a
// statement of its own: an insert's rows are not in its own statement's
// snapshot). Each row finds its item through the items' unique index.
const linkEvidenceItems = `
UPDATE evidence_exposures e SET item_id = i.id
FROM exposure_items i
WHERE e.incident_id = $1 AND e.item_id IS NULL
  AND i.incident_id = $1 AND i.organization_id = e.organization_id AND i.item_ref = ` + evidenceItemRefSQL

// evidenceItemRefSQL is the item ref of the attribution e's message.
const evidenceItemRefSQL = `'MSG-' || upper(encode(substring(e.sha256 FROM 1 FOR 10), 'hex'))`

// FinishEvidenceImport closes an import or a re-attribution in one
// transaction: every attribution not yet itemized (this run's and an
// interrupted earlier run's) becomes an exposure item of a new exposure
// batch, follow-ups are scheduled as for any batch, and the run is done,
// with note (the inputs it could not read, or "") as its error text.
func (s *Store) FinishEvidenceImport(ctx context.Context, by notifier.Actor, importID int64, note string) (notifier.EvidenceImport, error) {
	var imp notifier.EvidenceImport
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var incidentID int64
		var kind string
		if err := tx.QueryRow(ctx, `SELECT incident_id, kind FROM evidence_imports WHERE id = $1 AND status = 'running' FOR UPDATE`, importID).
			Scan(&incidentID, &kind); err != nil {
			return notFound(err, "no running evidence import %d", importID)
		}
		// One closing transaction at a time per incident (imports and
		// re-attributions alike): two would each see the other's pending
		// rows; the second waits here, then finds them itemized. A purge
		// takes the same lock: a run it overtook makes no items of what it
		// is deleting.
		var shredded bool
		if err := tx.QueryRow(ctx, `SELECT evidence_shredded_at IS NOT NULL FROM incidents WHERE id = $1 FOR UPDATE`, incidentID).Scan(&shredded); err != nil {
			return err
		}
		if shredded {
			return ErrEvidenceShredded
		}
		res := notifier.ExposureImportResult{}
		if err := tx.QueryRow(ctx, `INSERT INTO exposure_batches (incident_id, items_new, items_duplicate, created_by)
			VALUES ($1, 0, 0, $2) RETURNING id`, incidentID, nullableKey(by)).Scan(&res.BatchID); err != nil {
			return err
		}
		// Both statements below find each row through an index (the
		// messages' key, the items' unique key): planned on statistics
		// that predate a large import (autovacuum has not looked yet),
		// they still cost one lookup per attribution, never a scan per
		// attribution.
		made, err := tx.Exec(ctx, itemizeEvidence, incidentID, res.BatchID)
		if err != nil {
			return err
		}
		linked, err := tx.Exec(ctx, linkEvidenceItems, incidentID)
		if err != nil {
			return err
		}
		res.ItemsNew = int(made.RowsAffected())
		res.ItemsDuplicate = int(linked.RowsAffected()) - res.ItemsNew
		if err := tx.QueryRow(ctx, `SELECT count(DISTINCT organization_id) FROM exposure_items WHERE batch_id = $1`, res.BatchID).
			Scan(&res.Organizations); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE exposure_batches SET items_new = $2, items_duplicate = $3 WHERE id = $1`,
			res.BatchID, res.ItemsNew, res.ItemsDuplicate); err != nil {
			return err
		}
		if err := s.scheduleFollowUps(ctx, tx, incidentID, res.BatchID, &res); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE evidence_imports SET status = 'done', finished_at = now(), batch_id = $2, error = $3 WHERE id = $1`,
			importID, res.BatchID, note); err != nil {
			return err
		}
		if imp, err = evidenceImport(ctx, tx, importID); err != nil {
			return err
		}
		imp.Batch = &res
		return s.appendAudit(ctx, tx, by, auditEvent{evidenceRunAudit[kind], "evidence_import", strconv.FormatInt(importID, 10),
			map[string]any{"incident_id": incidentID, "import": imp}})
	})
	return imp, wrap("finish evidence import", err)
}

// FailEvidenceImport records why an import stopped. What it stored stays:
// running the import again resumes it.
func (s *Store) FailEvidenceImport(ctx context.Context, importID int64, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE evidence_imports SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status = 'running'`,
		importID, reason)
	return wrap("fail evidence import", err)
}

// EvidenceImport returns an import with its progress.
func (s *Store) EvidenceImport(ctx context.Context, importID int64) (notifier.EvidenceImport, error) {
	imp, err := evidenceImport(ctx, s.pool, importID)
	return imp, wrap("evidence import", err)
}

// evidenceImportSelect reads imports with their batch's counts, in one
// statement for one import or a list.
const evidenceImportSelect = `SELECT x.id, x.incident_id, x.name, x.kind, x.status, x.error, x.started_at, x.finished_at, x.messages, x.bytes,
	x.stored, x.known, x.unparseable, x.unattributed, x.attributed, b.id, b.items_new, b.items_duplicate
FROM evidence_imports x LEFT JOIN exposure_batches b ON b.id = x.batch_id`

func scanEvidenceImport(row pgx.Row) (notifier.EvidenceImport, error) {
	var imp notifier.EvidenceImport
	var batch, itemsNew, itemsDuplicate *int64
	err := row.Scan(&imp.ID, &imp.IncidentID, &imp.Name, &imp.Kind, &imp.Status, &imp.Error, &imp.StartedAt, &imp.FinishedAt, &imp.Messages,
		&imp.Bytes, &imp.Stored, &imp.Known, &imp.Unparseable, &imp.Unattributed, &imp.Attributed, &batch, &itemsNew, &itemsDuplicate)
	if err == nil && batch != nil {
		// The lists are the reply to the import's own request; read back
		// later, the batch is its counts (GET /api/v1/batches/{id}).
		imp.Batch = &notifier.ExposureImportResult{BatchID: *batch, ItemsNew: int(*itemsNew), ItemsDuplicate: int(*itemsDuplicate),
			FollowUps: []string{}, AwaitingInitial: []string{}}
	}
	return imp, err
}

func evidenceImport(ctx context.Context, q querier, importID int64) (notifier.EvidenceImport, error) {
	imp, err := scanEvidenceImport(q.QueryRow(ctx, evidenceImportSelect+` WHERE x.id = $1`, importID))
	return imp, notFound(err, "no evidence import %d", importID)
}

// EvidenceImports lists an incident's imports, newest first, at most limit.
func (s *Store) EvidenceImports(ctx context.Context, incidentID int64, limit int) ([]notifier.EvidenceImport, error) {
	rows, err := s.pool.Query(ctx, evidenceImportSelect+` WHERE x.incident_id = $1 ORDER BY x.id DESC LIMIT $2`, incidentID, limit)
	if err != nil {
		return nil, wrap("evidence imports", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.EvidenceImport, error) { return scanEvidenceImport(r) })
	return out, wrap("evidence imports", err)
}

// jsonOr is raw JSON as text, "[]" when empty.
func jsonOr(raw []byte) string {
	if len(raw) == 0 {
		return "[]"
	}
	return string(raw)
}

// jsonStrings is a JSON array of vals, which SQL turns back into a text[]
// (jsonb_array_elements_text) whatever characters the values hold.
func jsonStrings(vals []string) string {
	if vals == nil {
		vals = []string{}
	}
	b, _ := json.Marshal(vals) // a []string always marshals
	return string(b)
}
