package notifier

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/templates"
)

// Organization is an affected customer.
type Organization struct {
	ID      int64    `json:"id"`
	Ref     string   `json:"ref"`
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	Locale  string   `json:"locale"`
	// Jurisdiction is its ISO 3166 country or subdivision ("" unknown):
	// which obligation profiles cover it.
	Jurisdiction string `json:"jurisdiction"`
	// NotifyWithinHours is its contract's notice period, if any.
	NotifyWithinHours *int      `json:"notify_within_hours"`
	Contacts          int       `json:"contacts"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// Contact is a person or mailbox at an organization.
type Contact struct {
	ID             int64      `json:"id"`
	OrganizationID int64      `json:"organization_id"`
	OrgRef         string     `json:"org_ref"`
	Email          string     `json:"email"`
	Name           string     `json:"name"`
	Role           string     `json:"role"`
	PortalAccess   bool       `json:"portal_access"`
	Locale         string     `json:"locale"`
	Status         string     `json:"status"`
	StatusReason   string     `json:"status_reason"`
	StatusChanged  *time.Time `json:"status_changed_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// ContactPatch changes some fields of a contact; nil fields stay.
type ContactPatch struct {
	Name         *string `json:"name"`
	Role         *string `json:"role"`
	PortalAccess *bool   `json:"portal_access"`
	Locale       *string `json:"locale"`
}

// Batch is one exposure upload.
type Batch struct {
	ID             int64     `json:"id"`
	IncidentID     int64     `json:"incident_id"`
	ItemsNew       int       `json:"items_new"`
	ItemsDuplicate int       `json:"items_duplicate"`
	DiscoveredAt   time.Time `json:"discovered_at"`
	CreatedBy      *int64    `json:"created_by"`
}

// Item is one exposed thing of one organization.
type Item struct {
	ID          int64      `json:"id"`
	IncidentID  int64      `json:"incident_id"`
	OrgRef      string     `json:"org_ref"`
	BatchID     int64      `json:"batch_id"`
	ItemRef     string     `json:"item_ref"`
	Kind        string     `json:"kind"`
	OccurredAt  *time.Time `json:"occurred_at"`
	Subject     string     `json:"subject"`
	Summary     string     `json:"summary"`
	SecretTypes []string   `json:"secret_types"`
	// NoticeID is the notice that covers the item, if any yet.
	NoticeID *int64 `json:"notice_id"`
}

// Notice is what one organization is told in one wave.
type Notice struct {
	ID             int64          `json:"id"`
	WaveID         int64          `json:"wave_id"`
	IncidentID     int64          `json:"incident_id"`
	OrganizationID int64          `json:"organization_id"`
	OrgRef         string         `json:"org_ref"`
	OrgName        string         `json:"org_name"`
	Kind           templates.Kind `json:"kind"`
	// ParentID is the notice a reminder or escalation chases.
	ParentID       *int64     `json:"parent_id"`
	Items          int        `json:"items"`
	CreatedAt      time.Time  `json:"created_at"`
	VoidedAt       *time.Time `json:"voided_at,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	AcknowledgedBy string     `json:"acknowledged_by"`
	RemindersSent  int        `json:"reminders_sent"`
	LastRemindedAt *time.Time `json:"last_reminded_at"`
	EscalatedAt    *time.Time `json:"escalated_at"`
	// Disclosure is what the notice's mail tells (see Policy.Disclosure),
	// as recorded when it was launched.
	Disclosure Disclosure `json:"disclosure"`
}

// NoticeDetail is a notice with its items and deliveries.
type NoticeDetail struct {
	Notice
	ItemList   []Item     `json:"item_list"`
	Deliveries []Delivery `json:"deliveries"`
	// Chases are the reminders and the escalation sent about this notice.
	Chases []Notice `json:"chases"`
}

// DeliveryDetail is a delivery with its event timeline.
type DeliveryDetail struct {
	Delivery
	Events []DeliveryEvent `json:"events"`
}

// SkippedOrganization is an organization a wave plan leaves out, and why.
type SkippedOrganization struct {
	OrgRef string `json:"org_ref"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// NotLiveSecretTypes are the secret types that do not work on their own
// (notifier/secrets' Guidance says Live false): an organization is urgent
// when one of its items not yet notified has a secret type outside this
// list, unknown types included, to err on the side of telling.
var NotLiveSecretTypes = []string{"client_id", "certificate"}

// Reasons an organization is skipped by a wave.
const (
	SkipNoActiveContact = "no_active_contact"
	SkipAlreadyNotified = "already_notified"
	SkipNothingNew      = "nothing_new"
	// SkipNotUrgent: a wave of the urgent organizations only leaves out
	// those without a live secret among their new items.
	SkipNotUrgent     = "not_urgent"
	SkipNeverNotified = "never_notified"
	// SkipNotSentYet: a follow-up would tell of more items before any
	// notice to the organization has left; its first notice comes first.
	SkipNotSentYet = "not_sent_yet"
)

// SampleMessage is one rendered message shown by a dry run.
type SampleMessage struct {
	To              string `json:"to"`
	Subject         string `json:"subject"`
	Text            string `json:"text"`
	HTML            string `json:"html"`
	TemplateVersion string `json:"template_version"`
}

// AuditEntry is one record of the append-only audit trail.
type AuditEntry struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	ActorKey   *int64    `json:"actor_key_id"`
	ActorName  string    `json:"actor"`
	Action     string    `json:"action"`
	TargetType string    `json:"target_type"`
	TargetID   string    `json:"target_id"`
	RequestID  string    `json:"request_id"`
	Details    string    `json:"details"`
	PrevHash   HexBytes  `json:"prev_hash"`
	// Hash is the entry's link in the chain, made as Scheme says: keyed
	// with the audit key KeyID names, or (legacy entries) unkeyed.
	Hash   HexBytes    `json:"hash"`
	Scheme AuditScheme `json:"scheme"`
	KeyID  string      `json:"key_id"`
}

// HexBytes is a hash that reads and writes as lowercase hex in JSON, like
// every other hash the API shows.
type HexBytes []byte

// MarshalJSON implements json.Marshaler.
func (h HexBytes) MarshalJSON() ([]byte, error) {
	return []byte(`"` + hex.EncodeToString(h) + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (h *HexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

// Page asks for one page of a list: at most Limit items after the cursor.
type Page struct {
	Limit int
	// After is the id the previous page ended at (0 for the first page).
	After int64
}

// Defaults and bounds of list pages.
const (
	PageLimitDefault = 50
	PageLimitMax     = 500
)

// EncodeCursor makes the opaque cursor for continuing after id.
func EncodeCursor(id int64) string {
	if id == 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + strconv.FormatInt(id, 10)))
}

// DecodeCursor reads a cursor made by EncodeCursor.
func DecodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "v1:") {
		return 0, Errorf(CodeBadRequest, "cursor is not valid; use the next_cursor of a previous page")
	}
	id, ok := ParseInt(string(b[3:]))
	if !ok {
		return 0, Errorf(CodeBadRequest, "cursor is not valid; use the next_cursor of a previous page")
	}
	return id, nil
}

// ListResult is one page of a list and the cursor of the next one.
type ListResult[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// pageOf trims a store result fetched with Limit+1 rows into a page.
func pageOf[T any](items []T, limit int, idOf func(T) int64) ListResult[T] {
	if items == nil {
		items = []T{}
	}
	if len(items) > limit {
		items = items[:limit]
		return ListResult[T]{Items: items, NextCursor: EncodeCursor(idOf(items[len(items)-1]))}
	}
	return ListResult[T]{Items: items}
}

// Filters for lists. Zero values mean "any".
type (
	// OrganizationFilter filters organizations.
	OrganizationFilter struct {
		Ref string
	}
	// ContactFilter filters contacts.
	ContactFilter struct {
		OrganizationID int64
		Status         string
		Role           string
	}
	// ItemFilter filters exposure items.
	ItemFilter struct {
		IncidentID     int64
		OrganizationID int64
		BatchID        int64
		Kind           string
		SecretType     string
	}
	// WaveFilter filters waves.
	WaveFilter struct {
		IncidentID int64
		Status     WaveStatus
	}
	// NoticeFilter filters notices.
	NoticeFilter struct {
		IncidentID     int64
		WaveID         int64
		OrganizationID int64
		// Acknowledged, when set, lists only the notices chased for
		// acknowledgement (initial and follow-up, not void) in that state.
		Acknowledged *bool
		Kind         templates.Kind
	}
	// DeliveryFilter filters deliveries.
	DeliveryFilter struct {
		WaveID   int64
		NoticeID int64
		Status   DeliveryStatus
	}
	// AuditFilter filters the audit trail.
	AuditFilter struct {
		Action     string
		TargetType string
		TargetID   string
	}
)

// ReportRow is one delivery in the proof-of-notification report: who was
// told what, with which exact message, every attempt, and the outcome.
type ReportRow struct {
	OrgRef       string `json:"org_ref"`
	OrgName      string `json:"org_name"`
	ContactEmail string `json:"contact_email"`
	ContactName  string `json:"contact_name"`
	ContactRole  string `json:"contact_role"`
	WaveID       int64  `json:"wave_id"`
	NoticeID     int64  `json:"notice_id"`
	NoticeKind   string `json:"notice_kind"`
	// Disclosure is what the notice told (full or minimal), as recorded
	// when it was launched, whatever the incident's policy says now.
	Disclosure      Disclosure      `json:"disclosure"`
	DeliveryID      int64           `json:"delivery_id"`
	TemplateVersion string          `json:"template_version"`
	MessageSHA256   string          `json:"message_sha256"`
	MessageID       string          `json:"message_id"`
	Reference       string          `json:"reference"`
	Status          DeliveryStatus  `json:"status"`
	FinalReply      string          `json:"final_reply"`
	QueuedAt        time.Time       `json:"queued_at"`
	SentAt          *time.Time      `json:"sent_at"`
	Attempts        []ReportAttempt `json:"attempts"`
	AcknowledgedAt  *time.Time      `json:"acknowledged_at"`
	AcknowledgedBy  string          `json:"acknowledged_by"`
	// NotifyBy is the organization's notification deadline (see the
	// deadline board), set by the obligation DeadlineObligation; nil when
	// none applies.
	NotifyBy           *time.Time `json:"notify_by"`
	DeadlineObligation string     `json:"deadline_obligation"`
	// DeadlineMet says whether the organization's first delivery was sent
	// by NotifyBy: false once it passed unmet, nil while it is still open
	// or when there is no deadline.
	DeadlineMet *bool `json:"deadline_met"`
}

// ReportAttempt is one recorded event of a delivery.
type ReportAttempt struct {
	At           time.Time `json:"at"`
	Type         string    `json:"type"`
	SMTPCode     *int      `json:"smtp_code"`
	EnhancedCode string    `json:"enhanced_code"`
	Reply        string    `json:"reply"`
}

// Bounce is a recorded bounce report for one recipient.
type Bounce struct {
	ID         int64      `json:"id"`
	Kind       BounceKind `json:"kind"`
	MessageID  string     `json:"message_id"`
	Recipient  string     `json:"recipient"`
	Action     string     `json:"action"`
	Status     string     `json:"status"`
	Diagnostic string     `json:"diagnostic"`
	// DeliveryID is the delivery the report matched, if any.
	DeliveryID *int64 `json:"delivery_id"`
	// Applied tells whether the report changed the delivery and contact.
	Applied    bool      `json:"applied"`
	ReceivedAt time.Time `json:"received_at"`
}

// UnreachableNotice is a notice none of whose deliveries reached anyone.
type UnreachableNotice struct {
	NoticeID int64  `json:"notice_id"`
	WaveID   int64  `json:"wave_id"`
	OrgRef   string `json:"org_ref"`
	OrgName  string `json:"org_name"`
	// Contacts says, per contact, why it was not reached.
	Contacts []UnreachableContact `json:"contacts"`
}

// UnreachableContact is one contact of an unreachable notice and its last word.
type UnreachableContact struct {
	DeliveryID int64          `json:"delivery_id"`
	Recipient  string         `json:"recipient"`
	Status     DeliveryStatus `json:"status"`
	Reason     string         `json:"reason"`
}

// Resend reports what re-sending a notice queued.
type Resend struct {
	NoticeID int64 `json:"notice_id"`
	// Queued counts deliveries queued: new contacts and earlier failures
	// whose contact is active again.
	Queued int  `json:"queued"`
	Wave   Wave `json:"wave"`
}
