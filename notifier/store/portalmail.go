package store

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// The portal's mail review: stolen messages attributed to one
// organization ($1 in every query, compared with
// evidence_exposures.organization_id). A message of two organizations has
// an exposure row for each, so each sees it; a message of another
// organization only is not found, whatever ref is asked for.

// portalMessageSortKey is the mail list's order, newest first, undated
// last; the index evidence_exposures_mail_list (migration 0023) is in
// this order, so a page is a range scan of that index.
const portalMessageSortKey = `coalesce(x.sent_at, '0001-01-01 00:00:00+00'::timestamptz)`

// portalMessagesSelect is the mail list's columns and filters:
// $2 subject substring, $3 participant address or domain, $4/$5 date
// bounds (year 1 and 9999 when open), $6 has secrets.
const portalMessagesSelect = `
SELECT x.incident_id, x.sha256, ` + portalMessageSortKey + `, m.sent_at, m.from_address, m.subject,
       jsonb_array_length(m.attachments), m.secret_types, m.unparseable,
       EXISTS (SELECT 1 FROM evidence_findings f WHERE f.incident_id = m.incident_id AND f.sha256 = m.sha256 AND f.part = 'subject')
FROM evidence_exposures x
JOIN evidence_messages m ON m.incident_id = x.incident_id AND m.sha256 = x.sha256
WHERE x.organization_id = $1
  AND ($2::text = '' OR strpos(lower(m.subject), lower($2::text)) > 0)
  AND ($3::text = '' OR EXISTS (
        SELECT 1 FROM jsonb_array_elements(m.participants) p
        WHERE lower(p->>'address') = $3::text OR p->>'domain' = $3::text
           OR right(p->>'domain', length($3::text) + 1) = '.' || $3::text))
  AND ` + portalMessageSortKey + ` >= $4::timestamptz AND ` + portalMessageSortKey + ` < $5::timestamptz
  AND (NOT $6::boolean OR cardinality(m.secret_types) > 0)`

// portalMessagesFirst is the first page; portalMessagesAfter a later one,
// after the cursor $8..$10 (a row comparison the index answers).
const (
	portalMessagesOrder = `
ORDER BY ` + portalMessageSortKey + ` DESC, x.incident_id DESC, x.sha256 DESC
LIMIT $7`
	portalMessagesFirst = portalMessagesSelect + portalMessagesOrder
	portalMessagesAfter = portalMessagesSelect + `
  AND (` + portalMessageSortKey + `, x.incident_id, x.sha256) < ($8::timestamptz, $9::bigint, $10::bytea)` + portalMessagesOrder
)

func scanPortalMessage(r pgx.CollectableRow) (notifier.PortalMessage, error) {
	var m notifier.PortalMessage
	var sha []byte
	err := r.Scan(&m.Ref.IncidentID, &sha, &m.SortAt, &m.SentAt, &m.From, &m.Subject, &m.Attachments, &m.SecretTypes, &m.Unparseable,
		&m.SubjectHasSecret)
	copy(m.Ref.SHA256[:], sha)
	return m, err
}

// undated is an undated message's sort key: the oldest time a message
// can have.
var undated = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// noLaterThan is the open end of a date range.
var noLaterThan = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// PortalMessages implements notifier.PortalMailStore.
func (s *Store) PortalMessages(ctx context.Context, orgID int64, f notifier.PortalMessageFilter, after *notifier.MessageCursor, limit int) ([]notifier.PortalMessage, error) {
	from, to := undated, noLaterThan
	if !f.From.IsZero() {
		from = f.From.UTC().Truncate(24 * time.Hour)
	}
	if !f.To.IsZero() {
		to = f.To.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	}
	args := []any{orgID, f.Subject, strings.ToLower(f.Participant), from, to, f.HasSecrets, limit + 1}
	q := portalMessagesFirst
	if after != nil {
		q = portalMessagesAfter
		args = append(args, after.SortAt, after.IncidentID, after.SHA256[:])
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("portal messages", err)
	}
	list, err := pgx.CollectRows(rows, scanPortalMessage)
	return list, wrap("portal messages", err)
}

// portalMessageQuery is one message of the organization.
const portalMessageQuery = `
SELECT m.incident_id, m.sha256, coalesce(m.sent_at, '0001-01-01 00:00:00+00'::timestamptz), m.sent_at, m.from_address, m.subject,
       jsonb_array_length(m.attachments), m.secret_types, m.unparseable,
       m.size, m.message_id, m.attachments, m.problems
FROM evidence_messages m
JOIN incidents i ON i.id = m.incident_id
WHERE m.incident_id = $2 AND m.sha256 = $3 AND i.evidence_shredded_at IS NULL
  AND EXISTS (SELECT 1 FROM evidence_exposures x
              WHERE x.organization_id = $1 AND x.incident_id = m.incident_id AND x.sha256 = m.sha256)`

// portalFindingsQuery is a message's findings, in the order found.
const portalFindingsQuery = `
SELECT seq, type, rule_id, part, line, col, fingerprint, masked, live
FROM evidence_findings WHERE incident_id = $1 AND sha256 = $2 ORDER BY seq`

// PortalMessage implements notifier.PortalMailStore.
func (s *Store) PortalMessage(ctx context.Context, orgID int64, ref notifier.MessageRef) (notifier.PortalMessageDetail, error) {
	var d notifier.PortalMessageDetail
	var sha, files []byte
	err := s.pool.QueryRow(ctx, portalMessageQuery, orgID, ref.IncidentID, ref.SHA256[:]).Scan(&d.Ref.IncidentID, &sha, &d.SortAt,
		&d.SentAt, &d.From, &d.Subject, &d.Attachments, &d.SecretTypes, &d.Unparseable, &d.Size, &d.MessageID, &files, &d.Problems)
	if err != nil {
		return d, wrap("portal message", notFound(err, "no such message"))
	}
	copy(d.Ref.SHA256[:], sha)
	if err := json.Unmarshal(files, &d.Files); err != nil {
		return d, wrap("portal message attachments", err)
	}
	rows, err := s.pool.Query(ctx, portalFindingsQuery, ref.IncidentID, ref.SHA256[:])
	if err != nil {
		return d, wrap("portal message findings", err)
	}
	d.Findings, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.PortalFinding, error) {
		var f notifier.PortalFinding
		err := r.Scan(&f.Seq, &f.Type, &f.RuleID, &f.Part, &f.Line, &f.Column, &f.Fingerprint, &f.Masked, &f.Live)
		return f, err
	})
	for _, f := range d.Findings {
		d.SubjectHasSecret = d.SubjectHasSecret || f.Part == "subject"
	}
	return d, wrap("portal message findings", err)
}

// evidenceAccessQuery lists an organization's audited uses of stolen
// mail (index audit_log_evidence_access), with each message's subject
// while the message is still the organization's and no secret was found
// in it (the page then names the message by its ref).
const evidenceAccessQuery = `
SELECT a.id, a.at, coalesce(j.d->>'contact_email', ''), coalesce((j.d->>'contact_id')::bigint, 0),
       a.action, coalesce(j.d->>'page', ''), coalesce(j.d->>'message', ''),
       CASE WHEN EXISTS (SELECT 1 FROM evidence_findings f WHERE f.incident_id = m.incident_id AND f.sha256 = m.sha256 AND f.part = 'subject')
            THEN '' ELSE coalesce(m.subject, '') END,
       coalesce((j.d->>'finding')::int, -1), coalesce((j.d->>'attachment')::int, -1)
FROM audit_log a
CROSS JOIN LATERAL (SELECT a.details::jsonb AS d) j
LEFT JOIN evidence_messages m
       ON j.d->>'message' ~ '^[0-9]{1,18}-[0-9a-f]{64}$'
      AND m.incident_id = split_part(j.d->>'message', '-', 1)::bigint
      AND m.sha256 = decode(split_part(j.d->>'message', '-', 2), 'hex')
      AND EXISTS (SELECT 1 FROM evidence_exposures x
                  WHERE x.organization_id = $1 AND x.incident_id = m.incident_id AND x.sha256 = m.sha256)
WHERE a.target_type = 'organization' AND a.target_id = $1::bigint::text
  AND a.action IN ('evidence.view', 'evidence.reveal', 'evidence.download')
  AND a.id < $2
ORDER BY a.id DESC
LIMIT $3`

// EvidenceAccess implements notifier.PortalMailStore.
func (s *Store) EvidenceAccess(ctx context.Context, orgID int64, p notifier.Page) ([]notifier.EvidenceAccess, error) {
	before := int64(math.MaxInt64)
	if p.After > 0 {
		before = p.After
	}
	rows, err := s.pool.Query(ctx, evidenceAccessQuery, orgID, before, p.Limit+1)
	if err != nil {
		return nil, wrap("evidence access", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.EvidenceAccess, error) {
		var e notifier.EvidenceAccess
		err := r.Scan(&e.ID, &e.At, &e.ContactEmail, &e.ContactID, &e.Action, &e.What, &e.Message, &e.Subject, &e.Finding, &e.Attachment)
		e.Action = strings.TrimPrefix(e.Action, "evidence.")
		return e, err
	})
	return list, wrap("evidence access", err)
}

// portalItemMessagesQuery is the stolen messages behind an item of the
// organization (index evidence_exposures_item).
const portalItemMessagesQuery = `
SELECT x.incident_id, x.sha256 FROM evidence_exposures x
WHERE x.organization_id = $1 AND x.item_id = $2
ORDER BY x.incident_id, x.sha256`

// PortalItemMessages implements notifier.PortalMailStore.
func (s *Store) PortalItemMessages(ctx context.Context, orgID, itemID int64) ([]notifier.MessageRef, error) {
	rows, err := s.pool.Query(ctx, portalItemMessagesQuery, orgID, itemID)
	if err != nil {
		return nil, wrap("portal item messages", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.MessageRef, error) {
		var m notifier.MessageRef
		var sha []byte
		err := r.Scan(&m.IncidentID, &sha)
		copy(m.SHA256[:], sha)
		return m, err
	})
	return list, wrap("portal item messages", err)
}
