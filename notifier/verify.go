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
	Reference     string
	SentAt        time.Time
	MaskedTo      string
	IncidentTitle string
}

// VerifyStore is the persistence of the verify page.
type VerifyStore interface {
	// NoticeByReference finds the delivery with this reference code among
	// those actually sent (status sent or bounced); not_found otherwise.
	// Recipient is returned in full: masking is the use case's job.
	NoticeByReference(ctx context.Context, code string) (sentAt time.Time, recipient, incidentTitle string, err error)
}

// maxReferenceInput bounds what NormalizeReference looks at.
const maxReferenceInput = 64

// NormalizeReference turns what a person typed into the canonical
// reference code, BN-XXXX-XXXX-XXXX-XXXX in upper-case hex. Case, spaces and
// dashes (typed or typographic) do not matter, nor does a missing "BN".
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
	s := strings.TrimPrefix(b.String(), "BN")
	if len(s) != 16 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return "", false
		}
	}
	return "BN-" + s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16], true
}

// VerifyReference checks a reference code from an email. A code that is
// malformed or unknown, or whose message was never sent, is not_found:
// the page then tells the reader not to trust the message.
func (s *Service) VerifyReference(ctx context.Context, input string) (VerifiedNotice, error) {
	code, ok := NormalizeReference(input)
	if !ok {
		return VerifiedNotice{}, Errorf(CodeNotFound, "no notice has this reference code")
	}
	sentAt, recipient, title, err := s.store.NoticeByReference(ctx, code)
	if err != nil {
		return VerifiedNotice{}, err
	}
	return VerifiedNotice{Reference: code, SentAt: sentAt, MaskedTo: MaskEmail(recipient), IncidentTitle: title}, nil
}
