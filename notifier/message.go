package notifier

import (
	"context"
	"net/mail"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/templates"
)

// Message is one email to one recipient, fully rendered.
type Message struct {
	// MessageID is the stable Message-ID, without angle brackets.
	MessageID string
	From      mail.Address
	To        mail.Address
	Subject   string
	Text      string
	HTML      string
	// InReplyTo and References thread a follow-up on an earlier notice
	// (Message-IDs without angle brackets).
	InReplyTo  string
	References []string
	// Headers are extra single-line headers, such as X-Breachnotify-Reference.
	Headers map[string]string
	// BeforeContent, when set, is called by the sender once the relay is
	// ready for the content (its 354 to DATA), right before the content
	// goes out: the first moment the relay could take the message. An
	// error sends nothing: the connection is closed mid-DATA, which makes
	// the relay drop the transaction.
	BeforeContent func(ctx context.Context) error
}

// OutgoingDelivery is a claimed delivery with what is needed to send it.
type OutgoingDelivery struct {
	ID            int64
	WaveID        int64
	Recipient     string
	ContactName   string
	ContactRole   string
	ContactLocale string
	PortalAccess  bool
	MessageID     string
	Reference     string
	Attempts      int
	// LifetimeStart is the first attempt, or the launch for a delivery never
	// attempted: the retry lifetime counts from it.
	LifetimeStart time.Time
	Notice        *NoticeContent
	// AckToken is this attempt's acknowledgement link token (its hash is
	// stored by the claim).
	AckToken string
	// References lists the Message-IDs of the earlier notices this contact
	// received in the incident, oldest first: a follow-up, reminder or
	// escalation replies to the last of them.
	References []string
}

// NoticeContent is what all deliveries of one notice share; it is loaded and
// prepared once per notice per chunk.
type NoticeContent struct {
	ID              int64
	Kind            templates.Kind
	IncidentTitle   string
	IncidentSummary string
	IncidentSlug    string
	OrgName         string
	OrgRef          string
	ItemCount       int
	Kinds           []templates.KindCount
	SecretTypes     []string
	Items           []templates.Item
	// SentAt is when the notice (the reminded one, for a reminder) was
	// first sent.
	SentAt *time.Time
	// TemplateVersions are the template versions, by locale, its wave was
	// launched with (nil for a wave launched before versions were pinned:
	// the versions in use then render it).
	TemplateVersions map[string]string
	// Disclosure is what the notice was launched to tell (its policy
	// then; a reminder's or escalation's is its parent's).
	Disclosure Disclosure
}

// RecipientDomain is the lower-cased domain of an address.
func RecipientDomain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}
