package bouncehooks

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

// Postmark is Postmark's bounce (and spam complaint) webhook. Postmark does
// not sign its webhooks: the URL it posts to carries basic-auth
// credentials (https://USER:PASSWORD@host/api/v1/bounces/providers/postmark),
// which are checked here.
type Postmark struct {
	User, Password string
}

// Source implements Hook.
func (*Postmark) Source() notifier.BounceSource { return notifier.SourcePostmark }

// Take implements Hook.
func (h *Postmark) Take(_ context.Context, req Request) (Result, error) {
	userOK := subtle.ConstantTimeCompare([]byte(req.BasicUser), []byte(h.User))
	passOK := subtle.ConstantTimeCompare([]byte(req.BasicPassword), []byte(h.Password))
	if !req.HasBasic || userOK&passOK != 1 {
		return Result{}, ErrUnauthenticated
	}
	return ParsePostmark(req.Body)
}

type postmarkEvent struct {
	RecordType  string
	ID          json.Number
	Type        string
	MessageID   string
	Description string
	Details     string
	Email       string
	// Content is the bounce message itself, when the server is set to
	// include it: its returned headers name our Message-ID.
	Content  string
	Metadata map[string]string
}

// postmarkPermanent are the bounce types after which the address takes no
// mail (Postmark deactivates it); others (soft bounces, auto-replies, DNS
// errors) are delays.
var postmarkPermanent = map[string]bool{"HardBounce": true, "BadEmailAddress": true, "ManuallyDeactivated": true, "Blocked": true, "SpamNotification": true}

// ParsePostmark reads one Postmark webhook: a Bounce or a SpamComplaint
// record (any other record type is ignored). Postmark's MessageID is its
// own; the Message-ID we sent is found in the bounce's Content (when the
// server includes it) or a message_id metadata field, else the bounce is
// kept unmatched.
func ParsePostmark(body []byte) (Result, error) {
	var e postmarkEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return Result{}, invalid("the body is not a Postmark webhook JSON object")
	}
	var kind notifier.BounceKind
	switch e.RecordType {
	case "Bounce":
		kind = notifier.BounceDelayed
		if postmarkPermanent[e.Type] {
			kind = notifier.BouncePermanent
		}
	case "SpamComplaint":
		kind = notifier.BounceComplaint
	default:
		return Result{Ignored: 1}, nil
	}
	id, err := strconv.ParseInt(e.ID.String(), 10, 64)
	if err != nil {
		return Result{}, invalid("the record has no numeric ID")
	}
	messageID := e.Metadata["message_id"]
	if messageID == "" && e.Content != "" {
		if notices, err := notifier.ParseDSN([]byte(e.Content), ""); err == nil {
			messageID = notices[0].MessageID
		}
	}
	n := notifier.ProviderNotice(kind, messageID, e.Email, "", e.Type+": "+e.Description+" "+e.Details)
	return Result{Records: []notifier.BounceRecord{{Notice: n, Source: notifier.SourcePostmark,
		Key: e.RecordType + ":" + strconv.FormatInt(id, 10), Raw: body}}}, nil
}
