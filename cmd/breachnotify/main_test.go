package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations/testdb"
)

func testEnv(t *testing.T) (*env, *bytes.Buffer, *bytes.Buffer) {
	cfg := config.Default()
	cfg.DatabaseURL = testdb.URL(t)
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LogLevel = "warn"
	var out, errOut bytes.Buffer
	return &env{stdout: &out, stderr: &errOut, loadConfig: func() (*config.Config, error) { return cfg, nil }}, &out, &errOut
}

func TestDemoOnce(t *testing.T) {
	t.Parallel()
	e, out, errOut := testEnv(t)
	// At INFO, the service logs every request (the demo polls every 200 ms):
	// they go to the log file, and the terminal shows the walkthrough.
	cfg, _ := e.loadConfig()
	cfg.LogLevel = "info"
	logPath := filepath.Join(t.TempDir(), "demo.log")
	if code := run(context.Background(), e, []string{"demo", "--once", "--log-file", logPath}); code != 0 {
		t.Fatalf("demo exited %d: %s\n%s", code, errOut, out)
	}
	got := out.String()
	t.Log(got)
	if strings.Contains(errOut.String(), "http request") || strings.Contains(got, "http request") {
		t.Errorf("request logs on the terminal:\n%s", errOut)
	}
	logged, err := os.ReadFile(logPath)
	if err != nil || !strings.Contains(string(logged), "http request") {
		t.Errorf("the log file lacks the service's INFO lines: %v", err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`The service's own log goes to ` + regexp.QuoteMeta(logPath)),
		regexp.MustCompile(`── step 1 of 6: create the incident\n`),
		regexp.MustCompile(`── step 6 of 6: collect the proof\n`),
		regexp.MustCompile(`The service's log of this run: ` + regexp.QuoteMeta(logPath) + `\n`),
		regexp.MustCompile(`follow-ups +automatic=true, window 2s`),
		regexp.MustCompile(`exposure batch 1 +12 new items over 7 organizations`),
		regexp.MustCompile(`wave 1 +completed in \S+: 7 notices; deliveries sent=12\n`),
		regexp.MustCompile(`POST answered 200 "Merci"`), // the recipient is French: the page speaks the notice's language
		regexp.MustCompile(`wave 1 +acknowledged 1, awaiting acknowledgement 6`),
		regexp.MustCompile(`follow_ups +contoso, fabrikam\n`),
		regexp.MustCompile(`awaiting_initial +proseware\n`),
		regexp.MustCompile(`follow-up waves +2 completed after \S+ \(waves \d+, \d+\); deliveries sent=5\n`),
		regexp.MustCompile(`wave \d+ +completed in \S+: 1 notice; deliveries sent=1\n`),
		regexp.MustCompile(`contact +secops@tailspin\.example is now bounced`),
		regexp.MustCompile(`unreachable +notice \d+ tailspin: secops@tailspin\.example bounced`),
		regexp.MustCompile(`report \(JSON\) +(\d+) rows`),
		regexp.MustCompile(`SHA-256 +[0-9a-f]{64}\n`),
		regexp.MustCompile(`audit chain +ok: \d+ entries`),
		regexp.MustCompile(`checkpoint +bnaudit1:\d+:\d+:[0-9a-f]{64}:\d+:[0-9a-f]{64}\n`),
		regexp.MustCompile(`verify page +http://\S+/verify\?code=BN-`),
		regexp.MustCompile(`/api/v1/mailbox`),
	} {
		if !want.MatchString(got) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	// Every delivery is in the report: 12 + 5 + 1.
	if m := regexp.MustCompile(`report \(JSON\) +(\d+) rows`).FindStringSubmatch(got); m != nil && m[1] != "18" {
		t.Errorf("report has %s rows, want 18", m[1])
	}
}

func TestMigrateTwiceAndAPIKey(t *testing.T) {
	t.Parallel()
	e, out, errOut := testEnv(t)
	if code := run(context.Background(), e, []string{"migrate"}); code != 0 || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("migrate on a migrated database: %d %q %q", code, out, errOut)
	}
	out.Reset()
	if code := run(context.Background(), e, []string{"apikey", "create", "--name", "ci", "--role", "viewer"}); code != 0 {
		t.Fatalf("apikey create: %d %s", code, errOut)
	}
	if key := strings.TrimSpace(out.String()); !strings.HasPrefix(key, "bn_") || strings.Contains(key, "\n") {
		t.Errorf("stdout = %q, want just the key", key)
	}
	if code := run(context.Background(), e, []string{"apikey", "create", "--name", "ci", "--role", "root"}); code == 0 {
		t.Error("accepted an unknown role")
	}
	if code := run(context.Background(), e, []string{"frobnicate"}); code != 2 {
		t.Errorf("unknown command exited %d, want 2", code)
	}

	// migrate status reads, changes nothing; migrate down is refused
	// before it connects.
	out.Reset()
	if code := run(context.Background(), e, []string{"migrate", "status", "-o", "json"}); code != 0 {
		t.Fatalf("migrate status: %d %s", code, errOut)
	}
	var st struct {
		Migrations []struct {
			Version int    `json:"version"`
			Name    string `json:"name"`
			Applied bool   `json:"applied"`
		} `json:"migrations"`
		Pending int  `json:"pending"`
		RiverOK bool `json:"river_ok"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || len(st.Migrations) < 20 || st.Pending != 0 || !st.RiverOK || !st.Migrations[0].Applied {
		t.Errorf("migrate status -o json = %+v %v\n%s", st, err, out)
	}
	out.Reset()
	if code := run(context.Background(), e, []string{"migrate", "status"}); code != 0 || !regexp.MustCompile(`\d+ applied, 0 pending; River: all applied`).MatchString(out.String()) {
		t.Errorf("migrate status: %d %s", code, out)
	}
	errOut.Reset()
	if code := run(context.Background(), e, []string{"migrate", "down"}); code != exitUsage || !strings.Contains(errOut.String(), "migrate down is refused") {
		t.Errorf("migrate down: exit %d %q", code, errOut)
	}
}

// TestMigrateWithRelayPurgesCaptures: a database that a development run
// captured messages into (with their live links) loses them at the first
// migrate with a relay configured, which says so and audits it.
func TestMigrateWithRelayPurgesCaptures(t *testing.T) {
	t.Parallel()
	e, _, errOut := testEnv(t)
	cfg, _ := e.loadConfig()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `INSERT INTO mailbox_messages (mail_from, recipients, raw)
		VALUES ('a@notify.example', '{b@contoso.example}', 'x'), ('a@notify.example', '{c@contoso.example}', 'y')`); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM mailbox_messages`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Without a relay the mailbox is the sender: migrate keeps it.
	cfg.LogLevel = "info"
	if code := run(ctx, e, []string{"migrate"}); code != 0 || count() != 2 {
		t.Fatalf("migrate while capturing: exit %d, %d messages left, want 2: %s", code, count(), errOut)
	}
	cfg.SMTP = &config.SMTP{Host: "relay.example", Port: 587, TLS: "starttls"}
	if code := run(ctx, e, []string{"migrate"}); code != 0 {
		t.Fatalf("migrate with a relay: exit %d: %s", code, errOut)
	}
	if n := count(); n != 0 {
		t.Errorf("%d captured messages left after migrate with a relay, want 0", n)
	}
	if !strings.Contains(errOut.String(), `msg="capture mailbox purged" count=2`) {
		t.Errorf("no purge log line with count=2: %s", errOut)
	}
	var actor, details string
	if err := pool.QueryRow(ctx, `SELECT actor_name, details::text FROM audit_log WHERE action = 'mailbox.purge'`).Scan(&actor, &details); err != nil ||
		!strings.HasPrefix(actor, "local command line (") || !strings.Contains(details, `"messages":2`) {
		t.Errorf("purge audit entry: %q %q %v", actor, details, err)
	}
}
