package notifier

import "strings"

// BounceSource says how a bounce reached the service.
type BounceSource string

// The bounce sources: by hand (the API's two forms, which the CLI uses
// too), the polled bounce mailbox, and each sending provider's webhook.
const (
	SourceDSN      BounceSource = "dsn"
	SourceJSON     BounceSource = "json"
	SourceIMAP     BounceSource = "imap"
	SourceSES      BounceSource = "ses"
	SourceSendGrid BounceSource = "sendgrid"
	SourcePostmark BounceSource = "postmark"
	SourceMailgun  BounceSource = "mailgun"
)

// BounceReport is a bounce message as it arrived, to be parsed.
type BounceReport struct {
	Source BounceSource
	// Key identifies the message at its source (the bounce message's own
	// Message-ID in a mailbox), so taking it in twice records it once;
	// empty when the source has none (an upload by hand).
	Key string
	// Raw is the whole message, or its multipart/report body with
	// ContentType set.
	Raw         []byte
	ContentType string
}

// BounceRecord is one bounce notice to record and where it came from.
type BounceRecord struct {
	Notice BounceNotice
	Source BounceSource
	// Key identifies the report at its source (a provider's event id);
	// a second record with the same source and key is not recorded.
	Key string
	// Raw is what the source sent, kept as evidence (nil for the JSON form).
	Raw []byte
}

// BounceResult is what recording one bounce notice did.
type BounceResult struct {
	Bounce Bounce
	Source BounceSource
	// Duplicate is true when the source had delivered this report before:
	// Bounce is the earlier record and nothing changed.
	Duplicate bool
}

// BounceOutcome summarises a BounceResult for counting (bounded values,
// never ids).
type BounceOutcome string

// The bounce outcomes.
const (
	// OutcomeApplied: a permanent failure marked its delivery and contact bounced.
	OutcomeApplied BounceOutcome = "applied"
	// OutcomeRecorded: matched a delivery and added an event to it (a
	// delay, a positive report, a complaint, or a failure already applied).
	OutcomeRecorded BounceOutcome = "recorded"
	// OutcomeUnmatched: understood, but no delivery of ours (or another
	// recipient's): kept, changed nothing.
	OutcomeUnmatched BounceOutcome = "unmatched"
	// OutcomeUnparsed: not understood; kept as unknown.
	OutcomeUnparsed BounceOutcome = "unparsed"
	// OutcomeDuplicate: its source had delivered it before.
	OutcomeDuplicate BounceOutcome = "duplicate"
	// OutcomeRejected: a webhook request that failed its signature or
	// authentication check, or that could not be read; nothing recorded.
	OutcomeRejected BounceOutcome = "rejected"
)

// Outcome classifies r.
func (r BounceResult) Outcome() BounceOutcome {
	switch {
	case r.Duplicate:
		return OutcomeDuplicate
	case r.Bounce.Kind == BounceUnknown:
		return OutcomeUnparsed
	case r.Bounce.DeliveryID == nil:
		return OutcomeUnmatched
	case r.Bounce.Applied:
		return OutcomeApplied
	}
	return OutcomeRecorded
}

// BounceCounter counts bounces taken in, by source and outcome (the
// metrics implement it).
type BounceCounter interface {
	BounceIngested(source BounceSource, outcome BounceOutcome)
}

// uncountedBounces is the BounceCounter of a Service given none.
type uncountedBounces struct{}

func (uncountedBounces) BounceIngested(BounceSource, BounceOutcome) {}

// ProviderNotice builds the notice a provider's event gives, cleaned as a
// DSN's fields are: the Message-ID without brackets, the recipient an
// address or nothing, the status an enhanced code (the kind's generic one,
// such as 5.0.0, when the provider gives none), the diagnostic one line.
func ProviderNotice(kind BounceKind, messageID, recipient, status, diagnostic string) BounceNotice {
	n := BounceNotice{
		Kind:       kind,
		MessageID:  strings.Trim(strings.TrimSpace(messageID), "<>"),
		Recipient:  addressField(recipient),
		Status:     strings.TrimSpace(status),
		Diagnostic: oneLineText(diagnostic, 1000),
	}
	if len(n.MessageID) > 998 || strings.ContainsFunc(n.MessageID, forbiddenRune) {
		n.MessageID = ""
	}
	generic := map[BounceKind]string{BouncePermanent: "5.0.0", BounceDelayed: "4.0.0", BounceDelivered: "2.0.0"}[kind]
	if !enhancedStatus.MatchString(n.Status) || BounceKindFromStatus(n.Status) != kind {
		n.Status = generic
	}
	n.Action = map[BounceKind]string{BouncePermanent: "failed", BounceDelayed: "delayed", BounceDelivered: "delivered", BounceComplaint: "complaint"}[kind]
	return n
}
