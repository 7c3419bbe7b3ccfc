package notifier

import (
	"context"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/breachnotify/breachnotify/templates"
)

// The customer portal's limits.
const (
	// PortalLinkLifetime is how long a sign-in link works after it is
	// sent (the database refuses longer).
	PortalLinkLifetime = 15 * time.Minute
	// PortalLinkStale is how old a sign-in request may be when its email
	// is sent: one the relay held back longer is dropped, since the
	// contact has surely asked again or given up.
	PortalLinkStale = time.Hour
	// PortalSessionIdle ends a session nobody used for this long.
	PortalSessionIdle = 8 * time.Hour
	// PortalSessionLifetime ends every session this long after sign-in.
	PortalSessionLifetime = 24 * time.Hour
	// PortalPageSize is how many items a page of the item list shows.
	PortalPageSize = 25
	// PortalNoticeItemsShown is how many items a notice's page lists.
	PortalNoticeItemsShown = 50
)

// PortalSession is a signed-in contact. Everything the portal shows is
// scoped to OrganizationID, in SQL.
type PortalSession struct {
	// IDHash identifies the session (the SHA-256 of the cookie's id).
	IDHash []byte
	// ID is the session's number, as the member's device list shows it.
	ID             int64
	ContactID      int64
	ContactEmail   string
	ContactName    string
	OrganizationID int64
	OrgName        string
	ExpiresAt      time.Time
	// FactorVerifiedAt is when the session last verified a second factor
	// (nil: never); stolen mail needs it within FactorMaxAge.
	FactorVerifiedAt *time.Time
	// FactorEnrolled says the contact has a second factor to verify.
	FactorEnrolled bool
	// ContactLocale is the contact's locale: the portal's pages speak it
	// unless the visitor chose another language.
	ContactLocale string
	// Approver and MailAccess are read with the session on every request
	// (a change of membership counts at once): an approver manages the
	// organization's members; MailAccess opens the stolen mail (still
	// behind the second factor).
	Approver   bool
	MailAccess bool
}

// Actor names the signed-in contact in the audit trail.
func (p PortalSession) Actor() Actor {
	return Actor{Name: fmt.Sprintf("portal contact %s (contact %d)", p.ContactEmail, p.ContactID)}
}

// PortalLinkView is what a sign-in link's page shows before it is used.
type PortalLinkView struct {
	// TokenHash identifies the link (for the form's CSRF token).
	TokenHash []byte
	// MaskedEmail is the contact's address, masked.
	MaskedEmail string
	OrgName     string
}

// PortalIncident is an incident the organization was notified about.
type PortalIncident struct {
	ID      int64
	Title   string
	Summary string
	// FirstNotifiedAt is when the organization's first notice was made.
	FirstNotifiedAt time.Time
	Notices         int
	Items           int
}

// PortalNotice is a notice the organization received.
type PortalNotice struct {
	ID            int64
	IncidentID    int64
	IncidentTitle string
	Kind          templates.Kind
	// SentAt is when its first message was sent (or the notice made, when
	// nothing has been sent yet).
	SentAt         time.Time
	Items          int
	AcknowledgedAt *time.Time
	// AcknowledgedBy is the address of the contact who acknowledged.
	AcknowledgedBy string
}

// PortalBatch is an exposure batch with items of the organization.
type PortalBatch struct {
	ID            int64
	IncidentID    int64
	IncidentTitle string
	DiscoveredAt  time.Time
	Items         int
}

// PortalItem is one exposed item as the organization sees it.
type PortalItem struct {
	ID            int64
	IncidentID    int64
	IncidentTitle string
	BatchID       int64
	NoticeID      int64
	ItemRef       string
	Kind          string
	OccurredAt    *time.Time
	Subject       string
	Summary       string
	SecretTypes   []string
	// Messages are the stolen messages the item was made from, for
	// the item's page (not filled in lists).
	Messages []MessageRef
}

// PortalItemFilter narrows the item list; zero values mean any. Naming an
// incident or batch the organization cannot see is not_found.
type PortalItemFilter struct {
	IncidentID int64
	BatchID    int64
	Kind       string
	SecretType string
}

// PortalOverview is the portal's first page.
type PortalOverview struct {
	Incidents []PortalIncident
	Notices   []PortalNotice
}

// PortalIncidentPage is one incident's page.
type PortalIncidentPage struct {
	Incident PortalIncident
	Notices  []PortalNotice
	Batches  []PortalBatch
}

// PortalNoticePage is one notice's page.
type PortalNoticePage struct {
	Notice PortalNotice
	Items  []PortalItem
}

// PortalItemsPage is one page of the item list, with what the filter form
// offers.
type PortalItemsPage struct {
	Items       ListResult[PortalItem]
	Incidents   []PortalIncident
	Batches     []PortalBatch
	SecretTypes []string
}

// PortalStore is the persistence of the customer portal. Every method that
// takes an organization id returns only that organization's rows (the id
// is in the WHERE clause of every query), and not_found for anything else.
type PortalStore interface {
	VerifyStore
	PortalFactorStore
	PortalSessionStore
	PortalMemberStore
	// CreatePortalLinks records a sign-in request for every active contact
	// with portal access at email (one per organization) and enqueues the
	// job that sends each its link, in one transaction; it returns how many.
	CreatePortalLinks(ctx context.Context, email, ip string) (int, error)
	// PortalLink finds an unused, unexpired sign-in link of a contact who
	// may still sign in.
	PortalLink(ctx context.Context, tokenHash []byte) (PortalLinkView, error)
	// StartPortalSession uses up the link and creates the session, in one
	// transaction with its audit entry; not_found when the link cannot be used.
	StartPortalSession(ctx context.Context, tokenHash, sessionHash []byte, req AckRequest) (PortalSession, error)
	// PortalSession returns the live session and notes its use; not_found
	// when it is unknown, signed out, idle or expired, or its contact may
	// no longer sign in.
	PortalSession(ctx context.Context, sessionHash []byte) (PortalSession, error)
	// EndPortalSession signs the session out.
	EndPortalSession(ctx context.Context, sess PortalSession) error

	PortalIncidents(ctx context.Context, orgID int64) ([]PortalIncident, error)
	PortalIncident(ctx context.Context, orgID, incidentID int64) (PortalIncident, error)
	// PortalNotices lists the organization's notices (of one incident when
	// incidentID is not 0): initial and follow-up, not void.
	PortalNotices(ctx context.Context, orgID, incidentID int64) ([]PortalNotice, error)
	PortalNotice(ctx context.Context, orgID, noticeID int64) (PortalNotice, error)
	PortalNoticeItems(ctx context.Context, orgID, noticeID int64, limit int) ([]PortalItem, error)
	// PortalBatches lists the batches with items of the organization (of
	// one incident when incidentID is not 0).
	PortalBatches(ctx context.Context, orgID, incidentID int64) ([]PortalBatch, error)
	PortalSecretTypes(ctx context.Context, orgID int64) ([]string, error)
	// CheckPortalFilter is not_found when the filter names an incident or
	// batch the organization cannot see.
	CheckPortalFilter(ctx context.Context, orgID int64, f PortalItemFilter) error
	PortalItems(ctx context.Context, orgID int64, f PortalItemFilter, p Page) ([]PortalItem, error)
	PortalItem(ctx context.Context, orgID, itemID int64) (PortalItem, error)
	// EachPortalItem hands every item the filter selects to fn, in id
	// order. fn may be as slow as the client it writes to: no database
	// connection may be held while it runs.
	EachPortalItem(ctx context.Context, orgID int64, f PortalItemFilter, fn func(PortalItem) error) error
	// AcknowledgeInPortal records the signed-in contact's acknowledgement
	// of one of the organization's notices, like an acknowledgement link
	// does; the first acknowledgement stands.
	AcknowledgeInPortal(ctx context.Context, sess PortalSession, noticeID int64, req AckRequest) (PortalNotice, bool, error)
}

// RequestPortalLink asks for sign-in links for email: each active contact
// with portal access at that address gets one per organization, by email.
// The caller learns nothing about whether the address is known.
func (s *Service) RequestPortalLink(ctx context.Context, email, ip string) error {
	addr, ok := NormalizePortalEmail(email)
	if !ok {
		return Errorf(CodeInvalid, "enter an email address, such as name@example.com")
	}
	n, err := s.store.CreatePortalLinks(ctx, addr, oneLineText(ip, 64))
	if err != nil {
		return err
	}
	// The count only: an address is personal data, and the log must not
	// tell who may sign in any more than the page does.
	s.logger.InfoContext(ctx, "portal sign-in requested", "links", n)
	return nil
}

// NormalizePortalEmail checks a typed address and returns it trimmed.
func NormalizePortalEmail(in string) (string, bool) {
	in = strings.TrimSpace(in)
	if in == "" || len(in) > 254 || !utf8.ValidString(in) || strings.ContainsFunc(in, forbiddenRune) {
		return "", false
	}
	a, err := mail.ParseAddress(in)
	if err != nil || a.Address != in || a.Name != "" {
		return "", false
	}
	return in, true
}

// PortalLink returns what a sign-in link's page shows. Opening the link
// uses nothing up: mail scanners open links.
func (s *Service) PortalLink(ctx context.Context, token string) (PortalLinkView, error) {
	hash, ok := ParsePortalToken(token)
	if !ok {
		return PortalLinkView{}, Errorf(CodeNotFound, "this link is not valid")
	}
	return s.store.PortalLink(ctx, hash)
}

// StartPortalSession uses up a sign-in link (the page's deliberate POST)
// and returns a new session id for the cookie. A link works once.
func (s *Service) StartPortalSession(ctx context.Context, token string, req AckRequest) (string, PortalSession, error) {
	hash, ok := ParsePortalToken(token)
	if !ok {
		return "", PortalSession{}, Errorf(CodeNotFound, "this link is not valid")
	}
	sessionID, sessionHash := NewPortalToken()
	req.UserAgent = oneLineText(req.UserAgent, 500)
	req.IP = oneLineText(req.IP, 64)
	sess, err := s.store.StartPortalSession(ctx, hash, sessionHash, req)
	if err != nil {
		return "", PortalSession{}, err
	}
	s.logger.InfoContext(ctx, "portal session started", "contact_id", sess.ContactID, "organization_id", sess.OrganizationID)
	return sessionID, sess, nil
}

// PortalSession returns the live session a cookie names.
func (s *Service) PortalSession(ctx context.Context, sessionID string) (PortalSession, error) {
	hash, ok := ParsePortalToken(sessionID)
	if !ok {
		return PortalSession{}, Errorf(CodeNotFound, "this session is not valid")
	}
	return s.store.PortalSession(ctx, hash)
}

// EndPortalSession signs a session out, on the server: the cookie no
// longer works even if it was copied.
func (s *Service) EndPortalSession(ctx context.Context, sess PortalSession) error {
	return s.store.EndPortalSession(ctx, sess)
}

// auditView records a portal page view or download before anything is
// shown: no audit entry, no data.
func (s *Service) auditView(ctx context.Context, sess PortalSession, action, page string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	details["page"] = page
	return s.store.Audit(ctx, sess.Actor(), action, "organization", strconv.FormatInt(sess.OrganizationID, 10), details)
}

// PortalOverview is the first page: the organization's incidents and notices.
func (s *Service) PortalOverview(ctx context.Context, sess PortalSession) (PortalOverview, error) {
	var o PortalOverview
	var err error
	if o.Incidents, err = s.store.PortalIncidents(ctx, sess.OrganizationID); err != nil {
		return o, err
	}
	if o.Notices, err = s.store.PortalNotices(ctx, sess.OrganizationID, 0); err != nil {
		return o, err
	}
	return o, s.auditView(ctx, sess, "portal.view", "overview", nil)
}

// PortalIncidentPage is one incident as the organization sees it.
func (s *Service) PortalIncidentPage(ctx context.Context, sess PortalSession, incidentID int64) (PortalIncidentPage, error) {
	var p PortalIncidentPage
	var err error
	if p.Incident, err = s.store.PortalIncident(ctx, sess.OrganizationID, incidentID); err != nil {
		return p, err
	}
	if p.Notices, err = s.store.PortalNotices(ctx, sess.OrganizationID, incidentID); err != nil {
		return p, err
	}
	if p.Batches, err = s.store.PortalBatches(ctx, sess.OrganizationID, incidentID); err != nil {
		return p, err
	}
	return p, s.auditView(ctx, sess, "portal.view", "incident", map[string]any{"incident_id": incidentID})
}

// PortalNoticePage is one notice with the first items it covers.
func (s *Service) PortalNoticePage(ctx context.Context, sess PortalSession, noticeID int64) (PortalNoticePage, error) {
	var p PortalNoticePage
	var err error
	if p.Notice, err = s.store.PortalNotice(ctx, sess.OrganizationID, noticeID); err != nil {
		return p, err
	}
	if p.Items, err = s.store.PortalNoticeItems(ctx, sess.OrganizationID, noticeID, PortalNoticeItemsShown); err != nil {
		return p, err
	}
	return p, s.auditView(ctx, sess, "portal.view", "notice", map[string]any{"notice_id": noticeID})
}

// PortalItems is one page of the organization's exposed items.
func (s *Service) PortalItems(ctx context.Context, sess PortalSession, f PortalItemFilter, p Page) (PortalItemsPage, error) {
	var out PortalItemsPage
	if err := s.checkFilter(ctx, sess, f); err != nil {
		return out, err
	}
	p.Limit = PortalPageSize
	list, err := s.store.PortalItems(ctx, sess.OrganizationID, f, p)
	if err != nil {
		return out, err
	}
	out.Items = pageOf(list, p.Limit, func(i PortalItem) int64 { return i.ID })
	if out.Incidents, err = s.store.PortalIncidents(ctx, sess.OrganizationID); err != nil {
		return out, err
	}
	if out.Batches, err = s.store.PortalBatches(ctx, sess.OrganizationID, 0); err != nil {
		return out, err
	}
	if out.SecretTypes, err = s.store.PortalSecretTypes(ctx, sess.OrganizationID); err != nil {
		return out, err
	}
	return out, s.auditView(ctx, sess, "portal.view", "items", filterDetails(f, p.After))
}

// PortalItem is one exposed item.
func (s *Service) PortalItem(ctx context.Context, sess PortalSession, itemID int64) (PortalItem, error) {
	it, err := s.store.PortalItem(ctx, sess.OrganizationID, itemID)
	if err != nil {
		return it, err
	}
	if it.Messages, err = s.store.PortalItemMessages(ctx, sess.OrganizationID, itemID); err != nil {
		return it, err
	}
	return it, s.auditView(ctx, sess, "portal.view", "item", map[string]any{"item_id": itemID})
}

// PortalItemsCSV checks the filter and audits the download, then streams
// every item it selects to fn.
func (s *Service) PortalItemsCSV(ctx context.Context, sess PortalSession, f PortalItemFilter, fn func(PortalItem) error) error {
	if err := s.checkFilter(ctx, sess, f); err != nil {
		return err
	}
	if err := s.auditView(ctx, sess, "portal.download", "items.csv", filterDetails(f, 0)); err != nil {
		return err
	}
	return s.store.EachPortalItem(ctx, sess.OrganizationID, f, fn)
}

// PortalAcknowledge records the signed-in contact's acknowledgement of one
// of the organization's notices.
func (s *Service) PortalAcknowledge(ctx context.Context, sess PortalSession, noticeID int64, req AckRequest) (PortalNotice, bool, error) {
	req.UserAgent = oneLineText(req.UserAgent, 500)
	req.IP = oneLineText(req.IP, 64)
	n, first, err := s.store.AcknowledgeInPortal(ctx, sess, noticeID, req)
	if err == nil && first {
		s.logger.InfoContext(ctx, "notice acknowledged in the portal", "notice_id", n.ID, "contact_id", sess.ContactID)
	}
	return n, first, err
}

// checkFilter refuses a filter naming a kind that does not exist, a
// secret type no item could have, or an incident or batch of another
// organization: all not_found, like a guessed id.
func (s *Service) checkFilter(ctx context.Context, sess PortalSession, f PortalItemFilter) error {
	switch f.Kind {
	case "", "email", "file", "credential", "other":
	default:
		return Errorf(CodeNotFound, "no such kind of item")
	}
	if len(f.SecretType) > 100 || strings.ContainsFunc(f.SecretType, forbiddenRune) || f.IncidentID < 0 || f.BatchID < 0 {
		return Errorf(CodeNotFound, "no such items")
	}
	return s.store.CheckPortalFilter(ctx, sess.OrganizationID, f)
}

func filterDetails(f PortalItemFilter, after int64) map[string]any {
	d := map[string]any{}
	if f.IncidentID != 0 {
		d["incident_id"] = f.IncidentID
	}
	if f.BatchID != 0 {
		d["batch_id"] = f.BatchID
	}
	if f.Kind != "" {
		d["kind"] = f.Kind
	}
	if f.SecretType != "" {
		d["secret_type"] = f.SecretType
	}
	if after != 0 {
		d["after"] = after
	}
	return d
}
