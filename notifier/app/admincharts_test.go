package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
)

// TestAdminIncidentCharts checks that an incident's page draws its
// charts from the database: send rate, outcomes over time,
// acknowledgements, and the failures by domain and reply class, each with
// its figures as a table.
func TestAdminIncidentCharts(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	for _, rcpt := range []string{"security@northwind.example", "counsel@northwind.example"} {
		e.Replies.Always(rcpt, capture.StepRcpt, capture.Fault{Code: 550, Message: "5.7.1 refused by policy"})
	}
	slug := e.LoadSample(t, "charts")
	w := e.LaunchInitial(t, slug)
	ackNotice(t, e, "soc@contoso.example")

	b := newStaffBrowser(t, e)
	b.mustSignIn(newKey(t, e, "vera viewer", notifier.RoleViewer))
	page := b.get(fmt.Sprintf("/admin/incidents/%d", w.IncidentID))
	expectPage(t, "incident page", page, 200,
		"Sent per minute, last 15 minutes", fmt.Sprintf(`id="wave-%d-rate"`, w.ID),
		"Deliveries by outcome over time", `class="st-sent"`, `class="st-failed"`,
		"Acknowledged notices, running total", `<circle class="series-ack"`,
		"Failures by domain and reply", "northwind.example · 5.7.x", `<th scope="row">northwind.example · 5.7.x</th><td>2</td>`,
		`role="img"`, fmt.Sprintf(`aria-labelledby="wave-%d-outcomes-title wave-%d-outcomes-desc"`, w.ID, w.ID))
	// A completed wave has no estimate: nothing is left to send.
	if strings.Contains(page.body, "left at this rate") {
		t.Error("a completed wave shows an estimated time left")
	}
}
