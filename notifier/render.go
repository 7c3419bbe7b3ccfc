package notifier

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/breachnotify/breachnotify/notifier/linkguard"
	"github.com/breachnotify/breachnotify/templates"
)

// Renderer turns a delivery into its message: the template for the notice's
// kind in the contact's locale, filled with the notice's content and the
// contact's links. Templates are compiled once; rendering only executes.
//
// Every message it returns has passed the link firewall (linkguard): no
// link but the message's own, nothing that loads, whatever the template
// and the data say. A message that fails comes back as a *BlockedError
// and must not be sent.
type Renderer struct {
	templates *templates.Set
	from      mail.Address
	publicURL string
	// load reads a template version from the database, for a wave pinned
	// to a version this process does not have (nil: not available).
	load  TemplateLoader
	mu    sync.Mutex
	cache map[preparedKey]preparedNotice
}

// TemplateLoader reads a stored template version's text.
type TemplateLoader func(ctx context.Context, kind templates.Kind, locale, version string) (templates.Source, error)

// WaveContent is what, besides the data, decides the messages of a wave:
// the template version for each locale of its kind, the sender and the
// public URL its links point to. A plan records it, a launch refuses to
// go on when it changed, and the launched wave renders with those
// template versions to the end.
type WaveContent struct {
	Templates map[string]string `json:"templates"`
	From      string            `json:"from"`
	PublicURL string            `json:"public_url"`
	// Disclosure is the incident's policy when the wave was planned:
	// a wave planned as a minimal notice does not launch as a full one, or
	// the other way round (empty in plans made before it was recorded:
	// those were full).
	Disclosure Disclosure `json:"disclosure,omitempty"`
	// Sources are the texts of Templates, stored at launch so that every
	// process can render the wave with them.
	Sources []TemplateSource `json:"-"`
}

// Diff says what differs between c, as planned, and now: "" when nothing
// does, else which templates, sender or public URL.
func (c WaveContent) Diff(now WaveContent) string {
	var diffs []string
	locales := slices.Sorted(maps.Keys(c.Templates))
	for l := range now.Templates {
		if _, ok := c.Templates[l]; !ok {
			locales = append(locales, l)
		}
	}
	for _, l := range locales {
		if c.Templates[l] != now.Templates[l] {
			diffs = append(diffs, "the "+l+" template version")
		}
	}
	if c.From != now.From {
		diffs = append(diffs, "sender ("+now.From+" instead of "+c.From+")")
	}
	if c.PublicURL != now.PublicURL {
		diffs = append(diffs, "public URL ("+now.PublicURL+" instead of "+c.PublicURL+")")
	}
	if was, is := c.Disclosure.OrFull(), now.Disclosure.OrFull(); was != is {
		diffs = append(diffs, "the incident's disclosure policy ("+string(is)+" instead of "+string(was)+")")
	}
	return strings.Join(diffs, ", ")
}

// TemplateSource is one template version's text.
type TemplateSource struct {
	Kind    templates.Kind
	Locale  string
	Version string
	Source  templates.Source
}

// Content is the WaveContent of a wave of kind, as this process would send
// it now.
func (r *Renderer) Content(kind templates.Kind) WaveContent {
	c := WaveContent{Templates: map[string]string{}, From: r.from.String(), PublicURL: r.publicURL}
	for locale, t := range r.templates.Current(kind) {
		c.Templates[locale] = t.Version
		c.Sources = append(c.Sources, TemplateSource{Kind: kind, Locale: locale, Version: t.Version, Source: t.Source})
	}
	return c
}

// template picks the template of a delivery: the version its wave was
// pinned to in the contact's locale (or the fallback locale), or the one
// in use when the wave has none pinned.
func (r *Renderer) template(n *NoticeContent, locale string) (*templates.Template, error) {
	if n.TemplateVersions == nil {
		return r.templates.Lookup(n.Kind, locale)
	}
	if version, ok := n.TemplateVersions[locale]; ok { // most contacts: a locale with a template of its own
		if t, ok := r.templates.ByVersion(n.Kind, locale, version); ok {
			return t, nil
		}
	}
	for _, l := range templates.LocaleCandidates(locale) {
		version, ok := n.TemplateVersions[l]
		if !ok {
			continue
		}
		if t, ok := r.templates.ByVersion(n.Kind, l, version); ok {
			return t, nil
		}
		if r.load == nil {
			return nil, fmt.Errorf("the %s template version %s (%s) the wave was launched with is not loaded", n.Kind, version, l)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		src, err := r.load(ctx, n.Kind, l, version)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("load the %s template version %s (%s) the wave was launched with: %w", n.Kind, version, l, err)
		}
		t, err := templates.Compile(n.Kind, l, src)
		if err != nil {
			return nil, fmt.Errorf("compile the %s template version %s (%s) the wave was launched with: %w", n.Kind, version, l, err)
		}
		r.templates.Keep(t)
		return t, nil
	}
	return nil, fmt.Errorf("no %s template among those the wave was launched with", n.Kind)
}

// preparedNotice is a notice rendered once for a recipient shape, with
// the firewall's verdict on it: a shape to check each recipient's values
// against, or why the notice may not be sent at all.
type preparedNotice struct {
	prepared *templates.Prepared
	shape    *linkguard.Shape
	blocked  error
}

// NewRenderer returns a Renderer sending as from, linking to publicURL.
func NewRenderer(set *templates.Set, from mail.Address, publicURL string) *Renderer {
	return &Renderer{templates: set, from: from, publicURL: strings.TrimRight(publicURL, "/"), cache: map[preparedKey]preparedNotice{}}
}

// SetLoader gives the renderer a way to read template versions it does
// not have (the Service sets it to its store).
func (r *Renderer) SetLoader(load TemplateLoader) { r.load = load }

// BlockedError is a message the link firewall stopped: it links or loads
// something other than its own links. It is never sent.
type BlockedError struct {
	Violation *linkguard.Violation
}

// Error says what was found, defanged.
func (e *BlockedError) Error() string { return "blocked by the link firewall: " + e.Violation.Error() }

// blocked turns a linkguard error into a *BlockedError.
func blocked(err error) error {
	var v *linkguard.Violation
	if errors.As(err, &v) {
		return &BlockedError{Violation: v}
	}
	return err
}

// policy is what a message to del may link to: the verify page, the portal
// for a contact with access, and its sender's address (its own
// acknowledgement link comes per message).
func (r *Renderer) policy(d *templates.Data) *linkguard.Policy {
	return &linkguard.Policy{Links: []string{d.Links.Portal, d.Links.Verify, d.Links.Ack}, Addresses: []string{r.from.Address}}
}

// Message renders the message for one delivery and returns it with the
// version of the template used. The parts a notice's messages share are
// rendered, and checked by the link firewall, once per notice and
// recipient shape (see templates.Prepare); each message then costs only
// filling in the recipient's values and checking the words they land in.
func (r *Renderer) Message(del OutgoingDelivery) (*Message, string, error) {
	n := del.Notice
	t, err := r.template(n, del.ContactLocale)
	if err != nil {
		return nil, "", err
	}
	data := r.data(del, t.Locale)
	var out templates.Rendered
	// A sign-in link differs per message in more than the recipient's
	// values: such a message is always rendered in full.
	full := true
	if t.CanPrepare() && n.ID != 0 && n.Kind != templates.KindPortalLink {
		pn, err := r.prepared(t, del, data)
		switch {
		case errors.Is(err, templates.ErrNotPreparable):
		case err != nil:
			return nil, t.Version, err
		case pn.blocked != nil:
			return nil, t.Version, pn.blocked
		default:
			values := pn.prepared.Values(templates.Recipient{Name: del.ContactName, Email: del.Recipient, Reference: del.Reference, AckURL: data.Links.Ack})
			if err := pn.shape.Check(values); err != nil {
				return nil, t.Version, blocked(err)
			}
			out, full = pn.prepared.Fill(values), false
		}
	}
	if full {
		if out, err = t.Render(data); err != nil {
			return nil, t.Version, err
		}
		if err := r.policy(data).Check(out.Subject, out.Text, out.HTML); err != nil {
			return nil, t.Version, blocked(err)
		}
	}
	m := &Message{
		MessageID:  del.MessageID,
		From:       r.from,
		To:         mail.Address{Name: del.ContactName, Address: del.Recipient},
		Subject:    out.Subject,
		Text:       out.Text,
		HTML:       out.HTML,
		References: del.References,
		Headers:    map[string]string{"X-Breachnotify-Reference": del.Reference},
	}
	if n := len(del.References); n > 0 {
		m.InReplyTo = del.References[n-1]
	}
	return m, t.Version, nil
}

// data is the template data of one delivery, for a template in locale
// (the secrets are explained in the template's language).
func (r *Renderer) data(del OutgoingDelivery, locale string) *templates.Data {
	n := del.Notice
	d := &templates.Data{
		Incident:     templates.Incident{Title: n.IncidentTitle, Summary: n.IncidentSummary, Slug: n.IncidentSlug},
		Organization: templates.Organization{Name: n.OrgName, Ref: n.OrgRef},
		Contact:      templates.Contact{Name: del.ContactName, Email: del.Recipient, Role: del.ContactRole},
		Notice: templates.Notice{
			Kind: string(n.Kind), Reference: del.Reference, ItemCount: n.ItemCount, Kinds: n.Kinds,
			SecretTypes: n.SecretTypes, Secrets: templates.Secrets(locale, n.SecretTypes),
			Items: n.Items, MoreItems: max(0, n.ItemCount-len(n.Items)),
			Minimal: n.Disclosure.Minimal(),
		},
		Sender: templates.Sender{Name: r.from.Name, Address: r.from.Address},
		Links:  templates.Links{Verify: r.publicURL + "/verify"},
	}
	if del.PortalAccess {
		d.Links.Portal = r.publicURL + "/portal"
	}
	if del.AckToken != "" {
		d.Links.Ack = r.publicURL + "/ack/" + del.AckToken
	}
	if n.SentAt != nil {
		d.Notice.SentAt = *n.SentAt
	}
	return d
}

// Templates is the set the renderer draws from; activating a template
// version puts it there, and the next message rendered uses it.
func (r *Renderer) Templates() *templates.Set { return r.templates }

// Preview renders t for del as its message would be, or, when del is nil,
// for the sample data with this installation's links and sender. A
// message the link firewall would stop comes back as a *BlockedError, as
// it would at send time.
func (r *Renderer) Preview(t *templates.Template, del *OutgoingDelivery) (templates.Rendered, error) {
	var d *templates.Data
	if del != nil {
		d = r.data(*del, t.Locale)
	} else {
		d = templates.SampleData()
		d.Notice.Kind = string(t.Kind)
		d.Notice.Secrets = templates.Secrets(t.Locale, d.Notice.SecretTypes)
		d.Sender = templates.Sender{Name: r.from.Name, Address: r.from.Address}
		d.Links = templates.Links{Ack: r.publicURL + "/ack/" + PreviewAckToken, Portal: r.publicURL + "/portal", Verify: r.publicURL + "/verify"}
	}
	out, err := t.Render(d)
	if err != nil {
		return out, err
	}
	return out, blocked(r.policy(d).Check(out.Subject, out.Text, out.HTML))
}

// PreviewAckToken stands for the acknowledgement token in previews; no
// acknowledgement link carries it.
const PreviewAckToken = "example-token-shown-in-previews-only-000000"

// preparedKey names one rendering of a notice: the template version and
// everything about the recipient that may change more than inserted text.
type preparedKey struct {
	notice  int64
	version string
	role    string
	named   bool
	portal  bool
	ack     bool
}

// preparedCacheSize bounds the prepared renderings kept (tens of KB each).
const preparedCacheSize = 2048

func (r *Renderer) prepared(t *templates.Template, del OutgoingDelivery, d *templates.Data) (preparedNotice, error) {
	key := preparedKey{notice: del.Notice.ID, version: t.Version + "/" + t.Locale, role: del.ContactRole,
		named: del.ContactName != "", portal: d.Links.Portal != "", ack: d.Links.Ack != ""}
	r.mu.Lock()
	pn, ok := r.cache[key]
	r.mu.Unlock()
	if ok {
		return pn, nil
	}
	p, err := t.Prepare(d)
	if err != nil {
		return pn, err
	}
	pn.prepared = p
	m := p.Marked()
	policy := r.policy(d)
	policy.Links = policy.Links[:2] // the acknowledgement link is a hole: it differs per message
	if pn.shape, err = policy.Prepare(m.Subject, m.Text, m.HTML, templates.RecipientHoles); err != nil {
		pn.blocked = blocked(err)
	}
	r.mu.Lock()
	if len(r.cache) >= preparedCacheSize {
		clear(r.cache)
	}
	r.cache[key] = pn
	r.mu.Unlock()
	return pn, nil
}

// PortalLinkMail is what a sign-in email needs about its recipient.
type PortalLinkMail struct {
	LinkID        int64
	ContactEmail  string
	ContactName   string
	ContactRole   string
	ContactLocale string
	OrgName       string
	OrgRef        string
}

// PortalLinkMessage renders the sign-in email for one contact, with the
// link carrying token.
func (r *Renderer) PortalLinkMessage(pl PortalLinkMail, token string) (*Message, error) {
	t, err := r.templates.Lookup(templates.KindPortalLink, pl.ContactLocale)
	if err != nil {
		return nil, err
	}
	d := &templates.Data{
		Organization: templates.Organization{Name: pl.OrgName, Ref: pl.OrgRef},
		Contact:      templates.Contact{Name: pl.ContactName, Email: pl.ContactEmail, Role: pl.ContactRole},
		Notice:       templates.Notice{Kind: string(templates.KindPortalLink)},
		Sender:       templates.Sender{Name: r.from.Name, Address: r.from.Address},
		Links:        templates.Links{Portal: r.publicURL + "/portal/login/" + token, Verify: r.publicURL + "/verify"},
	}
	out, err := t.Render(d)
	if err != nil {
		return nil, err
	}
	if err := r.policy(d).Check(out.Subject, out.Text, out.HTML); err != nil {
		return nil, blocked(err)
	}
	return &Message{
		MessageID: newMessageID(RecipientDomain(r.from.Address)),
		From:      r.from,
		To:        mail.Address{Name: pl.ContactName, Address: pl.ContactEmail},
		Subject:   out.Subject,
		Text:      out.Text,
		HTML:      out.HTML,
	}, nil
}
