package portal_test

import (
	"net/mail"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/portal"
)

// TestMemberMails composes every membership mail in every language with
// a right-to-left organization name and a hostile requester address: the
// data is isolated (U+2068/U+2069 in text, <bdi> in HTML) and defanged,
// our page's address is printed whole, nothing is left unformatted, and
// the HTML says its language.
func TestMemberMails(t *testing.T) {
	t.Parallel()
	c, err := portal.NewMemberMails(mail.Address{Name: "Example IR", Address: "ir@notify.example"}, "https://notify.example/")
	if err != nil {
		t.Fatal(err)
	}
	for _, locale := range []string{"en", "de", "fr", "ja", "pt-BR"} {
		for _, kind := range []string{notifier.MemberMailInvite, notifier.MemberMailRequest, notifier.MemberMailApproved, notifier.MemberMailRefused} {
			m, err := c.Compose(notifier.MemberMail{ID: 1, Kind: kind, Recipient: "a@contoso.example", Locale: locale,
				OrgName: "شركة كونتوسو", About: "evil@attacker.example"})
			if err != nil {
				t.Fatalf("%s %s: %v", locale, kind, err)
			}
			where := locale + " " + kind
			for _, part := range []string{m.Subject, m.Text, m.HTML} {
				if strings.Contains(part, "%!") || strings.Contains(part, "membermail.") {
					t.Errorf("%s: unformatted: %q", where, part)
				}
			}
			if !strings.Contains(m.Subject, "\u2068شركة كونتوسو\u2069") || !strings.Contains(m.HTML, "<bdi>شركة كونتوسو</bdi>") {
				t.Errorf("%s: the organization is not isolated:\n%s\n%s", where, m.Subject, m.HTML)
			}
			switch kind {
			case notifier.MemberMailRequest:
				if strings.Contains(m.Text, "attacker.example") || !strings.Contains(m.Text, "https://notify.example/portal/members") {
					t.Errorf("%s: requester not defanged, or no members page:\n%s", where, m.Text)
				}
			case notifier.MemberMailRefused:
			default:
				if !strings.Contains(m.Text, "https://notify.example/portal/login") || !strings.Contains(m.HTML, "https://notify.example/portal/login") {
					t.Errorf("%s: no sign-in page:\n%s", where, m.Text)
				}
			}
			want := locale
			if locale == "pt-BR" {
				want = "en"
			}
			if !strings.Contains(m.HTML, `<html lang="`+want+`" dir="ltr">`) {
				t.Errorf("%s: html lang: %s", where, m.HTML[:80])
			}
		}
	}
}

// TestMemberMailDefangsALinkLikeName: an organization named like a link
// (IR staff's data, but written by whoever filled in the spreadsheet) is
// defanged in the subject as in the text and HTML, so the mail goes out
// and carries no link but ours.
func TestMemberMailDefangsALinkLikeName(t *testing.T) {
	t.Parallel()
	c, err := portal.NewMemberMails(mail.Address{Name: "Example IR", Address: "ir@notify.example"}, "https://notify.example/")
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Compose(notifier.MemberMail{ID: 1, Kind: notifier.MemberMailInvite, Recipient: "a@contoso.example", Locale: "en",
		OrgName: "https://login.contoso-sso.example/reset", About: ""})
	if err != nil {
		t.Fatalf("a link-like organization name: %v", err)
	}
	for _, part := range []string{m.Subject, m.Text, m.HTML} {
		if strings.Contains(part, "https://login.contoso-sso.example") {
			t.Errorf("the name is a link in %q", part)
		}
	}
}
