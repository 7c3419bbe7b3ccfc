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
		return &Violation{Part: part, Reason: fmt.Sprintf("%s \"%s\" would be linked by mail clients: a notice links only to its own pages", what, defangShort(l.Text))}
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
	// windows are, for the subject, the text part and the HTML part's
	// visible text, the words that hold a marker.
	windows [3][]window
}

var partNames = [3]string{"subject", "text", "html"}

// window is a stretch of a part without spaces around one or more holes:
// left, then each slot's value followed by its literal (the last literal
// runs to the next space).
type window struct {
	left  string
	slots []int
	lits  []string
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
	for i, part := range [3]string{subject, text, visible} {
		s.windows[i] = windowsOf(part, holes)
	}
	return s, nil
}

// windowsOf finds the words of s that hold a marker.
func windowsOf(s string, holes []Hole) []window {
	var ws []window
	var cur *window
	for {
		at, slot := -1, -1
		for k, h := range holes {
			if i := strings.Index(s, h.Marker); i >= 0 && (at < 0 || i < at) {
				at, slot = i, k
			}
		}
		lit := s
		if at >= 0 {
			lit = s[:at]
		}
		if cur != nil {
			// lit follows the open window's last value: up to a space it
			// is part of the same word.
			if end := strings.IndexFunc(lit, isSpace); end >= 0 {
				cur.lits = append(cur.lits, lit[:end])
				ws, cur = append(ws, *cur), nil
			} else {
				cur.lits = append(cur.lits, lit)
			}
		}
		if at < 0 {
			if cur != nil {
				ws = append(ws, *cur)
			}
			return ws
		}
		if cur == nil {
			start := strings.LastIndexFunc(lit, isSpace)
			if start >= 0 {
				_, n := utf8.DecodeRuneInString(lit[start:])
				start += n
			} else {
				start = 0
			}
			cur = &window{left: lit[start:]}
		}
		cur.slots = append(cur.slots, slot)
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
	var stack [256]byte
	buf := stack[:0]
	for i, ws := range s.windows {
		for _, w := range ws {
			if w.left == "" && len(w.slots) == 1 && w.lits[0] == "" && s.holes[w.slots[0]].Link {
				continue // one of the message's own links, a word of its own
			}
			buf = append(buf[:0], w.left...)
			for k, slot := range w.slots {
				buf = append(buf, values[slot]...)
				buf = append(buf, w.lits[k]...)
			}
			if !mayLink(buf) {
				continue // no colon, at sign, backslash, dotted name or look-alike: no link
			}
			if err := s.policy.checkLinks(partNames[i], string(buf), links); err != nil {
				return err
			}
		}
	}
	return nil
}
