package app_test

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestPortalPasskeyInBrowser enrols a passkey in chromium with the
// DevTools virtual authenticator (a platform authenticator that verifies
// the user), then reads a stolen message; signs in again in a new session,
// verifies with the passkey and reads it again. WebAuthn needs a secure
// context and a domain as RP ID, so the service's public URL is
// http://localhost on the port it listens on.
func TestPortalPasskeyInBrowser(t *testing.T) {
	t.Parallel()
	ctx := startBrowser(t)
	e, base := startOnLocalhost(t)
	slug := e.LoadSample(t, "mail")
	shared, _ := mailScenario(t, e, slug, "http://attacker.invalid")
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

	link := regexp.MustCompile(regexp.QuoteMeta(base) + `(/portal/login/[A-Za-z0-9_-]{43})`)
	signIn := func(n int) {
		t.Helper()
		p.do("open the sign-in page", chromedp.Navigate(base+"/portal/login"))
		p.do("type the address", chromedp.SendKeys(chromedp.ID("email"), "soc@contoso.example"))
		p.submit("ask for a link", "main form button")
		var links []string
		eventually(t, "sign-in emails", func() bool {
			links = nil
			for _, m := range e.Mailbox.Messages() {
				if len(m.Recipients) > 0 && m.Recipients[0] == "soc@contoso.example" {
					if l := link.FindStringSubmatch(apptest.Parse(t, m.Raw).Text); l != nil {
						links = append(links, l[1])
					}
				}
			}
			return len(links) >= n
		})
		waitJobs(t, e)
		p.do("open the link", chromedp.Navigate(base+links[n-1]))
		p.submit("press Continue", "main form button")
	}
	msg := "/portal/messages/" + shared

	signIn(1)
	p.do("open the message", chromedp.Navigate(base+msg))
	p.expect("enrolment", "Set up a second factor", "Create a passkey")
	p.do("create a passkey", chromedp.Click(chromedp.ID("passkey-button")))
	arrive(p, msg)
	p.expect("message", "Build credentials")

	// A new session: verified with the same passkey.
	p.submit("sign out", `form[action="/portal/logout"] button`)
	signIn(2)
	p.do("open the message again", chromedp.Navigate(base+msg))
	if u := p.url(); !strings.HasPrefix(u, "/portal/verify-factor?next=") {
		t.Fatalf("the message in a new session: at %s, want the verification", u)
	}
	p.expect("verification", "Use my passkey")
	p.do("use the passkey", chromedp.Click(chromedp.ID("passkey-button")))
	arrive(p, msg)
	p.expect("message", "Build credentials")
	expectNoCSPViolations(p, "passkey pages")

	var n, signs int
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT count(*), max(sign_count) FROM portal_webauthn_credentials`).Scan(&n, &signs); err != nil || n != 1 {
		t.Errorf("passkeys stored: %d (%v), want 1", n, err)
	}
	var audited int
	_ = e.App.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action IN ('portal.factor_enrolled', 'portal.factor_verified')
		AND details::jsonb->>'factor' = 'passkey'`).Scan(&audited)
	if audited != 2 {
		t.Errorf("%d passkey enrolments and verifications audited, want 2", audited)
	}
}

// arrive waits until the tab is at path, loaded: the script navigates
// on its own, and an evaluation during the navigation fails, so it is
// asked again.
func arrive(p page, path string) {
	p.t.Helper()
	eventually(p.t, "the page at "+path, func() bool {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`location.pathname === "`+path+`" && document.readyState === "complete"`))
		return err == nil && ok
	})
}

// startOnLocalhost starts the service with stolen mail on
// http://localhost on a free port: WebAuthn needs a secure context and a
// domain as RP ID.
func startOnLocalhost(t *testing.T) (*apptest.Env, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	base := "http://localhost:" + strconv.Itoa(port)
	evidence := withEvidenceKey(t)
	return apptest.Start(t, apptest.Options{Configure: func(cfg *config.Config) {
		evidence(cfg)
		cfg.HTTPAddr = "127.0.0.1:" + strconv.Itoa(port)
		cfg.PublicURL = base
	}}), base
}
