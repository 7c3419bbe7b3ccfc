package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

// TestConsoleCampaignInBrowser runs a campaign from the staff dashboard
// alone, as an IR coordinator would: create an incident whose waves need
// a second key, import a file with an error (previewed, nothing written)
// and then the fixed one, plan, preview the message in two languages,
// approve as a second person, launch, and pause.
func TestConsoleCampaignInBrowser(t *testing.T) {
	t.Parallel()
	ctx := startBrowser(t)
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) { c.Workers, c.ChunkSize = 1, 2 }})
	// Each send waits until the test lets it through, so the wave is still
	// running when it is paused.
	for rcpt := range batch1Recipients {
		e.Replies.Always(rcpt, capture.StepRcpt, capture.Fault{Delay: time.Second})
	}
	t.Cleanup(func() { speedUp(e) })
	base := e.App.URL()
	dir := t.TempDir()
	file := func(name string, body []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	orgs := sampledata.File(sampledata.Organizations)
	broken := file("broken.csv", bytes.Replace(orgs, []byte("ciso@contoso.example"), []byte("ciso-at-contoso"), 1))
	fixed := file("organizations.csv", orgs)
	exposures := file("exposures.csv", sampledata.File(sampledata.ExposuresBatch1))
	adminKey := newKey(t, e, "ada admin", notifier.RoleAdmin)
	operatorKey := newKey(t, e, "otto operator", notifier.RoleOperator)

	p := page{t: t, ctx: ctx}
	watchCSP(p)
	signIn := func(key string) {
		p.do("open the sign-in page", chromedp.Navigate(base+"/admin/login"))
		p.do("type the key", chromedp.SendKeys(chromedp.ID("key"), key))
		p.submit("sign in", "main form button")
	}
	signIn(adminKey)

	// Create the incident, with approval by a second key.
	p.do("open the incidents", chromedp.Navigate(base+"/admin/incidents"))
	p.accessible("incidents page")
	p.do("fill in the incident",
		chromedp.SendKeys(chromedp.ID("title"), "Mail server breach"),
		chromedp.SendKeys(chromedp.ID("slug"), "console"),
		chromedp.Click(chromedp.ID("require_approval")))
	p.submit("create the incident", "#new-incident button[type=submit]")
	p.expect("incident created", "Mail server breach", "The incident is created", "waves need a second key's approval")
	incidentURL := p.url()
	p.accessible("incident page")

	// An organizations file with a bad address: the preview names the
	// line and field, and nothing is written.
	p.do("choose the broken file", chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{broken}))
	uploadWith(p, "preview the broken file", "#import-preview")
	p.expect("broken file previewed", "nothing would be imported", "contact_email")
	if got := eval[string](p, `document.querySelector("#import-problems tbody td").textContent`); got != "3" {
		t.Errorf("the problem is on line %q, want 3", got)
	}
	if list, err := e.App.Service.Organizations(context.Background(), notifier.LocalActor("test"), notifier.OrganizationFilter{}, notifier.Page{Limit: 10}); err != nil || len(list.Items) != 0 {
		t.Fatalf("a preview wrote organizations: %v %v", list.Items, err)
	}
	p.accessible("import preview")

	// The fixed file: previewed, then imported.
	p.do("choose the fixed file", chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{fixed}))
	uploadWith(p, "preview the fixed file", "#import-preview")
	p.expect("fixed file previewed", "no problems found", "contoso", "Contoso Ltd")
	p.do("choose it again", chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{fixed}))
	uploadWith(p, "import it", "#import-confirm")
	p.expect("organizations imported", "Imported: organizations")

	p.do("choose the exposures", chromedp.Click(chromedp.ID("what-exposures")),
		chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{exposures}))
	uploadWith(p, "import the exposures", "#import-confirm")
	p.expect("exposures imported", "Imported batch", "new items")
	// The upload script sent the files, showing their progress, and put
	// the answers in place: the browser never left the incident's page.
	if u := p.url(); u != incidentURL {
		t.Errorf("the uploads navigated to %s: the upload script did not run", u)
	}
	expectNoCSPViolations(p, "uploads")

	// Plan.
	p.do("back to the incident", chromedp.Navigate(base+incidentURL))
	p.submit("plan a wave", "#campaign form[action$=plan] button")
	p.expect("wave planned", "planned", "Organizations", "Skipped")
	if n := eval[string](p, `document.getElementById("plan-deliveries").textContent`); n == "0" {
		t.Fatalf("the plan has no deliveries:\n%s", p.text())
	}
	p.submit("open the wave", "main a.button")
	waveURL := p.url()
	p.accessible("wave page")

	// Preview the real message in two languages.
	for _, locale := range []string{"en", "de"} {
		p.do("ask for the "+locale+" preview", chromedp.SetValue(chromedp.ID("org"), "contoso"),
			chromedp.SetValue(chromedp.ID("locale"), locale))
		p.submit("show the "+locale+" preview", "#show-preview")
		p.expect(locale+" preview", "To soc@contoso", locale+" template")
		if !strings.Contains(eval[string](p, `document.getElementById("preview-text").textContent`), "MSG-100001") {
			t.Errorf("the %s preview's text does not list the organization's items:\n%s", locale, p.text())
		}
		if sb := eval[string](p, `document.getElementById("preview-html").getAttribute("sandbox")`); sb != "" {
			t.Errorf("the HTML frame's sandbox is %q, want the strictest (empty)", sb)
		}
		if text, origin := frameText(p, "locale="+locale); !strings.Contains(text, "Contoso Ltd") || origin != "null" {
			t.Errorf("the %s HTML frame shows %q with origin %q, want the message in an opaque origin", locale, text, origin)
		}
	}
	expectNoCSPViolations(p, "message preview")
	de := eval[string](p, `document.getElementById("preview-subject").textContent`)
	p.do("ask for the en preview again", chromedp.SetValue(chromedp.ID("locale"), "en"))
	p.submit("show the en preview", "#show-preview")
	if en := eval[string](p, `document.getElementById("preview-subject").textContent`); en == de {
		t.Errorf("the English and German subjects are the same: %q", en)
	}

	// The key that planned the wave may not approve it.
	p.submit("approve as the planner", "#approve")
	p.expect("own approval refused", "cannot approve it; a second person must")

	// A second person approves and launches; a repeated launch form
	// launches once.
	p.submit("sign out", "form.signout button")
	signIn(operatorKey)
	p.do("open the wave", chromedp.Navigate(base+waveURL))
	p.submit("approve", "#approve")
	p.expect("approved", "The wave is approved")
	p.submit("launch", "#launch")
	p.expect("launched", "The wave is launched")
	waveID := waveIDFrom(t, waveURL)
	if st := waveStatus(t, e, waveID); st != notifier.WaveRunning {
		t.Fatalf("after launch the wave is %s", st)
	}

	// Pause.
	p.submit("pause", "button.pause")
	p.expect("paused", "is paused")
	if st := waveStatus(t, e, waveID); st != notifier.WavePaused {
		t.Fatalf("after pause the wave is %s", st)
	}
	expectNoCSPViolations(p, "console")
}

// waveIDFrom reads the wave's id from its page's path.
func waveIDFrom(t *testing.T, path string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(strings.TrimPrefix(path, "/admin/waves/"), 10, 64)
	if err != nil {
		t.Fatalf("not a wave page: %s", path)
	}
	return id
}

// uploadWith presses an upload form's button and waits for the page the
// upload script puts in place of this one.
func uploadWith(p page, what, sel string) {
	p.t.Helper()
	p.do(what, chromedp.Evaluate[chromedp.Void](`document.body.dataset.before = "1"`), chromedp.Click(chromedp.CSS(sel)))
	p.waitUntil(what, `!document.body.dataset.before`, 20*time.Second)
}

// frameText reads the text and origin of the page's framed document whose
// address has match in it: a sandboxed frame is a target of its own,
// which the page's scripts cannot read.
func frameText(p page, match string) (text, origin string) {
	p.t.Helper()
	targets, err := chromedp.Targets(p.ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	for _, x := range targets {
		if x.Type != "iframe" || !strings.Contains(x.URL, match) {
			continue
		}
		// Cancelled with the test, not now: cancelling an attached
		// context closes its target, and with it the page's tab.
		fctx, cancel := chromedp.NewContext(p.ctx, chromedp.WithTargetID(x.TargetID))
		p.t.Cleanup(cancel)
		v, err := chromedp.Run(fctx, chromedp.Evaluate[[]string](`[document.body.innerText, self.origin]`))
		if err != nil {
			p.t.Fatalf("read the frame %s: %v", x.URL, err)
		}
		return v[0], v[1]
	}
	p.t.Fatalf("no frame with %q in its address", match)
	return "", ""
}
