package notifier

import (
	"context"
	"strings"
	"time"
)

// The organization runs its own membership (issue 14): its approvers
// (set by IR staff; by default its security contacts with portal access)
// invite members at its domains, let in or refuse those who ask, set
// what each may read and revoke them. IR staff see and can override all
// of it. Every change is audited against the organization and shown to
// it (MembershipActivity).

// Access levels of a member.
const (
	// AccessNotices reads notices, items and their lists.
	AccessNotices = "notices"
	// AccessMail reads the stolen mail too, behind the second factor.
	AccessMail = "mail"
)

// ContactMember is the role of a member invited in the portal: never a
// notice recipient (an import of the address gives it a recipient's role).
const ContactMember = "member"

// Audit actions of membership, recorded against the organization.
const (
	ActionMemberInvite        = "member.invite"
	ActionMemberLevel         = "member.level"
	ActionMemberRevoke        = "member.revoke"
	ActionMemberRestore       = "member.restore"
	ActionMemberApprover      = "member.approver"
	ActionMemberFactorsReset  = "member.factors_reset"
	ActionMemberRequest       = "member.request"
	ActionMemberRequestDecide = "member.request_decided"
	ActionMemberInviteDomain  = "member.invite_domain"
	ActionSessionsEndAll      = "portal.sessions_end_all"
)

// Request decisions.
const (
	DecisionApproved = "approved"
	DecisionRefused  = "refused"
)

// PortalMember is a contact who may (or, revoked, no longer may) sign in.
type PortalMember struct {
	ContactID int64      `json:"contact_id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Approver  bool       `json:"approver"`
	Level     string     `json:"level"`
	InvitedAt *time.Time `json:"invited_at"`
	InvitedBy string     `json:"invited_by"`
	RevokedAt *time.Time `json:"revoked_at"`
	RevokedBy string     `json:"revoked_by"`
	// FactorEnrolled says the member has a second factor.
	FactorEnrolled bool `json:"factor_enrolled"`
}

// Revoked reports whether the member's access was taken away.
func (m PortalMember) Revoked() bool { return m.RevokedAt != nil }

// AccessRequest is one request for access from the public page.
type AccessRequest struct {
	ID          int64      `json:"id"`
	Email       string     `json:"email"`
	RequestedAt time.Time  `json:"requested_at"`
	Decision    string     `json:"decision"`
	Level       string     `json:"level"`
	DecidedAt   *time.Time `json:"decided_at"`
	DecidedBy   string     `json:"decided_by"`
}

// MembershipEvent is one audited change of membership, as the
// organization sees it.
type MembershipEvent struct {
	At time.Time `json:"at"`
	// Actor is the member who made the change; empty for IR staff, and
	// for an access request (its requester is Email).
	Actor  string `json:"actor"`
	Action string `json:"action"`
	// Email and Level are the member the change is about and the level
	// given, where the change has them.
	Email string `json:"email"`
	Level string `json:"level"`
}

// Kind is the action without its prefix (invite, revoke,
// sessions_end_all), as pages name it.
func (e MembershipEvent) Kind() string { return e.Action[strings.LastIndex(e.Action, ".")+1:] }

// Members is an organization's membership: members, requests (pending
// first), invite domain exceptions and the latest changes.
type Members struct {
	Members       []PortalMember    `json:"members"`
	Requests      []AccessRequest   `json:"requests"`
	InviteDomains []string          `json:"invite_domains"`
	Activity      []MembershipEvent `json:"activity"`
}

// MemberActor is who changes membership: an approver in the portal
// (Staff false: the approvers' limits apply) or IR staff.
type MemberActor struct {
	Actor Actor
	Staff bool
}

// InviteParams invite a member: the invitation mail speaks the
// contact's locale (a new member's is the organization's).
type InviteParams struct {
	Email string
	Level string
}

// MemberMail is one membership mail to send (the portal_member_mail job).
type MemberMail struct {
	ID        int64
	Kind      string
	Recipient string
	Locale    string
	OrgName   string
	// About is the requester's address in the approvers' mail.
	About string
}

// Membership mail kinds.
const (
	MemberMailInvite   = "invite"
	MemberMailRequest  = "request"
	MemberMailApproved = "approved"
	MemberMailRefused  = "refused"
)

// MembershipActivityShown is how many changes the members page lists.
const MembershipActivityShown = 50

// PortalMemberStore is the persistence of membership. Every method takes
// the organization and touches its rows only (in SQL); a contact or
// request of another organization is not_found.
type PortalMemberStore interface {
	Members(ctx context.Context, orgID int64) (Members, error)
	// InviteMember makes email a member (a new contact of role member, or
	// an existing contact) at level, and queues the invitation mail;
	// forbidden when the address is at none of the organization's domains
	// or exceptions, conflict when it is an approver's.
	InviteMember(ctx context.Context, by MemberActor, orgID int64, p InviteParams) (PortalMember, error)
	// SetMemberLevel sets a member's level (not an approver's: they read mail).
	SetMemberLevel(ctx context.Context, by MemberActor, orgID, contactID int64, level string) error
	// RevokeMember takes a member's access away and ends their sessions in
	// the same transaction; an approver cannot revoke an approver.
	RevokeMember(ctx context.Context, by MemberActor, orgID, contactID int64) (int, error)
	// RestoreMember gives a revoked member their access back (IR staff).
	RestoreMember(ctx context.Context, by Actor, orgID, contactID int64) error
	// SetApprover makes a member an approver or not, or (nil) returns them
	// to the default rule (IR staff).
	SetApprover(ctx context.Context, by Actor, orgID, contactID int64, approver *bool) error
	// ResetMemberFactors removes a member's second factors (an approver,
	// for a member who is not one).
	ResetMemberFactors(ctx context.Context, by MemberActor, orgID, contactID int64) (FactorReset, error)
	// RequestAccess records a pending request from email at every
	// organization one of whose domains is email's (none for a member or
	// a pending request) and queues the approvers' mails; the count only
	// goes to the log.
	RequestAccess(ctx context.Context, email, locale string) (int, error)
	// DecideAccessRequest approves (at level) or refuses a pending request
	// and queues the answer to the requester.
	DecideAccessRequest(ctx context.Context, by MemberActor, orgID, requestID int64, approve bool, level string) error
	// SetInviteDomain adds (or removes) a domain outside the
	// organization's own where its approvers may invite (IR staff).
	SetInviteDomain(ctx context.Context, by Actor, orgID int64, domain string, allow bool) error
	// MemberMail finds a membership mail not sent yet; SendMemberMail
	// marks it sent with the job's completion (see delivery.PortalMailer).
	SendMemberMail(ctx context.Context, id int64, send func(context.Context, MemberMail) error, complete JobCompleter) (bool, error)
}

// checkLevel refuses anything but the two levels, naming the field.
func checkLevel(level string) error {
	if level != AccessNotices && level != AccessMail {
		return &Error{Code: CodeInvalid, Message: "level must be notices or mail",
			Details: []RowError{{Field: "level", Message: "must be notices or mail"}}}
	}
	return nil
}

// approverOnly refuses a portal member who is not an approver.
func approverOnly(sess PortalSession) error {
	if !sess.Approver {
		return Errorf(CodeNotFound, "no such page")
	}
	return nil
}

func approverActor(sess PortalSession) MemberActor { return MemberActor{Actor: sess.Actor()} }

// PortalMembers is the members page: every member sees who the members
// and approvers are and the changes; approvers also see the requests.
func (s *Service) PortalMembers(ctx context.Context, sess PortalSession) (Members, error) {
	m, err := s.store.Members(ctx, sess.OrganizationID)
	if err != nil {
		return m, err
	}
	if !sess.Approver {
		m.Requests = nil
	}
	return m, s.auditView(ctx, sess, "portal.view", "members", nil)
}

// InviteMember invites a member from the portal (an approver).
func (s *Service) InviteMember(ctx context.Context, sess PortalSession, email, level string) (PortalMember, error) {
	if err := approverOnly(sess); err != nil {
		return PortalMember{}, err
	}
	return s.inviteMember(ctx, approverActor(sess), sess.OrganizationID, email, level)
}

func (s *Service) inviteMember(ctx context.Context, by MemberActor, orgID int64, email, level string) (PortalMember, error) {
	addr, ok := NormalizePortalEmail(email)
	if !ok {
		return PortalMember{}, &Error{Code: CodeInvalid, Message: "enter an email address, such as name@example.com",
			Details: []RowError{{Field: "email", Message: "not an email address"}}}
	}
	if err := checkLevel(level); err != nil {
		return PortalMember{}, err
	}
	return s.store.InviteMember(ctx, by, orgID, InviteParams{Email: addr, Level: level})
}

// SetPortalMemberLevel sets a member's level from the portal.
func (s *Service) SetPortalMemberLevel(ctx context.Context, sess PortalSession, contactID int64, level string) error {
	if err := approverOnly(sess); err != nil {
		return err
	}
	if err := checkLevel(level); err != nil {
		return err
	}
	return s.store.SetMemberLevel(ctx, approverActor(sess), sess.OrganizationID, contactID, level)
}

// RevokePortalMember revokes a member from the portal: their sessions
// end at once.
func (s *Service) RevokePortalMember(ctx context.Context, sess PortalSession, contactID int64) (int, error) {
	if err := approverOnly(sess); err != nil {
		return 0, err
	}
	return s.store.RevokeMember(ctx, approverActor(sess), sess.OrganizationID, contactID)
}

// ResetPortalMemberFactors removes a member's second factors (an approver).
func (s *Service) ResetPortalMemberFactors(ctx context.Context, sess PortalSession, contactID int64) error {
	if err := approverOnly(sess); err != nil {
		return err
	}
	_, err := s.store.ResetMemberFactors(ctx, approverActor(sess), sess.OrganizationID, contactID)
	return err
}

// DecidePortalAccessRequest approves or refuses a request (an approver).
func (s *Service) DecidePortalAccessRequest(ctx context.Context, sess PortalSession, requestID int64, approve bool, level string) error {
	if err := approverOnly(sess); err != nil {
		return err
	}
	if approve {
		if err := checkLevel(level); err != nil {
			return err
		}
	}
	return s.store.DecideAccessRequest(ctx, approverActor(sess), sess.OrganizationID, requestID, approve, level)
}

// EndAllOrganizationSessions ends every portal session of the approver's
// organization, theirs too (someone left and nobody knows which device).
func (s *Service) EndAllOrganizationSessions(ctx context.Context, sess PortalSession) (int, error) {
	if err := approverOnly(sess); err != nil {
		return 0, err
	}
	return s.store.EndOrganizationPortalSessions(ctx, sess.Actor(), sess.OrganizationID)
}

// RequestPortalAccess records an access request from the public page.
// Like the sign-in form, the caller learns nothing: not whether the
// domain is an organization's, nor whether a request is already pending.
func (s *Service) RequestPortalAccess(ctx context.Context, email, locale string) error {
	addr, ok := NormalizePortalEmail(email)
	if !ok {
		return Errorf(CodeInvalid, "enter an email address, such as name@example.com")
	}
	n, err := s.store.RequestAccess(ctx, addr, oneLineText(locale, 16))
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "portal access requested", "requests", n)
	return nil
}

// orgForStaff finds the organization of an IR staff call with role.
func (s *Service) orgForStaff(ctx context.Context, by Actor, role Role, orgRef string) (int64, error) {
	if err := requireRole(by, role); err != nil {
		return 0, err
	}
	org, err := s.store.Organization(ctx, orgRef)
	return org.ID, err
}

// OrganizationMembers is the membership of an organization for IR staff.
func (s *Service) OrganizationMembers(ctx context.Context, by Actor, orgRef string) (Members, error) {
	id, err := s.orgForStaff(ctx, by, RoleViewer, orgRef)
	if err != nil {
		return Members{}, err
	}
	return s.store.Members(ctx, id)
}

// MemberChange is IR staff's change of one member; nil fields are left.
type MemberChange struct {
	Level *string `json:"level"`
	// Approver true or false overrides the default rule; SetApprover
	// false with DefaultApprover returns to it.
	Approver        *bool `json:"approver"`
	DefaultApprover bool  `json:"default_approver"`
	Revoked         *bool `json:"revoked"`
}

// ChangeMember applies IR staff's change (admin role): approvers, level,
// revoke or restore. Each part is audited on its own.
func (s *Service) ChangeMember(ctx context.Context, by Actor, orgRef string, contactID int64, c MemberChange) error {
	id, err := s.orgForStaff(ctx, by, RoleAdmin, orgRef)
	if err != nil {
		return err
	}
	if c.Level == nil && c.Approver == nil && !c.DefaultApprover && c.Revoked == nil {
		return &Error{Code: CodeInvalid, Message: "nothing to change: give level, approver, default_approver or revoked"}
	}
	if c.Approver != nil && c.DefaultApprover {
		return &Error{Code: CodeInvalid, Message: "approver and default_approver exclude each other",
			Details: []RowError{{Field: "default_approver", Message: "not with approver"}}}
	}
	if c.Level != nil {
		if err := checkLevel(*c.Level); err != nil {
			return err
		}
	}
	// The level first: it is refused for an approver, so a change that
	// also makes the member an approver is not left half done.
	staff := MemberActor{Actor: by, Staff: true}
	if c.Level != nil {
		if err := s.store.SetMemberLevel(ctx, staff, id, contactID, *c.Level); err != nil {
			return err
		}
	}
	if c.Approver != nil || c.DefaultApprover {
		if err := s.store.SetApprover(ctx, by, id, contactID, c.Approver); err != nil {
			return err
		}
	}
	switch {
	case c.Revoked == nil:
	case *c.Revoked:
		_, err = s.store.RevokeMember(ctx, staff, id, contactID)
	default:
		err = s.store.RestoreMember(ctx, by, id, contactID)
	}
	return err
}

// StaffInviteMember invites a member for the organization (IR staff,
// admin): the domain rule holds for IR staff too; add an exception first.
func (s *Service) StaffInviteMember(ctx context.Context, by Actor, orgRef, email, level string) (PortalMember, error) {
	id, err := s.orgForStaff(ctx, by, RoleAdmin, orgRef)
	if err != nil {
		return PortalMember{}, err
	}
	return s.inviteMember(ctx, MemberActor{Actor: by, Staff: true}, id, email, level)
}

// StaffDecideAccessRequest decides a request in place of the approvers
// (IR staff, admin).
func (s *Service) StaffDecideAccessRequest(ctx context.Context, by Actor, orgRef string, requestID int64, decision, level string) error {
	id, err := s.orgForStaff(ctx, by, RoleAdmin, orgRef)
	if err != nil {
		return err
	}
	switch decision {
	case DecisionApproved:
		if err := checkLevel(level); err != nil {
			return err
		}
	case DecisionRefused:
	default:
		return &Error{Code: CodeInvalid, Message: "decision must be approved or refused",
			Details: []RowError{{Field: "decision", Message: "must be approved or refused"}}}
	}
	return s.store.DecideAccessRequest(ctx, MemberActor{Actor: by, Staff: true}, id, requestID, decision == DecisionApproved, level)
}

// SetInviteDomain allows (or no longer allows) invitations at a domain
// outside the organization's own (IR staff, admin).
func (s *Service) SetInviteDomain(ctx context.Context, by Actor, orgRef, domain string, allow bool) error {
	id, err := s.orgForStaff(ctx, by, RoleAdmin, orgRef)
	if err != nil {
		return err
	}
	d := strings.ToLower(strings.TrimSpace(domain))
	if !validDomain(d) {
		return &Error{Code: CodeInvalid, Message: "domain must be a domain name such as contractor.example",
			Details: []RowError{{Field: "domain", Message: "not a domain name"}}}
	}
	return s.store.SetInviteDomain(ctx, by, id, d, allow)
}

// validDomain accepts a lowercase DNS name with at least two labels.
func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
