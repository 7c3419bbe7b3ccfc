package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

// cli runs verbs against one server with one key, as the binary would
// with BREACHNOTIFY_URL and BREACHNOTIFY_API_KEY set.
type cli struct {
	t        *testing.T
	url, key string
	// configure, when set, adjusts the CLI's configuration (the audit key).
	configure func(*config.Config)
}

// result is one run: its exit code and what it printed.
type result struct {
	code        int
	out, errOut string
}

func (c cli) run(args ...string) result {
	c.t.Helper()
	cfg := config.Default()
	cfg.URL, cfg.APIKey = c.url, c.key
	if c.configure != nil {
		c.configure(cfg)
	}
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, loadConfig: func() (*config.Config, error) { return cfg, nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, e, args)
	return result{code, out.String(), errOut.String()}
}

// ok runs a verb that must succeed and returns its standard output.
func (c cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("%v exited %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.out, r.errOut)
	}
	return r.out
}

// json runs a verb with --json and decodes its output into v.
func (c cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("%v --json printed %q: %v", args, out, err)
	}
}

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// matches checks got against regular expressions, for aligned tables
// whose column widths are not the test's business.
func matches(t *testing.T, what, got string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(got) {
			t.Errorf("%s does not match %q:\n%s", what, p, got)
		}
	}
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readCSV(t *testing.T, data string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("report is not CSV: %v\n%s", err, data)
	}
	return recs
}

// TestCLICampaign runs a whole campaign through the verbs: incident,
// imports, plan, launch, watch, report and audit.
func TestCLICampaign(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t, apptest.Options{})
	c := cli{t, srv.App.URL(), srv.Key, nil}
	dir := t.TempDir()
	orgs := writeFile(t, dir, "orgs.csv", sampledata.File(sampledata.Organizations))
	batch := writeFile(t, dir, "batch1.CSV", sampledata.File(sampledata.ExposuresBatch1))
	bad := writeFile(t, dir, "bad.csv", bytes.Replace(sampledata.File(sampledata.Organizations), []byte("ciso@contoso.example"), []byte("ciso-at-contoso"), 1))
	asText := writeFile(t, dir, "orgs.txt", sampledata.File(sampledata.Organizations))

	out := c.ok("incident", "create", "--slug", "mail-2024", "--title", "Mail breach", "--summary", "Mailboxes were read.\nAccess revoked.")
	matches(t, "incident create", out, `INCIDENT\s+mail-2024`, `title\s+Mail breach`, `summary\s+Mailboxes were read. Access revoked.`, `approval\s+not required`)
	matches(t, "incident list", c.ok("incident", "list"), `ID\s+SLUG\s+TITLE`, `\d+\s+mail-2024\s+Mail breach\s+not required`)
	var incidents notifier.ListResult[notifier.Incident]
	c.json(&incidents, "incident", "list")
	if len(incidents.Items) != 1 || incidents.Items[0].Slug != "mail-2024" {
		t.Errorf("incident list --json = %+v", incidents)
	}
	var inc notifier.Incident
	c.json(&inc, "incident", "show", "mail-2024")
	if inc.Title != "Mail breach" || inc.Summary != "Mailboxes were read.\nAccess revoked." {
		t.Errorf("incident show --json = %+v", inc)
	}
	contains(t, "incident show by id", c.ok("incident", "show", "1"), "mail-2024")

	// A bad row rejects the whole file, and says where.
	r := c.run("org", "import", bad)
	if r.code != 1 {
		t.Errorf("bad import exited %d, want 1", r.code)
	}
	contains(t, "bad import stderr", r.errOut, "import rejected", "line 3, field contact_email:")

	var imported notifier.OrgImportResult
	c.json(&imported, "org", "import", orgs)
	if imported.Contacts.Created != 13 || imported.Organizations.Created == 0 {
		t.Errorf("org import --json = %+v, want 13 contacts created", imported)
	}
	// --format overrides the extension; the same rows again change nothing.
	matches(t, "org re-import", c.ok("org", "import", asText, "--format", "csv"), `organizations\s+0\s+0`, `contacts\s+0\s+0`)
	ndjson := writeFile(t, dir, "more.jsonl", []byte(`{"org_ref":"newco","org_name":"NewCo","contact_email":"sec@newco.example"}`+"\n"))
	matches(t, "NDJSON org import", c.ok("org", "import", ndjson), `organizations\s+1\s+0`, `contacts\s+1\s+0`)
	matches(t, "exposure import", c.ok("exposure", "import", "mail-2024", batch), `BATCH\s+NEW ITEMS\s+DUPLICATES\s+ORGANIZATIONS`, `\d+\s+12\s+0\s+7`)

	out = c.ok("wave", "plan", "mail-2024")
	matches(t, "wave plan", out, `organizations\s+7`, `notices\s+7`, `deliveries\s+12`, `approval\s+not needed`,
		`to\s+.*<\S+@\S+>`, `subject\s+\S+`, `Next: breachnotify wave launch \d+`)
	var waves notifier.ListResult[notifier.Wave]
	c.json(&waves, "wave", "list", "mail-2024")
	if len(waves.Items) != 1 || waves.Items[0].Status != notifier.WavePlanned {
		t.Fatalf("wave list --json = %+v", waves)
	}
	id := waves.Items[0].ID
	wid := strconv.FormatInt(id, 10)

	out = c.ok("wave", "launch", wid)
	matches(t, "wave launch", out, `status\s+running|status\s+completed`, `idempotency key: cli-\S+`)
	// The same key again replays the first reply rather than launching anew.
	first := c.ok("wave", "launch", wid, "--idempotency-key", "ticket-42", "--json")
	if again := c.ok("wave", "launch", wid, "--idempotency-key", "ticket-42", "--json"); again != first {
		t.Errorf("repeat with the same key replied\n%s\nnot\n%s", again, first)
	}

	out = c.ok("wave", "status", wid, "--watch", "--interval", "50ms")
	if !strings.Contains(out, "[####################] 100%") || !strings.Contains(out, "sent=12 failed=0") {
		t.Errorf("watch never showed the wave done:\n%s", out)
	}
	if strings.Contains(out, "\r") {
		t.Errorf("watch redrew lines on a non-terminal:\n%q", out)
	}
	matches(t, "watch final table", out[strings.LastIndex(out, "\nWAVE"):], `WAVE\s+\d+`, `status\s+completed`, `deliveries\s+12, 12 final \(100%\)`, `sent\s+12`)
	var w notifier.Wave
	c.json(&w, "wave", "status", wid)
	if w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliverySent] != 12 {
		t.Errorf("wave status --json = %+v", w)
	}
	matches(t, "wave list", c.ok("wave", "list"), `\d+\s+1\s+initial\s+completed\s+7\s+12\s+100%\s+12\s+0`)

	// The report: a header and one row per delivery, in either format.
	recs := readCSV(t, c.ok("report", "mail-2024"))
	if len(recs) != 13 || recs[0][0] != "org_ref" || recs[0][2] != "contact_email" {
		t.Errorf("CSV report has %d records, header %v; want a header and 12 rows", len(recs), recs[0])
	}
	var report struct {
		Incident string               `json:"incident"`
		Rows     []notifier.ReportRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(c.ok("report", "mail-2024", "--format", "json")), &report); err != nil || len(report.Rows) != 12 || report.Incident != "mail-2024" {
		t.Errorf("JSON report: %v, %d rows", err, len(report.Rows))
	}
	reportDir := t.TempDir()
	file := filepath.Join(reportDir, "proof.csv")
	r = c.run("report", "--output", file, "mail-2024")
	if r.code != 0 || r.out != "" {
		t.Fatalf("report --output: %d %q %q", r.code, r.out, r.errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if recs := readCSV(t, string(data)); len(recs) != 13 {
		t.Errorf("report file has %d records, want 13", len(recs))
	}
	if entries, _ := os.ReadDir(reportDir); len(entries) != 1 {
		t.Errorf("report left files behind: %v", entries)
	}
	if r := c.run("report", "no-such-incident", "--output", filepath.Join(reportDir, "x.csv")); r.code != exitNotFound || !strings.Contains(r.errOut, "not_found") {
		t.Errorf("report of an unknown incident: %d %q", r.code, r.errOut)
	}
	if entries, _ := os.ReadDir(reportDir); len(entries) != 1 {
		t.Errorf("a failed report left files behind: %v", entries)
	}

	matches(t, "audit list", c.ok("audit", "list"), `ID\s+AT\s+ACTOR\s+ACTION\s+TARGET\s+HASH`, `wave\.launch\s+wave \d+`, `report\.export\s+incident mail-2024`)
	var audit notifier.ListResult[notifier.AuditEntry]
	c.json(&audit, "audit", "list", "--action", "wave.launch")
	if len(audit.Items) == 0 {
		t.Error("audit list --action wave.launch found nothing")
	}
	for _, a := range audit.Items {
		if a.Action != "wave.launch" {
			t.Errorf("audit list --action wave.launch listed %s", a.Action)
		}
	}
	c.json(&audit, "audit", "list", "--limit", "2")
	if len(audit.Items) != 2 {
		t.Errorf("audit list --limit 2 listed %d", len(audit.Items))
	}

	// A later batch: organizations already told are skipped, with why.
	batch2 := c.ok("exposure", "import", "mail-2024", writeFile(t, dir, "batch2.csv", sampledata.File(sampledata.ExposuresBatch2)))
	matches(t, "batch 2 import", batch2, `(?m)^follow-ups +2 \(told before: a follow-up is scheduled\): contoso, fabrikam$`,
		`(?m)^awaiting initial +1 \(never told: the next initial wave takes them\): proseware$`)
	matches(t, "second plan", c.ok("wave", "plan", "mail-2024"), `organizations\s+1`, `skipped\s+7`,
		`Skipped organizations: 7\n +REASON +COUNT\n +already_notified +7\n\nORG\s+NAME\s+REASON\n`, `contoso\s+Contoso Ltd\s+already_notified`, `to\s+.*<infosec@proseware.example>`)

	// This CLI lacks the key the server derives from the secret in its
	// database: it checks how the entries link and says so.
	out = c.ok("audit", "verify")
	matches(t, "audit verify", out, `client\s+ok \(\d+ keyed entries checked by their links only: their key is not here\)\s+\d+\s+[0-9a-f]{64}`,
		`server\s+ok\s+\d+\s+[0-9a-f]{64}`, `(?m)^bnaudit1:\d+:\d+:[0-9a-f]{64}:\d+:[0-9a-f]{64}$`)
	var v auditVerification
	c.json(&v, "audit", "verify")
	if !v.Client.OK || !v.Server.OK || v.Client.Entries < 5 || v.Client.Head != v.Server.Head {
		t.Errorf("audit verify --json = %+v", v)
	}
}

// TestCLIUsageAndMissingKey needs no server: usage mistakes are caught
// before any request (exit 2), a missing key before any connection.
func TestCLIUsageAndMissingKey(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: a verb that reached the network would
	// exit 6 (unreachable), not 2.
	c := cli{t, "http://127.0.0.1:1", "bn_test", nil}
	dir := t.TempDir()
	txt := writeFile(t, dir, "orgs.txt", []byte("org_ref\n"))
	for _, args := range [][]string{
		{"incident"},
		{"incident", "frobnicate"},
		{"incident", "show"},
		{"incident", "show", "a", "b"},
		{"incident", "create", "--slug", "x"},
		{"incident", "policy", "x"},
		{"incident", "list", "--bogus"},
		{"org", "import"},
		{"org", "import", txt},
		{"org", "import", "-"},
		{"org", "import", "x.csv", "--format", "xml"},
		{"exposure", "import", "x.csv"},
		{"wave", "plan"},
		{"wave", "status", "abc"},
		{"wave", "status", "0"},
		{"wave", "status", "1", "--interval", "0s"},
		{"wave", "launch", "1", "--idempotency-key="},
		{"wave", "list", "a", "b"},
		{"wave", "explode", "1"},
		{"report"},
		{"report", "x", "--format", "xml"},
		{"audit", "list", "--limit", "0"},
		{"audit", "verify", "extra"},
	} {
		if r := c.run(args...); r.code != 2 {
			t.Errorf("%q exited %d, want 2 (stderr %q)", args, r.code, r.errOut)
		}
	}

	r := c.run("incident", "list")
	if r.code != exitUnreachable || !strings.Contains(r.errOut, "BREACHNOTIFY_URL") {
		t.Errorf("unreachable server: exit %d, stderr %q", r.code, r.errOut)
	}

	noKey := cli{t, "http://127.0.0.1:1", "", nil}
	for _, args := range [][]string{{"incident", "list"}, {"wave", "status", "1"}, {"audit", "verify"}, {"report", "x"}} {
		r := noKey.run(args...)
		if r.code != exitAuth || !strings.Contains(r.errOut, "BREACHNOTIFY_API_KEY") || strings.Contains(r.errOut, "connection refused") {
			t.Errorf("%q without a key: exit %d, stderr %q", args, r.code, r.errOut)
		}
	}
	if !regexp.MustCompile(`(?m)^  wave +plan, approve`).MatchString(c.ok("help")) {
		t.Error("usage does not list the IR verbs")
	}
	if !strings.Contains(c.ok("wave", "--help"), "status ID [--watch] [--interval 1s]") {
		t.Error("wave --help does not list the wave verbs")
	}
}

// TestCLIApprovalPauseResumeCancel drives a wave through every state
// change. Without workers a launched wave stays running, so pausing it is
// not a race with its completion.
func TestCLIApprovalPauseResumeCancel(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t, apptest.Options{NoWorkers: true})
	slug := srv.LoadSample(t, "approvals")
	admin := cli{t, srv.App.URL(), srv.Key, nil}
	second, _, err := srv.App.Service.CreateAPIKey(context.Background(), notifier.LocalActor("test"), "second operator", notifier.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	operator := cli{t, srv.App.URL(), second, nil}

	matches(t, "policy", admin.ok("incident", "policy", slug, "--require-approval=true"), `approval\s+required`)
	if r := operator.run("incident", "policy", slug, "--require-approval=false"); r.code != exitAuth || !strings.Contains(r.errOut, "forbidden") {
		t.Errorf("operator changed the policy: %d %q", r.code, r.errOut)
	}
	matches(t, "plan", admin.ok("wave", "plan", slug), `approval\s+needed`, `breachnotify wave approve \d+`)
	var plan notifier.ListResult[notifier.Wave]
	admin.json(&plan, "wave", "list")
	id := strconv.FormatInt(plan.Items[0].ID, 10)

	if r := admin.run("wave", "launch", id); r.code != exitConflict || !strings.Contains(r.errOut, "HTTP 409") {
		t.Errorf("launch before approval: %d %q", r.code, r.errOut)
	}
	if r := admin.run("wave", "approve", id); r.code != exitAuth || !strings.Contains(r.errOut, "HTTP 403") {
		t.Errorf("the planner approved its own wave: %d %q", r.code, r.errOut)
	}
	matches(t, "approve", operator.ok("wave", "approve", id), `status\s+approved`, `approved by key\s+\d+`)
	matches(t, "launch", admin.ok("wave", "launch", id), `status\s+running`, `queued\s+12`)
	matches(t, "pause", admin.ok("wave", "pause", id), `status\s+paused`)
	matches(t, "resume", admin.ok("wave", "resume", id), `status\s+running`)
	matches(t, "cancel", operator.ok("wave", "cancel", id), `status\s+cancelled`, `cancelled\s+12`, `deliveries\s+12, 12 final \(100%\)`)
	if r := admin.run("wave", "resume", id); r.code != exitConflict || !strings.Contains(r.errOut, "conflict") {
		t.Errorf("resumed a cancelled wave: %d %q", r.code, r.errOut)
	}
	// Watching a wave that has ended returns at once, with JSON lines.
	var w notifier.Wave
	admin.json(&w, "wave", "status", id, "--watch", "--interval", "50ms")
	if w.Status != notifier.WaveCancelled {
		t.Errorf("watch --json ended with %+v", w)
	}
	matches(t, "policy off", admin.ok("incident", "policy", slug, "--require-approval=false"), `approval\s+not required`)
	matches(t, "timings", admin.ok("incident", "policy", slug, "--auto-follow-up=false", "--reminder-after", "24h", "--max-reminders", "3"),
		`approval\s+not required`, `follow-ups\s+planned by hand`, `reminders\s+3, every 24h0m0s until acknowledged`)
	if r := admin.run("incident", "policy", slug, "--max-reminders", "11"); r.code != 1 || !strings.Contains(r.errOut, "max_reminders") {
		t.Errorf("an out-of-bounds policy was accepted: %d %q", r.code, r.errOut)
	}
	if r := admin.run("incident", "policy", slug); r.code != 2 || !strings.Contains(r.errOut, "at least one policy field") {
		t.Errorf("an empty policy change: %d %q", r.code, r.errOut)
	}
}

// TestCLIDisclosurePolicy sets an incident's notices to minimal
// disclosure: the incident and the plan say so, the sample names no
// incident, and an unknown value is refused naming the field.
func TestCLIDisclosurePolicy(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t, apptest.Options{NoWorkers: true})
	slug := srv.LoadSample(t, "disclosure")
	admin := cli{t, srv.App.URL(), srv.Key, nil}
	matches(t, "default", admin.ok("incident", "show", slug), `disclosure\s+full`)
	matches(t, "minimal", admin.ok("incident", "policy", slug, "--disclosure", "minimal"), `disclosure\s+minimal`)
	out := admin.ok("wave", "plan", slug)
	matches(t, "plan", out, `disclosure\s+minimal`, `subject\s+Security notice for \S+`)
	if strings.Contains(out, "Mail breach") {
		t.Errorf("the minimal sample names the incident:\n%s", out)
	}
	if r := admin.run("incident", "policy", slug, "--disclosure", "secret"); r.code != 1 || !strings.Contains(r.errOut, "disclosure") || !strings.Contains(r.errOut, "minimal") {
		t.Errorf("an unknown disclosure: %d %q", r.code, r.errOut)
	}
}

// TestCLIAuditVerifyFindsTampering rewrites the audit trail behind the
// server's back, as someone with database access but without the audit key
// could: both the downloaded chain and the server's own check must see it.
func TestCLIAuditVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	keyFile := writeFile(t, t.TempDir(), "audit.key", []byte("qGQ3B9kX1v0b7yJc2mW8rT5uZ4nE6aLsHdPfKgVxCo0=\n"))
	withKey := func(cfg *config.Config) {
		cfg.AuditKeyFile, cfg.AuditKeys = keyFile, [][]byte{[]byte("qGQ3B9kX1v0b7yJc2mW8rT5uZ4nE6aLsHdPfKgVxCo0=")}
	}
	srv := apptest.Start(t, apptest.Options{NoWorkers: true, Configure: withKey})
	srv.LoadSample(t, "tamper")
	c := cli{t, srv.App.URL(), srv.Key, withKey}
	out := c.ok("audit", "verify")
	matches(t, "audit verify", out, `client\s+ok\s`, `server\s+ok\s`)
	checkpoint := regexp.MustCompile(`bnaudit1:[0-9a-f:]+`).FindString(out)
	if checkpoint == "" {
		t.Fatalf("audit verify printed no checkpoint:\n%s", out)
	}
	// Without the key the CLI can check only how the entries link.
	keyless := cli{t, srv.App.URL(), srv.Key, nil}
	matches(t, "audit verify without the key", keyless.ok("audit", "verify"), `client\s+ok \(\d+ keyed entries checked by their links only`)

	// The tables refuse changes through triggers; a superuser session in
	// replica mode skips triggers. The test database's own role is not a
	// superuser, so connect to it as the server's admin user.
	dbURL, err := url.Parse(srv.App.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := url.Parse(testdb.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	admin.Path = dbURL.Path
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}

	// The last entry cut off, with every stored checkpoint: the rest is a
	// valid chain, and only the checkpoint kept from before tells.
	var last int64
	if err := conn.QueryRow(ctx, `DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log) RETURNING id`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM audit_checkpoints`); err != nil {
		t.Fatal(err)
	}
	c.ok("audit", "verify")
	r := c.run("audit", "verify", "--checkpoint", checkpoint)
	if r.code != 1 {
		t.Errorf("audit verify --checkpoint of a truncated chain exited %d\n%s%s", r.code, r.out, r.errOut)
	}
	cut := fmt.Sprintf("broken: entries after %d were removed: the checkpoint of ", last-1)
	contains(t, "audit verify --checkpoint stderr", r.errOut, "client check: "+cut, "server check: "+cut)
	if r := c.run("audit", "verify", "--checkpoint", "bnaudit1:nonsense"); r.code != 2 || !strings.Contains(r.errOut, "--checkpoint") {
		t.Errorf("a malformed checkpoint: %d %q", r.code, r.errOut)
	}

	var id int64
	if err := conn.QueryRow(ctx, `UPDATE audit_log SET details = '{"tampered":true}'
		WHERE id = (SELECT min(id) + 1 FROM audit_log) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	r = c.run("audit", "verify")
	if r.code != 1 {
		t.Errorf("audit verify of a tampered chain exited %d", r.code)
	}
	broken := "broken at entry " + strconv.FormatInt(id, 10) + ": its content does not match its MAC"
	contains(t, "audit verify stderr", r.errOut, "client check: "+broken, "server check: "+broken)
	matches(t, "audit verify stdout", r.out, `client\s+BROKEN at entry `+strconv.FormatInt(id, 10), `server\s+BROKEN at entry `+strconv.FormatInt(id, 10))
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	w := notifier.Wave{ID: 3, Status: notifier.WaveRunning, Deliveries: map[notifier.DeliveryStatus]int{
		notifier.DeliverySent: 6, notifier.DeliveryDeferred: 1, notifier.DeliveryQueued: 5,
	}}
	want := "[##########----------]  50%  sent=6 failed=0 deferred=1 queued=5 sending=0 bounced=0 suppressed=0 cancelled=0  wave 3 running"
	if got := progressLine(w); got != want {
		t.Errorf("progressLine =\n%q, want\n%q", got, want)
	}
	// Nothing to send and done is done, not 0%.
	if got := progressLine(notifier.Wave{ID: 4, Status: notifier.WaveCompleted}); !strings.HasPrefix(got, "[####################] 100%") {
		t.Errorf("empty completed wave: %q", got)
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
}
