package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/templates"
)

// activeContacts of the sample organizations named in the first batch,
// with their organization's name.
var batch1Recipients = map[string]string{
	"soc@contoso.example":         "Contoso Ltd",
	"ciso@contoso.example":        "Contoso Ltd",
	"legal@contoso.example":       "Contoso Ltd",
	"sicherheit@fabrikam.example": "Fabrikam GmbH",
	"it-leitung@fabrikam.example": "Fabrikam GmbH",
	"security@northwind.example":  "Northwind Traders",
	"counsel@northwind.example":   "Northwind Traders",
	"secops@tailspin.example":     "Tailspin Toys",
	"csirt@woodgrove.example":     "Woodgrove Bank",
	"rssi@woodgrove.example":      "Woodgrove Bank",
	"security@adatum.example":     "A. Datum Corporation",
	"abuse@litware.example":       "Litware Inc",
}

func TestInitialWaveEndToEnd(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	slug := e.LoadSample(t, "mail-2024")

	plan, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Status != notifier.WavePlanned || plan.Notices != 7 || plan.Deliveries != 12 {
		t.Fatalf("plan = %+v, want planned with 7 notices and 12 deliveries", plan)
	}
	launched, err := e.Client.LaunchWave(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if launched.Notices.Total != 7 {
		t.Errorf("launched wave has %d notices, want 7", launched.Notices.Total)
	}
	w, err := e.Client.WaitWave(ctx, plan.ID, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliverySent] != 12 {
		t.Fatalf("wave = %+v, want completed with 12 sent", w)
	}

	deliveries, err := e.App.Store.WaveDeliveries(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	byRecipient := map[string]notifier.Delivery{}
	for _, d := range deliveries {
		byRecipient[d.Recipient] = d
	}
	got := map[string]int{}
	for _, m := range e.Mailbox.Messages() {
		if len(m.Recipients) != 1 {
			t.Fatalf("message to %v: want exactly one recipient per message", m.Recipients)
		}
		rcpt := m.Recipients[0]
		got[rcpt]++
		org, ok := batch1Recipients[rcpt]
		if !ok {
			t.Errorf("unexpected recipient %s", rcpt)
			continue
		}
		p := apptest.Parse(t, m.Raw)
		if to := p.Header.Get("To"); !strings.Contains(to, rcpt) {
			t.Errorf("To = %q, want %s", to, rcpt)
		}
		if !strings.Contains(p.Text, org) || !strings.Contains(p.HTML, org) {
			t.Errorf("message to %s does not name %s in both parts", rcpt, org)
		}
		if strings.Contains(p.Text, "<p>") || !strings.Contains(p.HTML, "<p>") {
			t.Errorf("message to %s: text part must be plain, HTML part HTML", rcpt)
		}
		d := byRecipient[rcpt]
		if mid := strings.Trim(p.Header.Get("Message-Id"), "<>"); mid != d.MessageID {
			t.Errorf("Message-ID %q, delivery recorded %q", mid, d.MessageID)
		}
		if sum := sha256.Sum256(m.Raw); hex.EncodeToString(sum[:]) != d.MessageSHA256 {
			t.Errorf("recorded SHA-256 of %s's message does not match the bytes received", rcpt)
		}
		if d.Status != notifier.DeliverySent || d.Attempts != 1 || d.SMTPCode == nil || *d.SMTPCode != 250 {
			t.Errorf("delivery to %s = %+v, want sent after one attempt with 250", rcpt, d)
		}
	}
	for rcpt := range batch1Recipients {
		if got[rcpt] != 1 {
			t.Errorf("%s received %d messages, want 1", rcpt, got[rcpt])
		}
	}

	// A second launch is a no-op that returns the same wave.
	again, err := e.Client.LaunchWave(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != w.ID || again.Status != notifier.WaveCompleted || again.Deliveries[notifier.DeliverySent] != 12 {
		t.Errorf("relaunch = %+v, want the same completed wave", again)
	}
	// A new initial wave finds nobody left to notify.
	plan2, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if plan2.Notices != 0 || plan2.Deliveries != 0 {
		t.Errorf("second initial plan = %+v, want nothing to send", plan2)
	}
}

func TestTemporaryFailuresAreRetriedThenSent(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	e.Replies.Next("soc@contoso.example", capture.StepRcpt, capture.Fault{Code: 451, Message: "4.7.1 Greylisted, try again"})
	e.Replies.Next("secops@tailspin.example", capture.StepRcpt, capture.Fault{Drop: true})
	e.Replies.Next("abuse@litware.example", capture.StepData, capture.Fault{Code: 452, Message: "4.3.1 Insufficient storage"})
	w := e.LaunchInitial(t, e.LoadSample(t, "retry"))
	if w.Deliveries[notifier.DeliverySent] != 12 {
		t.Fatalf("wave = %+v, want all 12 sent", w.Deliveries)
	}
	ds, _ := e.App.Store.WaveDeliveries(context.Background(), w.ID)
	for _, d := range ds {
		want := 1
		switch d.Recipient {
		case "soc@contoso.example", "secops@tailspin.example", "abuse@litware.example":
			want = 2
		}
		if d.Attempts != want {
			t.Errorf("%s: %d attempts, want %d", d.Recipient, d.Attempts, want)
		}
		if want == 2 {
			evs, _ := e.App.Store.DeliveryEvents(context.Background(), d.ID)
			if len(evs) != 2 || evs[0].Type != "deferred" || evs[1].Type != "sent" {
				t.Errorf("%s events = %+v, want deferred then sent", d.Recipient, evs)
			}
		}
	}
	if n := countTo(e, "soc@contoso.example"); n != 1 {
		t.Errorf("greylisted recipient received %d messages, want 1", n)
	}
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	e.Replies.Always("secops@tailspin.example", capture.StepRcpt, capture.Fault{Code: 550, Message: "5.1.1 User unknown"})
	w := e.LaunchInitial(t, e.LoadSample(t, "perm"))
	if w.Deliveries[notifier.DeliveryFailed] != 1 || w.Deliveries[notifier.DeliverySent] != 11 {
		t.Fatalf("wave = %+v, want 1 failed and 11 sent", w.Deliveries)
	}
	d := findDelivery(t, e, w.ID, "secops@tailspin.example")
	if d.Attempts != 1 || d.SMTPCode == nil || *d.SMTPCode != 550 || !strings.Contains(d.SMTPReply, "User unknown") {
		t.Errorf("delivery = %+v, want failed once with the 550 reply", d)
	}
}

func TestDeferredDeliveryFailsAfterItsLifetime(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		// Long enough for every chunk to be picked up on a loaded machine
		// (a delivery never attempted within it is given up too), short
		// enough for the busy mailbox to run out of retries quickly.
		c.RetryLifetime = 2 * time.Second
	}})
	e.Replies.Always("abuse@litware.example", capture.StepRcpt, capture.Fault{Code: 450, Message: "4.2.1 Mailbox busy"})
	w := e.LaunchInitial(t, e.LoadSample(t, "lifetime"))
	if w.Deliveries[notifier.DeliveryFailed] != 1 {
		t.Fatalf("wave = %+v, want 1 failed", w.Deliveries)
	}
	d := findDelivery(t, e, w.ID, "abuse@litware.example")
	if d.Attempts < 2 || !strings.Contains(d.SMTPReply, "gave up") || !strings.Contains(d.SMTPReply, "450") {
		t.Errorf("delivery = %+v, want failed after retries with the last reply", d)
	}
	evs, _ := e.App.Store.DeliveryEvents(context.Background(), d.ID)
	if len(evs) != d.Attempts {
		t.Errorf("%d events for %d attempts: every attempt must leave an event", len(evs), d.Attempts)
	}
}

func TestImportIsAllOrNothing(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	ctx := context.Background()
	bad := "org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n" +
		"acme,Acme,acme.example,soc@acme.example,Acme SOC,security,true,en\n" +
		"acme,Acme,acme.example,not-an-email,X,security,true,en\n" +
		"beta,Beta,beta.example,a@beta.example,A,janitor,true,en\n" +
		"beta,Beta,beta.example,A@beta.example,\"evil\rname\",security,maybe,en\n"
	_, err := e.Client.ImportOrganizations(ctx, strings.NewReader(bad), notifier.FormatCSV)
	var apiErr *apiclient.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity {
		t.Fatalf("err = %v, want 422", err)
	}
	want := []notifier.RowError{
		{Line: 3, Field: "contact_email"},
		{Line: 4, Field: "role"},
		{Line: 5, Field: "contact_name"},
		{Line: 5, Field: "portal_access"},
	}
	if len(apiErr.Rows) != len(want) {
		t.Fatalf("rows = %v, want %d problems", apiErr.Rows, len(want))
	}
	for i, w := range want {
		if apiErr.Rows[i].Line != w.Line || apiErr.Rows[i].Field != w.Field || apiErr.Rows[i].Message == "" {
			t.Errorf("problem %d = %+v, want line %d field %s", i, apiErr.Rows[i], w.Line, w.Field)
		}
	}
	// Nothing was written: the one good row must not have been imported.
	res, err := e.Client.ImportOrganizations(ctx, strings.NewReader(
		"org_ref,org_name,contact_email\nacme,Acme,soc@acme.example\n"), notifier.FormatCSV)
	if err != nil || res.Organizations.Created != 1 || res.Contacts.Created != 1 {
		t.Fatalf("import after rejection = %+v, %v; want acme created now, not before", res, err)
	}

	// An exposure file naming an unknown organization writes nothing either.
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "x", Title: "X"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Client.ImportExposures(ctx, "x", strings.NewReader(
		"org_ref,item_ref,kind,occurred_at\nacme,A-1,email,2024-01-01T00:00:00Z\nghost,G-1,email,2024-01-01T00:00:00Z\nacme,A-2,email,yesterday\n"), notifier.FormatCSV)
	// Found in one pass: the unknown organization (which only the
	// database knows) and the bad timestamp, in line order.
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity || len(apiErr.Rows) != 2 ||
		apiErr.Rows[0].Line != 3 || apiErr.Rows[0].Field != "org_ref" || apiErr.Rows[1].Line != 4 || apiErr.Rows[1].Field != "occurred_at" {
		t.Fatalf("err = %v, want the unknown org_ref on line 3 and the bad timestamp on line 4", err)
	}
	_, err = e.Client.ImportExposures(ctx, "x", strings.NewReader(
		"org_ref,item_ref,kind\nacme,A-1,email\nghost,G-1,email\n"), notifier.FormatCSV)
	if !errors.As(err, &apiErr) || len(apiErr.Rows) != 1 || apiErr.Rows[0].Line != 3 || apiErr.Rows[0].Field != "org_ref" {
		t.Fatalf("err = %v, want the unknown org_ref on line 3", err)
	}
	res2, err := e.Client.ImportExposures(ctx, "x", strings.NewReader(
		`{"org_ref":"acme","item_ref":"A-1","kind":"email","secret_types":["password"]}`+"\n"), notifier.FormatNDJSON)
	if err != nil || res2.ItemsNew != 1 || res2.ItemsDuplicate != 0 {
		t.Fatalf("NDJSON import = %+v, %v; want A-1 new (nothing kept from the rejected files)", res2, err)
	}
	res3, err := e.Client.ImportExposures(ctx, "x", strings.NewReader(
		"org_ref,item_ref,kind\nacme,A-1,email\nacme,A-2,file\n"), notifier.FormatCSV)
	if err != nil || res3.ItemsNew != 1 || res3.ItemsDuplicate != 1 || res3.Organizations != 1 {
		t.Fatalf("re-import = %+v, %v; want A-1 a duplicate and A-2 new", res3, err)
	}
}

func TestAPIRefusesBadRequests(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true, Configure: func(c *config.Config) {
		c.MaxBodyBytes = 4096
		c.ImportMaxBytes = 4096
	}})
	url := e.App.URL()
	do := func(method, path, key, ctype string, body io.Reader) (int, map[string]any) {
		req, _ := http.NewRequest(method, url+path, body)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	errCode := func(body map[string]any) string {
		e, _ := body["error"].(map[string]any)
		code, _ := e["code"].(string)
		if _, ok := e["message"].(string); !ok {
			return "no message"
		}
		if _, ok := e["details"]; !ok {
			return "no details"
		}
		return code
	}
	cases := []struct {
		name, method, path, key, ctype string
		body                           string
		status                         int
		code                           string
	}{
		{"no key", "GET", "/api/v1/waves/1", "", "", "", 401, "unauthorized"},
		{"wrong key", "GET", "/api/v1/waves/1", "bn_aaaaaaaaaa_" + strings.Repeat("a", 52), "", "", 401, "unauthorized"},
		{"malformed key", "GET", "/api/v1/waves/1", "nonsense", "", "", 401, "unauthorized"},
		{"bad id", "GET", "/api/v1/waves/0x1", e.Key, "", "", 400, "bad_request"},
		{"unknown wave", "GET", "/api/v1/waves/999", e.Key, "", "", 404, "not_found"},
		{"unknown field", "POST", "/api/v1/incidents", e.Key, "application/json", `{"slug":"a","title":"A","owner":"x"}`, 400, "bad_request"},
		{"invalid slug", "POST", "/api/v1/incidents", e.Key, "application/json", `{"slug":"Not A Slug","title":"A"}`, 422, "invalid"},
		{"slug that reads as an id", "POST", "/api/v1/incidents", e.Key, "application/json", `{"slug":"12","title":"A"}`, 422, "invalid"},
		{"trailing brace", "POST", "/api/v1/incidents", e.Key, "application/json", `{"slug":"tb","title":"A"}}`, 400, "bad_request"},
		{"trailing bracket", "POST", "/api/v1/incidents", e.Key, "application/json", `{"slug":"tb","title":"A"}]`, 400, "bad_request"},
		{"two objects", "POST", "/api/v1/incidents", e.Key, "application/json", `{"slug":"tb","title":"A"} {}`, 400, "bad_request"},
		{"too large", "POST", "/api/v1/organizations/import", e.Key, "text/csv", "org_ref,org_name,contact_email\n" + strings.Repeat("a,b,c@d.example\n", 1000), 413, "too_large"},
		{"unsupported type", "POST", "/api/v1/organizations/import", e.Key, "application/pdf", "x", 415, "unsupported"},
		{"unknown route", "GET", "/api/v1/nothing", e.Key, "", "", 404, "not_found"},
		{"wrong method", "PUT", "/api/v1/incidents", e.Key, "", "", 405, "method_not_allowed"},
	}
	for _, c := range cases {
		status, body := do(c.method, c.path, c.key, c.ctype, strings.NewReader(c.body))
		if status != c.status || errCode(body) != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.name, status, body, c.status, c.code)
		}
	}
	// A body of unknown length (chunked) on an action that takes none is
	// read, not ignored.
	if status, body := do("POST", "/api/v1/waves/999/pause", e.Key, "application/json", io.MultiReader(strings.NewReader(`{"force":true}`))); status != 400 || errCode(body) != "bad_request" {
		t.Errorf("chunked body on pause: %d %v, want 400 bad_request", status, body)
	}
	if status, body := do("POST", "/api/v1/waves/999/pause", e.Key, "application/json", io.MultiReader(strings.NewReader(" \n"))); status != 404 || errCode(body) != "not_found" {
		t.Errorf("chunked empty body on pause: %d %v, want 404 not_found", status, body)
	}
	if status, _ := do("GET", "/healthz", "", "", nil); status != 200 {
		t.Errorf("healthz = %d", status)
	}
	if status, _ := do("GET", "/readyz", "", "", nil); status != 200 {
		t.Errorf("readyz = %d", status)
	}
}

func TestMetricsAndMailbox(t *testing.T) {
	t.Parallel()
	// The default sink: the embedded mailbox stores messages in PostgreSQL.
	cfg := config.Default()
	cfg.DatabaseURL = testdb.URL(t)
	cfg.HTTPAddr, cfg.CaptureAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.AllowInsecurePublicURL = true
	ctx := context.Background()
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	key, _, _ := a.Service.CreateAPIKey(ctx, notifier.LocalActor("t"), "t", notifier.RoleViewer)
	opKey, _, _ := a.Service.CreateAPIKey(ctx, notifier.LocalActor("t"), "op", notifier.RoleOperator)
	e := &apptest.Env{App: a, Client: apiclient.New(a.URL(), opKey)}
	e.LaunchInitial(t, e.LoadSample(t, "mbox"))

	// Captured messages hold live links: admins only (the access matrix
	// is TestMailboxAccessMatrix).
	adminKey, _, _ := a.Service.CreateAPIKey(ctx, notifier.LocalActor("t"), "admin", notifier.RoleAdmin)
	admin := apiclient.New(a.URL(), adminKey)
	msgs, err := admin.Mailbox(ctx, 100)
	if err != nil || len(msgs) != 12 {
		t.Fatalf("mailbox = %d messages, %v; want 12", len(msgs), err)
	}
	raw, err := admin.MailboxMessage(ctx, msgs[0].ID)
	if err != nil || !bytes.Contains(raw, []byte(msgs[0].MessageID)) {
		t.Fatalf("raw message: %v", err)
	}
	viewer := apiclient.New(a.URL(), key)
	if _, err := viewer.Mailbox(ctx, 100); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("viewer listed the mailbox: %v", err)
	}
	if _, err := viewer.PlanWave(ctx, "mbox", templates.KindInitial); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("viewer planned a wave: %v", err)
	}

	resp, err := http.Get(a.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`breachnotify_deliveries_total{kind="initial",status="sent"} 12`, "breachnotify_smtp_send_duration_seconds_count 12"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestServeRefusesAnOutdatedSchema(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.DatabaseURL = testdb.URL(t)
	quiet := app.Options{Logger: slog.New(slog.DiscardHandler), NoWorkers: true}
	a, err := app.New(context.Background(), cfg, quiet)
	if err != nil {
		t.Fatal(err) // migrated: fine
	}
	a.Pool.Close()
	// Only the owner may touch migrate's bookkeeping.
	owner, err := pgx.Connect(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(context.Background())
	if _, err := owner.Exec(context.Background(), "DELETE FROM schema_migrations WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	_, err = app.New(context.Background(), cfg, quiet)
	if !errors.Is(err, migrations.ErrOutdated) || !strings.Contains(err.Error(), "breachnotify migrate") {
		t.Fatalf("err = %v, want ErrOutdated telling to run migrate", err)
	}
}

// TestServeRefusesAnHTTPPublicURL: a process refuses to serve or send
// with an http public URL, naming both variables, unless the development
// switch allows it; building one (as apikey does) needs neither.
func TestServeRefusesAnHTTPPublicURL(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.DatabaseURL = testdb.URL(t)
	cfg.HTTPAddr, cfg.CaptureAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.PublicURL = "http://notify.example.com"
	ctx := context.Background()
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "BREACHNOTIFY_PUBLIC_URL") || !strings.Contains(err.Error(), "BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL=true") {
		t.Errorf("Start with an http public URL: %v, want a refusal naming both variables", err)
	}
	_ = a.Stop(ctx)
	cfg.AllowInsecurePublicURL = true
	if a, err = app.New(ctx, cfg, app.Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Errorf("Start allowed for development: %v", err)
	}
	if err := a.Stop(ctx); err != nil {
		t.Error(err)
	}
}

func countTo(e *apptest.Env, rcpt string) int {
	n := 0
	for _, m := range e.Mailbox.Messages() {
		if m.Recipients[0] == rcpt {
			n++
		}
	}
	return n
}

func findDelivery(t *testing.T, e *apptest.Env, waveID int64, rcpt string) notifier.Delivery {
	t.Helper()
	ds, err := e.App.Store.WaveDeliveries(context.Background(), waveID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Recipient == rcpt {
			return d
		}
	}
	t.Fatalf("no delivery to %s", rcpt)
	return notifier.Delivery{}
}

// TestWaveThroughMailpit sends a whole wave to Mailpit, an SMTP server the
// project did not write, over STARTTLS with SMTP AUTH.
func TestWaveThroughMailpit(t *testing.T) {
	t.Parallel()
	mp := apptest.StartMailpit(t)
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		s, err := config.ParseSMTPURL("smtp://notifier:secret@" + mp.SMTPAddr + "?tls=starttls&tls_skip_verify=true")
		if err != nil {
			t.Fatal(err)
		}
		c.SMTP = s
	}})
	w := e.LaunchInitial(t, e.LoadSample(t, "mailpit"))
	if w.Deliveries[notifier.DeliverySent] != 12 {
		t.Fatalf("wave = %+v, want 12 sent", w.Deliveries)
	}
	msgs, err := mp.Messages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range msgs {
		for _, to := range m.To {
			got[to.Address]++
		}
		// Each contact gets its own language (de, fr here): the subject,
		// accents and all, must arrive naming the organization and the code.
		if len(m.To) != 1 || !strings.Contains(m.Subject, batch1Recipients[m.To[0].Address]) || !strings.Contains(m.Subject, "[BN-") {
			t.Errorf("subject %q does not name the organization and the reference", m.Subject)
		}
	}
	for rcpt := range batch1Recipients {
		if got[rcpt] != 1 {
			t.Errorf("mailpit has %d messages to %s, want 1", got[rcpt], rcpt)
		}
	}
}

// TestStopMidWaveLosesNothing stops the service while a wave is sending
// slowly, then starts another process on the same database: every contact
// ends up with the notice, and at most one flush interval is sent twice.
func TestStopMidWaveLosesNothing(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	useDB := func(c *config.Config) { c.DatabaseURL = url }
	first := apptest.Start(t, apptest.Options{Configure: useDB})
	for rcpt := range batch1Recipients {
		first.Replies.Always(rcpt, capture.StepRcpt, capture.Fault{Delay: 150 * time.Millisecond})
	}
	slug := first.LoadSample(t, "stop")
	ctx := context.Background()
	plan, err := first.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	for len(first.Mailbox.Messages()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond) // less than the wave needs
	_ = first.App.Stop(sctx)
	cancel()
	second := apptest.Start(t, apptest.Options{Configure: useDB})
	w, err := second.Client.WaitWave(ctx, plan.ID, 50*time.Millisecond, nil)
	if err != nil || w.Deliveries[notifier.DeliverySent] != 12 {
		t.Fatalf("after restart: %+v, %v; want all 12 sent", w, err)
	}
	got := map[string]int{}
	total := 0
	for _, m := range append(first.Mailbox.Messages(), second.Mailbox.Messages()...) {
		got[m.Recipients[0]]++
		total++
	}
	for rcpt := range batch1Recipients {
		if got[rcpt] < 1 {
			t.Errorf("%s never received the notice", rcpt)
		}
	}
	if dup := total - 12; dup > delivery.MaxUnrecordedDefault {
		t.Errorf("%d duplicates, want at most %d", dup, delivery.MaxUnrecordedDefault)
	}
	t.Logf("first process sent %d, second %d", len(first.Mailbox.Messages()), len(second.Mailbox.Messages()))
}
