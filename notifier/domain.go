// Package notifier is breachnotify's domain: incidents, organizations and
// their contacts, exposure items, waves of notices and their deliveries;
// the use cases that move them (import, plan, launch); and the rendering of
// their messages (Renderer). It declares the interfaces it needs (Store,
// JobCompleter) and imports no adapter; the store, HTTP and queue packages
// implement or drive it, and notifier/delivery sends what it launches.
package notifier

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/breachnotify/breachnotify/templates"
)

// Role is what an API key may do: viewer reads, operator also runs
// campaigns, admin also manages keys, templates and policy.
type Role string

// The roles, from least to most privileged.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

var roleRank = map[Role]int{RoleViewer: 1, RoleOperator: 2, RoleAdmin: 3}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return roleRank[r] > 0 }

// Allows reports whether a key with role r may do what needs role need.
func (r Role) Allows(need Role) bool { return roleRank[r] >= roleRank[need] && roleRank[need] > 0 }

// Actor is the authenticated caller of a use case: an API key.
type Actor struct {
	KeyID int64
	Name  string
	Role  Role
}

// APIKey describes a key without its secret.
type APIKey struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Incident is one breach being notified.
type Incident struct {
	ID      int64  `json:"id"`
	Slug    string `json:"slug"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
	Policy  Policy `json:"policy"`
	// Clock is when the breach became known and the obligations it is
	// under: the deadlines run from it.
	Clock     IncidentClock `json:"clock"`
	CreatedAt time.Time     `json:"created_at"`
}

// Policy is an incident's rules for its campaign.
type Policy struct {
	// Disclosure says how much a notice tells in the mail (see
	// Disclosure): full, or minimal when the recipient's mailbox may be
	// the one the attacker reads.
	Disclosure Disclosure `json:"disclosure"`

	// RequireApproval makes every wave need an approval by a second key
	// (not the one that planned it) before it can launch.
	RequireApproval bool `json:"require_approval"`
	// AutoFollowUp schedules a follow-up when a new exposure batch touches
	// an organization already notified. Under RequireApproval the follow-up
	// is planned and waits for approval like any wave, unless
	// AutoFollowUpWithoutApproval says otherwise.
	AutoFollowUp bool `json:"auto_follow_up"`
	// AutoFollowUpWithoutApproval lets automatic follow-ups go out at once
	// even when RequireApproval is set: an explicit choice to trust the
	// follow-up template with what later batches bring.
	AutoFollowUpWithoutApproval bool `json:"auto_follow_up_without_approval"`
	// FollowUpWindow delays a follow-up so that batches in a row make one.
	FollowUpWindow Duration `json:"follow_up_window"`
	// ReminderAfter is how long after a notice (or its last reminder) an
	// unacknowledged notice is reminded, and escalated after the last one.
	ReminderAfter Duration `json:"reminder_after"`
	// MaxReminders is how many reminders precede the escalation.
	MaxReminders int `json:"max_reminders"`
	// PurgeNeedsApproval makes a purge of the incident's evidence a
	// request that a second admin key must approve before it runs. It is
	// not RequireApproval: that one guards what is sent, and a team may
	// well send without a second key yet want two for destroying evidence
	// (irreversible, and possibly under a legal hold), or the reverse.
	PurgeNeedsApproval bool `json:"purge_needs_approval"`
	// EvidenceRetention purges the incident's evidence automatically this
	// long after its last evidence import ended; 0 keeps it until purged.
	EvidenceRetention Duration `json:"evidence_retention"`
}

// Disclosure is how much a notice's mail tells.
type Disclosure string

// The disclosures.
const (
	// DisclosureFull tells the incident, the exposed items, their secret
	// types and what to do.
	DisclosureFull Disclosure = "full"
	// DisclosureMinimal tells only that there is a security notice for the
	// organization, its reference code, how to verify it and where to
	// sign in: a notice listing stolen subjects and secret types would
	// tell an attacker reading the mailbox what to use first.
	DisclosureMinimal Disclosure = "minimal"
)

// Valid reports whether d is one of the disclosures.
func (d Disclosure) Valid() bool { return d == DisclosureFull || d == DisclosureMinimal }

// OrFull is d, or full when d is empty (a policy stored before the
// field existed).
func (d Disclosure) OrFull() Disclosure {
	if d == "" {
		return DisclosureFull
	}
	return d
}

// Minimal reports whether d is the minimal disclosure.
func (d Disclosure) Minimal() bool { return d == DisclosureMinimal }

// FollowUpsNeedApproval reports whether an automatic follow-up waits for
// an approval instead of going out at once.
func (p Policy) FollowUpsNeedApproval() bool {
	return p.RequireApproval && !p.AutoFollowUpWithoutApproval
}

// DefaultPolicy is the policy of a new incident.
func DefaultPolicy() Policy {
	return Policy{
		Disclosure: DisclosureFull,

		AutoFollowUp:   true,
		FollowUpWindow: Duration(15 * time.Minute),
		ReminderAfter:  Duration(48 * time.Hour),
		MaxReminders:   2,
	}
}

// PolicyPatch changes some fields of a Policy; absent fields stay.
type PolicyPatch struct {
	// Disclosure: see Policy.
	Disclosure *Disclosure `json:"disclosure"`

	RequireApproval *bool `json:"require_approval"`
	AutoFollowUp    *bool `json:"auto_follow_up"`
	// AutoFollowUpWithoutApproval: see Policy.
	AutoFollowUpWithoutApproval *bool     `json:"auto_follow_up_without_approval"`
	FollowUpWindow              *Duration `json:"follow_up_window"`
	ReminderAfter               *Duration `json:"reminder_after"`
	MaxReminders                *int      `json:"max_reminders"`
	PurgeNeedsApproval          *bool     `json:"purge_needs_approval"`
	EvidenceRetention           *Duration `json:"evidence_retention"`
}

// Apply returns p with the patch's fields set.
func (pp PolicyPatch) Apply(p Policy) Policy {
	if pp.Disclosure != nil {
		p.Disclosure = *pp.Disclosure
	}

	if pp.RequireApproval != nil {
		p.RequireApproval = *pp.RequireApproval
	}
	if pp.AutoFollowUp != nil {
		p.AutoFollowUp = *pp.AutoFollowUp
	}
	if pp.AutoFollowUpWithoutApproval != nil {
		p.AutoFollowUpWithoutApproval = *pp.AutoFollowUpWithoutApproval
	}
	if pp.FollowUpWindow != nil {
		p.FollowUpWindow = *pp.FollowUpWindow
	}
	if pp.ReminderAfter != nil {
		p.ReminderAfter = *pp.ReminderAfter
	}
	if pp.MaxReminders != nil {
		p.MaxReminders = *pp.MaxReminders
	}
	if pp.PurgeNeedsApproval != nil {
		p.PurgeNeedsApproval = *pp.PurgeNeedsApproval
	}
	if pp.EvidenceRetention != nil {
		p.EvidenceRetention = *pp.EvidenceRetention
	}
	return p
}

// Validate reports every field of the patch outside its bounds.
func (pp PolicyPatch) Validate() []RowError {
	var problems []RowError
	if pp.Disclosure != nil && !pp.Disclosure.Valid() {
		problems = append(problems, RowError{Field: "disclosure", Message: `must be "full" or "minimal"`})
	}

	if pp.FollowUpWindow != nil && (*pp.FollowUpWindow < 0 || time.Duration(*pp.FollowUpWindow) > 7*24*time.Hour) {
		problems = append(problems, RowError{Field: "follow_up_window", Message: "must be between 0s and 168h"})
	}
	if pp.ReminderAfter != nil && (time.Duration(*pp.ReminderAfter) < time.Minute || time.Duration(*pp.ReminderAfter) > 90*24*time.Hour) {
		problems = append(problems, RowError{Field: "reminder_after", Message: "must be between 1m and 2160h"})
	}
	if pp.MaxReminders != nil && (*pp.MaxReminders < 0 || *pp.MaxReminders > 10) {
		problems = append(problems, RowError{Field: "max_reminders", Message: "must be between 0 and 10"})
	}
	if r := pp.EvidenceRetention; r != nil && *r != 0 && (time.Duration(*r) < MinEvidenceRetention || time.Duration(*r) > MaxEvidenceRetention) {
		problems = append(problems, RowError{Field: "evidence_retention", Message: "must be 0 (keep until purged) or between 24h and 87600h (10 years)"})
	}
	return problems
}

// Duration is a time.Duration written as a Go duration string ("15m",
// "48h") in JSON.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(CodeInvalid, "a duration is a string such as \"15m\" or \"48h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return Errorf(CodeInvalid, "%q is not a duration such as \"15m\" or \"48h\"", s)
	}
	*d = Duration(v)
	return nil
}

// NewIncident is what creating an incident takes.
type NewIncident struct {
	Slug    string `json:"slug"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
	// Clock is optional: set it now or later (PATCH {"clock": …}).
	Clock *IncidentClock `json:"clock,omitempty"`
}

// Contact roles.
const (
	ContactSecurity  = "security"
	ContactTechnical = "technical"
	ContactLegal     = "legal"
	ContactExecutive = "executive"
)

// EscalationRoles are the contacts an escalation goes to (all of an
// organization's contacts when it has no active one of these).
var EscalationRoles = []string{ContactLegal, ContactExecutive}

// ChaseKinds are the kinds of the waves the reminder job makes: their
// notices chase an unacknowledged notice (the parent), and its
// acknowledgement cancels them.
var ChaseKinds = []templates.Kind{templates.KindReminder, templates.KindEscalation}

// Contact statuses: only active contacts are sent to.
const (
	ContactActive     = "active"
	ContactBounced    = "bounced"
	ContactSuppressed = "suppressed"
)

// Exposure item kinds.
var ItemKinds = []string{"email", "file", "credential", "other"}

// WaveStatus is where a wave is in its life.
type WaveStatus string

// The wave statuses.
const (
	WavePlanned   WaveStatus = "planned"
	WaveApproved  WaveStatus = "approved"
	WaveRunning   WaveStatus = "running"
	WavePaused    WaveStatus = "paused"
	WaveCompleted WaveStatus = "completed"
	WaveCancelled WaveStatus = "cancelled"
)

// DeliveryStatus is where one notice to one contact is.
type DeliveryStatus string

// The delivery statuses. Sent, failed, bounced and suppressed are final.
const (
	DeliveryQueued     DeliveryStatus = "queued"
	DeliverySending    DeliveryStatus = "sending"
	DeliverySent       DeliveryStatus = "sent"
	DeliveryDeferred   DeliveryStatus = "deferred"
	DeliveryFailed     DeliveryStatus = "failed"
	DeliveryBounced    DeliveryStatus = "bounced"
	DeliverySuppressed DeliveryStatus = "suppressed"
	// DeliveryCancelled is a delivery not sent because its wave was cancelled.
	DeliveryCancelled DeliveryStatus = "cancelled"
)

// DeliveryStatuses lists every delivery status, in lifecycle order.
var DeliveryStatuses = []DeliveryStatus{
	DeliveryQueued, DeliverySending, DeliverySent, DeliveryDeferred,
	DeliveryFailed, DeliveryBounced, DeliverySuppressed, DeliveryCancelled,
}

// FinalDeliveryStatuses are the statuses after which nothing more is sent;
// an outcome never overwrites one. PendingDeliveryStatuses are those a
// delivery job still works. The store builds its SQL lists from both.
var (
	FinalDeliveryStatuses   = []DeliveryStatus{DeliverySent, DeliveryFailed, DeliveryBounced, DeliverySuppressed, DeliveryCancelled}
	PendingDeliveryStatuses = []DeliveryStatus{DeliveryQueued, DeliveryDeferred}
)

// Final reports whether nothing more will be sent for a delivery in s.
func (s DeliveryStatus) Final() bool {
	return slices.Contains(FinalDeliveryStatuses, s)
}

// WavePlan is what planning a wave reports: the wave row, its targets,
// who it leaves out and why, and one message rendered as it would be sent.
type WavePlan struct {
	ID            int64          `json:"id"`
	IncidentID    int64          `json:"incident_id"`
	Kind          templates.Kind `json:"kind"`
	Status        WaveStatus     `json:"status"`
	Organizations int            `json:"organizations"`
	Notices       int            `json:"notices"`
	Deliveries    int            `json:"deliveries"`
	// UrgentOnly is set for a wave of the urgent organizations only.
	UrgentOnly bool `json:"urgent_only"`
	// Urgent is how many of the planned organizations are urgent: a live
	// secret (one outside NotLiveSecretTypes) among their new items, from
	// the exposures CSV or found in stolen mail. Planning those first
	// (UrgentOnly) gets them told before the rest.
	Urgent  int                   `json:"urgent"`
	Skipped []SkippedOrganization `json:"skipped"`
	Sample  *SampleMessage        `json:"sample"`
	// NeedsApproval is true when the incident's policy asks for a second key.
	NeedsApproval bool `json:"needs_approval"`
	// Disclosure is what the notices will tell (the incident's policy when
	// planned); the sample shows it. A launch under another refuses.
	Disclosure Disclosure `json:"disclosure"`
	// SampleSource is what Sample is rendered from (not part of the reply).
	SampleSource *OutgoingDelivery `json:"-"`
}

// Wave is a wave's state with its delivery counts by status.
type Wave struct {
	ID                int64                  `json:"id"`
	IncidentID        int64                  `json:"incident_id"`
	Kind              templates.Kind         `json:"kind"`
	Status            WaveStatus             `json:"status"`
	Deliveries        map[DeliveryStatus]int `json:"deliveries"`
	Notices           WaveNotices            `json:"notices"`
	PlannedNotices    int                    `json:"planned_notices"`
	PlannedDeliveries int                    `json:"planned_deliveries"`
	PlannedBy         *int64                 `json:"planned_by"`
	ApprovedBy        *int64                 `json:"approved_by"`
	LaunchedBy        *int64                 `json:"launched_by"`
	CancelledBy       *int64                 `json:"cancelled_by"`
	CreatedAt         time.Time              `json:"created_at"`
	ApprovedAt        *time.Time             `json:"approved_at,omitempty"`
	LaunchedAt        *time.Time             `json:"launched_at,omitempty"`
	PausedAt          *time.Time             `json:"paused_at,omitempty"`
	// Automatic is set for a wave the service planned by itself: a
	// follow-up waiting for the approval the incident's policy asks for.
	Automatic bool `json:"automatic"`
	// UrgentOnly is set for a wave of the urgent organizations only: those
	// with a live secret among the items it covers.
	UrgentOnly bool `json:"urgent_only"`
	// TemplateVersions are the template versions, by locale, the wave was
	// launched with and renders with to the end.
	TemplateVersions map[string]string `json:"template_versions,omitempty"`
	// PauseReason says why the service paused the wave by itself (the
	// link firewall stopped a message); empty when a person paused it.
	PauseReason string `json:"pause_reason,omitempty"`
	// TakenOverAt and TakeoverNote say when and what a live process last
	// took over of this wave from a dead one (see Lease).
	TakenOverAt  *time.Time `json:"taken_over_at,omitempty"`
	TakeoverNote string     `json:"takeover_note,omitempty"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	CancelledAt  *time.Time `json:"cancelled_at,omitempty"`
}

// WaveNotices counts a wave's notices.
type WaveNotices struct {
	Total int `json:"total"`
	// Acknowledged and Unacknowledged count the notices (or, for reminder
	// waves, the notices chased) by acknowledgement.
	Acknowledged   int `json:"acknowledged"`
	Unacknowledged int `json:"unacknowledged"`
	// Unreachable counts notices that reached nobody: every delivery failed,
	// bounced or was suppressed.
	Unreachable int `json:"unreachable"`
}

// OrgImportResult counts what an organizations import changed.
type OrgImportResult struct {
	Organizations UpsertCounts `json:"organizations"`
	Contacts      UpsertCounts `json:"contacts"`
}

// UpsertCounts counts rows created and rows whose values changed; rows that
// were already identical count as neither.
type UpsertCounts struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// ExposureImportResult is what importing an exposure batch reports.
type ExposureImportResult struct {
	BatchID        int64 `json:"batch_id"`
	ItemsNew       int   `json:"items_new"`
	ItemsDuplicate int   `json:"items_duplicate"`
	// Organizations counts the distinct organizations the batch names.
	Organizations int `json:"organizations"`
	// FollowUps lists the organizations (refs) told before that will get a
	// follow-up about the new items, after the policy's window.
	FollowUps []string `json:"follow_ups"`
	// AwaitingInitial lists the organizations with new items that were
	// never notified: the next initial wave will.
	AwaitingInitial []string `json:"awaiting_initial"`
}

// CapturedMessage is one message received by the embedded capture mailbox.
type CapturedMessage struct {
	ID         int64     `json:"id"`
	MailFrom   string    `json:"mail_from"`
	Recipients []string  `json:"recipients"`
	Subject    string    `json:"subject"`
	MessageID  string    `json:"message_id"`
	ReceivedAt time.Time `json:"received_at"`
	Raw        []byte    `json:"-"`
}

// Delivery is one notice to one contact, as recorded.
type Delivery struct {
	ID              int64          `json:"id"`
	NoticeID        int64          `json:"notice_id"`
	WaveID          int64          `json:"wave_id"`
	ContactID       int64          `json:"contact_id"`
	Recipient       string         `json:"recipient"`
	Status          DeliveryStatus `json:"status"`
	MessageID       string         `json:"message_id"`
	Reference       string         `json:"reference"`
	TemplateVersion string         `json:"template_version"`
	// MessageSHA256 is the hex SHA-256 of the exact bytes the relay accepted.
	MessageSHA256  string     `json:"message_sha256"`
	Attempts       int        `json:"attempts"`
	SMTPCode       *int       `json:"smtp_code"`
	SMTPReply      string     `json:"smtp_reply"`
	QueuedAt       time.Time  `json:"queued_at"`
	FirstAttemptAt *time.Time `json:"first_attempt_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	SentAt         *time.Time `json:"sent_at"`
	FinishedAt     *time.Time `json:"finished_at"`
}

// DeliveryEvent is one entry of a delivery's timeline.
type DeliveryEvent struct {
	ID           int64     `json:"id"`
	DeliveryID   int64     `json:"delivery_id"`
	Type         string    `json:"type"`
	SMTPCode     *int      `json:"smtp_code"`
	EnhancedCode string    `json:"enhanced_code"`
	Detail       string    `json:"detail"`
	At           time.Time `json:"at"`
}

// Idempotency identifies a request that must have one effect and one
// reply however often it is repeated (the Idempotency-Key header).
type Idempotency struct {
	Key string
	// Request names the request the key was first used for (method and path).
	Request string
}
