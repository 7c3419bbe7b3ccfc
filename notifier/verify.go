package notifier

import (
	"context"
	"strings"
	"time"
	"unicode"
)

// VerifiedNotice is all the verify page tells about a genuine notice: when
// it was sent, to which (masked) address, about which incident. Nothing
// about the organization or its exposed items: a reference code is printed
// in an email that may have been forwarded anywhere.
type VerifiedNotice struct {
	// Reference is the normalised code (BN-XXXX-XXXX-XXXX-XXXX).
	Reference string
	SentAt    time.Time
	MaskedTo  string
	// OrgName is the organization the notice was sent to.
	OrgName string
	// IncidentTitle is empty for a minimal-disclosure notice: the page
	// tells no more than the mail.
	IncidentTitle string
	// Locale is the recipient contact's locale (the notice's language).
	Locale string
}

// VerifyStore is the persistence of the verify page.
type VerifyStore interface {
	// NoticeByReference finds the delivery with this reference code among
	// those actually sent (status sent or bounced); not_found otherwise.
	// Recipient is returned in full: masking is the use case's job.
	NoticeByReference(ctx context.Context, code string) (ReferencedNotice, error)
}

// ReferencedNotice is what the store knows of a sent delivery by its
// reference code.
type ReferencedNotice struct {
	SentAt time.Time
	// Recipient is the address in full.
	Recipient     string
	OrgName       string
	IncidentTitle string
	Locale        string
}

// ReferenceAlphabet is Crockford's base32, the alphabet of reference
// codes: digits and upper-case letters without I, L, O and U, so a code
// read aloud or copied by hand has no look-alikes (a typed I or L is read
// as 1, an O as 0).
const ReferenceAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ReferenceLength is the number of characters of a reference code after
// its "BN-": 16 of ReferenceAlphabet, 80 random bits, printed in four
// groups of four (BN-XXXX-XXXX-XXXX-XXXX) to be read aloud. Codes made
// before, 16 hex digits, are spelled in the same alphabet and stay valid.
const ReferenceLength = 16

// maxReferenceInput bounds what NormalizeReference looks at.
const maxReferenceInput = 64

// NormalizeReference turns what a person typed into the canonical
// reference code, BN-XXXX-XXXX-XXXX-XXXX in upper case. It reads as
// Crockford's base32 is read: case, spaces and dashes (typed or
// typographic) do not matter, nor does a missing "BN"; O is 0, and I and
// L are 1. U, and anything else outside the alphabet, is refused.
func NormalizeReference(in string) (string, bool) {
	if len(in) > maxReferenceInput {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(in) {
		switch {
		case unicode.IsSpace(r) || r == '-' || unicode.Is(unicode.Pd, r):
		case '0' <= r && r <= '9', 'A' <= r && r <= 'Z':
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	s := b.String()
	// A code may itself start with BN, so the prefix is only taken off
	// when it is there in addition to the 16 characters.
	if len(s) == ReferenceLength+2 && strings.HasPrefix(s, "BN") {
		s = s[2:]
	}
	if len(s) != ReferenceLength {
		return "", false
	}
	code := []byte(s)
	for i, c := range code {
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(ReferenceAlphabet, c) < 0 {
			return "", false
		}
		code[i] = c
	}
	return "BN-" + string(code[0:4]) + "-" + string(code[4:8]) + "-" + string(code[8:12]) + "-" + string(code[12:16]), true
}

// VerifyReference checks a reference code from an email. A code that is
// malformed or unknown, or whose message was never sent, is not_found:
// the page then tells the reader not to trust the message.
func (s *Service) VerifyReference(ctx context.Context, input string) (VerifiedNotice, error) {
	code, ok := NormalizeReference(input)
	if !ok {
		return VerifiedNotice{}, Errorf(CodeNotFound, "no notice has this reference code")
	}
	n, err := s.store.NoticeByReference(ctx, code)
	if err != nil {
		return VerifiedNotice{}, err
	}
	return VerifiedNotice{Reference: code, SentAt: n.SentAt, MaskedTo: MaskEmail(n.Recipient), OrgName: n.OrgName,
		IncidentTitle: n.IncidentTitle, Locale: n.Locale}, nil
}
