package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// The deadline clock end to end: an incident eight hours after awareness,
// Contoso (Colorado) with a 6-hour contract, Fabrikam (Germany) under the
// GDPR processor target of 12 hours. Before the wave Contoso's deadline is
// missed and Fabrikam's open, and the metric says so; after it, the board
// names the wave, Contoso is late and Fabrikam met, and the proof report
// carries each organization's deadline and whether it was met.
func TestDeadlineClockBoardMetricAndReport(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	slug := e.LoadSample(t, "clock")
	now, err := e.App.Store.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	aware := now.Add(-8 * time.Hour).Truncate(time.Second).UTC()
	path := "/api/v1/incidents/" + slug

	// Refused clocks name the field; nothing changes.
	for _, bad := range []struct {
		clock map[string]any
		field string
	}{
		{map[string]any{"aware_at": aware, "obligations": []string{"gdpr-art99"}}, "clock.obligations"},
		{map[string]any{"aware_at": aware, "obligations": []string{"contract"}}, "clock.obligations"},
		{map[string]any{"aware_at": now.Add(24 * time.Hour)}, "clock.aware_at"},
		{map[string]any{"aware_at": aware, "materiality_determined_at": aware.Add(-time.Hour)}, "clock.materiality_determined_at"},
		{map[string]any{"aware_at": aware, "obligations": []string{"us-co"}, "deadline_targets": map[string]int{"us-co": 5}}, "clock.deadline_targets"},
	} {
		st, b := call(t, e, "PATCH", path, e.Key, map[string]any{"clock": bad.clock})
		if st != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"field":"`+bad.field+`"`) {
			t.Errorf("clock %v: %d %s, want 422 naming %s", bad.clock, st, b, bad.field)
		}
	}
	if st, _ := call(t, e, "PATCH", path, e.Key, map[string]any{"clock": map[string]any{"aware_at": aware}, "policy": map[string]any{}}); st != http.StatusBadRequest {
		t.Errorf("policy and clock in one request: %d, want 400", st)
	}
	viewer := newKey(t, e, "viewer", notifier.RoleViewer)
	if st, _ := call(t, e, "PATCH", path, viewer, map[string]any{"clock": map[string]any{"aware_at": aware}}); st != http.StatusForbidden {
		t.Errorf("a viewer set the clock: %d", st)
	}

	clock := map[string]any{"aware_at": aware, "obligations": []string{"gdpr-art33", "gdpr-art33-processor", "us-co", "sec-8k-1.05"},
		"deadline_targets": map[string]int{"gdpr-art33-processor": 12}}
	st, b := call(t, e, "PATCH", path, e.Key, map[string]any{"clock": clock})
	if st != http.StatusOK {
		t.Fatalf("set clock: %d %s", st, b)
	}
	var inc notifier.Incident
	if err := json.Unmarshal(b, &inc); err != nil || inc.Clock.AwareAt == nil || !inc.Clock.AwareAt.Equal(aware) {
		t.Fatalf("incident after the clock: %s (%v)", b, err)
	}
	audit, err := e.Client.AuditList(ctx, apiclient.AuditQuery{Action: "incident.clock"})
	if err != nil || len(audit.Items) != 1 {
		t.Fatalf("audit of incident.clock: %+v, %v", audit, err)
	}

	terms := "org_ref,org_name,contact_email,jurisdiction,notify_within\n" +
		"contoso,Contoso Ltd,soc@contoso.example,US-CO,6\n" +
		"fabrikam,Fabrikam GmbH,sicherheit@fabrikam.example,de,\n"
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader(terms), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}

	board := deadlineBoard(t, e, slug)
	if len(board.Filings) != 2 || board.Filings[0].ID != "gdpr-art33" || !board.Filings[0].DueAt.Equal(aware.Add(72*time.Hour)) ||
		board.Filings[1].ID != "sec-8k-1.05" || board.Filings[1].DueAt != nil {
		t.Errorf("filings: %+v, want GDPR Art. 33 at aware+72h and the 8-K waiting for materiality", board.Filings)
	}
	contoso, fabrikam := boardEntry(t, board, "contoso"), boardEntry(t, board, "fabrikam")
	if contoso.State != notifier.DeadlineMissed || contoso.Obligation != "contract" || !contoso.NotifyBy.Equal(aware.Add(6*time.Hour)) ||
		contoso.SecondsLeft == nil || *contoso.SecondsLeft >= 0 {
		t.Errorf("contoso before the wave: %+v, want the 6 h contract missed", contoso)
	}
	if fabrikam.State != notifier.DeadlineOpen || fabrikam.Obligation != "gdpr-art33-processor" || !fabrikam.NotifyBy.Equal(aware.Add(12*time.Hour)) ||
		fabrikam.SecondsLeft == nil || *fabrikam.SecondsLeft <= 0 {
		t.Errorf("fabrikam before the wave: %+v, want the 12 h processor target open", fabrikam)
	}

	_, metrics := scrape(t, e.App.URL(), "")
	for _, want := range []string{`breachnotify_deadline_seconds_remaining{incident="clock",obligation="contract"} -`,
		`breachnotify_deadline_seconds_remaining{incident="clock",obligation="gdpr-art33-processor"} `} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// The staff dashboard's banner: Contoso missed, Fabrikam under 12 hours
	// (4 left), soonest first.
	staff := newStaffBrowser(t, e)
	staff.mustSignIn(newKey(t, e, "vera viewer", notifier.RoleViewer))
	page := staff.get("/admin/incidents/" + strconv.FormatInt(inc.ID, 10))
	expectPage(t, "incident page", page, 200, "1 organization has missed its notification deadline",
		"1 organization has less than 12 hours left", "Met 0 · late 0 · open 1 · missed 1")
	if i, j := strings.Index(page.body, "contoso</span>"), strings.Index(page.body, "fabrikam</span>"); i < 0 || j < i {
		t.Errorf("the dashboard lists Contoso (due first) at %d, Fabrikam at %d", i, j)
	}

	wave := e.LaunchInitial(t, slug)
	board = deadlineBoard(t, e, slug)
	contoso, fabrikam = boardEntry(t, board, "contoso"), boardEntry(t, board, "fabrikam")
	if contoso.State != notifier.DeadlineLate || contoso.WaveID == nil || *contoso.WaveID != wave.ID || contoso.NotifiedAt == nil {
		t.Errorf("contoso after the wave: %+v, want late, notified by wave %d", contoso, wave.ID)
	}
	if fabrikam.State != notifier.DeadlineMet || fabrikam.WaveID == nil || *fabrikam.WaveID != wave.ID || fabrikam.SecondsLeft != nil {
		t.Errorf("fabrikam after the wave: %+v, want met by wave %d", fabrikam, wave.ID)
	}
	if _, metrics = scrape(t, e.App.URL(), ""); strings.Contains(metrics, `breachnotify_deadline_seconds_remaining{incident="clock"`) {
		t.Error("the metric still reports an incident whose organizations were all notified")
	}

	var out bytes.Buffer
	if err := e.Client.Report(ctx, slug, "csv", &out); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) int {
		i := slices.Index(records[0], name)
		if i < 0 {
			t.Fatalf("report has no column %s: %v", name, records[0])
		}
		return i
	}
	org, notifyBy, obligation, met, email := col("org_ref"), col("notify_by"), col("deadline_obligation"), col("deadline_met"), col("contact_email")
	want := map[string][3]string{
		"contoso":  {aware.Add(6 * time.Hour).Format(time.RFC3339Nano), "contract", "false"},
		"fabrikam": {aware.Add(12 * time.Hour).Format(time.RFC3339Nano), "gdpr-art33-processor", "true"},
	}
	seen := map[string]bool{}
	for _, r := range records[1:] {
		w, ok := want[r[org]]
		if !ok {
			if r[notifyBy] != "" || r[met] != "" {
				t.Errorf("%s (no jurisdiction, no contract) has deadline %q met %q", r[org], r[notifyBy], r[met])
			}
			continue
		}
		seen[r[org]] = true
		if got := [3]string{r[notifyBy], r[obligation], r[met]}; got != w || r[email] == "" {
			t.Errorf("report row of %s: %v, want %v", r[org], got, w)
		}
	}
	if len(seen) != 2 {
		t.Errorf("report rows for %v, want contoso and fabrikam", seen)
	}
}

func deadlineBoard(t *testing.T, e *apptest.Env, slug string) notifier.DeadlineBoard {
	t.Helper()
	b, err := e.Client.AllDeadlines(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func boardEntry(t *testing.T, b notifier.DeadlineBoard, ref string) notifier.OrganizationDeadline {
	t.Helper()
	for _, d := range b.Items {
		if d.OrgRef == ref {
			return d
		}
	}
	t.Fatalf("no %s on the board: %+v", ref, b.Items)
	return notifier.OrganizationDeadline{}
}
