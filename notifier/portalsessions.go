package notifier

import (
	"context"
	"net/netip"
	"time"
)

// PortalSeenEvery is how stale a session's last use may get before a
// request records it again: a write per minute, not per request.
const PortalSeenEvery = time.Minute

// PortalDevice is one live session, as its member or IR staff see it:
// never the session's id or its hash, only its number.
type PortalDevice struct {
	// ID is the session's number (forms name a session by it).
	ID        int64
	ContactID int64
	// ContactEmail is filled for IR staff's list.
	ContactEmail string
	CreatedAt    time.Time
	LastSeenAt   time.Time
	// UserAgent is the browser's User-Agent as sent (data, to be escaped).
	UserAgent string
	// Network is the coarse client network (a /24 or /48), or empty.
	Network string
	// Current marks the session of the request.
	Current bool
}

// PortalSessionStore keeps the sessions a member controls. Every method
// is scoped to an organization and (for a member) to their contact.
type PortalSessionStore interface {
	// ContactPortalSessions lists the live sessions of sess's contact in
	// sess's organization, newest first.
	ContactPortalSessions(ctx context.Context, sess PortalSession) ([]PortalDevice, error)
	// EndContactPortalSession ends one live session of sess's contact, by
	// number, audited; not_found for any other.
	EndContactPortalSession(ctx context.Context, sess PortalSession, id int64) error
	// EndContactPortalSessions ends every live session of sess's contact
	// (but sess's own unless all), audited; it returns how many ended.
	EndContactPortalSessions(ctx context.Context, sess PortalSession, all bool) (int, error)
	// OrganizationPortalSessions lists the organization's live sessions.
	OrganizationPortalSessions(ctx context.Context, orgID int64) ([]PortalDevice, error)
	// EndOrganizationPortalSessions ends every live session of the
	// organization, audited as actor; it returns how many ended.
	EndOrganizationPortalSessions(ctx context.Context, actor Actor, orgID int64) (int, error)
}

// CoarseNetwork keeps only the network of a client address, for privacy:
// the /24 of an IPv4 address, the /48 of an IPv6 one, empty otherwise.
func CoarseNetwork(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// PortalDevices lists the member's own signed-in devices, marking the
// one of the request.
func (s *Service) PortalDevices(ctx context.Context, sess PortalSession) ([]PortalDevice, error) {
	return s.store.ContactPortalSessions(ctx, sess)
}

// EndPortalDevice signs one of the member's own sessions out, at once.
func (s *Service) EndPortalDevice(ctx context.Context, sess PortalSession, id int64) error {
	if id <= 0 {
		return Errorf(CodeNotFound, "no such session")
	}
	return s.store.EndContactPortalSession(ctx, sess, id)
}

// EndPortalDevices signs out every other session of the member, or all
// of them (this one too) when all is set.
func (s *Service) EndPortalDevices(ctx context.Context, sess PortalSession, all bool) (int, error) {
	return s.store.EndContactPortalSessions(ctx, sess, all)
}

// OrganizationPortalSessions lists an organization's live portal
// sessions for IR staff (viewer role).
func (s *Service) OrganizationPortalSessions(ctx context.Context, by Actor, orgRef string) ([]PortalDevice, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return nil, err
	}
	org, err := s.store.Organization(ctx, orgRef)
	if err != nil {
		return nil, err
	}
	return s.store.OrganizationPortalSessions(ctx, org.ID)
}

// EndOrganizationPortalSessions ends every portal session of an
// organization at once (someone left), for IR staff (operator role).
// The organization's approvers will end them from the portal through the
// same store method, with their own actor.
func (s *Service) EndOrganizationPortalSessions(ctx context.Context, by Actor, orgRef string) (int, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return 0, err
	}
	org, err := s.store.Organization(ctx, orgRef)
	if err != nil {
		return 0, err
	}
	return s.store.EndOrganizationPortalSessions(ctx, by, org.ID)
}
