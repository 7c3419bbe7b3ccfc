package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestPortalMemberPathInBrowser is a member's whole path: an approver
// (contoso's security contact, over HTTP with its authenticator app)
// invites a new member with the mail level on the members page; in
// chromium, the member reads the invitation mail, asks for a sign-in link
// on the page it names, signs in by the link, opens a stolen message,
// enrols a passkey (the DevTools virtual authenticator) and reads it; the
// approver revokes them, and the member's very next request shows the
// session has ended. Passkeys need http://localhost (see
// TestPortalPasskeyInBrowser).
func TestPortalMemberPathInBrowser(t *testing.T) {
	t.Parallel()
	ctx := startBrowser(t)
	e, base := startOnLocalhost(t)
	slug := e.LoadSample(t, "mail")
	shared, _ := mailScenario(t, e, slug, "http://attacker.invalid")

	// The approver invites.
	approver := newVisitor(t, e)
	approver.signInWithFactor("soc@contoso.example")
	approver.do("GET", "/portal/members", nil)
	if st, _, h := approver.do("POST", "/portal/members/invite", url.Values{"csrf": {approver.csrf()}, "email": {"analyst@contoso.example"}, "level": {"mail"}}); st != http.StatusSeeOther {
		t.Fatalf("invite: %d %q", st, h.Get("Location"))
	}
	invitation := awaitMemberMail(t, e, "analyst@contoso.example", "invited you")
	signInPage := regexp.MustCompile(regexp.QuoteMeta(base) + `/portal/login\b`).FindString(invitation)
	if signInPage == "" {
		t.Fatalf("the invitation names no sign-in page:\n%s", invitation)
	}

	// The member, in the browser.
	p := page{t: t, ctx: ctx}
	watchCSP(p)
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}}); err != nil {
		t.Fatal(err)
	}
	p.do("open the page the invitation names", chromedp.Navigate(signInPage))
	p.do("type the address", chromedp.SendKeys(chromedp.ID("email"), "analyst@contoso.example"))
	p.submit("ask for a link", "main form button")
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `(/portal/login/[A-Za-z0-9_-]{43})`)
	var path string
	eventually(t, "the member's sign-in link", func() bool {
		for _, m := range e.Mailbox.Messages() {
			if len(m.Recipients) > 0 && m.Recipients[0] == "analyst@contoso.example" {
				if l := link.FindStringSubmatch(apptest.Parse(t, m.Raw).Text); l != nil {
					path = l[1]
				}
			}
		}
		return path != ""
	})
	waitJobs(t, e)
	p.do("open the link", chromedp.Navigate(base+path))
	p.submit("press Continue", "main form button")
	msg := "/portal/messages/" + shared
	p.do("open the message", chromedp.Navigate(base+msg))
	p.expect("enrolment", "Set up a second factor", "Create a passkey")
	p.do("create a passkey", chromedp.Click(chromedp.ID("passkey-button")))
	arrive(p, msg)
	p.expect("message", "Build credentials")
	expectNoCSPViolations(p, "the member's pages")

	// The approver revokes; the member's next request is signed out.
	approver.do("GET", "/portal/members", nil)
	id := contactID(t, e, "analyst@contoso.example")
	if st, _, h := approver.do("POST", "/portal/members/"+itoa(id)+"/revoke", url.Values{"csrf": {approver.csrf()}}); st != http.StatusSeeOther {
		t.Fatalf("revoke: %d %q", st, h.Get("Location"))
	}
	p.do("reload the message", chromedp.Reload())
	p.expect("signed out", "Your session has ended")
}
