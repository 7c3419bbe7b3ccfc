package portal

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"net/mail"
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/i18n"
	"github.com/breachnotify/breachnotify/notifier/linkguard"
)

// MemberMails composes the membership mails (an invitation, a request to
// the approvers, the answer to the requester) from the pages' catalogue,
// in the recipient's language. They carry no credential: they name the
// page to sign in on (typed by hand, like the verify address), never a
// link that signs in.
type MemberMails struct {
	catalog   *i18n.Catalog
	from      mail.Address
	publicURL string
}

// NewMemberMails builds a composer for mails from from, naming pages
// under publicURL.
func NewMemberMails(from mail.Address, publicURL string) (*MemberMails, error) {
	cat, err := i18n.Load()
	if err != nil {
		return nil, fmt.Errorf("member mails: %w", err)
	}
	return &MemberMails{catalog: cat, from: from, publicURL: strings.TrimRight(publicURL, "/")}, nil
}

// ourURL is an address of this service: a message prints it isolated, not
// defanged (it is not breach data).
type ourURL string

// memberMailKeys are the subject and body keys of each kind.
var memberMailKeys = map[string][2]string{
	notifier.MemberMailInvite:   {"membermail.invite_subject", "membermail.invite_body"},
	notifier.MemberMailRequest:  {"membermail.request_subject", "membermail.request_body"},
	notifier.MemberMailApproved: {"membermail.approved_subject", "membermail.approved_body"},
	notifier.MemberMailRefused:  {"membermail.refused_subject", "membermail.refused_body"},
}

// Compose renders one membership mail, checked by the send-time link
// firewall like every message that leaves.
func (c *MemberMails) Compose(m notifier.MemberMail) (*notifier.Message, error) {
	keys, ok := memberMailKeys[m.Kind]
	if !ok {
		return nil, fmt.Errorf("member mail %d: unknown kind %q", m.ID, m.Kind)
	}
	tag, ok := c.catalog.Supported(m.Locale)
	if !ok {
		tag = i18n.Supported[0] // English, the fallback
	}
	signIn, members := c.publicURL+"/portal/login", c.publicURL+"/portal/members"
	var args []any
	switch m.Kind {
	case notifier.MemberMailRequest:
		args = []any{m.About, m.OrgName, ourURL(members)}
	case notifier.MemberMailRefused:
		args = []any{m.OrgName}
	default:
		args = []any{m.OrgName, ourURL(signIn)}
	}
	p := c.catalog.Printer(tag)
	// The subject is data too: defanged, as the text and the HTML are.
	subject := textOf(p.Sprintf(keys[0], isolateText(linkguard.Defang(m.OrgName))))
	var textArgs []any
	for _, a := range args {
		switch v := a.(type) {
		case ourURL:
			textArgs = append(textArgs, string(v))
		case string:
			textArgs = append(textArgs, isolateText(linkguard.Defang(v)))
		}
	}
	footer := []any{ourURL(c.from.Name)}
	text := textOf(p.Sprintf(keys[1], textArgs...)) + "\n\n" + textOf(p.Sprintf("membermail.footer", isolateText(c.from.Name))) + "\n"
	body := `<!DOCTYPE html><html lang="` + tag.String() + `" dir="` + i18n.Dir(tag) + `"><head><meta charset="utf-8"><title>` +
		html.EscapeString(subject) + `</title></head><body><p>` + string(c.catalog.HTML(tag, keys[1], args...)) + `</p><p>` +
		string(c.catalog.HTML(tag, "membermail.footer", footer...)) + `</p></body></html>`
	policy := &linkguard.Policy{Links: []string{signIn, members}, Addresses: []string{c.from.Address}}
	if err := policy.Check(subject, text, body); err != nil {
		return nil, fmt.Errorf("member mail %d: %w", m.ID, err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &notifier.Message{
		MessageID: hex.EncodeToString(id) + "@" + notifier.RecipientDomain(c.from.Address),
		From:      c.from,
		To:        mail.Address{Address: m.Recipient},
		Subject:   subject,
		Text:      text,
		HTML:      body,
	}, nil
}

// isolateText isolates data in a text part (U+2068 … U+2069), so a
// right-to-left name cannot reorder the sentence around it.
func isolateText(s string) string { return "\u2068" + s + "\u2069" }

// textOf is a catalogue message as plain text: the messages of the mails
// carry no markup but their entities.
func textOf(s string) string { return html.UnescapeString(s) }
