package notifier

import (
	"net/mail"
	"strings"

	"github.com/breachnotify/breachnotify/templates"
)

// Renderer turns a delivery into its message: the template for the notice's
// kind in the contact's locale, filled with the notice's content and the
// contact's links. Templates are compiled once; rendering only executes.
type Renderer struct {
	templates *templates.Set
	from      mail.Address
	publicURL string
}

// NewRenderer returns a Renderer sending as from, linking to publicURL.
func NewRenderer(set *templates.Set, from mail.Address, publicURL string) *Renderer {
	return &Renderer{templates: set, from: from, publicURL: strings.TrimRight(publicURL, "/")}
}

// Message renders the message for one delivery and returns it with the
// version of the template used.
func (r *Renderer) Message(del OutgoingDelivery) (*Message, string, error) {
	n := del.Notice
	t, err := r.templates.Lookup(n.Kind, del.ContactLocale)
	if err != nil {
		return nil, "", err
	}
	data := &templates.Data{
		Incident:     templates.Incident{Title: n.IncidentTitle, Summary: n.IncidentSummary, Slug: n.IncidentSlug},
		Organization: templates.Organization{Name: n.OrgName, Ref: n.OrgRef},
		Contact:      templates.Contact{Name: del.ContactName, Email: del.Recipient, Role: del.ContactRole},
		Notice: templates.Notice{
			Kind: string(n.Kind), Reference: del.Reference, ItemCount: n.ItemCount, Kinds: n.Kinds,
			SecretTypes: n.SecretTypes, Items: n.Items, MoreItems: max(0, n.ItemCount-len(n.Items)),
		},
		Sender: templates.Sender{Name: r.from.Name, Address: r.from.Address},
		Links:  templates.Links{Verify: r.publicURL + "/verify"},
	}
	if del.PortalAccess {
		data.Links.Portal = r.publicURL + "/portal"
	}
	out, err := t.Render(data)
	if err != nil {
		return nil, t.Version, err
	}
	return &Message{
		MessageID: del.MessageID,
		From:      r.from,
		To:        mail.Address{Name: del.ContactName, Address: del.Recipient},
		Subject:   out.Subject,
		Text:      out.Text,
		HTML:      out.HTML,
		Headers:   map[string]string{"X-Breachnotify-Reference": del.Reference},
	}, t.Version, nil
}
