package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

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

// TestAdminDeadlineChart checks the deadline board drawn on the incident
// page: Contoso's contractual deadline passed, Fabrikam's still open.
func TestAdminDeadlineChart(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	slug := e.LoadSample(t, "clock-chart")
	now, err := e.App.Store.Now(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	aware := now.Add(-8 * time.Hour).Truncate(time.Second).UTC()
	clock := map[string]any{"aware_at": aware, "obligations": []string{"gdpr-art33", "gdpr-art33-processor", "us-co"},
		"deadline_targets": map[string]int{"gdpr-art33-processor": 12}}
	if st, b := call(t, e, "PATCH", "/api/v1/incidents/"+slug, e.Key, map[string]any{"clock": clock}); st != http.StatusOK {
		t.Fatalf("set clock: %d %s", st, b)
	}
	// Contoso's contract says 6 hours (past), Fabrikam is a processor
	// with 12 (4 left).
	terms := "org_ref,org_name,contact_email,jurisdiction,notify_within\n" +
		"contoso,Contoso Ltd,soc@contoso.example,US-CO,6\n" +
		"fabrikam,Fabrikam GmbH,sicherheit@fabrikam.example,de,\n"
	if _, err := e.Client.ImportOrganizations(context.Background(), strings.NewReader(terms), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	inc, err := e.App.Service.Incident(context.Background(), notifier.LocalActor("t"), slug)
	if err != nil {
		t.Fatal(err)
	}
	b := newStaffBrowser(t, e)
	b.mustSignIn(newKey(t, e, "vera viewer", notifier.RoleViewer))
	page := b.get(fmt.Sprintf("/admin/incidents/%d", inc.ID))
	expectPage(t, "incident page", page, 200, "Time left to notify", `id="deadline-chart"`,
		"Contoso Ltd · contract", "Fabrikam GmbH · gdpr-art33-processor", `class="dl-bar-missed"`, `class="dl-bar-open"`)
	if i, j := strings.Index(page.body, "Contoso Ltd · contract"), strings.Index(page.body, "Fabrikam GmbH · gdpr-art33-processor"); j < i {
		t.Error("the deadline chart does not put the soonest deadline first")
	}
}
