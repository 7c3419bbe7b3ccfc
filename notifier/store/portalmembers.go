package store

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// Who may sign in and read what, as conditions on the contact c. Every
// sign-in statement and the session lookup use them, so a revocation or a
// change of level counts on the very next request.
const (
	// isMember: the contact may sign in. Imported with portal access or
	// let in from the portal, and not revoked (which the import never
	// clears).
	isMember = `(c.status = 'active' AND c.revoked_at IS NULL AND (c.portal_access OR c.invited_at IS NOT NULL))`
	// isApprover: IR staff's choice, else the default rule.
	isApprover = `coalesce(c.approver, c.role = 'security' AND c.portal_access)`
	// readsMail: approvers read the stolen mail, and members given the level.
	readsMail = `(` + isApprover + ` OR c.access_level = 'mail')`
	// wasMember: imported with portal access or let in, revoked or not
	// (the members list shows revoked members, so IR staff can restore them).
	wasMember = `(c.status = 'active' AND (c.portal_access OR c.invited_at IS NOT NULL))`
)

// isRecipient: the contact receives notices; a member let in from the
// portal does not (until IR staff import the address).
var isRecipient = `c.role <> ` + sqlString(notifier.ContactMember)

// PortalMemberMailEnqueuer inserts the jobs that send membership mails
// inside the store's transaction (the queue's Inserter implements it).
type PortalMemberMailEnqueuer interface {
	EnqueuePortalMemberMailsTx(ctx context.Context, tx pgx.Tx, mailIDs []int64) error
}

const memberColumns = `c.id, c.email, c.name, c.role, ` + isApprover + `,
  CASE WHEN ` + readsMail + ` THEN 'mail' ELSE 'notices' END, c.invited_at, c.invited_by, c.revoked_at, c.revoked_by,
  EXISTS (SELECT 1 FROM portal_totp t WHERE t.contact_id = c.id AND t.confirmed_at IS NOT NULL)
  OR EXISTS (SELECT 1 FROM portal_webauthn_credentials w WHERE w.contact_id = c.id)`

func scanMember(row pgx.CollectableRow) (notifier.PortalMember, error) {
	var m notifier.PortalMember
	err := row.Scan(&m.ContactID, &m.Email, &m.Name, &m.Role, &m.Approver, &m.Level, &m.InvitedAt, &m.InvitedBy, &m.RevokedAt, &m.RevokedBy, &m.FactorEnrolled)
	return m, err
}

// membershipActivity lists the organization's membership changes. A
// staff actor's name (an API key's) is not the organization's to read:
// it shows as empty ("IR staff").
const membershipActivity = `
SELECT at, CASE WHEN actor_name LIKE 'portal contact %' THEN actor_name ELSE '' END, action,
       coalesce(details::jsonb->>'email', ''), coalesce(details::jsonb->>'level', '')
FROM audit_log
WHERE target_type = 'organization' AND target_id = $1
  AND (action LIKE 'member.%' OR action = '` + notifier.ActionSessionsEndAll + `')
ORDER BY id DESC LIMIT $2`

// Members implements notifier.PortalMemberStore.
func (s *Store) Members(ctx context.Context, orgID int64) (notifier.Members, error) {
	var out notifier.Members
	rows, err := s.pool.Query(ctx, `SELECT `+memberColumns+` FROM contacts c WHERE c.organization_id = $1 AND `+wasMember+`
		ORDER BY c.revoked_at IS NOT NULL, `+isApprover+` DESC, lower(c.email)`, orgID)
	if err != nil {
		return out, wrap("members", err)
	}
	if out.Members, err = pgx.CollectRows(rows, scanMember); err != nil {
		return out, wrap("members", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT id, email, requested_at, coalesce(decision, ''), coalesce(access_level, ''), decided_at, decided_by
		FROM portal_access_requests WHERE organization_id = $1 ORDER BY decided_at IS NOT NULL, requested_at DESC, id DESC LIMIT 50`, orgID)
	if err != nil {
		return out, wrap("access requests", err)
	}
	if out.Requests, err = pgx.CollectRows(rows, pgx.RowToStructByPos[notifier.AccessRequest]); err != nil {
		return out, wrap("access requests", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT domain FROM portal_invite_domains WHERE organization_id = $1 ORDER BY domain`, orgID)
	if err != nil {
		return out, wrap("invite domains", err)
	}
	if out.InviteDomains, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return out, wrap("invite domains", err)
	}
	rows, err = s.pool.Query(ctx, membershipActivity, strconv.FormatInt(orgID, 10), notifier.MembershipActivityShown)
	if err != nil {
		return out, wrap("membership activity", err)
	}
	out.Activity, err = pgx.CollectRows(rows, pgx.RowToStructByPos[notifier.MembershipEvent])
	return out, wrap("membership activity", err)
}

// lockMember finds and locks a member (revoked or not) of the
// organization; anything else is not_found.
func lockMember(ctx context.Context, tx pgx.Tx, orgID, contactID int64) (notifier.PortalMember, error) {
	rows, err := tx.Query(ctx, `SELECT `+memberColumns+` FROM contacts c WHERE c.id = $2 AND c.organization_id = $1 AND `+wasMember+`
		FOR UPDATE OF c`, orgID, contactID)
	if err != nil {
		return notifier.PortalMember{}, err
	}
	m, err := pgx.CollectExactlyOneRow(rows, scanMember)
	return m, notFound(err, "no such member")
}

// errApproversByStaff refuses an approver's change of an approver.
var errApproversByStaff = notifier.Errorf(notifier.CodeConflict, "approvers are changed by IR staff only")

// auditMember records a membership change against the organization.
func (s *Store) auditMember(ctx context.Context, tx pgx.Tx, by notifier.Actor, orgID int64, action string, details map[string]any) error {
	return s.appendAudit(ctx, tx, by, auditEvent{action, "organization", strconv.FormatInt(orgID, 10), details})
}

// queueMemberMails enqueues the sending of membership mails written in tx.
func (s *Store) queueMemberMails(ctx context.Context, tx pgx.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	enq, ok := s.jobs.(PortalMemberMailEnqueuer)
	if !ok {
		return errors.New("the job queue cannot send membership mails")
	}
	return enq.EnqueuePortalMemberMailsTx(ctx, tx, ids)
}

// grantMembership makes email a member of the organization at level: an
// existing contact is let in (and a revocation lifted), else a contact of
// role member is made, who receives no notices. It returns the contact
// and its locale (a new member's is the organization's).
const grantMembership = `
INSERT INTO contacts AS c (organization_id, email, email_ascii, role, locale, invited_at, invited_by, access_level)
SELECT o.id, $2, $5, '` + notifier.ContactMember + `', o.locale, now(), $3, $4 FROM organizations o WHERE o.id = $1
ON CONFLICT (organization_id, lower(email_ascii)) DO UPDATE SET
    invited_at = now(), invited_by = EXCLUDED.invited_by, access_level = EXCLUDED.access_level,
    revoked_at = NULL, revoked_by = '', updated_at = now()
RETURNING c.id, c.locale`

func (s *Store) grant(ctx context.Context, tx pgx.Tx, by notifier.MemberActor, orgID int64, email, level string) (id int64, locale string, err error) {
	// Contacts are one per address in its ASCII form (migration 0030).
	ascii, _, err := notifier.AddressASCII(email)
	if err != nil {
		return 0, "", &notifier.Error{Code: notifier.CodeInvalid, Message: "not an email address",
			Details: []notifier.RowError{{Field: "email", Message: err.Error()}}}
	}
	var approver bool
	err = tx.QueryRow(ctx, `SELECT `+isApprover+` FROM contacts c WHERE c.organization_id = $1 AND lower(c.email_ascii) = lower($2)
		FOR UPDATE`, orgID, ascii).Scan(&approver)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, "", err
	}
	if approver && !by.Staff {
		return 0, "", errApproversByStaff
	}
	err = tx.QueryRow(ctx, grantMembership, orgID, email, by.Actor.Name, level, ascii).Scan(&id, &locale)
	return id, locale, err
}

// mayInvite: the address's domain is one of the organization's or an
// exception IR staff added.
const mayInvite = `
SELECT EXISTS (SELECT 1 FROM organizations o, unnest(o.domains) d WHERE o.id = $1 AND lower(d) = lower(split_part($2, '@', 2)))
    OR EXISTS (SELECT 1 FROM portal_invite_domains x WHERE x.organization_id = $1 AND x.domain = lower(split_part($2, '@', 2)))`

// memberMail writes one membership mail to send, in tx.
const memberMail = `INSERT INTO portal_member_mails (organization_id, kind, recipient, locale, about)
VALUES ($1, $2, $3, $4, $5) RETURNING id`

// InviteMember implements notifier.PortalMemberStore.
func (s *Store) InviteMember(ctx context.Context, by notifier.MemberActor, orgID int64, p notifier.InviteParams) (notifier.PortalMember, error) {
	var m notifier.PortalMember
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, mayInvite, orgID, p.Email).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return &notifier.Error{Code: notifier.CodeForbidden, Message: "members are invited at the organization's own domains only (IR staff can add an exception)",
				Details: []notifier.RowError{{Field: "email", Message: "not at one of the organization's domains"}}}
		}
		id, locale, err := s.grant(ctx, tx, by, orgID, p.Email, p.Level)
		if err != nil {
			return err
		}
		if m, err = lockMember(ctx, tx, orgID, id); err != nil {
			return err
		}
		var mailID int64
		if err := tx.QueryRow(ctx, memberMail, orgID, notifier.MemberMailInvite, m.Email, locale, "").Scan(&mailID); err != nil {
			return err
		}
		if err := s.queueMemberMails(ctx, tx, []int64{mailID}); err != nil {
			return err
		}
		return s.auditMember(ctx, tx, by.Actor, orgID, notifier.ActionMemberInvite,
			map[string]any{"contact_id": id, "email": m.Email, "level": p.Level})
	})
	return m, wrap("invite member", err)
}

// SetMemberLevel implements notifier.PortalMemberStore.
func (s *Store) SetMemberLevel(ctx context.Context, by notifier.MemberActor, orgID, contactID int64, level string) error {
	return wrap("set member level", s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := lockMember(ctx, tx, orgID, contactID)
		if err != nil {
			return err
		}
		if m.Approver {
			return notifier.Errorf(notifier.CodeConflict, "an approver always reads mail")
		}
		if _, err := tx.Exec(ctx, `UPDATE contacts SET access_level = $2, updated_at = now() WHERE id = $1`, contactID, level); err != nil {
			return err
		}
		return s.auditMember(ctx, tx, by.Actor, orgID, notifier.ActionMemberLevel,
			map[string]any{"contact_id": contactID, "email": m.Email, "level": level, "was": m.Level})
	}))
}

// RevokeMember implements notifier.PortalMemberStore: the member's
// sessions end in the same transaction, so their next request is refused.
func (s *Store) RevokeMember(ctx context.Context, by notifier.MemberActor, orgID, contactID int64) (int, error) {
	ended := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := lockMember(ctx, tx, orgID, contactID)
		if err != nil {
			return err
		}
		if m.Approver && !by.Staff {
			return errApproversByStaff
		}
		if m.Revoked() {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE contacts SET revoked_at = now(), revoked_by = $2, updated_at = now() WHERE id = $1`,
			contactID, by.Actor.Name); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE portal_sessions SET ended_at = now(), ended_by = 'revoked'
			WHERE contact_id = $1 AND organization_id = $2 AND ended_at IS NULL`, contactID, orgID)
		if err != nil {
			return err
		}
		ended = int(tag.RowsAffected())
		return s.auditMember(ctx, tx, by.Actor, orgID, notifier.ActionMemberRevoke,
			map[string]any{"contact_id": contactID, "email": m.Email, "sessions_ended": ended})
	})
	return ended, wrap("revoke member", err)
}

// RestoreMember implements notifier.PortalMemberStore.
func (s *Store) RestoreMember(ctx context.Context, by notifier.Actor, orgID, contactID int64) error {
	return wrap("restore member", s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := lockMember(ctx, tx, orgID, contactID)
		if err != nil || !m.Revoked() {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE contacts SET revoked_at = NULL, revoked_by = '', updated_at = now() WHERE id = $1`, contactID); err != nil {
			return err
		}
		return s.auditMember(ctx, tx, by, orgID, notifier.ActionMemberRestore, map[string]any{"contact_id": contactID, "email": m.Email})
	}))
}

// SetApprover implements notifier.PortalMemberStore.
func (s *Store) SetApprover(ctx context.Context, by notifier.Actor, orgID, contactID int64, approver *bool) error {
	return wrap("set approver", s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := lockMember(ctx, tx, orgID, contactID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE contacts SET approver = $2, updated_at = now() WHERE id = $1`, contactID, approver); err != nil {
			return err
		}
		var set any = "default"
		if approver != nil {
			set = *approver
		}
		return s.auditMember(ctx, tx, by, orgID, notifier.ActionMemberApprover,
			map[string]any{"contact_id": contactID, "email": m.Email, "approver": set, "was": m.Approver})
	}))
}

// ResetMemberFactors implements notifier.PortalMemberStore.
func (s *Store) ResetMemberFactors(ctx context.Context, by notifier.MemberActor, orgID, contactID int64) (notifier.FactorReset, error) {
	out := notifier.FactorReset{ContactID: contactID}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := lockMember(ctx, tx, orgID, contactID)
		if err != nil {
			return err
		}
		if m.Approver && !by.Staff {
			return errApproversByStaff
		}
		if err := tx.QueryRow(ctx, resetFactors, contactID).Scan(&out.TOTP, &out.Passkeys, &out.Sessions); err != nil {
			return err
		}
		return s.auditMember(ctx, tx, by.Actor, orgID, notifier.ActionMemberFactorsReset,
			map[string]any{"contact_id": contactID, "email": m.Email, "totp": out.TOTP, "passkeys": out.Passkeys})
	})
	return out, wrap("reset member factors", err)
}

// requestAccess records a pending request at every organization one of
// whose domains is the address's, unless the address is a member there
// or has a request pending.
const requestAccess = `
INSERT INTO portal_access_requests (organization_id, email, locale)
SELECT o.id, $1, $2 FROM organizations o
WHERE EXISTS (SELECT 1 FROM unnest(o.domains) d WHERE lower(d) = lower(split_part($1, '@', 2)))
  AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.organization_id = o.id AND lower(c.email_ascii) = lower($3) AND ` + isMember + `)
ON CONFLICT (organization_id, lower(email)) WHERE decided_at IS NULL DO NOTHING
RETURNING id, organization_id`

// approversMail writes the request's mail to each approver of the organization.
const approversMail = `
INSERT INTO portal_member_mails (organization_id, kind, recipient, locale, about)
SELECT c.organization_id, '` + notifier.MemberMailRequest + `', c.email, c.locale, $2
FROM contacts c WHERE c.organization_id = $1 AND ` + isMember + ` AND ` + isApprover + `
RETURNING id`

// RequestAccess implements notifier.PortalMemberStore.
func (s *Store) RequestAccess(ctx context.Context, email, locale string) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ascii, _, err := notifier.AddressASCII(email)
		if err != nil {
			ascii = email // matches no contact: the request is made, or nothing is
		}
		rows, err := tx.Query(ctx, requestAccess, email, locale, ascii)
		if err != nil {
			return err
		}
		type made struct{ ID, OrgID int64 }
		reqs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[made])
		if err != nil {
			return err
		}
		n = len(reqs)
		var mails []int64
		for _, r := range reqs {
			rows, err := tx.Query(ctx, approversMail, r.OrgID, email)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			mails = append(mails, ids...)
			if err := s.auditMember(ctx, tx, notifier.Actor{Name: "access request from the portal"}, r.OrgID, notifier.ActionMemberRequest,
				map[string]any{"request_id": r.ID, "email": email, "approvers_mailed": len(ids)}); err != nil {
				return err
			}
		}
		return s.queueMemberMails(ctx, tx, mails)
	})
	return n, wrap("request portal access", err)
}

// DecideAccessRequest implements notifier.PortalMemberStore.
func (s *Store) DecideAccessRequest(ctx context.Context, by notifier.MemberActor, orgID, requestID int64, approve bool, level string) error {
	return wrap("decide access request", s.inTx(ctx, func(tx pgx.Tx) error {
		var email, locale string
		if err := tx.QueryRow(ctx, `SELECT email, locale FROM portal_access_requests
			WHERE id = $2 AND organization_id = $1 AND decided_at IS NULL FOR UPDATE`, orgID, requestID).Scan(&email, &locale); err != nil {
			return notFound(err, "no such pending request")
		}
		decision, kind, details := notifier.DecisionRefused, notifier.MemberMailRefused, map[string]any{"request_id": requestID, "email": email}
		var lvl *string
		if approve {
			decision, kind, lvl = notifier.DecisionApproved, notifier.MemberMailApproved, &level
			id, _, err := s.grant(ctx, tx, by, orgID, email, level)
			if err != nil {
				return err
			}
			details["contact_id"], details["level"] = id, level
		}
		details["decision"] = decision
		if _, err := tx.Exec(ctx, `UPDATE portal_access_requests SET decision = $2, access_level = $3, decided_at = now(), decided_by = $4
			WHERE id = $1`, requestID, decision, lvl, by.Actor.Name); err != nil {
			return err
		}
		var mailID int64
		if err := tx.QueryRow(ctx, memberMail, orgID, kind, email, locale, "").Scan(&mailID); err != nil {
			return err
		}
		if err := s.queueMemberMails(ctx, tx, []int64{mailID}); err != nil {
			return err
		}
		return s.auditMember(ctx, tx, by.Actor, orgID, notifier.ActionMemberRequestDecide, details)
	}))
}

// SetInviteDomain implements notifier.PortalMemberStore.
func (s *Store) SetInviteDomain(ctx context.Context, by notifier.Actor, orgID int64, domain string, allow bool) error {
	return wrap("set invite domain", s.inTx(ctx, func(tx pgx.Tx) error {
		var tag interface{ RowsAffected() int64 }
		var err error
		if allow {
			tag, err = tx.Exec(ctx, `INSERT INTO portal_invite_domains (organization_id, domain, added_by) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, orgID, domain, by.Name)
		} else {
			tag, err = tx.Exec(ctx, `DELETE FROM portal_invite_domains WHERE organization_id = $1 AND domain = $2`, orgID, domain)
		}
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return s.auditMember(ctx, tx, by, orgID, notifier.ActionMemberInviteDomain, map[string]any{"domain": domain, "allow": allow})
	}))
}

// SendMemberMail implements notifier.PortalMemberStore: the send, the
// mark and the job's completion share one transaction; a mail already
// sent only completes the job.
func (s *Store) SendMemberMail(ctx context.Context, id int64, send func(context.Context, notifier.MemberMail) error, complete notifier.JobCompleter) (bool, error) {
	sent := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		m := notifier.MemberMail{ID: id}
		err := tx.QueryRow(ctx, `SELECT m.kind, m.recipient, m.locale, o.name, m.about
			FROM portal_member_mails m JOIN organizations o ON o.id = m.organization_id
			WHERE m.id = $1 AND m.sent_at IS NULL FOR UPDATE OF m`, id).Scan(&m.Kind, &m.Recipient, &m.Locale, &m.OrgName, &m.About)
		if errors.Is(err, pgx.ErrNoRows) {
			return complete(ctx, tx)
		}
		if err != nil {
			return err
		}
		if err := send(ctx, m); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE portal_member_mails SET sent_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		sent = true
		return complete(ctx, tx)
	})
	return sent, wrap("send membership mail", err)
}
