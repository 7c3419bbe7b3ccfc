package notifier

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"
)

// Acknowledgement tokens are 32 random bytes (256 bits) in unpadded
// base64url: 43 characters. Only their SHA-256 is stored.
const ackTokenLen = 43

// AckTokenLifetime is how long an acknowledgement link works.
const AckTokenLifetime = 180 * 24 * time.Hour

// NewAckToken returns a fresh token and the hash to store.
func NewAckToken() (token string, hash []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	token = base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(token))
	return token, h[:]
}

// ParseAckToken checks a presented token's shape and returns its hash.
// Anything else (truncated, padded, altered alphabet) is refused before the
// database is asked.
func ParseAckToken(token string) ([]byte, bool) {
	if len(token) != ackTokenLen || !utf8.ValidString(token) {
		return nil, false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, false
		}
	}
	// The last character carries 4 bits of padding that must be zero, so
	// each 32-byte value has exactly one valid spelling.
	if b, err := base64.RawURLEncoding.Strict().DecodeString(token); err != nil || len(b) != 32 {
		return nil, false
	}
	h := sha256.Sum256([]byte(token))
	return h[:], true
}

// AckView is what the acknowledgement page shows about a notice.
type AckView struct {
	DeliveryID    int64
	NoticeID      int64
	IncidentTitle string
	OrgName       string
	// Recipient is the address the link was sent to.
	Recipient string
	// AcknowledgedAt and AcknowledgedBy are set once someone acknowledged
	// the notice (by any of its links).
	AcknowledgedAt *time.Time
	AcknowledgedBy string
	// TokenHash identifies the link (for the form's CSRF token).
	TokenHash []byte
	// Locale is the locale of the contact the link was sent to: the
	// page speaks the notice's language.
	Locale string
}

// AckRequest describes who pressed the button, for the record.
type AckRequest struct {
	IP        string
	UserAgent string
}

// AckStore is the persistence of acknowledgements.
type AckStore interface {
	// AckTarget finds the notice a link acknowledges; not_found for an
	// unknown or expired link.
	AckTarget(ctx context.Context, tokenHash []byte, lifetime time.Duration) (AckView, error)
	// RecordLinkOpened notes a visit that did not acknowledge anything.
	RecordLinkOpened(ctx context.Context, deliveryID int64, detail string) error
	// Acknowledge records the first acknowledgement of the link's notice
	// (the parent, for a reminder); later ones change nothing.
	Acknowledge(ctx context.Context, tokenHash []byte, lifetime time.Duration, req AckRequest) (AckView, bool, error)
}

// AckPage returns what an acknowledgement link shows, and notes that the
// link was opened. Opening never acknowledges: mail scanners open links.
func (s *Service) AckPage(ctx context.Context, token, method string) (AckView, error) {
	hash, ok := ParseAckToken(token)
	if !ok {
		return AckView{}, Errorf(CodeNotFound, "this link is not valid")
	}
	v, err := s.store.AckTarget(ctx, hash, AckTokenLifetime)
	if err != nil {
		return v, err
	}
	if err := s.store.RecordLinkOpened(ctx, v.DeliveryID, method); err != nil {
		s.logger.WarnContext(ctx, "could not record a link visit", "delivery_id", v.DeliveryID, "error", err)
	}
	return v, nil
}

// Acknowledge records a person's deliberate acknowledgement (the page's
// POST). It is idempotent: the first acknowledgement stands.
func (s *Service) Acknowledge(ctx context.Context, token string, req AckRequest) (AckView, bool, error) {
	hash, ok := ParseAckToken(token)
	if !ok {
		return AckView{}, false, Errorf(CodeNotFound, "this link is not valid")
	}
	req.UserAgent = oneLineText(req.UserAgent, 500)
	req.IP = oneLineText(req.IP, 64)
	v, first, err := s.store.Acknowledge(ctx, hash, AckTokenLifetime, req)
	if err == nil && first {
		s.logger.InfoContext(ctx, "notice acknowledged", "notice_id", v.NoticeID, "delivery_id", v.DeliveryID)
	}
	return v, first, err
}

// MaskEmail shows enough of an address to recognise it and no more:
// "s***@contoso.example".
func MaskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 1 {
		return "***"
	}
	first, _ := utf8.DecodeRuneInString(addr)
	return string(first) + "***" + addr[at:]
}
