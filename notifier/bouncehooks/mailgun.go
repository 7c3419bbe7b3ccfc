package bouncehooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// Mailgun is Mailgun's webhook: the body carries a signature, the hex
// HMAC-SHA256 under the webhook signing key of its timestamp followed by
// its token; a timestamp outside ReplayWindow is refused.
type Mailgun struct {
	SigningKey []byte
	// Now is the clock the timestamp is checked against (time.Now when nil).
	Now func() time.Time
}

// Source implements Hook.
func (*Mailgun) Source() notifier.BounceSource { return notifier.SourceMailgun }

type mailgunBody struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData *mailgunEvent `json:"event-data"`
}

type mailgunEvent struct {
	ID        string `json:"id"`
	Event     string `json:"event"`
	Severity  string `json:"severity"`
	Reason    string `json:"reason"`
	Recipient string `json:"recipient"`
	Message   struct {
		Headers struct {
			MessageID string `json:"message-id"`
		} `json:"headers"`
	} `json:"message"`
	DeliveryStatus struct {
		Code         int    `json:"code"`
		EnhancedCode string `json:"enhanced-code"`
		Message      string `json:"message"`
		Description  string `json:"description"`
	} `json:"delivery-status"`
}

// Take implements Hook.
func (h *Mailgun) Take(_ context.Context, req Request) (Result, error) {
	var b mailgunBody
	if err := json.Unmarshal(req.Body, &b); err != nil {
		return Result{}, ErrUnauthenticated
	}
	mac := hmac.New(sha256.New, h.SigningKey)
	mac.Write([]byte(b.Signature.Timestamp + b.Signature.Token))
	got, err := hex.DecodeString(b.Signature.Signature)
	if err != nil || b.Signature.Token == "" || !hmac.Equal(got, mac.Sum(nil)) || !freshUnix(b.Signature.Timestamp, h.Now) {
		return Result{}, ErrUnauthenticated
	}
	return ParseMailgun(req.Body)
}

// ParseMailgun reads a Mailgun webhook's event-data: failed (permanent or
// temporary by its severity), delivered and complained; other events are
// ignored. The match is the message's Message-ID header as sent.
func ParseMailgun(body []byte) (Result, error) {
	var b mailgunBody
	if err := json.Unmarshal(body, &b); err != nil || b.EventData == nil {
		return Result{}, invalid("the body is not a Mailgun webhook with event-data")
	}
	e := b.EventData
	var kind notifier.BounceKind
	switch {
	case e.Event == "failed" && e.Severity == "permanent":
		kind = notifier.BouncePermanent
	case e.Event == "failed":
		kind = notifier.BounceDelayed
	case e.Event == "delivered":
		kind = notifier.BounceDelivered
	case e.Event == "complained":
		kind = notifier.BounceComplaint
	default:
		return Result{Ignored: 1}, nil
	}
	if e.ID == "" {
		return Result{}, invalid("event-data has no id")
	}
	diag := e.DeliveryStatus.Message
	if diag == "" {
		diag = e.DeliveryStatus.Description
	}
	if e.Reason != "" {
		diag = e.Reason + ": " + diag
	}
	raw, _ := json.Marshal(e)
	return Result{Records: []notifier.BounceRecord{{
		Notice: notifier.ProviderNotice(kind, e.Message.Headers.MessageID, e.Recipient, e.DeliveryStatus.EnhancedCode, diag),
		Source: notifier.SourceMailgun, Key: e.ID, Raw: raw,
	}}}, nil
}
