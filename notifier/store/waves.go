package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/templates"
)

// newDeliveryKeys is the select list that gives a delivery (in the
// relation "s", sorted as it is to be sent, its position in that order
// s.rn) its id, Message-ID and reference code. Neither the Message-ID nor
// the code carries the id or anything else sequential: whoever holds one
// message would learn how many went before it.
//
// The keys of the first $5 rows come from a block drawn in Go
// (deliveryKeyBlock, parameters $3 and $4: fixed-width slices, so row n
// reads its own in constant time). Drawing them in SQL cost PostgreSQL
// about a second per 100,000 deliveries (gen_random_uuid, sha256 and 16
// get_byte/substr per code); crypto/rand and Go formatting cost a few
// milliseconds. The rows past the block (a launch the plan did not count
// exactly, a re-send, which draws no block) draw theirs in SQL, from the
// SHA-256 of a random UUID (122 random bits): the code from its first half
// (80 bits, referenceCodeSQL), the Message-ID's local part from its second
// half in hex, so neither can be worked out from the other. Random keys
// land anywhere in their unique indexes, where ids appended at the end: a
// launch of 100,000 deliveries takes about a second longer
// (docs/performance.md).
var newDeliveryKeys = `k.id,
       CASE WHEN s.rn <= $5 THEN encode(substring($3::bytea FROM ((s.rn - 1) * ` + strconv.Itoa(messageIDRandomBytes) + ` + 1)::int FOR ` + strconv.Itoa(messageIDRandomBytes) + `), 'hex')
            ELSE encode(substring(k.r FROM 17 FOR 16), 'hex') END || '@' || $2,
       CASE WHEN s.rn <= $5 THEN convert_from(substring($4::bytea FROM ((s.rn - 1) * ` + strconv.Itoa(referenceCodeWidth) + ` + 1)::int FOR ` + strconv.Itoa(referenceCodeWidth) + `), 'UTF8')
            ELSE ` + referenceCodeSQL("k.r") + ` END`

// newDeliveryKeysFrom draws the id of each row of "s", in its order, and
// the randomness of the rows past the block. The sequence is named as a
// constant (the identity column's, from migration 0001):
// nextval(pg_get_serial_sequence(…)) looks the name up again for every
// row, four times the cost (0.4–0.5 s against 0.1 s per 100,000 rows here).
const newDeliveryKeysFrom = `CROSS JOIN LATERAL (SELECT nextval('deliveries_id_seq'::regclass) AS id,
                                CASE WHEN s.rn > $5 THEN sha256(uuid_send(gen_random_uuid())) END AS r) AS k`

// messageIDRandomBytes is the randomness of a Message-ID's local part.
const messageIDRandomBytes = 16

// referenceCodeWidth is the length of a reference code as stored:
// "BN-XXXX-XXXX-XXXX-XXXX".
const referenceCodeWidth = 2 + notifier.ReferenceLength + notifier.ReferenceLength/4

// deliveryKeyBlock is the Message-ID randomness and reference codes of n
// new deliveries, drawn from crypto/rand, in the fixed-width form
// newDeliveryKeys reads.
type deliveryKeyBlock struct {
	n          int
	messageIDs []byte // n × messageIDRandomBytes random bytes
	codes      []byte // n × referenceCodeWidth ASCII characters
}

// newDeliveryKeyBlock draws the keys of n deliveries. Each character of a
// code is one random byte's low 5 bits in notifier.ReferenceAlphabet (256
// is a multiple of 32, so every character is uniform): the same codes
// referenceCodeSQL makes.
func newDeliveryKeyBlock(n int) deliveryKeyBlock {
	n = max(n, 0)
	b := deliveryKeyBlock{n: n, messageIDs: make([]byte, n*messageIDRandomBytes), codes: make([]byte, 0, n*referenceCodeWidth)}
	random := make([]byte, n*notifier.ReferenceLength)
	rand.Read(b.messageIDs) // crypto/rand.Read never fails (Go 1.24+)
	rand.Read(random)
	for i := range n {
		b.codes = append(b.codes, "BN"...)
		for j, r := range random[i*notifier.ReferenceLength : (i+1)*notifier.ReferenceLength] {
			if j%4 == 0 {
				b.codes = append(b.codes, '-')
			}
			b.codes = append(b.codes, notifier.ReferenceAlphabet[r&31])
		}
	}
	return b
}

// args are the parameters $3, $4 and $5 of newDeliveryKeys.
func (b deliveryKeyBlock) args() []any { return []any{b.messageIDs, b.codes, b.n} }

// referenceCodeSQL is the SQL expression of a reference code made of the
// bytea expression b, which must hold at least notifier.ReferenceLength
// uniformly random bytes: each byte gives one character of
// notifier.ReferenceAlphabet (its low 5 bits; 256 is a multiple of 32, so
// every character is uniform), grouped by four after "BN".
func referenceCodeSQL(b string) string {
	var sb strings.Builder
	sb.WriteString("'BN'")
	for i := range notifier.ReferenceLength {
		if i%4 == 0 {
			sb.WriteString(" || '-'")
		}
		fmt.Fprintf(&sb, " || substr('%s', (get_byte(%s, %d) & 31) + 1, 1)", notifier.ReferenceAlphabet, b, i)
	}
	return sb.String()
}

// Launch statements, in the order LaunchWave runs them.
var (
	launchNoticeItems = `
INSERT INTO notice_items (notice_id, item_id)
SELECT n.id, i.id
FROM notices n
JOIN exposure_items i ON i.incident_id = n.incident_id AND i.organization_id = n.organization_id
WHERE n.wave_id = $1
  AND NOT EXISTS (SELECT 1 FROM notice_items ni WHERE ni.item_id = i.id)`

	// launchDeliveries writes one delivery per contact of each notice's
	// organization (see deliveriesFrom). The rows are ordered by the
	// window's own keys, not by rn: the same order (the keys are unique),
	// but one the planner sees the window's sort already gives, where
	// ORDER BY rn sorted the 100,000 rows of a large launch a second time
	// (on disk, past work_mem). The ids are drawn in this order.
	launchDeliveries = `
INSERT INTO deliveries (id, message_id, reference_code, notice_id, wave_id, contact_id, status, recipient, finished_at, smtp_reply,
                        contact_name, contact_role, contact_locale, portal_access)
OVERRIDING SYSTEM VALUE
SELECT ` + newDeliveryKeys + `,
       s.notice_id, $1, s.contact_id,
       CASE WHEN s.status = 'active' THEN 'queued' ELSE 'suppressed' END,
       s.email,
       CASE WHEN s.status = 'active' THEN NULL ELSE now() END,
       CASE WHEN s.status = 'active' THEN '' ELSE 'not sent: contact is ' || s.status END,
       s.name, s.role, s.locale, s.portal_access
FROM (SELECT n.id AS notice_id, c.id AS contact_id, c.status, c.email, c.name, c.role, c.locale, c.portal_access,
             row_number() OVER (ORDER BY lower(split_part(c.email, '@', 2)), n.id, c.id) AS rn
      FROM notices n JOIN contacts c ON RECIPIENTS
      WHERE n.wave_id = $1
      ORDER BY lower(split_part(c.email, '@', 2)), n.id, c.id) AS s
` + newDeliveryKeysFrom + `
RETURNING id, status`
)

// Who a notice of each kind goes to (the RECIPIENTS join condition of
// launchDeliveries, between the notice n and the contact c). Contacts that bounced or were suppressed get a final
// "suppressed" delivery, so the report shows who was deliberately skipped.
// Deliveries are ordered by recipient domain so a chunk mostly talks to one
// destination.
var (
	// The organization's contacts (initial and follow-up notices).
	orgContacts = `c.organization_id = n.organization_id AND ` + isRecipient
	// The contacts the reminded notice went to.
	parentContacts = `c.id IN (SELECT pd.contact_id FROM deliveries pd WHERE pd.notice_id = n.parent_id)`
	// The organization's legal and executive contacts, or all of them when
	// it has no active one (a bounced legal contact alone would leave the
	// escalation reaching nobody).
	escalationContacts = `c.organization_id = n.organization_id AND ` + isRecipient + `
	  AND (c.role IN (` + escalationRoles + `) OR NOT EXISTS (SELECT 1 FROM contacts c3
	       WHERE c3.organization_id = n.organization_id AND c3.role IN (` + escalationRoles + `) AND c3.status = 'active'))`
)

// deliveriesFrom is launchDeliveries for a kind of notice.
func deliveriesFrom(kind templates.Kind) string {
	recipients := orgContacts
	switch kind {
	case templates.KindReminder:
		recipients = parentContacts
	case templates.KindEscalation:
		recipients = escalationContacts
	}
	return strings.Replace(launchDeliveries, "RECIPIENTS", recipients, 1)
}

// LaunchWave writes a planned wave's notices, their item snapshots, the
// deliveries and one delivery job per chunk in one transaction. The wave
// row lock makes concurrent launches of one wave queue up; the incident row
// lock keeps two waves of one incident from choosing the same targets. A
// wave already launched is returned unchanged. With an idempotency key, the
// first reply is stored and every repeat gets exactly that reply.
func (s *Store) LaunchWave(ctx context.Context, by notifier.Actor, p notifier.LaunchParams) (notifier.Wave, error) {
	var w notifier.Wave
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if p.Idem.Key != "" {
			replayed, err := claimIdempotency(ctx, tx, by, p.Idem, &w)
			if err != nil || replayed {
				return err
			}
		}
		if err := s.launch(ctx, tx, by, p); err != nil {
			return err
		}
		var err error
		if w, err = s.wave(ctx, tx, p.WaveID); err != nil {
			return err
		}
		if p.Idem.Key != "" {
			return storeIdempotentReply(ctx, tx, by, p.Idem, w)
		}
		return nil
	})
	return w, wrap("launch wave", err)
}

func (s *Store) launch(ctx context.Context, tx pgx.Tx, by notifier.Actor, p notifier.LaunchParams) error {
	waveID := p.WaveID
	var incidentID int64
	var status notifier.WaveStatus
	var kind templates.Kind
	var policy []byte
	var digest *string
	var planned *notifier.WaveContent
	var plannedDeliveries int
	var urgent bool
	err := tx.QueryRow(ctx, `SELECT incident_id, status, kind, planned_digest, planned_content, planned_deliveries, urgent_only
		FROM waves WHERE id = $1 FOR UPDATE`, waveID).
		Scan(&incidentID, &status, &kind, &digest, &planned, &plannedDeliveries, &urgent)
	if err != nil {
		return notFound(err, "no wave %d", waveID)
	}
	// The policy is read under the incident's lock, so a change to it
	// (require_approval) committed while this launch waited is seen, and
	// the incident lock keeps a follow-up from choosing the same items.
	if err := tx.QueryRow(ctx, `SELECT policy FROM incidents WHERE id = $1 FOR UPDATE`, incidentID).Scan(&policy); err != nil {
		return err
	}
	var pol notifier.Policy
	if err := json.Unmarshal(policy, &pol); err != nil {
		return err
	}
	switch {
	case status == notifier.WaveCancelled:
		return notifier.Errorf(notifier.CodeConflict, "wave %d was cancelled; plan a new one", waveID)
	case status != notifier.WavePlanned && status != notifier.WaveApproved:
		return nil // launched before: the launch is a no-op
	case pol.RequireApproval && status != notifier.WaveApproved:
		return notifier.Errorf(notifier.CodeConflict, "wave %d needs approval by a second key before it can launch (POST /api/v1/waves/%d/approve)", waveID, waveID)
	}
	// What is launched is what the plan showed (and an approval approved):
	// a plan whose data, templates or sender changed since is stale.
	again := "plan it again"
	if pol.RequireApproval {
		again = "plan it again and have the new plan approved"
	}
	if digest != nil {
		var now string
		if err := tx.QueryRow(ctx, targetsDigest(kind), pgx.NamedArgs{"incident": incidentID, "org": 0, "urgent": urgent}).Scan(&now); err != nil {
			return err
		}
		if now != *digest {
			return notifier.Errorf(notifier.CodeConflict, "what wave %d would send changed after it was planned (organizations, their names, contacts, their names, roles, locales or access, exposure items, or the incident's text): %s", waveID, again)
		}
	}
	// The disclosure goes by the policy read under the incident's lock.
	disclosure := pol.Disclosure.OrFull()
	p.Content.Disclosure = disclosure
	if planned != nil {
		if diff := planned.Diff(p.Content); diff != "" {
			return notifier.Errorf(notifier.CodeConflict, "what wave %d would be sent with changed after it was planned (%s): %s (a template version activated in the last minute may not be loaded by every process yet)", waveID, diff, again)
		}
	}
	if err := pinTemplates(ctx, tx, waveID, p.Content); err != nil {
		return err
	}
	queued, err := s.writeNotices(ctx, tx, incidentID, waveID, kind, targets{urgent: urgent, disclosure: disclosure}, p.ChunkSize, plannedDeliveries)
	if err != nil {
		return err
	}
	next := notifier.WaveRunning
	if queued == 0 {
		next = notifier.WaveCompleted
	}
	if _, err = tx.Exec(ctx, `UPDATE waves SET status = $2, launched_at = now(), launched_by = $3,
		completed_at = CASE WHEN $2 = 'completed' THEN now() END WHERE id = $1`, waveID, next, nullableKey(by)); err != nil {
		return err
	}
	return s.appendAudit(ctx, tx, by, auditEvent{"wave.launch", "wave", strconv.FormatInt(waveID, 10),
		map[string]any{"incident_id": incidentID, "deliveries_queued": queued, "disclosure": disclosure}})
}

// pinTemplates records the template versions a wave renders with to the
// end, and stores their texts (a shipped default too) so that any process,
// even one started from another build, can render with them.
func pinTemplates(ctx context.Context, tx pgx.Tx, waveID int64, c notifier.WaveContent) error {
	if c.Templates == nil {
		return nil
	}
	for _, src := range c.Sources {
		if _, err := tx.Exec(ctx, `INSERT INTO template_versions (kind, locale, version, subject, body_text, body_html)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, locale, version) DO NOTHING`,
			src.Kind, src.Locale, src.Version, src.Source.Subject, src.Source.Text, src.Source.HTML); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `UPDATE waves SET template_versions = $2 WHERE id = $1`, waveID, c.Templates)
	return err
}

// targets narrows whom a wave's notices go to: one organization (org,
// 0 for all) or the urgent ones only; disclosure is what the notices
// tell (the incident's policy at launch).
type targets struct {
	org        int64
	urgent     bool
	disclosure notifier.Disclosure
}

// writeNotices writes a wave's notices for the targets of its kind (as t
// narrows them), their item snapshots, their deliveries
// and one delivery job per chunk. It returns how many deliveries it queued.
// expected is how many deliveries the caller counted (the plan's figure):
// their keys are drawn in Go, any others in SQL (newDeliveryKeys).
func (s *Store) writeNotices(ctx context.Context, tx pgx.Tx, incidentID, waveID int64, kind templates.Kind, t targets, chunkSize, expected int) (int, error) {
	if _, err := tx.Exec(ctx, launchNotices(kind), pgx.NamedArgs{"incident": incidentID, "wave": waveID, "org": t.org, "kind": kind, "urgent": t.urgent,
		"disclosure": t.disclosure.OrFull()}); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, launchNoticeItems, waveID); err != nil {
		return 0, err
	}
	return s.writeDeliveries(ctx, tx, waveID, kind, chunkSize, expected)
}

// writeDeliveries writes the deliveries of a wave's notices and their jobs,
// and returns how many it queued (expected: as for writeNotices).
func (s *Store) writeDeliveries(ctx context.Context, tx pgx.Tx, waveID int64, kind templates.Kind, chunkSize, expected int) (int, error) {
	args := append([]any{waveID, s.messageIDDomain}, newDeliveryKeyBlock(expected).args()...)
	rows, err := tx.Query(ctx, deliveriesFrom(kind), args...)
	if err != nil {
		return 0, err
	}
	var queued []int64
	var id int64
	var st string
	if _, err := pgx.ForEachRow(rows, []any{&id, &st}, func() error {
		if st == string(notifier.DeliveryQueued) {
			queued = append(queued, id)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	return len(queued), s.jobs.EnqueueChunksTx(ctx, tx, chunkDeliveries(waveID, queued, chunkSize))
}

// chunkDeliveries splits ids (in launch order) into delivery jobs.
func chunkDeliveries(waveID int64, ids []int64, size int) []delivery.ScheduledChunk {
	chunks := make([]delivery.ScheduledChunk, 0, (len(ids)+size-1)/size)
	for part := range slices.Chunk(ids, size) {
		chunks = append(chunks, delivery.ScheduledChunk{Chunk: delivery.Chunk{WaveID: waveID, DeliveryIDs: part}})
	}
	return chunks
}

// claimIdempotency records the key, or waits for the transaction that
// recorded it first and replays its reply into w.
func claimIdempotency(ctx context.Context, tx pgx.Tx, by notifier.Actor, idem notifier.Idempotency, w *notifier.Wave) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (api_key_id, key, request) VALUES ($1, $2, $3)
		ON CONFLICT (api_key_id, key) DO NOTHING`, by.KeyID, idem.Key, idem.Request)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 1 {
		return false, nil
	}
	// The insert waited for the first request's transaction to commit; its
	// reply is there now.
	var request string
	var reply []byte
	if err := tx.QueryRow(ctx, `SELECT request, response FROM idempotency_keys WHERE api_key_id = $1 AND key = $2`,
		by.KeyID, idem.Key).Scan(&request, &reply); err != nil {
		return false, err
	}
	if request != idem.Request {
		return false, notifier.Errorf(notifier.CodeInvalid, "Idempotency-Key %q was already used for a different request (%s)", idem.Key, request)
	}
	return true, json.Unmarshal(reply, w)
}

func storeIdempotentReply(ctx context.Context, tx pgx.Tx, by notifier.Actor, idem notifier.Idempotency, w notifier.Wave) error {
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE idempotency_keys SET status = 200, response = $3 WHERE api_key_id = $1 AND key = $2`, by.KeyID, idem.Key, b)
	return err
}

// ApproveWave approves a planned wave; the approver must not be the key
// that planned it (four eyes).
func (s *Store) ApproveWave(ctx context.Context, by notifier.Actor, waveID int64) (notifier.Wave, error) {
	var w notifier.Wave
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var status notifier.WaveStatus
		var plannedBy *int64
		if err := tx.QueryRow(ctx, `SELECT status, planned_by FROM waves WHERE id = $1 FOR UPDATE`, waveID).Scan(&status, &plannedBy); err != nil {
			return notFound(err, "no wave %d", waveID)
		}
		if status != notifier.WavePlanned {
			return notifier.Errorf(notifier.CodeConflict, "wave %d is %s; only a planned wave can be approved", waveID, status)
		}
		if plannedBy != nil && *plannedBy == by.KeyID {
			return notifier.Errorf(notifier.CodeForbidden, "the key that planned wave %d cannot approve it; a second person must", waveID)
		}
		if _, err := tx.Exec(ctx, `UPDATE waves SET status = 'approved', approved_by = $2, approved_at = now() WHERE id = $1`, waveID, nullableKey(by)); err != nil {
			return err
		}
		var err error
		if w, err = s.wave(ctx, tx, waveID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"wave.approve", "wave", strconv.FormatInt(waveID, 10), nil})
	})
	return w, wrap("approve wave", err)
}

// PauseWave stops a running wave's new sends; sends in flight finish.
func (s *Store) PauseWave(ctx context.Context, by notifier.Actor, waveID int64) (notifier.Wave, error) {
	return s.transition(ctx, by, waveID, "wave.pause", []notifier.WaveStatus{notifier.WaveRunning}, false,
		func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE waves SET status = 'paused', paused_at = now() WHERE id = $1`, waveID)
			return err
		})
}

// HoldWave pauses a running wave on the service's own decision (the link
// firewall stopped one of its messages), recording why; the audit trail
// names the link firewall as the actor. A wave not running is left alone:
// another chunk may have paused it already.
func (s *Store) HoldWave(ctx context.Context, waveID int64, reason string) error {
	_, err := s.transition(ctx, notifier.Actor{Name: "link firewall"}, waveID, "wave.pause", []notifier.WaveStatus{notifier.WaveRunning}, false,
		func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE waves SET status = 'paused', paused_at = now(), pause_reason = $2 WHERE id = $1`, waveID, reason)
			return err
		})
	if notifier.ErrorCode(err) == notifier.CodeConflict {
		return nil
	}
	return err
}

// ResumeWave continues a paused wave. Its delivery jobs were snoozing
// while it was paused; they find it running at their next turn.
func (s *Store) ResumeWave(ctx context.Context, by notifier.Actor, waveID int64, content notifier.WaveContent) (notifier.Wave, error) {
	return s.transition(ctx, by, waveID, "wave.resume", []notifier.WaveStatus{notifier.WavePaused}, false,
		func(tx pgx.Tx) error {
			var blocked string
			var pol notifier.Policy
			if err := tx.QueryRow(ctx, `SELECT w.pause_reason, i.policy FROM waves w JOIN incidents i ON i.id = w.incident_id WHERE w.id = $1`,
				waveID).Scan(&blocked, &pol); err != nil {
				return err
			}
			if blocked != "" {
				// The link firewall paused it: its pinned templates cannot
				// be sent, and the fix is a clean version in use now.
				if pol.RequireApproval {
					return notifier.Errorf(notifier.CodeConflict, "wave %d was stopped by the link firewall; under the approval policy "+
						"its templates cannot change without a new approval: cancel it and plan a new wave", waveID)
				}
				if err := pinTemplates(ctx, tx, waveID, content); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE waves SET status = 'running', paused_at = NULL, pause_reason = '' WHERE id = $1`, waveID); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, completeWaves, []int64{waveID})
			return err
		})
}

// CancelWave stops a wave for good: deliveries not sent yet are cancelled,
// sends in flight finish, nothing already sent is touched. A notice that
// reached nobody is voided, so its organization can be notified by a later
// wave.
func (s *Store) CancelWave(ctx context.Context, by notifier.Actor, waveID int64) (notifier.Wave, error) {
	return s.transition(ctx, by, waveID, "wave.cancel",
		[]notifier.WaveStatus{notifier.WavePlanned, notifier.WaveApproved, notifier.WaveRunning, notifier.WavePaused},
		// Cancelling skips the deliveries jobs have claimed: no claim may
		// commit between its reading the claims and its own commit, or
		// that claim's deliveries would be sent while recorded cancelled.
		true, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE waves SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2 WHERE id = $1`,
				waveID, nullableKey(by)); err != nil {
				return err
			}
			// Deliveries a job holds are left to it: it is sending them now
			// and cancels the rest at its next flush.
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'cancelled', finished_at = now(), smtp_reply = 'not sent: wave cancelled'
				WHERE wave_id = $1 AND status IN (`+pendingStatuses+`)
				  AND id NOT IN (SELECT unnest(delivery_ids) FROM delivery_claims WHERE wave_id = $1)`, waveID); err != nil {
				return err
			}
			return voidUnsentNotices(ctx, tx, waveID)
		})
}

// voidUnsentNotices voids the notices of a cancelled wave that no delivery
// reached or may still reach (one in flight is claimed), releasing their
// items.
func voidUnsentNotices(ctx context.Context, tx pgx.Tx, waveID int64) error {
	rows, err := tx.Query(ctx, `UPDATE notices n SET voided_at = now()
		WHERE n.wave_id = $1 AND n.voided_at IS NULL
		  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id AND d.status IN (`+wentOutStatuses+`))
		  AND NOT EXISTS (SELECT 1 FROM deliveries d JOIN delivery_claims cl ON d.id = ANY(cl.delivery_ids)
		                  WHERE cl.wave_id = $1 AND d.notice_id = n.id)
		RETURNING n.id`, waveID)
	if err != nil {
		return err
	}
	voided, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(voided) == 0 {
		return err
	}
	_, err = tx.Exec(ctx, `DELETE FROM notice_items WHERE notice_id = ANY($1)`, voided)
	return err
}

// transition runs a state change of a wave that must be in one of from,
// under the wave's row lock (and its claim lock first when holdClaims),
// audited, and returns the wave after it.
func (s *Store) transition(ctx context.Context, by notifier.Actor, waveID int64, action string, from []notifier.WaveStatus,
	holdClaims bool, change func(tx pgx.Tx) error) (notifier.Wave, error) {
	var w notifier.Wave
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if holdClaims {
			// The wave's claim lock comes before its row, in the same
			// order as a claim takes them (its insert into delivery_claims
			// key-share locks the row), so the two cannot deadlock.
			if err := LockClaims(ctx, tx, waveID); err != nil {
				return err
			}
		}
		var status notifier.WaveStatus
		if err := tx.QueryRow(ctx, `SELECT status FROM waves WHERE id = $1 FOR UPDATE`, waveID).Scan(&status); err != nil {
			return notFound(err, "no wave %d", waveID)
		}
		if !slices.Contains(from, status) {
			return notifier.Errorf(notifier.CodeConflict, "wave %d is %s; %s needs it to be %v", waveID, status, action, from)
		}
		if err := change(tx); err != nil {
			return err
		}
		var err error
		if w, err = s.wave(ctx, tx, waveID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{action, "wave", strconv.FormatInt(waveID, 10), map[string]any{"from": status, "to": w.Status}})
	})
	return w, wrap(action, err)
}

var waveColumns = `w.id, w.incident_id, w.kind, w.status, w.planned_notices, w.planned_deliveries, w.planned_by, w.approved_by,
	w.launched_by, w.cancelled_by, w.created_at, w.approved_at, w.launched_at, w.paused_at, w.pause_reason, w.completed_at, w.cancelled_at,
	w.automatic, w.urgent_only, w.template_versions, w.taken_over_at, coalesce(w.takeover_note, ''),
	(SELECT count(*) FROM notices n WHERE n.wave_id = w.id),
	(SELECT count(*) FROM notices n WHERE n.wave_id = w.id AND n.voided_at IS NULL
	   AND EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id)
	   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id AND d.status IN (` + reachingStatuses + `))),
	(SELECT count(*) FROM notices n JOIN notices r ON r.id = coalesce(n.parent_id, n.id)
	  WHERE n.wave_id = w.id AND n.voided_at IS NULL AND r.acknowledged_at IS NOT NULL),
	(SELECT count(*) FROM notices n JOIN notices r ON r.id = coalesce(n.parent_id, n.id)
	  WHERE n.wave_id = w.id AND n.voided_at IS NULL AND r.acknowledged_at IS NULL)`

func scanWave(r pgx.Row) (notifier.Wave, error) {
	var w notifier.Wave
	err := r.Scan(&w.ID, &w.IncidentID, &w.Kind, &w.Status, &w.PlannedNotices, &w.PlannedDeliveries, &w.PlannedBy, &w.ApprovedBy,
		&w.LaunchedBy, &w.CancelledBy, &w.CreatedAt, &w.ApprovedAt, &w.LaunchedAt, &w.PausedAt, &w.PauseReason, &w.CompletedAt, &w.CancelledAt,
		&w.Automatic, &w.UrgentOnly, &w.TemplateVersions, &w.TakenOverAt, &w.TakeoverNote,
		&w.Notices.Total, &w.Notices.Unreachable, &w.Notices.Acknowledged, &w.Notices.Unacknowledged)
	return w, err
}

// Wave returns a wave with its delivery counts by status.
func (s *Store) Wave(ctx context.Context, waveID int64) (notifier.Wave, error) {
	return s.wave(ctx, s.pool, waveID)
}

func (s *Store) wave(ctx context.Context, q querier, waveID int64) (notifier.Wave, error) {
	w, err := scanWave(q.QueryRow(ctx, `SELECT `+waveColumns+` FROM waves w WHERE w.id = $1`, waveID))
	if err != nil {
		return w, wrap("get wave", notFound(err, "no wave %d", waveID))
	}

	w.Deliveries = zeroCounts()
	rows, err := q.Query(ctx, deliveryCounts, []int64{waveID})
	if err != nil {
		return w, wrap("count deliveries", err)
	}
	var id int64
	var st notifier.DeliveryStatus
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &st, &n}, func() error {
		w.Deliveries[st] = n
		return nil
	})
	return w, wrap("count deliveries", err)
}

// deliveryCounts counts the deliveries of waves by status, going through
// the waves' notices (deliveries have no wave index, see migration 0004).
// A pending delivery under a job's claim counts as sending.
var deliveryCounts = `
WITH sending AS (SELECT DISTINCT unnest(delivery_ids) AS id FROM delivery_claims WHERE wave_id = ANY($1))
SELECT n.wave_id,
       CASE WHEN d.status IN (` + pendingStatuses + `) AND d.id IN (SELECT id FROM sending) THEN 'sending' ELSE d.status END,
       count(*)
FROM notices n JOIN deliveries d ON d.notice_id = n.id
WHERE n.wave_id = ANY($1)
GROUP BY 1, 2`

// Waves lists waves newest first.
func (s *Store) Waves(ctx context.Context, f notifier.WaveFilter, p notifier.Page) ([]notifier.Wave, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+waveColumns+` FROM waves w
		WHERE ($1 = 0 OR w.id < $1) AND ($2 = 0 OR w.incident_id = $2) AND ($3 = '' OR w.status = $3)
		ORDER BY w.id DESC LIMIT $4`, p.After, f.IncidentID, f.Status, p.Limit+1)
	if err != nil {
		return nil, wrap("list waves", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.Wave, error) { return scanWave(r) })
	if err != nil {
		return nil, wrap("list waves", err)
	}
	ids := make([]int64, len(list))
	byID := map[int64]*notifier.Wave{}
	for i := range list {
		ids[i] = list[i].ID
		list[i].Deliveries = zeroCounts()
		byID[list[i].ID] = &list[i]
	}
	rows, err = s.pool.Query(ctx, deliveryCounts, ids)
	if err != nil {
		return nil, wrap("count deliveries", err)
	}
	var id int64
	var st notifier.DeliveryStatus
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &st, &n}, func() error {
		byID[id].Deliveries[st] = n
		return nil
	})
	return list, wrap("count deliveries", err)
}

func zeroCounts() map[notifier.DeliveryStatus]int {
	m := make(map[notifier.DeliveryStatus]int, len(notifier.DeliveryStatuses))
	for _, st := range notifier.DeliveryStatuses {
		m[st] = 0
	}
	return m
}
