package templates

import (
	"time"

	"github.com/breachnotify/breachnotify/notifier/linkguard"
)

// Data is everything a template may refer to. A template that names any
// other field is refused when it is compiled.
type Data struct {
	Incident     Incident
	Organization Organization
	Contact      Contact
	Notice       Notice
	Sender       Sender
	Links        Links
}

// Incident is the breach the message is about.
type Incident struct {
	Title   string
	Summary string
	Slug    string
}

// Organization is the recipient's organization.
type Organization struct {
	Name string
	Ref  string
}

// Contact is the recipient.
type Contact struct {
	Name  string
	Email string
	Role  string
}

// Notice is what the organization is told in this message.
type Notice struct {
	Kind string
	// Reference is the code the recipient can check on the verify page.
	Reference string
	// ItemCount counts every exposure item the notice covers.
	ItemCount int
	// Kinds counts the items by kind (email, file, credential, other).
	Kinds []KindCount
	// SecretTypes lists the kinds of secret found in the items, such as
	// password or api_key: each is something to rotate.
	SecretTypes []string
	// Secrets is SecretTypes named and explained in the template's
	// language: for each, what to rotate and how (see Secrets).
	Secrets []Secret
	// Items lists the first items (at most ItemsShown); MoreItems counts the rest.
	Items     []Item
	MoreItems int
	// SentAt is when the notice was first sent (for reminders).
	SentAt time.Time
	// Minimal marks a minimal-disclosure notice (the incident's policy
	// "disclosure: minimal"): the recipient's mailbox may be the one the
	// attacker reads, so the message says only that there is a notice, its
	// reference, how to verify it and where to sign in. Render enforces it:
	// a template rendering a minimal notice gets no incident title, summary
	// or slug, no count, kind, item, subject, secret type or advice, whatever
	// it refers to (see Minimized).
	Minimal bool
}

// KindCount is the number of exposed items of one kind.
type KindCount struct {
	Kind  string
	Count int
}

// Item is one exposed item as shown in a message.
type Item struct {
	Ref         string
	Kind        string
	Subject     string
	OccurredAt  *time.Time
	SecretTypes []string
}

// Sender is who the message comes from.
type Sender struct {
	Name    string
	Address string
}

// Links are the URLs a message may carry; all are on the public URL.
type Links struct {
	// Ack acknowledges this notice (per delivery).
	Ack string
	// Portal is the customer portal, for contacts with portal access; empty otherwise.
	Portal string
	// Verify is the page where a reference code can be checked.
	Verify string
}

// ItemsShown is how many items a message lists; the rest are counted and
// are available in the portal.
const ItemsShown = 20

// SampleData is a plausible Data used to validate templates and preview
// them. Its secrets are explained in English; Compile explains them in the
// template's language.
func SampleData() *Data {
	occurred := time.Date(2024, 1, 5, 14, 22, 0, 0, time.UTC)
	return &Data{
		Incident:     Incident{Title: "Unauthorized access to corporate email", Summary: "An attacker read a subset of our corporate mailboxes.", Slug: "mail-2024"},
		Organization: Organization{Name: "Contoso Ltd", Ref: "contoso"},
		Contact:      Contact{Name: "Contoso SOC", Email: "soc@contoso.example", Role: "security"},
		Notice: Notice{
			Kind:        "initial",
			Reference:   "BN-7K3Q-9XW2-M4TD-R8FA",
			ItemCount:   3,
			Kinds:       []KindCount{{Kind: "email", Count: 2}, {Kind: "file", Count: 1}},
			SecretTypes: []string{"client_secret"},
			Secrets:     Secrets(DefaultLocale, []string{"client_secret"}),
			Items: []Item{
				{Ref: "MSG-100001", Kind: "email", Subject: "Tenant migration plan", OccurredAt: &occurred},
				{Ref: "MSG-100002", Kind: "email", Subject: "Re: service principal rotation", OccurredAt: &occurred, SecretTypes: []string{"client_secret"}},
				{Ref: "FILE-1", Kind: "file", Subject: "export-config.json"},
			},
			SentAt: occurred,
		},
		Sender: Sender{Name: "Security Notices", Address: "security-notice@notify.example"},
		Links: Links{
			Ack:    "https://notify.example/ack/SAMPLE",
			Portal: "https://notify.example/portal",
			Verify: "https://notify.example/verify",
		},
	}
}

// Minimized returns d as a minimal-disclosure notice may show it: when
// d.Notice.Minimal is set, a copy without anything that tells what the
// notice is about (the incident's title, summary and slug, the counts,
// kinds, items and secrets); otherwise d itself. Render calls it, so no
// template, shipped or uploaded, can show a minimal notice's content.
func Minimized(d *Data) *Data {
	if !d.Notice.Minimal {
		return d
	}
	dd := *d
	dd.Incident = Incident{}
	dd.Notice = Notice{Kind: d.Notice.Kind, Reference: d.Notice.Reference, SentAt: d.Notice.SentAt, Minimal: true}
	return &dd
}

// Defanged returns a copy of d with every value that comes from outside
// (breach data, imported names, addresses and references) defanged, so no
// mail client can turn it into a link (linkguard.Defang). The sender, the
// links, the reference code and the advice written by this program are
// kept as they are. Render calls it: no template ever sees raw data.
func Defanged(d *Data) *Data {
	f := linkguard.Defang
	dd := *d
	dd.Incident = Incident{Title: f(d.Incident.Title), Summary: f(d.Incident.Summary), Slug: f(d.Incident.Slug)}
	dd.Organization = Organization{Name: f(d.Organization.Name), Ref: f(d.Organization.Ref)}
	dd.Contact = Contact{Name: f(d.Contact.Name), Email: f(d.Contact.Email), Role: f(d.Contact.Role)}
	dd.Notice.Kinds = make([]KindCount, len(d.Notice.Kinds))
	for i, k := range d.Notice.Kinds {
		dd.Notice.Kinds[i] = KindCount{Kind: f(k.Kind), Count: k.Count}
	}
	dd.Notice.SecretTypes = defangAll(d.Notice.SecretTypes)
	dd.Notice.Secrets = make([]Secret, len(d.Notice.Secrets))
	for i, s := range d.Notice.Secrets {
		dd.Notice.Secrets[i] = Secret{Type: f(s.Type), Label: f(s.Label), Advice: s.Advice}
	}
	if d.Notice.Secrets == nil {
		dd.Notice.Secrets = nil
	}
	dd.Notice.Items = make([]Item, len(d.Notice.Items))
	for i, it := range d.Notice.Items {
		dd.Notice.Items[i] = Item{Ref: f(it.Ref), Kind: f(it.Kind), Subject: f(it.Subject), OccurredAt: it.OccurredAt, SecretTypes: defangAll(it.SecretTypes)}
	}
	return &dd
}

func defangAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = linkguard.Defang(s)
	}
	return out
}

// linkField is the field of Links numbered i (Ack, Portal, Verify).
func (d *Data) linkField(i int) *string {
	return [...]*string{&d.Links.Ack, &d.Links.Portal, &d.Links.Verify}[i]
}
