package app_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

// TestConsoleOrganizationStates runs a real initial wave (Northwind refuses
// every contact), acknowledges Contoso's notice and imports the second
// batch (new live secrets for Contoso and Fabrikam, Proseware new), then
// reads the incident page's organization table as a viewer.
func TestConsoleOrganizationStates(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	for _, rcpt := range []string{"security@northwind.example", "counsel@northwind.example"} {
		e.Replies.Always(rcpt, capture.StepRcpt, capture.Fault{Code: 550, Message: "5.1.1 mailbox unavailable"})
	}
	slug := e.LoadSample(t, "org-states")
	w := e.LaunchInitial(t, slug)
	ackNotice(t, e, "soc@contoso.example")
	if _, err := e.Client.ImportExposures(context.Background(), slug, bytes.NewReader(sampledata.File(sampledata.ExposuresBatch2)), notifier.FormatCSV); err != nil {
		t.Fatalf("import the second batch: %v", err)
	}

	b := newStaffBrowser(t, e)
	b.mustSignIn(newKey(t, e, "vera viewer", notifier.RoleViewer))
	page := b.get(fmt.Sprintf("/admin/incidents/%d", w.IncidentID))
	row := func(state, label string, count int, refs string) string {
		return fmt.Sprintf(`<tr data-state="%s"><th scope="row">%s</th><td class="num" data-label="Organizations">%d</td><td data-label="First 20">%s</td>`, state, label, count, refs)
	}
	code := func(ref string) string { return `<span class="code">` + ref + `</span>` }
	expectPage(t, "incident page", page, 200, "<h2 id=\"org-states-h\">Organizations</h2>",
		row("notified", "Notified", 6, code("adatum")+", "+code("contoso")+", "+code("fabrikam")+", "+code("litware")+", "+code("tailspin")+", "+code("woodgrove")),
		row("acknowledged", "Acknowledged", 1, code("contoso")),
		row("unreachable", "Unreachable", 1, code("northwind")),
		row("awaiting_initial", "Awaiting initial notice", 1, code("proseware")),
		row("urgent", "Urgent (live secrets not yet notified)", 2, code("contoso")+", "+code("fabrikam")),
		"breachnotify notice unreachable "+slug)
}
