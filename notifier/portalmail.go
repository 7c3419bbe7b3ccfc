package notifier

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// The portal's review of stolen mail (issue 13): an organization's
// members list the messages attributed to it, open one, reveal a secret
// in it and download its attachments or the original; every one of these
// is audited against the organization before anything is shown, and the
// organization (PortalActivity) and IR staff (EvidenceAccess) can read
// who did what.

// Audit actions of the review of stolen mail, recorded against the
// organization (target type "organization").
const (
	ActionEvidenceView     = "evidence.view"
	ActionEvidenceReveal   = "evidence.reveal"
	ActionEvidenceDownload = "evidence.download"
)

// PortalMessagesPageSize is how many messages a page of the mail list shows.
const PortalMessagesPageSize = 25

// MessageRef names a stolen message: its incident and the SHA-256 of its
// raw bytes. It is shown as "INCIDENT-HEX"; a ref names nothing to a
// session whose organization the message is not attributed to.
type MessageRef struct {
	IncidentID int64
	SHA256     [32]byte
}

// String is the ref as URLs carry it.
func (r MessageRef) String() string {
	return strconv.FormatInt(r.IncidentID, 10) + "-" + hex.EncodeToString(r.SHA256[:])
}

// ParseMessageRef reads a ref made by MessageRef.String.
func ParseMessageRef(s string) (MessageRef, bool) {
	inc, sum, ok := strings.Cut(s, "-")
	if !ok || len(sum) != 64 || len(inc) > 19 || strings.ToLower(sum) != sum {
		return MessageRef{}, false
	}
	id, err := strconv.ParseInt(inc, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != inc {
		return MessageRef{}, false
	}
	var r MessageRef
	if n, err := hex.Decode(r.SHA256[:], []byte(sum)); err != nil || n != 32 {
		return MessageRef{}, false
	}
	r.IncidentID = id
	return r, true
}

// PortalMessageFilter narrows the mail list; zero values mean any.
type PortalMessageFilter struct {
	// Subject is a substring of the subject, any case.
	Subject string
	// Participant is an address (with @, exact, any case) or a domain
	// (its subdomains too) among the message's participants.
	Participant string
	// From and To bound the message's date: from the start of From's day
	// to the end of To's (UTC).
	From, To time.Time
	// HasSecrets keeps the messages with secrets found in them.
	HasSecrets bool
}

// MessageCursor is where a page of the mail list ends: the list is in
// (date, incident, SHA-256) order, newest first; an undated message sorts
// as the oldest.
type MessageCursor struct {
	SortAt     time.Time
	IncidentID int64
	SHA256     [32]byte
}

// Encode makes the cursor opaque for a URL.
func (c MessageCursor) Encode() string {
	b := strconv.AppendInt(nil, c.SortAt.UnixMicro(), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, c.IncidentID, 10)
	b = append(b, '.')
	b = hex.AppendEncode(b, c.SHA256[:])
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeMessageCursor reads a cursor made by Encode; "" is the first page.
func DecodeMessageCursor(s string) (*MessageCursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := Errorf(CodeNotFound, "no such page of messages")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 120 {
		return nil, bad
	}
	parts := strings.Split(string(b), ".")
	if len(parts) != 3 {
		return nil, bad
	}
	at, err1 := strconv.ParseInt(parts[0], 10, 64)
	inc, err2 := strconv.ParseInt(parts[1], 10, 64)
	ref, ok := ParseMessageRef(parts[1] + "-" + parts[2])
	if err1 != nil || err2 != nil || !ok || inc <= 0 {
		return nil, bad
	}
	return &MessageCursor{SortAt: time.UnixMicro(at).UTC(), IncidentID: inc, SHA256: ref.SHA256}, nil
}

// PortalMessage is a stolen message in the mail list.
type PortalMessage struct {
	Ref MessageRef
	// SortAt is the list's order key (the date, or the oldest time).
	SortAt  time.Time
	SentAt  *time.Time
	From    string
	Subject string
	// Attachments is how many files it carries.
	Attachments int
	SecretTypes []string
	// Unparseable says why its MIME structure could not be read; "" when
	// it could.
	Unparseable string
	// SubjectHasSecret says a secret was found in the subject: lists
	// do not show it (the message's page shows it masked).
	SubjectHasSecret bool
}

// EvidenceAttachment is a file a stolen message carries, as the import
// listed it (its index in that list names it for download).
type EvidenceAttachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Depth       int    `json:"depth"`
}

// PortalFinding is a secret found in a stolen message: where, what type,
// masked; never the secret.
type PortalFinding struct {
	Seq          int
	Type, RuleID string
	// Part is "subject", "text" or "html".
	Part         string
	Line, Column int
	Fingerprint  string
	Masked       string
	Live         bool
}

// PortalMessageDetail is one stolen message's stored record, as its
// page starts from (the body is read from the evidence store after).
type PortalMessageDetail struct {
	PortalMessage
	Size         int64
	MessageID    string
	Files        []EvidenceAttachment
	Problems     []string
	Findings     []PortalFinding
	IncidentSlug string
}

// EvidenceUse is what a portal request does with a stolen message, for
// its audit entry: Action is one of the ActionEvidence constants; What
// names the page or file ("message", "html", "attachment", "original").
type EvidenceUse struct {
	Action string
	What   string
	// Finding is the revealed finding's Seq (reveal only).
	Finding int
	// Attachment is the downloaded file's index (attachment only).
	Attachment int
}

// EvidenceAccess is one audited view, reveal or download of stolen mail
// by a member of an organization.
type EvidenceAccess struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// ContactEmail is who did it.
	ContactEmail string `json:"contact_email"`
	ContactID    int64  `json:"contact_id"`
	// Action is view, reveal or download.
	Action string `json:"action"`
	// What is the page or file: message, html, attachment, original.
	What string `json:"what"`
	// Message is the message's ref; Subject its subject.
	Message string `json:"message"`
	Subject string `json:"subject"`
	// Finding is the revealed finding's number; Attachment the file's
	// (-1 when not applicable).
	Finding    int `json:"finding"`
	Attachment int `json:"attachment"`
}

// PortalMailStore is the persistence of the mail review. Every method
// takes the session's organization and finds only messages attributed to
// it (evidence_exposures.organization_id in the WHERE clause).
type PortalMailStore interface {
	// PortalMessages returns up to limit+1 messages after the cursor (nil:
	// the first page), newest first.
	PortalMessages(ctx context.Context, orgID int64, f PortalMessageFilter, after *MessageCursor, limit int) ([]PortalMessage, error)
	// PortalMessage is one message with its files and findings; not_found
	// when it is not the organization's.
	PortalMessage(ctx context.Context, orgID int64, ref MessageRef) (PortalMessageDetail, error)
	// PortalItemMessages returns the refs of the stolen messages an
	// exposure item of the organization was made from (none for items
	// of a CSV batch).
	PortalItemMessages(ctx context.Context, orgID, itemID int64) ([]MessageRef, error)
	// EvidenceAccess lists the audited uses of stolen mail by the
	// organization's members, newest first, after p.After (an audit id).
	EvidenceAccess(ctx context.Context, orgID int64, p Page) ([]EvidenceAccess, error)
}

// PortalMessagesPage is one page of the mail list.
type PortalMessagesPage struct {
	Messages []PortalMessage
	// Next is the cursor of the next page; "" on the last.
	Next string
}

// maxFilterText bounds what a filter field may hold.
const maxFilterText = 200

// PortalMessages is one page of the organization's stolen mail.
func (s *Service) PortalMessages(ctx context.Context, sess PortalSession, f PortalMessageFilter, cursor string) (PortalMessagesPage, error) {
	var out PortalMessagesPage
	after, err := DecodeMessageCursor(cursor)
	if err != nil {
		return out, err
	}
	f.Subject, f.Participant = strings.TrimSpace(f.Subject), strings.ToLower(strings.TrimSpace(f.Participant))
	if len(f.Subject) > maxFilterText || len(f.Participant) > maxFilterText || strings.ContainsFunc(f.Subject+f.Participant, forbiddenRune) {
		return out, Errorf(CodeInvalid, "a search field is too long or holds control characters")
	}
	list, err := s.store.PortalMessages(ctx, sess.OrganizationID, f, after, PortalMessagesPageSize)
	if err != nil {
		return out, err
	}
	if len(list) > PortalMessagesPageSize {
		list = list[:PortalMessagesPageSize]
		last := list[len(list)-1]
		out.Next = MessageCursor{SortAt: last.SortAt, IncidentID: last.Ref.IncidentID, SHA256: last.Ref.SHA256}.Encode()
	}
	out.Messages = list
	details := map[string]any{}
	if f.Subject != "" || f.Participant != "" || !f.From.IsZero() || !f.To.IsZero() || f.HasSecrets {
		details["filtered"] = true
	}
	return out, s.auditView(ctx, sess, "portal.view", "messages", details)
}

// PortalEvidence returns a stolen message's record for use, after
// checking it is the session's organization's and auditing the use: the
// caller reads the message's bytes only after this returns without error.
func (s *Service) PortalEvidence(ctx context.Context, sess PortalSession, ref MessageRef, use EvidenceUse) (PortalMessageDetail, error) {
	m, err := s.store.PortalMessage(ctx, sess.OrganizationID, ref)
	if err != nil {
		return m, err
	}
	switch use.Action {
	case ActionEvidenceView, ActionEvidenceReveal, ActionEvidenceDownload:
	default:
		return m, Errorf(CodeInvalid, "unknown use of evidence %q", use.Action)
	}
	details := map[string]any{"page": use.What, "message": ref.String(), "contact_id": sess.ContactID, "contact_email": sess.ContactEmail}
	if use.Action == ActionEvidenceReveal {
		found := false
		for _, f := range m.Findings {
			found = found || f.Seq == use.Finding
		}
		if !found {
			return m, Errorf(CodeNotFound, "no such secret in this message")
		}
		details["finding"] = use.Finding
	}
	if use.What == "attachment" {
		if use.Attachment < 0 || use.Attachment >= len(m.Files) {
			return m, Errorf(CodeNotFound, "no such attachment")
		}
		details["attachment"] = use.Attachment
	}
	if err := s.store.Audit(ctx, sess.Actor(), use.Action, "organization", strconv.FormatInt(sess.OrganizationID, 10), details); err != nil {
		return m, err
	}
	return m, nil
}

// PortalActivity is one page of who in the session's organization looked
// at, revealed or downloaded what of its stolen mail.
func (s *Service) PortalActivity(ctx context.Context, sess PortalSession, p Page) (ListResult[EvidenceAccess], error) {
	p.Limit = PortalPageSize
	list, err := s.store.EvidenceAccess(ctx, sess.OrganizationID, p)
	if err != nil {
		return ListResult[EvidenceAccess]{}, err
	}
	out := pageOf(list, p.Limit, func(e EvidenceAccess) int64 { return e.ID })
	return out, s.auditView(ctx, sess, "portal.view", "activity", nil)
}

// EvidenceAccess is, for IR staff (viewer role), the organization's
// members' views, reveals and downloads of its stolen mail, newest first.
func (s *Service) EvidenceAccess(ctx context.Context, by Actor, orgRef string, p Page) (ListResult[EvidenceAccess], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[EvidenceAccess]{}, err
	}
	org, err := s.store.Organization(ctx, orgRef)
	if err != nil {
		return ListResult[EvidenceAccess]{}, err
	}
	p = p.normalized()
	list, err := s.store.EvidenceAccess(ctx, org.ID, p)
	return pageOf(list, p.Limit, func(e EvidenceAccess) int64 { return e.ID }), err
}
