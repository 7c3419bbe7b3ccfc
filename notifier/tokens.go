package notifier

import (
	"crypto/rand"
	"encoding/hex"
)

// Portal sign-in links and session ids are made and checked like
// acknowledgement tokens: 32 random bytes (256 bits) in unpadded base64url,
// one valid spelling per value, and only their SHA-256 is ever stored.

// NewPortalToken returns a fresh sign-in link token or session id and the
// hash to store.
func NewPortalToken() (token string, hash []byte) { return NewAckToken() }

// ParsePortalToken checks a presented link token or session id's shape and
// returns its hash; anything malformed is refused before the database is
// asked.
func ParsePortalToken(token string) ([]byte, bool) { return ParseAckToken(token) }

// newMessageID returns a random Message-ID (without angle brackets) on
// domain, for messages that are not deliveries of a notice.
func newMessageID(domain string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b) + "@" + domain
}
