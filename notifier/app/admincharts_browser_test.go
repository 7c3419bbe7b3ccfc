package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestChartsInBrowser follows a running wave's send-rate chart as an
// operator would watch it: the page updates itself in place, the chart's
// figures rise while the wave runs and reach every delivery once it is
// over, all under the dashboard's Content-Security-Policy.
func TestChartsInBrowser(t *testing.T) {
	t.Parallel()
	ctx := startBrowser(t)
	// Each send takes a second until speedUp: the chart is seen moving
	// before the wave is let through.
	e, w := dashboardWave(t, "charts-browser", time.Second)
	p := page{t: t, ctx: ctx}
	watchCSP(p)

	p.do("open the dashboard", chromedp.Navigate(e.App.URL()+"/admin"))
	p.do("type the key", chromedp.SendKeys(chromedp.ID("key"), newKey(t, e, "vera viewer", notifier.RoleViewer)))
	p.submit("sign in", "main form button")
	p.do("open the incident", chromedp.Navigate(fmt.Sprintf("%s/admin/incidents/%d", e.App.URL(), w.IncidentID)))
	p.expect("incident page", "Sent per minute", "Deliveries by outcome over time", "Failures by domain and reply")
	p.accessible("incident page with charts")
	p.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))

	// The sum of the chart's figures table: the sends of the last minutes.
	sent := fmt.Sprintf(`Array.from(document.querySelectorAll("#wave-%d-rate td")).reduce((s, td) => s + Number(td.textContent), 0)`, w.ID)
	first := eval[int](p, sent)
	if first >= 12 {
		t.Fatalf("the wave was over before the page opened (%d sent)", first)
	}
	p.waitUntil("the send-rate chart to rise", fmt.Sprintf("%s > %d", sent, first), 30*time.Second)
	if n := eval[int](p, fmt.Sprintf(`document.querySelectorAll("#wave-%d-rate svg rect").length`, w.ID)); n == 0 {
		t.Error("the send-rate chart draws no column")
	}
	speedUp(e)
	p.waitUntil("the chart to count every send", sent+" === 12", 30*time.Second)
	p.waitUntil("the wave to finish on the page", `document.querySelector("main").innerText.includes("12 of 12 deliveries finished")`, 30*time.Second)
	if !eval[bool](p, `window.notReloaded === true`) {
		t.Error("the page was reloaded instead of updated in place")
	}
	expectNoCSPViolations(p, "charts")
}
