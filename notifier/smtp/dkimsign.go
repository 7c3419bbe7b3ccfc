package smtp

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// DKIM signing in one pass over a message in memory (relaxed/relaxed,
// SHA-256: the only options the sender uses), writing byte for byte the
// DKIM-Signature field go-msgauth's dkim.Signer writes (TestDKIMSameAsGoMsgauth
// and FuzzDKIMSameAsGoMsgauth compare the two). go-msgauth streams the
// message through a pipe into a goroutine of its own, parses the header
// into strings, copies the body through two canonicalizing buffers and
// does all of it again for a second key; that was about a tenth of an
// RSA-signed message's CPU and most of what a second (Ed25519) signature
// cost. Here the header fields are slices of the message, the body is
// hashed once for every key, and what is left per key is the header hash
// and the signature itself.
//
// A message with a bare line feed, without the empty line that ends the
// header or without a header goes through go-msgauth (its line-ending
// repairs are not copied here); the builder never writes one.

// dkimMessage is a message split for signing: its header fields (each with
// its continuation lines and final CRLF) and its body's relaxed hash.
type dkimMessage struct {
	fields [][]byte
	// names are the fields' names, which h= matches case-insensitively
	// (Unicode case folding, as go-msgauth does).
	names    []string
	bodyHash []byte
}

// parseForDKIM splits raw for signing, or returns false when raw is not
// the plain CRLF message this signer handles.
func parseForDKIM(raw []byte) (dkimMessage, bool) {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	// A message starting with an empty line has no header: its body
	// starts after that line, not after the first two.
	if end < 0 || bytes.HasPrefix(raw, []byte("\r\n")) || bytes.Count(raw, []byte("\n")) != bytes.Count(raw, []byte("\r\n")) {
		return dkimMessage{}, false
	}
	var m dkimMessage
	head := raw[:end+2]
	for len(head) > 0 {
		i := bytes.Index(head, []byte("\r\n")) + 2
		line := head[:i]
		if len(m.fields) > 0 && (line[0] == ' ' || line[0] == '\t') {
			// A continuation line: the fields are adjacent in raw.
			last := m.fields[len(m.fields)-1]
			m.fields[len(m.fields)-1] = last[:len(last)+len(line)]
		} else {
			m.fields = append(m.fields, line)
		}
		head = head[i:]
	}
	m.names = make([]string, len(m.fields))
	for i, f := range m.fields {
		k, _, _ := bytes.Cut(f, []byte(":"))
		m.names[i] = string(bytes.TrimSpace(k))
	}
	h := sha256.New()
	relaxedBody(h, raw[end+4:])
	m.bodyHash = h.Sum(nil)
	return m, true
}

// relaxedBody writes body to h in relaxed canonical form (RFC 6376
// §3.4.4), as go-msgauth's relaxedBodyCanonicalizer does for a body
// without bare line feeds: runs of spaces and tabs become one space, and
// none is kept before a line break; line breaks are written only when
// something follows them, so empty lines at the end go; a non-empty body
// ends with one CRLF.
func relaxedBody(h hash.Hash, body []byte) {
	out := make([]byte, 0, 4096)
	var pendingBreaks []byte
	wsp, written := false, false
	for _, ch := range body {
		switch ch {
		case ' ', '\t':
			wsp = true
		case '\r', '\n':
			wsp = false
			pendingBreaks = append(pendingBreaks, ch)
		default:
			if len(pendingBreaks) > 0 {
				out = append(out, pendingBreaks...)
				pendingBreaks = pendingBreaks[:0]
			}
			if wsp {
				out = append(out, ' ')
				wsp = false
			}
			out = append(out, ch)
			written = true
		}
		if len(out) >= 4000 {
			h.Write(out)
			out = out[:0]
		}
	}
	if written {
		out = append(out, "\r\n"...)
	}
	h.Write(out)
}

// relaxedHeader appends field (name, colon, value, its CRLFs) in relaxed
// canonical form (RFC 6376 §3.4.2): the name in lower case, the value's
// folding and runs of white space as one space, none at either end.
func relaxedHeader(dst, field []byte) []byte {
	k, v, ok := bytes.Cut(field, []byte(":"))
	dst = append(dst, bytes.ToLower(bytes.TrimSpace(k))...)
	dst = append(dst, ':')
	if ok {
		first := true
		for w := range bytes.FieldsFuncSeq(v, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
			if !first {
				dst = append(dst, ' ')
			}
			dst = append(dst, w...)
			first = false
		}
	}
	return append(dst, "\r\n"...)
}

// sign returns the DKIM-Signature field of m for d, at time now.
func (d *DKIM) sign(m dkimMessage, now time.Time) (string, error) {
	algo, hashed := "rsa-sha256", crypto.SHA256
	if _, ok := d.Key.(ed25519.PrivateKey); ok {
		// Ed25519 signs the hash itself (RFC 8463 §3).
		algo, hashed = "ed25519-sha256", crypto.Hash(0)
	}
	params := [][2]string{ // sorted by tag, as go-msgauth writes them
		{"a", algo},
		{"bh", base64.StdEncoding.EncodeToString(m.bodyHash)},
		{"c", "relaxed/relaxed"},
		{"d", d.Domain},
		{"h", strings.Join(headerKeys, ":")},
		{"s", d.Selector},
		{"t", strconv.FormatInt(now.Unix(), 10)},
		{"v", "1"},
	}
	h := sha256.New()
	buf := make([]byte, 0, 2048)
	// Each h= name picks the last occurrence not picked yet, from the
	// bottom up; a name listed more often than it occurs adds nothing.
	picked := make(map[string]int, len(headerKeys))
	for _, key := range headerKeys {
		lower := strings.ToLower(key)
		at := picked[lower]
		for i := len(m.fields) - 1; i >= 0; i-- {
			if !strings.EqualFold(m.names[i], lower) {
				continue
			}
			if at == 0 {
				picked[lower]++
				buf = relaxedHeader(buf, m.fields[i])
				break
			}
			at--
		}
	}
	unsigned := formatSignature(params, "")
	buf = relaxedHeader(buf, []byte(unsigned))
	h.Write(bytes.TrimRight(buf, "\r\n"))
	sig, err := d.Key.Sign(rand.Reader, h.Sum(nil), hashed)
	if err != nil {
		return "", fmt.Errorf("dkim: %w", err)
	}
	return formatSignature(params, base64.StdEncoding.EncodeToString(sig)), nil
}

// formatSignature writes the DKIM-Signature field as go-msgauth's
// formatHeaderParams does: the tags in order, a line broken before one
// that would pass 75 characters, then b= on lines of its own, folded
// every 75 characters.
func formatSignature(params [][2]string, b string) string {
	var s, line strings.Builder
	s.WriteString("DKIM-Signature:")
	for _, p := range params {
		if 3+line.Len()+len(p[1])+len(p[0]) > 75 {
			s.WriteString(line.String())
			s.WriteString("\r\n")
			line.Reset()
		}
		line.WriteString(" " + p[0] + "=" + p[1] + ";")
	}
	s.WriteString(line.String())
	s.WriteString("\r\n")
	folded := " b=" + b
	for i := 0; i < len(folded); i += 75 {
		if i > 0 {
			s.WriteString("\r\n ")
		}
		s.WriteString(folded[i:min(i+75, len(folded))])
	}
	s.WriteString("\r\n")
	return s.String()
}
