package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// attackerServer is the site stolen mail points at: it records every
// request it gets.
type attackerServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits []string
}

func newAttacker(t *testing.T) *attackerServer {
	a := &attackerServer{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.hits = append(a.hits, r.Method+" "+r.URL.Path)
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<script>parent.postMessage('reached', '*')</script>"))
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *attackerServer) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.hits...)
}

// TestPortalMailInBrowser reviews a stolen message whose HTML part tries
// every way to run or reach out (scripts, event handlers, a remote image,
// style sheets, CSS imports and url(), a frame, a form, a meta refresh,
// javascript: links), all pointing at a live server standing for the
// attacker, in chromium: the server gets no request at all, nothing on
// the page is a link to it, clicking the message does nothing, and the
// page itself breaks none of its own CSP.
func TestPortalMailInBrowser(t *testing.T) {
	t.Parallel()
	ctx := startBrowser(t)
	attacker := newAttacker(t)
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	slug := e.LoadSample(t, "mail")
	shared, _ := mailScenario(t, e, slug, attacker.URL)
	base := e.App.URL()
	p := page{t: t, ctx: ctx}
	watchCSP(p)

	// Sign in as a person does, with the emailed link.
	p.do("open the sign-in page", chromedp.Navigate(base+"/portal/login"))
	p.do("type the address", chromedp.SendKeys(chromedp.ID("email"), "soc@contoso.example"))
	p.submit("ask for a link", "main form button")
	links := awaitLinks(t, e, "soc@contoso.example", 1)
	p.do("open the link", chromedp.Navigate(base+links[0].Path))
	p.submit("press Continue", "main form button")

	// The mail list, then the message.
	p.submit("open the mail list", `nav a[href="/portal/messages"]`)
	p.expect("mail list", "Build credentials", "Contoso only")
	p.accessible("mail list")
	p.submit("open the message", `a[href="/portal/messages/`+shared+`"]`)
	// No second factor yet: the portal asks to set up an authenticator
	// app first, then comes back to the message.
	p.expect("enrolment", "Set up a second factor")
	secret := eval[string](p, `document.getElementById("totp-secret").textContent`)
	p.do("type the code", chromedp.SendKeys(chromedp.ID("code"), totpCode(strings.TrimSpace(secret), time.Now())))
	p.submit("confirm the code", "main form button")
	p.expect("recovery codes", "Your recovery codes")
	p.submit("continue to the message", `main a[href="/portal/messages/`+shared+`"]`)
	p.expect("message", "Build credentials", "hxxps://evil[.]example/path", "AKI…7NB", "aws_access_key")
	p.accessible("message page")
	// The frame has loaded (its document's body is there) before the
	// attacker's log is read; a click anywhere in it follows nothing.
	p.waitUntil("the frame loads", `(() => { const f = document.querySelector("iframe.mail"); return f && f.getAttribute("sandbox") === "" && performance.getEntriesByName(f.src).length > 0 })()`, 20*time.Second)
	p.do("click in the message", chromedp.Click(chromedp.CSS("iframe.mail")))
	p.do("reload, so any delayed load would have started", chromedp.Reload())
	p.expect("message again", "Build credentials")
	if u := p.url(); u != "/portal/messages/"+shared {
		t.Errorf("after clicking in the message the tab is at %s", u)
	}
	if n := eval[int](p, `document.querySelectorAll("main a[href*='`+strings.TrimPrefix(attacker.URL, "http://")+`'], main a[href^='javascript'], main pre a, main dl a").length`); n != 0 {
		t.Errorf("%d links of the stolen message on the page", n)
	}
	if title := eval[string](p, `document.title`); strings.Contains(title, "pwned") {
		t.Errorf("a script of the message ran: title %q", title)
	}
	expectNoCSPViolations(p, "mail pages")
	if hits := attacker.requests(); len(hits) > 0 {
		t.Errorf("the attacker's server got %d requests: %v", len(hits), hits)
	}

	// Reveal the key with the form, on a page freshly opened (not the one
	// clicked into).
	p.do("open the message again", chromedp.Navigate(base+"/portal/messages/"+shared))
	p.submit("reveal the key", `form[action$="/reveal"] button`)
	p.expect("revealed", fakeAWSKey)
	if hits := attacker.requests(); len(hits) > 0 {
		t.Errorf("after the reveal, the attacker's server got %d requests: %v", len(hits), hits)
	}

}
