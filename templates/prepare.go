package templates

import (
	"errors"
	"html"
	"strings"

	"github.com/breachnotify/breachnotify/notifier/linkguard"
)

// Rendering a notice for each of its contacts repeats almost all the work:
// only the recipient's name, address, reference code and acknowledgement
// link differ. Prepare renders a template once with stand-ins for those
// four values, and Prepared.Render swaps in each recipient's values,
// escaped for each part as the template engine would have. Compile checks
// on sample data that this gives exactly what a full render gives; a
// template where it would not (say, one that transforms the name) is
// always rendered in full.

// stand-ins are letters and digits only, so every escaper leaves them as
// they are, and long and odd enough never to occur in real text.
const (
	standInName      = "zBNq7NAMEq7z"
	standInEmail     = "zBNq7MAILq7z"
	standInReference = "zBNq7REFSq7z"
	standInAck       = "zBNq7ACKLq7z"
)

// Recipient holds the values that differ between a notice's messages.
type Recipient struct {
	Name      string
	Email     string
	Reference string
	AckURL    string
}

// Prepared is a template rendered for one notice and recipient shape,
// cut at the stand-ins, so that filling one in is one copy of each part.
type Prepared struct {
	subject, text, html []piece
	// used are the slots the template fills in at all.
	used [len(standIns)]bool
	// marked is the rendering with the stand-ins in it, which the link
	// firewall checks once per notice (see Marked).
	marked Rendered
}

// piece is literal text followed by the recipient's value in slot (none
// when slot is noSlot).
type piece struct {
	lit  string
	slot int
}

// The slots, in the order of standIns.
const (
	slotName = iota
	slotEmail
	slotReference
	slotAck
	noSlot = -1
)

var standIns = [...]string{slotName: standInName, slotEmail: standInEmail, slotReference: standInReference, slotAck: standInAck}

// standInPrefix begins every stand-in.
const standInPrefix = "zBNq7"

// CanPrepare reports whether the template's output depends on the
// recipient's values only by inserting them (checked by Compile).
func (t *Template) CanPrepare() bool { return t.preparable }

// Prepare renders d with stand-ins for the recipient's values. d must say
// what the recipient's shape is: whether there is a name and a reference,
// and the role, portal and acknowledgement links, which may change the text.
func (t *Template) Prepare(d *Data) (*Prepared, error) {
	dd := *d
	if dd.Contact.Name != "" {
		dd.Contact.Name = standInName
	}
	dd.Contact.Email = standInEmail
	// A message without a reference (a portal sign-in link) must render
	// as one without, so the shape is kept, like the name's and the link's.
	if dd.Notice.Reference != "" {
		dd.Notice.Reference = standInReference
	}
	if dd.Links.Ack != "" {
		dd.Links.Ack = standInAck
	}
	out, err := t.Render(&dd)
	if err != nil {
		return nil, err
	}
	// The stand-ins must come from the recipient's fields only. Notice data
	// that contains one (an item's subject, from breached mail, can say
	// anything) would have the recipient's values put in its place; such a
	// notice is rendered in full for each recipient instead.
	probe := dd
	for _, f := range []*string{&probe.Contact.Name, &probe.Contact.Email, &probe.Notice.Reference, &probe.Links.Ack} {
		if *f != "" {
			*f = "x"
		}
	}
	if check, err := t.Render(&probe); err != nil || containsStandIn(check) {
		return nil, ErrNotPreparable
	}
	p := &Prepared{subject: cut(out.Subject), text: cut(out.Text), html: cut(out.HTML), marked: out}
	for _, part := range [][]piece{p.subject, p.text, p.html} {
		for _, pc := range part {
			if pc.slot != noSlot {
				p.used[pc.slot] = true
			}
		}
	}
	return p, nil
}

// Marked is the notice rendered with a marker (RecipientHoles) wherever a
// recipient's value goes: the send-time link firewall checks it once per
// notice, then only the words each recipient's values land in.
func (p *Prepared) Marked() Rendered { return p.marked }

// RecipientHoles are the markers in Marked, in the order of Values. The
// acknowledgement link is one of the message's own links, inserted whole;
// the others are data.
var RecipientHoles = []linkguard.Hole{
	{Marker: standInName}, {Marker: standInEmail}, {Marker: standInReference}, {Marker: standInAck, Link: true},
}

// Values are r's values as they go into the text (defanged), in the order
// of RecipientHoles: what Fill takes. A value the template never shows is
// left empty.
func (p *Prepared) Values(r Recipient) []string {
	v := []string{slotName: r.Name, slotEmail: r.Email, slotReference: r.Reference, slotAck: r.AckURL}
	for i := range v {
		switch {
		case !p.used[i]:
			v[i] = ""
		case i != slotAck: // the link is the message's own
			v[i] = linkguard.Defang(v[i])
		}
	}
	return v
}

// ErrNotPreparable is Prepare's answer for a notice whose own data contains
// a stand-in: render it in full, per recipient.
var ErrNotPreparable = errors.New("the notice's data contains a recipient stand-in; render it in full")

func containsStandIn(r Rendered) bool {
	return strings.Contains(r.Subject, standInPrefix) || strings.Contains(r.Text, standInPrefix) || strings.Contains(r.HTML, standInPrefix)
}

// cut splits s at its stand-ins, leftmost first, as strings.Replacer
// would find them.
func cut(s string) []piece {
	var ps []piece
	start, from := 0, 0
	for {
		i := strings.Index(s[from:], standInPrefix)
		if i < 0 {
			return append(ps, piece{lit: s[start:], slot: noSlot})
		}
		at := from + i
		slot := noSlot
		for k, si := range standIns {
			if strings.HasPrefix(s[at:], si) {
				slot = k
				break
			}
		}
		if slot == noSlot {
			from = at + 1
			continue
		}
		ps = append(ps, piece{lit: s[start:at], slot: slot})
		start = at + len(standIns[slot])
		from = start
	}
}

// fill joins ps with the values in their slots.
func fill(ps []piece, values *[len(standIns)]string) string {
	n := 0
	for _, p := range ps {
		n += len(p.lit)
		if p.slot != noSlot {
			n += len(values[p.slot])
		}
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range ps {
		b.WriteString(p.lit)
		if p.slot != noSlot {
			b.WriteString(values[p.slot])
		}
	}
	return b.String()
}

// Render fills in one recipient's values, defanged as Template.Render
// defangs data, and HTML-escaped in the HTML part.
func (p *Prepared) Render(r Recipient) Rendered {
	return p.Fill(p.Values(r))
}

// Fill is Render with the values already made (Values), so a caller that
// checks them first does not make them twice.
func (p *Prepared) Fill(values []string) Rendered {
	var raw, esc [len(standIns)]string
	copy(raw[:], values)
	for i, v := range raw {
		esc[i] = html.EscapeString(v)
	}
	return Rendered{
		Subject: strings.Join(strings.Fields(fill(p.subject, &raw)), " "),
		Text:    fill(p.text, &raw),
		HTML:    fill(p.html, &esc),
	}
}

// checkPreparable renders sample data both ways, for each shape, and
// reports whether the results are identical.
func (t *Template) checkPreparable() bool {
	for _, name := range []string{"Dana O'Brien <\"&\">", ""} {
		for _, ack := range []string{"https://notify.example/ack/Ab_9-x", ""} {
			for _, minimal := range []bool{false, true} {
				if !t.samePrepared(name, ack, minimal) {
					return false
				}
			}
		}
	}
	return true
}

// samePrepared renders sample data in one shape both ways and reports
// whether the results are identical.
func (t *Template) samePrepared(name, ack string, minimal bool) bool {
	d := SampleData()
	d.Contact.Name = name
	d.Links.Ack = ack
	d.Notice.Minimal = minimal
	full, err := t.Render(d)
	if err != nil {
		return false
	}
	p, err := t.Prepare(d)
	if err != nil {
		return false
	}
	return p.Render(Recipient{Name: name, Email: d.Contact.Email, Reference: d.Notice.Reference, AckURL: ack}) == full
}
