package notifier

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// UnattributedReport says how many of an incident's stored messages
// expose no known organization, and which domains their participants
// are at: what IR staff read to decide which organizations (or contacts)
// to add before re-attributing (issue 13).
type UnattributedReport struct {
	// Messages is how many messages are unattributed, in all.
	Messages int64 `json:"messages"`
	// Domains is one page of their participants' domains, the most
	// frequent first.
	Domains []UnattributedDomain `json:"domains"`
	// NextCursor continues the list; empty on its last page.
	NextCursor string `json:"next_cursor"`
}

// UnattributedDomain is a domain found among the participants of
// unattributed messages.
type UnattributedDomain struct {
	Domain string `json:"domain"`
	// Messages is how many unattributed messages have a participant there.
	Messages int64 `json:"messages"`
	// FreeMail says the domain is a public mail provider's: adding an
	// organization for it would not help, its addresses count only as
	// known contacts of an organization.
	FreeMail bool `json:"free_mail"`
	// Attributable says an organization owns the domain (or a parent of
	// it) now: a re-attribution will attribute its messages.
	Attributable bool `json:"attributable"`
}

// DomainCursor is where a page of the unattributed domains ends: the
// list is ordered by messages (descending), then domain.
type DomainCursor struct {
	Messages int64
	Domain   string
}

// Encode makes the opaque cursor of c ("" for the first page).
func (c DomainCursor) Encode() string {
	if c.Domain == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("d1:" + strconv.FormatInt(c.Messages, 10) + ":" + c.Domain))
}

// DecodeDomainCursor reads a cursor made by DomainCursor.Encode.
func DecodeDomainCursor(s string) (DomainCursor, error) {
	if s == "" {
		return DomainCursor{}, nil
	}
	bad := Errorf(CodeBadRequest, "cursor is not valid; use the next_cursor of a previous page")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return DomainCursor{}, bad
	}
	rest, ok := strings.CutPrefix(string(b), "d1:")
	if !ok {
		return DomainCursor{}, bad
	}
	n, domain, ok := strings.Cut(rest, ":")
	messages, err := strconv.ParseInt(n, 10, 64)
	// Domains are stored in their ASCII form: anything else (a NUL, bytes
	// that are not UTF-8, which PostgreSQL would refuse) is no cursor.
	if !ok || err != nil || messages < 0 || domain == "" || strings.ContainsFunc(domain, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return DomainCursor{}, bad
	}
	return DomainCursor{Messages: messages, Domain: domain}, nil
}

// StoredParticipants is a stored message as a re-attribution reads it:
// its key, its participants as the import parsed them, and whether it is
// unattributed now.
type StoredParticipants struct {
	SHA256       []byte
	Participants json.RawMessage
	Unattributed bool
}

// ReattributionGroup is what a re-attribution commits at once: the
// organizations each message of a page exposes now (those it already
// exposed among them), and the page's counts.
type ReattributionGroup struct {
	Exposures []MessageExposure
	// Messages is how many messages the page held; StillUnattributed how
	// many of them expose no organization even now.
	Messages, StillUnattributed int64
}

// MessageExposure is an organization a stored message exposes.
type MessageExposure struct {
	SHA256 []byte
	EvidenceExposure
}
