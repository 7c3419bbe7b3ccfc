package store

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
)

// PortalLinkEnqueuer inserts the jobs that send sign-in emails inside the
// store's transaction. The queue's Inserter implements it beside
// JobEnqueuer; the store asks its job enqueuer for it when a contact asks
// to sign in.
type PortalLinkEnqueuer interface {
	EnqueuePortalLinksTx(ctx context.Context, tx pgx.Tx, linkIDs []int64) error
}

// titleIfFull is the incident's title (incident alias inc) when the
// notice (alias n) was sent with full disclosure, else empty: a page
// anyone with a minimal notice's mail can open tells no more than the mail.
func titleIfFull(n, inc string) string {
	return `CASE WHEN ` + n + `.disclosure = ` + sqlString(notifier.DisclosureFull) + ` THEN ` + inc + `.title ELSE '' END`
}

// NoticeByReference implements notifier.VerifyStore. Only messages that
// left (sent, or sent and bounced later) count: a queued, failed or
// suppressed delivery's code was never in anyone's mailbox.
func (s *Store) NoticeByReference(ctx context.Context, code string) (notifier.ReferencedNotice, error) {
	var n notifier.ReferencedNotice
	err := s.pool.QueryRow(ctx, `
SELECT coalesce(d.sent_at, d.last_attempt_at, d.queued_at), d.recipient, o.name, `+titleIfFull("n", "inc")+`, coalesce(d.contact_locale, c.locale, '')
FROM deliveries d
JOIN notices n ON n.id = d.notice_id
JOIN incidents inc ON inc.id = n.incident_id
JOIN organizations o ON o.id = n.organization_id
LEFT JOIN contacts c ON c.id = d.contact_id
WHERE d.reference_code = $1 AND d.status IN (`+wentOutStatuses+`)`, code).Scan(&n.SentAt, &n.Recipient, &n.OrgName, &n.IncidentTitle, &n.Locale)
	return n, wrap("verify reference", notFound(err, "no notice has this reference code"))
}

// createPortalLinks records one sign-in request per organization the
// address may sign in to. The address is compared in its ASCII form, so a
// contact may type its domain in Unicode or in punycode.
const createPortalLinks = `
INSERT INTO portal_links (contact_id, organization_id, request_ip)
SELECT c.id, c.organization_id, $2
FROM contacts c
WHERE lower(c.email_ascii) = lower($1) AND ` + isMember + `
ORDER BY c.organization_id
RETURNING id`

// CreatePortalLinks implements notifier.PortalStore.
func (s *Store) CreatePortalLinks(ctx context.Context, email, ip string) (int, error) {
	enq, ok := s.jobs.(PortalLinkEnqueuer)
	if !ok {
		return 0, errors.New("create portal links: the job queue cannot send sign-in emails")
	}
	if ascii, _, err := notifier.AddressASCII(email); err == nil {
		email = ascii
	}
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, createPortalLinks, email, ip)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(ids) == 0 {
			return err
		}
		n = len(ids)
		return enq.EnqueuePortalLinksTx(ctx, tx, ids)
	})
	return n, wrap("create portal links", err)
}

// IssuePortalLink implements delivery.PortalLinkStore.
func (s *Store) IssuePortalLink(ctx context.Context, p delivery.IssuePortalLinkParams) (bool, error) {
	linkID, tokenHash, send, complete := p.LinkID, p.TokenHash, p.Send, p.Complete
	sent := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		m := notifier.PortalLinkMail{LinkID: linkID}
		var wanted bool
		err := tx.QueryRow(ctx, `
SELECT c.email, c.name, c.role, c.locale, o.name, o.ref,
       l.token_hash IS NULL AND l.requested_at > now() - make_interval(secs => $2)
       AND `+isMember+` AND c.organization_id = l.organization_id
FROM portal_links l
JOIN contacts c ON c.id = l.contact_id
JOIN organizations o ON o.id = l.organization_id
WHERE l.id = $1
FOR UPDATE OF l`, linkID, p.Stale.Seconds()).Scan(&m.ContactEmail, &m.ContactName, &m.ContactRole, &m.ContactLocale, &m.OrgName, &m.OrgRef, &wanted)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if !wanted {
			return complete(ctx, tx)
		}
		if _, err := tx.Exec(ctx, `UPDATE portal_links SET token_hash = $2, issued_at = now(), expires_at = now() + make_interval(secs => $3)
			WHERE id = $1`, linkID, tokenHash, p.Lifetime.Seconds()); err != nil {
			return err
		}
		if err := send(ctx, m); err != nil {
			return err
		}
		sent = true
		return complete(ctx, tx)
	})
	return sent, wrap("issue portal link", err)
}

// usablePortalLink is the condition of a link that may still start a
// session: issued, unused, unexpired, and its contact still allowed.
const usablePortalLink = `l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now()
  AND c.id = l.contact_id AND c.organization_id = l.organization_id AND ` + isMember

// PortalLink implements notifier.PortalStore.
func (s *Store) PortalLink(ctx context.Context, tokenHash []byte) (notifier.PortalLinkView, error) {
	v := notifier.PortalLinkView{TokenHash: tokenHash}
	var email string
	err := s.pool.QueryRow(ctx, `SELECT c.email, o.name FROM portal_links l, contacts c, organizations o
		WHERE `+usablePortalLink+` AND o.id = l.organization_id`, tokenHash).Scan(&email, &v.OrgName)
	v.MaskedEmail = notifier.MaskEmail(email)
	return v, wrap("portal link", notFound(err, "this link is not valid or has expired"))
}

// StartPortalSession implements notifier.PortalStore. The UPDATE takes the
// link's row lock, so of two POSTs racing with one link, the second finds
// it used: a link starts one session.
func (s *Store) StartPortalSession(ctx context.Context, tokenHash, sessionHash []byte, req notifier.AckRequest) (notifier.PortalSession, error) {
	var sess notifier.PortalSession
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var linkID, contactID, orgID int64
		err := tx.QueryRow(ctx, `UPDATE portal_links l SET used_at = now() FROM contacts c
			WHERE `+usablePortalLink+` RETURNING l.id, l.contact_id, l.organization_id`, tokenHash).Scan(&linkID, &contactID, &orgID)
		if err != nil {
			return notFound(err, "this link is not valid, was already used, or has expired")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO portal_sessions (id_hash, contact_id, organization_id, link_id, expires_at, ip, user_agent)
			VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6, $7)`,
			sessionHash, contactID, orgID, linkID, notifier.PortalSessionLifetime.Seconds(), notifier.CoarseNetwork(req.IP), req.UserAgent); err != nil {
			return err
		}
		if sess, err = scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM portal_sessions s
			JOIN contacts c ON c.id = s.contact_id JOIN organizations o ON o.id = s.organization_id
			WHERE s.id_hash = $1`, sessionHash), sessionHash); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, sess.Actor(), auditEvent{"portal.sign_in", "organization", strconv.FormatInt(orgID, 10),
			map[string]any{"contact_id": contactID, "portal_link_id": linkID, "ip": req.IP, "user_agent": req.UserAgent}})
	})
	return sess, wrap("start portal session", err)
}

// sessionColumns include the second factor (when the session last
// verified one, and whether the contact has one to verify) and the
// contact's locale (the portal's language unless the visitor chose one).
const sessionColumns = `s.contact_id, c.email, c.name, s.organization_id, o.name, s.expires_at, s.factor_verified_at,
  EXISTS (SELECT 1 FROM portal_totp t WHERE t.contact_id = s.contact_id AND t.confirmed_at IS NOT NULL)
  OR EXISTS (SELECT 1 FROM portal_webauthn_credentials w WHERE w.contact_id = s.contact_id), c.locale, s.id,
  ` + isApprover + `, ` + readsMail

func scanSession(row pgx.Row, hash []byte) (notifier.PortalSession, error) {
	sess := notifier.PortalSession{IDHash: hash}
	err := row.Scan(&sess.ContactID, &sess.ContactEmail, &sess.ContactName, &sess.OrganizationID, &sess.OrgName, &sess.ExpiresAt, &sess.FactorVerifiedAt, &sess.FactorEnrolled, &sess.ContactLocale, &sess.ID, &sess.Approver, &sess.MailAccess)
	return sess, err
}

// PortalSession implements notifier.PortalStore: the same statement that
// finds a live session records its use, but at most once per
// PortalSeenEvery (a write a minute, not one per request). The SELECT sees
// the row as it was before the update, which is live either way.
func (s *Store) PortalSession(ctx context.Context, sessionHash []byte) (notifier.PortalSession, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx, findPortalSession, sessionHash, notifier.PortalSessionIdle.Seconds(), notifier.PortalSeenEvery.Seconds()), sessionHash)
	return sess, wrap("portal session", notFound(err, "this session has ended"))
}

const findPortalSession = `
WITH touch AS (
  UPDATE portal_sessions SET last_seen_at = now()
  WHERE id_hash = $1 AND ended_at IS NULL AND expires_at > now()
    AND last_seen_at > now() - make_interval(secs => $2) AND last_seen_at <= now() - make_interval(secs => $3))
SELECT ` + sessionColumns + `
FROM portal_sessions s, contacts c, organizations o
WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()
  AND s.last_seen_at > now() - make_interval(secs => $2)
  AND c.id = s.contact_id AND c.organization_id = s.organization_id AND ` + isMember + `
  AND o.id = s.organization_id`

// EndPortalSession implements notifier.PortalStore.
func (s *Store) EndPortalSession(ctx context.Context, sess notifier.PortalSession) error {
	return wrap("end portal session", s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE portal_sessions SET ended_at = now(), ended_by = 'member'
			WHERE id_hash = $1 AND organization_id = $2 AND ended_at IS NULL`, sess.IDHash, sess.OrganizationID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return s.appendAudit(ctx, tx, sess.Actor(), auditEvent{"portal.sign_out", "organization",
			strconv.FormatInt(sess.OrganizationID, 10), map[string]any{"contact_id": sess.ContactID}})
	}))
}
