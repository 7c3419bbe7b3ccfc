package linkguard

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Policy is what a message may link to: its own links, exactly as given,
// and its sender's address. Anything else that a mail client would link,
// and anything that loads, is a Violation.
type Policy struct {
	// Links are the message's own links (acknowledge, portal, verify).
	Links []string
	// Addresses are e-mail addresses the message may show (its sender's).
	Addresses []string
}

// Violation is a link or a load a message may not carry. Its text never
// holds a live link: what was found is quoted defanged.
type Violation struct {
	// Part is subject, text or html.
	Part   string
	Reason string
}

// Error names the part and the problem.
func (v *Violation) Error() string { return v.Part + ": " + v.Reason }

// Check checks a whole message: its subject and text part as a mail client
// would linkify them, and its HTML part (see checkHTML).
func (p *Policy) Check(subject, text, doc string) error {
	if err := p.CheckText("subject", subject); err != nil {
		return err
	}
	if err := p.CheckText("text", text); err != nil {
		return err
	}
	visible, err := p.checkHTML(doc, nil)
	if err != nil {
		return err
	}
	return p.checkLinks("html", visible, nil)
}

// CheckText checks plain text (part names it in the violation).
func (p *Policy) CheckText(part, text string) error {
	return p.checkLinks(part, text, nil)
}

// checkLinks refuses any link in text that is not one of the policy's,
// or of extra (the links of one recipient).
func (p *Policy) checkLinks(part, text string, extra []string) error {
	for _, l := range Scan(text) {
		if l.Email && p.isOwnAddress(l.Text) {
			continue
		}
		if !l.Email && p.isOwnLink(l.Text, extra) {
			continue
		}
		what := "the link"
		if l.Email {
			what = "the address"
		}
		return &Violation{Part: part, Reason: fmt.Sprintf("%s %q would be linked by mail clients: a notice links only to its own pages", what, defangShort(l.Text))}
	}
	return nil
}

func (p *Policy) isOwnLink(s string, extra []string) bool {
	for _, l := range p.Links {
		if l != "" && s == l {
			return true
		}
	}
	for _, l := range extra {
		if l != "" && s == l {
			return true
		}
	}
	return false
}

func (p *Policy) isOwnAddress(s string) bool {
	for _, a := range p.Addresses {
		if strings.EqualFold(s, a) {
			return true
		}
	}
	return false
}

// defangShort quotes attacker-chosen text in a violation: defanged, and
// cut to a length a log line or a delivery's reply can hold.
func defangShort(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return Defang(s)
}

// Hole is a value that differs between the messages of one notice (the
// recipient's name, address and acknowledgement link). While a notice is
// checked, its Marker (letters and digits only) stands in its place.
type Hole struct {
	Marker string
	// Link says the value is one of the message's own links, inserted
	// whole; any other value is data, never allowed in an href or a style.
	Link bool
}

// Shape is a message checked once, with markers for its holes, so that
// each recipient costs only a look at the words around their values
// (Check). Filling a checked shape can make a link only where a value
// touches the text around it, since no link spans a space.
type Shape struct {
	policy *Policy
	holes  []Hole
	// parts are the subject, the text part and the HTML part's visible
	// text, cut at the markers.
	parts [3]shapePart
}

type shapePart struct {
	name   string
	pieces []shapePiece
}

// shapePiece is literal text followed by hole slot (none when -1).
type shapePiece struct {
	lit  string
	slot int
}

// Prepare checks a message rendered with markers in place of the holes'
// values. Link markers count as the message's own links.
func (p *Policy) Prepare(subject, text, doc string, holes []Hole) (*Shape, error) {
	withMarkers := &Policy{Links: append([]string(nil), p.Links...), Addresses: p.Addresses}
	var opaque []string
	for _, h := range holes {
		if h.Link {
			withMarkers.Links = append(withMarkers.Links, h.Marker)
		} else {
			opaque = append(opaque, h.Marker)
		}
	}
	if err := withMarkers.CheckText("subject", subject); err != nil {
		return nil, err
	}
	if err := withMarkers.CheckText("text", text); err != nil {
		return nil, err
	}
	visible, err := withMarkers.checkHTML(doc, opaque)
	if err != nil {
		return nil, err
	}
	if err := withMarkers.checkLinks("html", visible, nil); err != nil {
		return nil, err
	}
	s := &Shape{policy: p, holes: holes}
	for i, part := range [3][2]string{{"subject", subject}, {"text", text}, {"html", visible}} {
		s.parts[i] = shapePart{name: part[0], pieces: cutAt(part[1], holes)}
	}
	return s, nil
}

// cutAt splits s at the holes' markers.
func cutAt(s string, holes []Hole) []shapePiece {
	var ps []shapePiece
	for {
		at, slot := -1, -1
		for k, h := range holes {
			if i := strings.Index(s, h.Marker); i >= 0 && (at < 0 || i < at) {
				at, slot = i, k
			}
		}
		if at < 0 {
			return append(ps, shapePiece{lit: s, slot: -1})
		}
		ps = append(ps, shapePiece{lit: s[:at], slot: slot})
		s = s[at+len(holes[slot].Marker):]
	}
}

// Check checks one recipient's values, given in the order of the holes:
// the words each value lands in, in each part.
func (s *Shape) Check(values []string) error {
	if len(values) != len(s.holes) {
		return fmt.Errorf("linkguard: %d values for %d holes", len(values), len(s.holes))
	}
	var links []string
	for k, h := range s.holes {
		if h.Link {
			links = append(links, values[k])
		}
	}
	var b strings.Builder
	var spans [][2]int
	for _, part := range s.parts {
		if len(part.pieces) == 1 {
			continue // no hole in this part
		}
		b.Reset()
		spans = spans[:0]
		for _, pc := range part.pieces {
			b.WriteString(pc.lit)
			if pc.slot >= 0 {
				start := b.Len()
				b.WriteString(values[pc.slot])
				spans = append(spans, [2]int{start, b.Len()})
			}
		}
		filled := b.String()
		for _, w := range words(filled, spans) {
			if err := s.policy.checkLinks(part.name, filled[w[0]:w[1]], links); err != nil {
				return err
			}
		}
	}
	return nil
}

// words widens each span of s to the spaces around it and merges the
// overlaps: the stretches where a filled-in value can change what is
// linked.
func words(s string, spans [][2]int) [][2]int {
	var out [][2]int
	for _, sp := range spans {
		start, end := sp[0], sp[1]
		for start > 0 {
			r, n := utf8.DecodeLastRuneInString(s[:start])
			if isSpace(r) {
				break
			}
			start -= n
		}
		for end < len(s) {
			r, n := utf8.DecodeRuneInString(s[end:])
			if isSpace(r) {
				break
			}
			end += n
		}
		if k := len(out) - 1; k >= 0 && start <= out[k][1] {
			out[k][1] = max(out[k][1], end)
			continue
		}
		out = append(out, [2]int{start, end})
	}
	return out
}
