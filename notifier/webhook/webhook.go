// Package webhook is the outbound webhook channel: endpoints an admin
// registers (globally or for one incident), the events the service emits
// to them, and their delivery, signed per the Standard Webhooks
// specification (https://www.standardwebhooks.com): headers webhook-id,
// webhook-timestamp and webhook-signature, "v1," and the base64
// HMAC-SHA256 of "id.timestamp.body" under each of the endpoint's live
// secrets.
//
// Events are written by the database in the transaction of the change
// they report (the outbox, migration 0029): none is lost when the change
// commits, none invented when it rolls back. A dispatcher job fans new
// events out to the endpoints that want them, one delivery row and one
// River job per (event, endpoint); each job makes one attempt and plans
// the next with the delivery engine's RetryPolicy (exponential backoff
// with jitter, given up after a lifetime). Every attempt is logged.
//
// Payloads carry ids, refs, counts and times, never breach data: no
// subjects, summaries, bodies or addresses of what was stolen.
//
// Webhooks are a second channel beside email, but not a second
// delivery.Sender behind the engine. The engine's seam is channel-neutral
// in what comes back (delivery.SendResult and its Verdict, which the
// Sender here returns too) but not in what goes in: it claims rows of the
// deliveries table (a notice to a contact of a wave), renders templates
// for a recipient, paces by recipient domain, pauses waves and completes
// them. A webhook delivery has none of these: no wave, notice, contact,
// template or domain. Routing it through the engine would mean webhook
// rows in the deliveries table and every engine rule taught to skip them.
// What the two share is taken from the engine as it is: the SendResult
// verdicts and the RetryPolicy that plans attempts.
package webhook

import (
	"slices"
	"time"
)

// EventType names an event. The names are part of the API: receivers
// switch on them.
type EventType string

// The event types.
const (
	// DeliveryFailed: an email delivery failed for good (5xx, or gave up).
	DeliveryFailed EventType = "delivery.failed"
	// DeliveryBounced: a sent email bounced (a DSN came back).
	DeliveryBounced EventType = "delivery.bounced"
	// NoticeAcknowledged: a contact acknowledged a notice.
	NoticeAcknowledged EventType = "notice.acknowledged"
	// NoticeUnreachable: none of a notice's deliveries reached anyone and
	// none is pending any more (sent once per notice).
	NoticeUnreachable EventType = "notice.unreachable"
	// WaveCompleted: a wave has no pending delivery left.
	WaveCompleted EventType = "wave.completed"
	// FollowUpPlanned: a follow-up wave was written for new exposures.
	FollowUpPlanned EventType = "followup.planned"
	// DeadlineApproaching: a regulatory deadline of an incident nears
	// (emitted through EmitDeadlineApproaching by the deadline clocks).
	DeadlineApproaching EventType = "deadline.approaching"
	// EvidenceViewed: a contact viewed, revealed or downloaded stolen mail
	// in the portal.
	EvidenceViewed EventType = "evidence.viewed"
	// Test is the event POST /api/v1/webhooks/{id}/test sends to one
	// endpoint.
	Test EventType = "webhook.test"
)

// EventTypes are the event types an endpoint may subscribe to.
var EventTypes = []EventType{DeliveryFailed, DeliveryBounced, NoticeAcknowledged, NoticeUnreachable,
	WaveCompleted, FollowUpPlanned, DeadlineApproaching, EvidenceViewed}

// Known reports whether t is an event type an endpoint may subscribe to.
func Known(t EventType) bool { return slices.Contains(EventTypes, t) }

// Endpoint is a registered receiver. Its secrets are never shown after
// they are made: Secrets lists when each was made and expires.
type Endpoint struct {
	ID int64 `json:"id"`
	// Incident is the slug of the incident whose events it receives;
	// empty for every incident's.
	Incident    string       `json:"incident,omitempty"`
	URL         string       `json:"url"`
	Description string       `json:"description"`
	Events      []EventType  `json:"events"`
	Enabled     bool         `json:"enabled"`
	Secrets     []SecretInfo `json:"secrets"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// SecretInfo describes one signing secret without revealing it.
type SecretInfo struct {
	ID        int64      `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// CreatedEndpoint is the answer to a registration or a rotation: the
// only time the secret is shown.
type CreatedEndpoint struct {
	Endpoint
	// Secret is the new signing secret, whsec_ and base64, as the
	// Standard Webhooks libraries take it.
	Secret string `json:"secret"`
}

// DeliveryStatus is where a delivery of an event to an endpoint stands.
type DeliveryStatus string

// The delivery statuses.
const (
	StatusPending   DeliveryStatus = "pending"
	StatusSucceeded DeliveryStatus = "succeeded"
	StatusFailed    DeliveryStatus = "failed"
)

// Delivery is one event to one endpoint, with its log of attempts.
type Delivery struct {
	ID            int64          `json:"id"`
	EndpointID    int64          `json:"endpoint_id"`
	MessageID     string         `json:"message_id"`
	Type          EventType      `json:"type"`
	Status        DeliveryStatus `json:"status"`
	Attempts      []Attempt      `json:"attempts"`
	NextAttemptAt *time.Time     `json:"next_attempt_at,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
}

// Attempt is one try at a delivery.
type Attempt struct {
	At time.Time `json:"at"`
	// StatusCode is the receiver's HTTP status; 0 when none came.
	StatusCode int    `json:"status_code"`
	LatencyMS  int    `json:"latency_ms"`
	Error      string `json:"error,omitempty"`
	// NextRetryAt is when the delivery is tried again after this attempt.
	NextRetryAt *time.Time `json:"next_retry_at,omitempty"`
}

// DeadlineNear is the data of a deadline.approaching event. The deadline
// clocks (issue 15) emit it through the store's EmitDeadlineApproaching,
// in the transaction that marks the deadline as near.
type DeadlineNear struct {
	IncidentID int64 `json:"incident_id"`
	// Deadline names the clock (e.g. "regulator_notification").
	Deadline string    `json:"deadline"`
	DueAt    time.Time `json:"due_at"`
}
