package bouncehooks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// SendGrid's signature headers (Signed Event Webhook).
const (
	SendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	SendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// ReplayWindow is how far a signed timestamp may be from now (SendGrid,
// Mailgun): an older request, even correctly signed, is a replay.
const ReplayWindow = 5 * time.Minute

// SendGrid is SendGrid's event webhook, signed with ECDSA: the signature
// covers the timestamp header followed by the raw body.
type SendGrid struct {
	Key *ecdsa.PublicKey
	// Now is the clock the timestamp is checked against (time.Now when nil).
	Now func() time.Time
}

// Source implements Hook.
func (*SendGrid) Source() notifier.BounceSource { return notifier.SourceSendGrid }

// Take implements Hook.
func (h *SendGrid) Take(_ context.Context, req Request) (Result, error) {
	sig, err := base64.StdEncoding.DecodeString(req.Header.Get(SendGridSignatureHeader))
	ts := req.Header.Get(SendGridTimestampHeader)
	if err != nil || len(sig) == 0 || !freshUnix(ts, h.Now) {
		return Result{}, ErrUnauthenticated
	}
	sum := sha256.Sum256(append([]byte(ts), req.Body...))
	if !ecdsa.VerifyASN1(h.Key, sum[:], sig) {
		return Result{}, ErrUnauthenticated
	}
	return ParseSendGrid(req.Body)
}

// sendGridEvent holds the fields of an event that matter here.
type sendGridEvent struct {
	Event   string `json:"event"`
	Email   string `json:"email"`
	SMTPID  string `json:"smtp-id"`
	EventID string `json:"sg_event_id"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	// Response is the receiving server's reply to a delivered or deferred message.
	Response string `json:"response"`
}

// ParseSendGrid reads a batch of SendGrid events (a JSON array). bounce
// (type bounce) and dropped are permanent; a bounce of type blocked and
// deferred are delays; spamreport is a complaint; delivered a positive
// report. The match is the smtp-id, the Message-ID as sent.
func ParseSendGrid(body []byte) (Result, error) {
	var events []sendGridEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&events); err != nil {
		return Result{}, invalid("the body is not a JSON array of SendGrid events")
	}
	if len(events) > maxEvents {
		return Result{}, invalid("the batch holds %d events; at most %d are taken", len(events), maxEvents)
	}
	var res Result
	for i, e := range events {
		var kind notifier.BounceKind
		diag := e.Reason
		switch e.Event {
		case "bounce":
			kind = notifier.BouncePermanent
			if e.Type == "blocked" {
				kind = notifier.BounceDelayed
			}
		case "dropped":
			kind = notifier.BouncePermanent
		case "deferred":
			kind, diag = notifier.BounceDelayed, e.Response
		case "spamreport":
			kind = notifier.BounceComplaint
		case "delivered":
			kind, diag = notifier.BounceDelivered, e.Response
		default:
			res.Ignored++
			continue
		}
		if e.EventID == "" {
			return Result{}, invalid("event %d (%s) has no sg_event_id", i+1, e.Event)
		}
		raw, _ := json.Marshal(e)
		res.Records = append(res.Records, notifier.BounceRecord{
			Notice: notifier.ProviderNotice(kind, e.SMTPID, e.Email, e.Status, diag),
			Source: notifier.SourceSendGrid, Key: e.EventID, Raw: raw,
		})
	}
	return res, nil
}

// freshUnix reports a decimal Unix time within ReplayWindow of now.
func freshUnix(ts string, now func() time.Time) bool {
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return false
	}
	if now == nil {
		now = time.Now
	}
	d := now().Sub(time.Unix(sec, 0))
	return d < ReplayWindow && d > -ReplayWindow
}
