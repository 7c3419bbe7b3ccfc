package smtp

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"mime"
	"slices"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// The message writer: a notice written straight into the connection's
// buffer, byte for byte as go-mail's Msg.WriteTo writes it for the same
// message (TestMIMESameAsGoMail and FuzzBuildSameAsGoMail compare the two;
// only the random boundary and the clock differ). go-mail built every
// header in a strings.Builder of its own, formatted with fmt, encoded each
// part into a bytes.Buffer grown from nothing and copied it on through
// mime/multipart, and quoted-printable encoding went byte by byte through
// an io.Writer: together about a quarter of a sending process's CPU. An
// S/MIME-signed message still goes through go-mail (buildWithGoMail),
// which signs the body part as it writes it.
//
// What go-mail writes, and so this writer too:
//   - the generic headers sorted by name (byte order), each value
//     Q-encoded (RFC 2047) when it holds anything but printable ASCII and
//     tabs, and folded by foldHeader; MIME-Version is always "1.0";
//   - then From and To, as given, unfolded (go-mail writes these two from a
//     map, so in either order; here always From first);
//   - a text-only message: Content-Transfer-Encoding and Content-Type, an
//     empty line, the text quoted-printable;
//   - with HTML: a multipart/alternative Content-Type, unless a header of
//     the message's own already is one; an empty line; the text part then
//     the HTML part, each with the two headers and quoted-printable; the
//     closing delimiter. The body ends without a line break after a
//     text-only message and with one after a multipart one.

// goMailCharset is the charset go-mail declares for the parts and names in
// encoded words.
const goMailCharset = "UTF-8"

// maxHeaderLength is go-mail's line length for folding (MaxHeaderLength).
const maxHeaderLength = 76

// headerField is one generic header as go-mail keeps it: the name and the
// value as given (encoded when written).
type headerField struct {
	name, value string
}

// appendMessage appends m as go-mail writes it, dated now, with boundary
// separating the parts when m has HTML. The addresses must have been
// checked (validAddress) and the header names (validHeaderName).
func appendMessage(dst []byte, m *notifier.Message, now time.Time, boundary []byte) []byte {
	var dateBuf [len(time.RFC1123Z) + 8]byte
	// Set in the order build set them on the go-mail message: a header of
	// m.Headers replaces one of the same name.
	var fieldsBuf [12]headerField
	fields := append(fieldsBuf[:0],
		headerField{"Subject", headerText(m.Subject)},
		headerField{"Message-ID", "<" + m.MessageID + ">"},
		headerField{"Date", string(now.AppendFormat(dateBuf[:0], time.RFC1123Z))},
		headerField{"Auto-Submitted", "auto-generated"},
	)
	if m.InReplyTo != "" {
		fields = append(fields, headerField{"In-Reply-To", "<" + m.InReplyTo + ">"})
	}
	if len(m.References) > 0 {
		fields = append(fields, headerField{"References", "<" + strings.Join(m.References, "> <") + ">"})
	}
	for k, v := range m.Headers {
		fields = setHeader(fields, k, v)
	}
	// go-mail sets it last, when writing, over any given.
	fields = setHeader(fields, "MIME-Version", "1.0")
	slices.SortFunc(fields, func(a, b headerField) int { return cmp.Compare(a.name, b.name) })
	ownContentType := false
	for _, f := range fields {
		dst = foldHeader(dst, f.name, mime.QEncoding.Encode(goMailCharset, f.value))
		ownContentType = ownContentType || f.name == "Content-Type"
	}
	dst = append(dst, "From: "...)
	dst = append(dst, formatAddress(m.From.Name, m.From.Address)...)
	dst = append(dst, "\r\nTo: "...)
	dst = append(dst, formatAddress(m.To.Name, m.To.Address)...)
	dst = append(dst, "\r\n"...)

	if m.HTML == "" {
		dst = append(dst, "Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain; charset="+goMailCharset+"\r\n\r\n"...)
		return appendQuotedPrintable(dst, m.Text)
	}
	if !ownContentType {
		dst = append(dst, "Content-Type: multipart/alternative;\r\n boundary="...)
		dst = append(dst, boundary...)
	}
	dst = append(dst, "\r\n\r\n--"...)
	dst = append(dst, boundary...)
	dst = append(dst, "\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain; charset="+goMailCharset+"\r\n\r\n"...)
	dst = appendQuotedPrintable(dst, m.Text)
	dst = append(dst, "\r\n--"...)
	dst = append(dst, boundary...)
	dst = append(dst, "\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: text/html; charset="+goMailCharset+"\r\n\r\n"...)
	dst = appendQuotedPrintable(dst, m.HTML)
	dst = append(dst, "\r\n--"...)
	dst = append(dst, boundary...)
	return append(dst, "--\r\n"...)
}

// setHeader sets name to value in fields, replacing a field of exactly
// that name (go-mail's header map is keyed by the name as given).
func setHeader(fields []headerField, name, value string) []headerField {
	for i := range fields {
		if fields[i].name == name {
			fields[i].value = value
			return fields
		}
	}
	return append(fields, headerField{name, value})
}

// validHeaderName reports a field name RFC 5322 allows (printable ASCII
// but the colon). The names come from our own code; checking them keeps a
// name from ever ending the header or starting another field.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// foldHeader appends "name: value" and its line break, folded as go-mail's
// msgWriter.writeHeader folds: value split at every space, a word that
// would end within two characters of maxHeaderLength starts a new line
// (after CRLF and a space), and the space before each fold is dropped.
// A word longer than a line stays whole. value holds no line breaks: it
// is Q-encoded when it has any control character.
func foldHeader(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	room := maxHeaderLength - 2 - len(name) - 2
	for rest := value; ; {
		word, after, more := strings.Cut(rest, " ")
		if room-len(word) <= 1 {
			// go-mail writes the space, then removes it with every other
			// space before a line break.
			if dst[len(dst)-1] == ' ' {
				dst = dst[:len(dst)-1]
			}
			dst = append(dst, "\r\n "...)
			room = maxHeaderLength - 3
		}
		dst = append(dst, word...)
		room -= len(word)
		if !more {
			break
		}
		dst = append(dst, ' ')
		room--
		rest = after
	}
	return append(dst, "\r\n"...)
}

// newBoundary returns a multipart boundary as mime/multipart makes one
// for go-mail: 30 bytes from crypto/rand in hex (240 bits). Quoted-printable
// does not keep a body from holding the delimiter line: "-" and hex digits
// pass through it as they are, so a body line "--" + boundary would be
// copied intact and end the part early. What keeps hostile text from
// doing so is that the boundary is drawn after the text was written and
// cannot be guessed (2^-240 per try); crypto/rand rather than a seeded
// generator, so that no state shared between messages, or guessed from
// earlier messages' boundaries, would make one predictable.
func newBoundary() (boundary [60]byte) {
	var random [30]byte
	_, _ = rand.Read(random[:]) // never fails (crypto/rand: it crashes the program instead)
	hex.Encode(boundary[:], random[:])
	return boundary
}

// qpLiteral marks the bytes quoted-printable copies as they are (besides
// line breaks): printable ASCII but "=", space and tab.
var qpLiteral = func() (t [256]bool) {
	for b := '!'; b <= '~'; b++ {
		t[b] = b != '='
	}
	t[' '], t['\t'] = true, true
	return t
}()

// maxQPLine is mime/quotedprintable's line length, soft break included.
const maxQPLine = 76

// appendQuotedPrintable appends s quoted-printable encoded, byte for byte
// as mime/quotedprintable's Writer (text mode) writes it and Close ends it:
// CR, LF and CRLF become CRLF; a space or tab before a line break or at the
// end is encoded; a soft break ("=" CRLF) keeps lines within 76
// characters. Its quirk is kept too: after a CR, an encoded byte does not
// end the CR's line break, so an LF after it is dropped as part of it.
// It copies runs of literal bytes at once instead of going byte by byte
// through an io.Writer, and needs no []byte copy of s.
func appendQuotedPrintable(dst []byte, s string) []byte {
	n := 0 // bytes on the current line
	cr := false
	for i := 0; i < len(s); {
		b := s[i]
		switch {
		case qpLiteral[b]:
			j := literalRunEnd(s, i+1)
			for run := s[i:j]; len(run) > 0; {
				if n == maxQPLine-1 {
					dst = append(dst, "=\r\n"...)
					n = 0
				}
				k := min(len(run), maxQPLine-1-n)
				dst = append(dst, run[:k]...)
				n += k
				run = run[k:]
			}
			cr = false
			i = j
			continue
		case b == '\r' || b == '\n':
			if cr && b == '\n' {
				cr = false
				break
			}
			cr = b == '\r'
			dst, _ = encodeTrailingSpace(dst, n)
			dst = append(dst, '\r', '\n')
			n = 0
		default:
			dst, n = appendQPEscape(dst, n, b)
		}
		i++
	}
	dst, _ = encodeTrailingSpace(dst, n)
	return dst
}

// literalRunEnd returns where the run of literal bytes that goes on at j
// ends. Notices are mostly printable ASCII: eight bytes are checked at a
// time while they are (the tests for a byte below, above or equal to a
// value in a word are exact as a whole; see "Bit Twiddling Hacks",
// hasless and hasmore), tabs and the rest one by one.
func literalRunEnd(s string, j int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for {
		for j+8 <= len(s) {
			w := s[j : j+8]
			// One load: with w's length known, the compiler drops the
			// bounds checks and combines the eight byte loads.
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			control := (x - ones*' ') &^ x & highs
			above := ((x + ones*(127-'~')) | x) & highs
			eq := x ^ (ones * '=')
			equals := (eq - ones) &^ eq & highs
			if control|above|equals != 0 {
				break
			}
			j += 8
		}
		if j < len(s) && qpLiteral[s[j]] {
			j++
			continue
		}
		return j
	}
}

// appendQPEscape appends b as "=XX", after a soft break when the line has
// no room for it.
func appendQPEscape(dst []byte, n int, b byte) ([]byte, int) {
	const upperhex = "0123456789ABCDEF"
	if maxQPLine-1-n < 3 {
		dst = append(dst, "=\r\n"...)
		n = 0
	}
	return append(dst, '=', upperhex[b>>4], upperhex[b&0x0f]), n + 3
}

// encodeTrailingSpace encodes the line's last byte when it is a space or
// a tab, which a transport may otherwise strip (RFC 2045 §6.7 rule 3).
func encodeTrailingSpace(dst []byte, n int) ([]byte, int) {
	if n == 0 {
		return dst, n
	}
	if b := dst[len(dst)-1]; b == ' ' || b == '\t' {
		return appendQPEscape(dst[:len(dst)-1], n-1, b)
	}
	return dst, n
}
