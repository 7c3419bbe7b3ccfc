package smtp

import (
	"encoding/base64"
	netmail "net/mail"
	"strings"
	"unicode/utf8"
)

// Header values built from data (an organization's name in the subject, a
// contact's name in To) must arrive as written and never be read as
// something else: not as a second address (`Mallory" <a@x>, "x`), nor as
// an encoded word a client would decode into other text
// (`=?utf-8?q?Bcc:_x@y?=`). So a value that is not plain printable ASCII,
// or that holds "=?" anywhere, is sent as RFC 2047 encoded words (UTF-8,
// base64) that decode to exactly the value; a display name that is plain is
// sent as a quoted string.

// headerText returns s as an unstructured header value (Subject) that a
// reader shows exactly as s.
func headerText(s string) string {
	s = oneLine(s)
	if !needsWords(s) {
		return s
	}
	return encodedWords(s)
}

// formatAddress returns "name" <addr> (or <addr>), with the name quoted or
// encoded so that any name is sent and shown literally.
func formatAddress(name, addr string) string {
	angle := (&netmail.Address{Address: addr}).String()
	switch name = oneLine(name); {
	case name == "":
		return angle
	case needsWords(name):
		return encodedWords(name) + " " + angle
	default:
		return `"` + quoteEscaper.Replace(name) + `" ` + angle
	}
}

// quoteEscaper escapes a display name for a quoted string. It is built
// once: a Replacer builds its tables at first use, which cost more than
// the rest of a message's headers when done per message.
var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// needsWords reports a value that is not plain printable ASCII, or that a
// client could take for an encoded word.
func needsWords(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return true
		}
	}
	return strings.Contains(s, "=?")
}

// maxWordBytes keeps each encoded word within 75 characters (RFC 2047
// §2): "=?utf-8?b?" + 60 base64 characters + "?=".
const maxWordBytes = 45

// encodedWords encodes s as base64 encoded words, split between
// characters, separated by spaces (where headers are folded; the spaces
// between encoded words are not part of the text, RFC 2047 §6.2).
func encodedWords(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		n := min(len(s), maxWordBytes)
		for n < len(s) && n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("=?utf-8?b?")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(s[:n])))
		b.WriteString("?=")
		s = s[n:]
	}
	return b.String()
}
