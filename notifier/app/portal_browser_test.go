package app_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// chromiumPath is Debian's chromium, which the browser tests drive.
const chromiumPath = "/usr/bin/chromium"

// startBrowser starts a headless chromium with a fresh profile for the
// test, or skips the test when chromium is not installed (it fails instead
// under CI, where .ci/run installs it).
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing (CI installs it: apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("%s is missing: install Debian's chromium to run the browser tests", chromiumPath)
	}
	profile, err := os.MkdirTemp("", "breachnotify-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Removed after the browser stopped (cleanups run last-in first-out);
	// chromium may still be flushing files, so errors do not matter.
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// page is a tab of the test's browser with the steps a person takes.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// submit clicks sel and waits for the page it leads to.
func (p page) submit(what string, sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression on the page.
func eval[T any](p page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (p page) text() string { return eval[string](p, `document.querySelector("main").innerText`) }

func (p page) url() string { return eval[string](p, `location.pathname + location.search`) }

// expect fails unless the page's main text has every one of want.
func (p page) expect(what string, want ...string) {
	p.t.Helper()
	text := p.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			p.t.Fatalf("%s: the page at %s does not say %q:\n%s", what, p.url(), w, text)
		}
	}
}

// accessible checks what a keyboard or screen reader user needs on every
// page: a language, one h1, a label for every field, the skip link first
// in the tab order, and nothing wider than a phone's screen.
func (p page) accessible(what string) {
	p.t.Helper()
	problems := eval[[]string](p, `(() => {
		const out = [];
		if (document.documentElement.lang !== "en") out.push("no lang");
		if (document.querySelectorAll("h1").length !== 1) out.push("not one h1");
		for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea"))
			if (!el.labels || el.labels.length === 0) out.push("no label for " + (el.id || el.name));
		for (const b of document.querySelectorAll("button"))
			if (!b.textContent.trim()) out.push("a button without a name");
		if (document.documentElement.scrollWidth > window.innerWidth + 1) {
			out.push("the page is " + document.documentElement.scrollWidth + "px wide on a " + window.innerWidth + "px screen");
			for (const el of document.querySelectorAll("body *"))
				if (el.getBoundingClientRect().right > window.innerWidth + 1 && !(el.parentElement && el.parentElement.closest(".table-wrap")))
					out.push("wider than the screen: " + el.tagName + "." + el.className);
		}
		return out;
	})()`)
	p.do(what+": tab", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`), chromedp.KeyEvent("\t"))
	if first := eval[string](p, `document.activeElement.className + ":" + document.activeElement.textContent`); first != "skip:Skip to main content" {
		problems = append(problems, "first tab stop is "+first)
	}
	if len(problems) > 0 {
		p.t.Errorf("%s (%s): %v", what, p.url(), problems)
	}
}

// TestPortalInBrowser drives the customer pages in chromium as a contact
// would: sign in with the emailed link, browse and filter the exposed
// items, download them, acknowledge a notice in the portal and another
// from its email link, and check a reference code. The viewport is a
// phone's.
func TestPortalInBrowser(t *testing.T) {
	t.Parallel()
	ctx := startBrowser(t)
	e := apptest.Start(t, apptest.Options{})
	portalScenario(t, e)
	base := e.App.URL()
	p := page{t: t, ctx: ctx}
	p.do("phone viewport", chromedp.EmulateViewport(375, 740))

	// Sign in: the portal sends an anonymous visitor to the sign-in form.
	p.do("open the portal", chromedp.Navigate(base+"/portal"))
	if u := p.url(); u != "/portal/login" {
		t.Fatalf("anonymous /portal led to %s", u)
	}
	p.accessible("sign-in page")
	p.do("type the address", chromedp.SendKeys(chromedp.ID("email"), "soc@contoso.example"))
	p.submit("ask for a link", "main form button")
	p.expect("sign-in request", "Check your email", "we have sent a sign-in link")
	links := awaitLinks(t, e, "soc@contoso.example", 1)
	if !strings.Contains(links[0].Text, "Contoso Ltd") {
		t.Errorf("the sign-in email does not name the organization:\n%s", links[0].Text)
	}
	p.do("open the link", chromedp.Navigate(base+links[0].Path))
	p.expect("sign-in link", "Contoso Ltd", "s***@contoso[.]example")
	p.accessible("sign-in link page")
	p.submit("press Continue", "main form button")
	if u := p.url(); u != "/portal" {
		t.Fatalf("after Continue: %s", u)
	}
	p.expect("overview", "Contoso Ltd", "Mail breach", "Not acknowledged")
	p.accessible("overview")
	if strings.Contains(p.text(), "VPN appliance") {
		t.Error("contoso's overview shows fabrikam's incident")
	}

	// Browse the items and filter them: email with a password.
	p.submit("open the items", `nav a[href="/portal/items"]`)
	p.expect("items", "MSG-100001", "FILE-100010", "MSG-100009")
	p.accessible("items page")
	p.do("filter", chromedp.SetValue(chromedp.ID("f-kind"), "email"), chromedp.SetValue(chromedp.ID("f-secret"), "password"))
	p.submit("apply the filter", "form.filters button")
	if u := p.url(); !strings.Contains(u, "kind=email") || !strings.Contains(u, "secret=password") {
		t.Errorf("filtered URL %s", u)
	}
	p.expect("filtered items", "MSG-100009", "Matching items")
	if text := p.text(); strings.Contains(text, "MSG-100001") || strings.Contains(text, "FILE-100010") {
		t.Errorf("the filter let other items through:\n%s", text)
	}

	// Download the filtered items as CSV.
	dir := t.TempDir()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	p.do("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true)})
		return err
	}), chromedp.Click(chromedp.CSS(`a[href^="/portal/items.csv"]`)))
	file := ""
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("download canceled")
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][3] != "item_ref" || rows[1][3] != "MSG-100009" || !strings.HasPrefix(rows[1][6], `'=HYPERLINK(`) {
		t.Errorf("downloaded CSV = %q, want the header and MSG-100009 with its formula neutralised", rows)
	}

	// Acknowledge a notice in the portal.
	p.do("back to the overview", chromedp.Navigate(base+"/portal"))
	p.submit("acknowledge", "form.inline button")
	if u := p.url(); !strings.HasPrefix(u, "/portal/notices/") {
		t.Fatalf("after acknowledging: %s", u)
	}
	p.expect("acknowledged notice", "Acknowledged", "s***@contoso[.]example")
	p.accessible("notice page")

	// Sign out: the portal is closed again.
	p.submit("sign out", "form.signout button")
	p.expect("signed out", "You are signed out")
	p.do("open the portal again", chromedp.Navigate(base+"/portal/items"))
	if u := p.url(); u != "/portal/login" {
		t.Errorf("after signing out, /portal/items led to %s", u)
	}

	// Acknowledge from the email link, as northwind's contact.
	ack := ackLink.FindStringSubmatch(messagesTo(t, e, "security@northwind.example")[0].Text)
	p.do("open the acknowledgement link", chromedp.Navigate(base+ack[1]))
	p.expect("acknowledgement page", "Northwind Traders", "Mail breach")
	p.accessible("acknowledgement page")
	p.submit("press Acknowledge", "main form button")
	p.expect("acknowledged", "Thank you", "Northwind Traders")

	// Check the reference code of a notice, typed loosely.
	ref := messagesTo(t, e, "security@northwind.example")[0].Header.Get("X-Breachnotify-Reference")
	p.do("open the verify page", chromedp.Navigate(base+"/verify"))
	p.accessible("verify page")
	p.do("type the code", chromedp.SendKeys(chromedp.ID("code"), strings.ToLower(strings.ReplaceAll(ref, "-", " "))))
	p.submit("check", "main form button")
	p.expect("genuine", "Genuine: we sent this notice", ref, "s***@northwind[.]example", "Mail breach")
	p.do("open the verify page again", chromedp.Navigate(base+"/verify"))
	p.do("type a forged code", chromedp.SendKeys(chromedp.ID("code"), "BN-0BAD-C0DE-0BAD-C0DE"))
	p.submit("check a forged code", "main form button")
	p.expect("forged", "Not a notice from us", "Do not follow its links")
}
