package notifier

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
)

// BounceKind classifies a delivery status notification.
type BounceKind string

// The bounce kinds.
const (
	// BouncePermanent: the receiving side gave up (Action: failed).
	BouncePermanent BounceKind = "permanent"
	// BounceDelayed: still trying (Action: delayed); only recorded.
	BounceDelayed BounceKind = "delayed"
	// BounceDelivered: a positive report (delivered, relayed, expanded).
	BounceDelivered BounceKind = "delivered"
	// BounceComplaint: the recipient reported the message as abuse (an
	// RFC 5965 feedback report, a provider's spam complaint); only recorded.
	BounceComplaint BounceKind = "complaint"
	// BounceUnknown: not understood; kept, never acted on.
	BounceUnknown BounceKind = "unknown"
)

// BounceNotice is one recipient's status from a bounce report.
type BounceNotice struct {
	// MessageID is the original message's Message-ID, without brackets.
	MessageID  string     `json:"message_id"`
	Recipient  string     `json:"recipient"`
	Kind       BounceKind `json:"kind"`
	Action     string     `json:"action"`
	Status     string     `json:"status"`
	Diagnostic string     `json:"diagnostic"`
}

// maxDSNBytes bounds what ParseDSN reads of a report.
const maxDSNBytes = 10 << 20

var enhancedStatus = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}$`)

// ParseDSN reads an RFC 3464 delivery status notification: a whole message
// whose body is multipart/report (report-type=delivery-status), or, with
// contentType set, the multipart/report body alone. It returns one notice
// per recipient; an error means the report was not understood (the caller
// keeps it as unknown). An RFC 5965 feedback report (ARF, report-type
// feedback-report), which mailbox providers send for a message reported as
// spam, gives one complaint notice.
func ParseDSN(raw []byte, contentType string) ([]BounceNotice, error) {
	if len(raw) > maxDSNBytes {
		return nil, errors.New("report too large")
	}
	var body io.Reader = bytes.NewReader(raw)
	if contentType == "" || strings.HasPrefix(strings.ToLower(contentType), "message/rfc822") {
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			return nil, errors.New("not an email message")
		}
		contentType, body = msg.Header.Get("Content-Type"), msg.Body
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/report" || params["boundary"] == "" {
		return nil, errors.New("not a multipart/report")
	}
	var status, feedback []byte
	var originalID string
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errors.New("malformed MIME structure")
		}
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		data, err := io.ReadAll(io.LimitReader(part, maxDSNBytes))
		if err != nil {
			return nil, errors.New("malformed MIME part")
		}
		switch pt {
		case "message/delivery-status", "message/global-delivery-status":
			status = data
		case "message/feedback-report":
			feedback = data
		case "text/rfc822-headers", "message/rfc822", "message/global", "message/global-headers":
			if h, err := readHeader(data); err == nil {
				originalID = strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
			}
		}
	}
	if status == nil && feedback != nil {
		return parseFeedbackReport(feedback, originalID)
	}
	if status == nil {
		return nil, errors.New("no message/delivery-status or message/feedback-report part")
	}
	return parseDeliveryStatus(status, originalID)
}

// readHeader parses a header block (the headers of the returned message).
func readHeader(data []byte) (textproto.MIMEHeader, error) {
	if !bytes.Contains(data, []byte("\n\n")) && !bytes.Contains(data, []byte("\r\n\r\n")) {
		data = append(data, "\r\n\r\n"...)
	}
	return textproto.NewReader(bufio.NewReader(bytes.NewReader(data))).ReadMIMEHeader()
}

// parseDeliveryStatus reads the per-message block, then one block per
// recipient (RFC 3464 §2.2, §2.3).
func parseDeliveryStatus(data []byte, originalID string) ([]BounceNotice, error) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(data)))
	if _, err := r.ReadMIMEHeader(); err != nil && !errors.Is(err, io.EOF) {
		return nil, errors.New("malformed per-message fields")
	}
	var out []BounceNotice
	for len(out) < 1000 {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 {
			n, ok := recipientNotice(h, originalID)
			if !ok {
				return nil, errors.New("a recipient block lacks Final-Recipient, Action or Status")
			}
			out = append(out, n)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errors.New("malformed per-recipient fields")
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no per-recipient fields")
	}
	return out, nil
}

func recipientNotice(h textproto.MIMEHeader, originalID string) (BounceNotice, bool) {
	n := BounceNotice{
		MessageID:  originalID,
		Recipient:  addressField(h.Get("Final-Recipient")),
		Action:     strings.ToLower(strings.TrimSpace(h.Get("Action"))),
		Status:     firstWord(h.Get("Status")),
		Diagnostic: oneLineText(strings.TrimSpace(h.Get("Diagnostic-Code")), 1000),
	}
	if n.Recipient == "" {
		n.Recipient = addressField(h.Get("Original-Recipient"))
	}
	if n.Recipient == "" || n.Action == "" || !enhancedStatus.MatchString(n.Status) {
		return n, false
	}
	n.Kind = kindOf(n.Action, n.Status)
	return n, true
}

// parseFeedbackReport reads the machine-readable part of an RFC 5965
// report: the complained-of recipient is its Original-Rcpt-To (optional
// there; the original message's own headers still find the delivery).
func parseFeedbackReport(data []byte, originalID string) ([]BounceNotice, error) {
	h, err := readHeader(data)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, errors.New("malformed feedback report fields")
	}
	feedbackType := strings.ToLower(firstWord(h.Get("Feedback-Type")))
	if feedbackType == "" {
		return nil, errors.New("a feedback report lacks Feedback-Type")
	}
	if originalID == "" {
		return nil, errors.New("a feedback report without the original message's Message-ID")
	}
	return []BounceNotice{{
		MessageID:  originalID,
		Recipient:  addressField(h.Get("Original-Rcpt-To")),
		Kind:       BounceComplaint,
		Action:     "complaint",
		Diagnostic: oneLineText("feedback-type "+feedbackType+" "+h.Get("User-Agent"), 1000),
	}}, nil
}

// kindOf maps an Action (and Status, when the action is unclear) to a kind.
func kindOf(action, status string) BounceKind {
	switch action {
	case "failed":
		return BouncePermanent
	case "delayed":
		return BounceDelayed
	case "delivered", "relayed", "expanded":
		return BounceDelivered
	}
	return BounceKindFromStatus(status)
}

// BounceKindFromStatus classifies an enhanced status code (RFC 3463):
// 5.x.x permanent, 4.x.x delayed, 2.x.x delivered.
func BounceKindFromStatus(status string) BounceKind {
	if !enhancedStatus.MatchString(status) {
		return BounceUnknown
	}
	switch status[0] {
	case '5':
		return BouncePermanent
	case '4':
		return BounceDelayed
	}
	return BounceDelivered
}

// addressField reads "rfc822; user@example.com" (the address type is
// optional in practice).
func addressField(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = strings.TrimSpace(v[i+1:])
	}
	v = strings.Trim(v, "<>")
	if strings.ContainsFunc(v, forbiddenRune) || !strings.Contains(v, "@") || len(v) > maxEmailLen {
		return ""
	}
	return v
}

// oneLineText folds whitespace and drops control characters, bounded to max bytes.
func oneLineText(s string, limit int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || forbiddenRune(r) }), " ")
	if len(s) > limit {
		s = s[:limit]
	}
	return s
}

// firstWord is the first space-separated word of s, or "".
func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}
