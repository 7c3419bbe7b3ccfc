// Package linkguard keeps breach data from becoming a link in a notice, and
// stops any message that links or loads anything but its own links.
//
// Breach data (subjects of stolen mail, organization and contact names,
// summaries) is written by the attacker's world. A notice that carries a
// link chosen there, under our DKIM signature, is the worst thing this
// product can do. Two tools share one idea of what a link is:
//
//   - Scan finds, in plain text, everything a mail client would turn into a
//     link: URLs with a scheme (http, mailto, ms-word, …), www. addresses,
//     e-mail addresses, bare domains judged by the public suffix list (or
//     followed by a path), IPv4 addresses with a path or port, and UNC
//     paths. Full-width and other look-alike dots, slashes and colons are
//     read as the ASCII they imitate, and invisible characters (zero-width
//     spaces, bidi controls) as if absent.
//   - Defang rewrites a data value so that Scan finds nothing in it, the
//     way the security world writes indicators: hxxps://phish[.]example/x,
//     evil[.]example, mailto[:]x@evil[.]example. A fuzz test holds the two
//     to each other: Scan(Defang(s)) is empty for every s.
//
// Policy checks a whole message with both: the text part and the subject
// with Scan, the HTML part with the HTML5 tokenizer of golang.org/x/net/html
// (an allow-list of tags and attributes, hrefs equal to the message's own
// links, no CSS loads, and Scan over its visible text).
package linkguard

import (
	"bytes"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Link is something Scan found: the text a mail client would link, as it
// is written in the scanned string, and where.
type Link struct {
	Text       string
	Start, End int
	// Email is set for an e-mail address (mailto when linked).
	Email bool
}

// unit is one character of the folded view Scan reads: lower-cased, with
// look-alikes mapped to the ASCII they imitate, invisible characters left
// out. start and end are its bytes in the original string.
type unit struct {
	r          rune
	start, end int
}

// unitPool holds fold's buffers: a message is checked word by word, and a
// buffer per word would make the garbage collector the firewall's cost.
var unitPool = sync.Pool{New: func() any { b := make([]unit, 0, 256); return &b }}

// fold appends the folded view of s to us.
func fold(s string, us []unit) []unit {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		start := i
		i += n
		if invisible(r) {
			continue
		}
		switch {
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
			r -= 0xFEE0
		case r == 0x2024 || r == 0xFE52: // one dot leader, small full stop: URL parsers map both to '.'
			r = '.'
		case r == 0x3002 || r == 0xFF61:
			// The ideographic full stops are label separators to IDNA,
			// but also end every Japanese sentence: read as a dot only
			// between ASCII letters or digits, as in evil。example.
			if len(us) > 0 && isASCIIAlnum(us[len(us)-1].r) && i < len(s) {
				next, _ := utf8.DecodeRuneInString(s[i:])
				if next >= 0xFF01 && next <= 0xFF5E {
					next -= 0xFEE0
				}
				if isASCIIAlnum(unicode.ToLower(next)) {
					r = '.'
				}
			}
		}
		us = append(us, unit{r: unicode.ToLower(r), start: start, end: i})
	}
	return us
}

// invisible characters change nothing a reader sees in a link, so they are
// read as absent: zero-width spaces and joiners, soft hyphens, bidi marks
// and controls, and the other format characters.
func invisible(r rune) bool {
	return r == 0x00AD || r == 0x034F || r == 0x180E || (r >= 0x200B && r <= 0x200F) || (r >= 0x202A && r <= 0x202E) ||
		(r >= 0x2060 && r <= 0x206F) || r == 0xFEFF || (r > 0x7f && unicode.Is(unicode.Cf, r))
}

// bidiControl reports the explicit embeddings, overrides and isolates that
// reorder what follows them (RLO turns "exe.pdf" into "fdp.exe"). Data
// never needs them to display correctly; Defang removes them.
func bidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

func isSpace(r rune) bool { return r < 0x21 || r == 0x7f || unicode.IsSpace(r) }

func isASCIIAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z'
}

func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' }

// isLabel reports a character of a domain label as linkifiers read them:
// letters and digits of any script, marks, hyphens and underscores.
func isLabel(r rune) bool {
	return isASCIIAlnum(r) || r == '-' || r == '_' || (r > 0x7f && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)))
}

func isLetter(r rune) bool { return isASCIILetter(r) || (r > 0x7f && unicode.IsLetter(r)) }

func isSchemeChar(r rune) bool { return isASCIIAlnum(r) || r == '+' || r == '-' }

// isLocalChar is a character of an e-mail address's local part.
func isLocalChar(r rune) bool {
	return isLabel(r) || r == '.' || strings.ContainsRune("!#$%&'*+/=?^`{|}~", r)
}

// schemeKind says how a scheme is treated.
type schemeKind int

const (
	schemeOther    schemeKind = iota // a link only when followed by //
	schemeWeb                        // http and friends: a link whatever follows the colon
	schemeNoSlash                    // mailto:, tel:, javascript:, … : a link with anything after the colon
	schemeDefanged                   // hxxp, hxxps, fxp: the defanged spellings, never a link
)

var schemes = map[string]schemeKind{
	"http": schemeWeb, "https": schemeWeb, "ftp": schemeWeb, "ftps": schemeWeb, "ws": schemeWeb, "wss": schemeWeb, "file": schemeWeb,
	"hxxp": schemeDefanged, "hxxps": schemeDefanged, "fxp": schemeDefanged, "fxps": schemeDefanged,
}

// noSlashSchemes are linked by some client without "//": mail, telephony,
// chat, script, data and the Office and Windows handlers (ms-msdt: was a
// remote code execution).
var noSlashSchemes = []string{
	"mailto", "tel", "sms", "smsto", "mms", "callto", "facetime", "facetime-audio", "skype", "sip", "sips", "xmpp", "im",
	"irc", "ircs", "news", "nntp", "snews", "javascript", "vbscript", "data", "magnet", "webcal", "geo", "maps", "bitcoin",
	"itms", "itms-services", "intent", "market", "zoommtg", "msteams", "slack", "tg", "whatsapp", "viber", "outlook",
	"onenote", "search", "search-ms", "shell", "ldap", "smb", "afp", "nfs", "telnet", "ssh", "vnc", "rdp", "steam",
}

func init() {
	for _, s := range noSlashSchemes {
		schemes[s] = schemeNoSlash
	}
}

// schemeOf says how the scheme spelled by us (ASCII, folded) is treated.
func schemeOf(us []unit) schemeKind {
	var buf [32]byte
	if len(us) > len(buf) {
		return schemeOther
	}
	b := buf[:len(us)]
	for i, u := range us {
		b[i] = byte(u.r)
	}
	if k, ok := schemes[string(b)]; ok { // no allocation: a map lookup by string(bytes)
		return k
	}
	if bytes.HasPrefix(b, []byte("ms-")) || bytes.HasPrefix(b, []byte("x-")) {
		return schemeNoSlash
	}
	return schemeOther
}

// Scan returns everything in text a mail client would turn into a link.
func Scan(text string) []Link {
	if !mayLink(text) {
		return nil
	}
	buf := unitPool.Get().(*[]unit)
	us := fold(text, (*buf)[:0])
	links := scanUnits(text, us)
	*buf = us[:0]
	unitPool.Put(buf)
	return links
}

// mayLink is a fast path: a link needs a colon, an at sign, a backslash,
// a dot with a name after it, or a character that looks like one of them
// (only outside ASCII). A sentence's full stop is no reason to look.
func mayLink[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x80, c == ':', c == '@', c == '\\':
			return true
		case c == '.':
			if i+1 < len(s) && (isLabelByte(s[i+1]) || s[i+1] >= 0x80) {
				return true
			}
		}
	}
	return false
}

// isLabelByte is an ASCII character of a domain label.
func isLabelByte(c byte) bool { return isASCIIAlnum(rune(c)) || c == '-' || c == '_' }

func scanUnits(text string, us []unit) []Link {
	var links []Link
	for i := 0; i < len(us); {
		if isSpace(us[i].r) {
			i++
			continue
		}
		j := i
		for j < len(us) && !isSpace(us[j].r) {
			j++
		}
		links = scanWord(text, us[i:j], links)
		i = j
	}
	return links
}

// scanWord finds the links in one word (a run without spaces: no link
// spans a space, so every decision is made within the word).
func scanWord(text string, w []unit, links []Link) []Link {
	// A link with a scheme runs to the end of the word; what comes before
	// it may hold a domain or an address of its own.
	end := len(w)
	if at, ok := findScheme(w); ok {
		links = appendLink(links, text, w[at:], false)
		end = at
	}
	if at, ok := findUNC(w[:end]); ok {
		links = appendLink(links, text, w[at:end], false)
		end = at
	}
	return scanHosts(text, w[:end], links)
}

// findScheme returns where the first scheme that makes a link starts.
func findScheme(w []unit) (int, bool) {
	for c := 1; c < len(w); c++ {
		if k, ok := linkingScheme(w, c); ok {
			return k, true
		}
	}
	return 0, false
}

// linkingScheme reports whether the colon at c ends a scheme that makes a
// link of what follows, and where that scheme starts. The one place both
// Scan and Defang decide about schemes.
func linkingScheme(w []unit, c int) (int, bool) {
	if w[c].r != ':' {
		return 0, false
	}
	k := c
	for k > 0 && isSchemeChar(w[k-1].r) {
		k--
	}
	for k < c && !isASCIILetter(w[k].r) {
		k++
	}
	if k == c {
		return 0, false
	}
	rest := w[c+1:]
	switch schemeOf(w[k:c]) {
	case schemeWeb, schemeNoSlash:
		return k, len(rest) > 0
	case schemeOther:
		return k, len(rest) >= 2 && isSlash(rest[0].r) && isSlash(rest[1].r)
	}
	return 0, false // a defanged spelling
}

func isSlash(r rune) bool { return r == '/' || r == '\\' }

// findUNC finds \\host (two or more backslashes, then a name), which
// Windows mail clients link, and open with the reader's credentials.
func findUNC(w []unit) (int, bool) {
	for k := range w {
		if e, ok := uncAt(w, k); ok && e > k {
			return k, true
		}
	}
	return 0, false
}

// uncAt reports whether a run of two or more backslashes starting at k is
// followed by a name, and where the run ends.
func uncAt(w []unit, k int) (int, bool) {
	if w[k].r != '\\' || (k > 0 && w[k-1].r == '\\') {
		return 0, false
	}
	e := k
	for e < len(w) && w[e].r == '\\' {
		e++
	}
	return e, e-k >= 2 && e < len(w) && isLabel(w[e].r)
}

// scanHosts finds domains, IPv4 addresses and e-mail addresses in w.
func scanHosts(text string, w []unit, links []Link) []Link {
	for i := 0; i < len(w); {
		if !isLabel(w[i].r) {
			i++
			continue
		}
		h := readHost(w, i)
		switch v := judgeHost(w, h); {
		case v.email >= 0:
			links = appendLink(links, text, w[v.email:h.end], true)
		case v.linked:
			// A linked domain takes the rest of the word with it (its path).
			return appendLink(links, text, w[i:], false)
		}
		i = h.end
	}
	return links
}

// hostVerdict is what a host means to a mail client, and to Defang.
type hostVerdict struct {
	// linked: a client would link the host (and what follows it).
	linked bool
	// email is where the local part of an e-mail address ending with the
	// host starts, or -1.
	email int
	// defang: Defang breaks the host's dots. It covers every host a client
	// would link, and, as a margin against more eager clients, every host
	// whose last label has two letters or more (a.b.c is left alone, and
	// so are "e.g." and version numbers).
	defang bool
}

// judgeHost is the one place that decides about a host, for Scan and
// Defang alike.
func judgeHost(w []unit, h host) hostVerdict {
	v := hostVerdict{email: -1}
	if h.labels < 2 {
		return v
	}
	i := h.start
	next := rune(0)
	if h.end < len(w) {
		next = w[h.end].r
	}
	if i > 0 && w[i-1].r == '@' && h.lastHasLetter {
		l := i - 1
		for l > 0 && isLocalChar(w[l-1].r) {
			l--
		}
		if l < i-1 {
			v.email, v.defang = l, true
			return v
		}
	}
	pathFollows := next == '/' || next == '\\' || next == '?' || next == '#' || (next == ':' && h.end+1 < len(w) && isDigit(w[h.end+1].r))
	afterSlashes := i >= 2 && isSlash(w[i-1].r) && isSlash(w[i-2].r)
	switch {
	case h.lastHasLetter:
		v.linked = pathFollows || afterSlashes || h.www || h.punycode || knownTLD(h.tld(w))
		v.defang = v.linked || h.end-h.lastStart >= 2
	case h.ipv4:
		v.linked = pathFollows || afterSlashes
		v.defang = true
	}
	return v
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// host is a run of labels separated by dots, starting at a word position.
type host struct {
	start, end    int // units
	labels        int
	lastStart     int // first unit of the last label
	lastHasLetter bool
	www, punycode bool
	ipv4          bool
}

func readHost(w []unit, i int) host {
	h := host{start: i, ipv4: true}
	digitsOnly := true
	for {
		ls := i
		hasLetter := false
		for i < len(w) && isLabel(w[i].r) {
			if isLetter(w[i].r) {
				hasLetter = true
			}
			if !isDigit(w[i].r) {
				digitsOnly = false
			}
			i++
		}
		h.labels++
		h.lastStart, h.lastHasLetter = ls, hasLetter
		label := w[ls:i]
		if h.labels == 1 && spells(label, "www") {
			h.www = true
		}
		if len(label) > 4 && spells(label[:4], "xn--") {
			h.punycode = true
		}
		if !digitsOnly || len(label) > 3 {
			h.ipv4 = false
		}
		digitsOnly = true
		if i+1 < len(w) && w[i].r == '.' && isLabel(w[i+1].r) {
			i++
			continue
		}
		h.end = i
		h.ipv4 = h.ipv4 && h.labels == 4
		return h
	}
}

func (h host) tld(w []unit) string { return runesOf(w[h.lastStart:h.end]) }

// knownTLD reports whether the public suffix list has tld as a top-level
// domain (mail clients link bare domains only under real ones).
func knownTLD(tld string) bool {
	if !isASCII(tld) {
		a, err := idna.Lookup.ToASCII(tld)
		if err != nil {
			return false
		}
		tld = a
	}
	_, icann := publicsuffix.PublicSuffix(tld)
	return icann
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// spells reports whether us reads exactly s (ASCII).
func spells(us []unit, s string) bool {
	if len(us) != len(s) {
		return false
	}
	for i, u := range us {
		if u.r != rune(s[i]) {
			return false
		}
	}
	return true
}

func runesOf(us []unit) string {
	var b strings.Builder
	for _, u := range us {
		b.WriteRune(u.r)
	}
	return b.String()
}

// trimTail drops the punctuation that ends a sentence or closes a bracket
// after a link, as linkifiers do.
func trimTail(us []unit) []unit {
	for len(us) > 1 && strings.ContainsRune(".,;:!?'\")]}>»」』】〉》）", us[len(us)-1].r) {
		us = us[:len(us)-1]
	}
	return us
}

func appendLink(links []Link, text string, us []unit, email bool) []Link {
	us = trimTail(us)
	if len(us) == 0 {
		return links
	}
	start, end := us[0].start, us[len(us)-1].end
	return append(links, Link{Text: text[start:end], Start: start, End: end, Email: email})
}
