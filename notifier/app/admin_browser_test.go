package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/breachnotify/breachnotify/notifier"
)

// cspWatch records every Content-Security-Policy violation of every page
// the tab loads in window.cspViolations.
const cspWatch = `window.cspViolations = [];
document.addEventListener("securitypolicyviolation", e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`

func watchCSP(p page) {
	p.t.Helper()
	p.do("watch for CSP violations", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch})
		return err
	}))
}

// expectNoCSPViolations fails the test for any CSP violation but the River
// UI's eval probe: its validation library (Zod) tries Function("") once to
// choose between compiled and plain validation, and works without.
func expectNoCSPViolations(p page, what string) {
	p.t.Helper()
	if v := eval[[]string](p, `(window.cspViolations || []).filter(v => v !== "script-src eval")`); len(v) > 0 {
		p.t.Errorf("%s: CSP violations: %v", what, v)
	}
}

// waitUntil waits until a JavaScript expression on the page is true.
func (p page) waitUntil(what, expr string, timeout time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		p.t.Fatalf("%s: %v\n%s", what, err, eval[string](p, `document.body.innerText`))
	}
}

// TestDashboardInBrowser drives the staff dashboard in chromium as an
// operator would: sign in with a key, follow a running wave's progress,
// pause and resume it with the buttons, watch it finish without
// reloading the page, and sign out.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	ctx := startBrowser(t)
	// Each send takes a second until speedUp: the wave is running for as
	// long as the steps before the pause need.
	e, w := dashboardWave(t, "browser", time.Second)
	base := e.App.URL()
	p := page{t: t, ctx: ctx}
	watchCSP(p)

	// Sign in: the dashboard sends an anonymous visitor to the sign-in form.
	p.do("open the dashboard", chromedp.Navigate(base+"/admin"))
	if u := p.url(); u != "/admin/login" {
		t.Fatalf("anonymous /admin led to %s", u)
	}
	p.accessible("sign-in page")
	p.do("type a wrong key", chromedp.SendKeys(chromedp.ID("key"), "bn_not_a_key"))
	p.submit("sign in with a wrong key", "main form button")
	p.expect("wrong key", "That key does not work")
	// The form comes back empty: a key is never sent back to the browser.
	if v := eval[string](p, `document.getElementById("key").value`); v != "" {
		t.Errorf("the sign-in form came back with %q in it", v)
	}
	p.do("type the key", chromedp.SendKeys(chromedp.ID("key"), newKey(t, e, "olga operator", notifier.RoleOperator)))
	p.submit("sign in", "main form button")
	if u := p.url(); u != "/admin" {
		t.Fatalf("after signing in: %s", u)
	}
	p.expect("overview", "Jobs waiting in the queue", "Running and paused waves", fmt.Sprintf("wave #%d", w.ID), "Mail breach")
	p.accessible("overview")
	if strings.Contains(p.text(), "Open the River UI") {
		t.Error("an operator is offered the River UI")
	}

	// The incident page shows the running wave's progress.
	p.submit("open the incidents", `nav a[href="/admin/incidents"]`)
	p.accessible("incidents")
	p.submit("open the incident", fmt.Sprintf(`main a[href="/admin/incidents/%d"]`, w.IncidentID))
	p.expect("incident page", "Mail breach", "Running", "of 12 deliveries finished", "Queued:", "Sent:")
	p.accessible("incident page")
	if max := eval[string](p, fmt.Sprintf(`document.getElementById("wave-%d-progress").getAttribute("max")`, w.ID)); max != "12" {
		t.Errorf("the progress bar's max is %q, want 12", max)
	}

	// Pause, then resume, with the buttons.
	p.submit("pause", fmt.Sprintf(`form[action="/admin/waves/%d/pause"] button`, w.ID))
	p.expect("paused", fmt.Sprintf("Wave #%d is paused", w.ID), "Paused")
	if st := waveStatus(t, e, w.ID); st != notifier.WavePaused {
		t.Fatalf("after pressing Pause the wave is %s", st)
	}
	speedUp(e)
	p.submit("resume", fmt.Sprintf(`form[action="/admin/waves/%d/resume"] button`, w.ID))
	p.expect("resumed", fmt.Sprintf("Wave #%d is running again", w.ID))

	// The page follows the wave to its end by itself: the marker set on
	// this document survives, so the page was updated, not reloaded.
	p.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	p.waitUntil("the wave to finish on the page", `document.querySelector("main").innerText.includes("12 of 12 deliveries finished")`, 20*time.Second)
	if !eval[bool](p, `window.notReloaded === true`) {
		t.Error("the page was reloaded instead of updated in place")
	}
	p.expect("completed", "Completed", "Sent: 12")
	expectNoCSPViolations(p, "dashboard")

	// Sign out: the dashboard is closed again.
	p.submit("sign out", "form.signout button")
	p.expect("signed out", "You are signed out")
	p.do("open the dashboard again", chromedp.Navigate(base+"/admin/incidents"))
	if u := p.url(); !strings.HasPrefix(u, "/admin/login") {
		t.Errorf("after signing out, /admin/incidents led to %s", u)
	}
}

// TestRiverUIInBrowser opens the River UI as an admin: it must render and
// work under its Content-Security-Policy, without a single violation.
func TestRiverUIInBrowser(t *testing.T) {
	t.Parallel()
	ctx := startBrowser(t)
	e, _ := dashboardWave(t, "riverui", 0)
	p := page{t: t, ctx: ctx}
	watchCSP(p)
	p.do("open the River UI", chromedp.Navigate(e.App.URL()+"/riverui/"))
	if u := p.url(); !strings.HasPrefix(u, "/admin/login") {
		t.Fatalf("anonymous /riverui/ led to %s", u)
	}
	p.do("type the key", chromedp.SendKeys(chromedp.ID("key"), newKey(t, e, "ada admin", notifier.RoleAdmin)))
	p.submit("sign in", "main form button")
	if u := p.url(); !strings.HasPrefix(u, "/riverui/") {
		t.Fatalf("after signing in: %s", u)
	}
	// Its job list, with the live updates its scripts run.
	p.waitUntil("the River UI to show its job list", `document.body.innerText.includes("Pause live updates")`, 20*time.Second)
	p.do("open the queues", chromedp.Navigate(e.App.URL()+"/riverui/queues"))
	p.waitUntil("the River UI to list the queues", `document.body.innerText.includes("deliver")`, 20*time.Second)
	expectNoCSPViolations(p, "River UI")
}
