package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
)

// mailboxAudit is one audit entry about the capture mailbox.
type mailboxAudit struct {
	actor, action, targetID string
}

// mailboxAudits lists the trail's mailbox entries, oldest first.
func mailboxAudits(t *testing.T, e *apptest.Env) []mailboxAudit {
	t.Helper()
	rows, err := e.App.Pool.Query(context.Background(),
		`SELECT actor_name, action, target_id FROM audit_log WHERE action LIKE 'mailbox.%' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []mailboxAudit
	for rows.Next() {
		var a mailboxAudit
		if err := rows.Scan(&a.actor, &a.action, &a.targetID); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func capturedCount(t *testing.T, e *apptest.Env) int {
	t.Helper()
	var n int
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT count(*) FROM mailbox_messages`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMailboxAccessMatrix is the capture mailbox's access matrix: each
// role lists and reads it with the embedded mailbox as the sender, then
// again after a restart with a relay configured, on the same database.
// Captured messages carry live acknowledgement and sign-in links: only
// admins may read them, each list and read is audited, and once a relay
// is configured the messages are purged at start and the routes are gone.
func TestMailboxAccessMatrix(t *testing.T) {
	t.Parallel()
	// Capture mode. No workers: the messages are put in the database as
	// the embedded mailbox stores them.
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	ctx := context.Background()
	for i := range 2 {
		if err := e.App.Store.SaveCapturedMessage(ctx, notifier.CapturedMessage{MailFrom: "security-notice@notify.example",
			Recipients: []string{fmt.Sprintf("security%d@contoso.example", i)}, Subject: "Notice", MessageID: fmt.Sprintf("<m%d@notify.example>", i),
			Raw: []byte(fmt.Sprintf("Subject: Notice\r\nMessage-ID: <m%d@notify.example>\r\n\r\nAcknowledge: http://notify.test/ack/TOKEN%d\r\n", i, i))}); err != nil {
			t.Fatal(err)
		}
	}
	var msgID int64
	if err := e.App.Pool.QueryRow(ctx, `SELECT max(id) FROM mailbox_messages`).Scan(&msgID); err != nil {
		t.Fatal(err)
	}
	keys := map[notifier.Role]string{notifier.RoleAdmin: e.Key}
	for _, role := range []notifier.Role{notifier.RoleViewer, notifier.RoleOperator} {
		k, _, err := e.App.Service.CreateAPIKey(ctx, notifier.LocalActor("t"), string(role)+" key", role)
		if err != nil {
			t.Fatal(err)
		}
		keys[role] = k
	}
	list, read := "/api/v1/mailbox", "/api/v1/mailbox/"+strconv.FormatInt(msgID, 10)

	type cell struct {
		role   notifier.Role // "" sends no key
		path   string
		status int
		code   string
	}
	check := func(e *apptest.Env, mode string, cells []cell) {
		t.Helper()
		for _, c := range cells {
			st, body := call(t, e, "GET", c.path, keys[c.role], nil)
			got := ""
			if st != 200 {
				got = errCodeOf(body)
			}
			if st != c.status || got != c.code {
				t.Errorf("%s: %s GET %s = %d %q, want %d %q (%s)", mode, roleName(c.role), c.path, st, got, c.status, c.code, body)
			}
			if st == 200 && c.path == read && !bytes.Contains(body, []byte("/ack/TOKEN1")) {
				t.Errorf("%s: admin read the wrong message: %s", mode, body)
			}
			if st == 200 && c.path == list {
				var page notifier.ListResult[notifier.CapturedMessage]
				if err := json.Unmarshal(body, &page); err != nil || len(page.Items) != 2 {
					t.Errorf("%s: admin listed %s (%v), want 2 messages", mode, body, err)
				}
			}
		}
	}

	check(e, "capture mode", []cell{
		{"", list, 401, "unauthorized"},
		{"", read, 401, "unauthorized"},
		{notifier.RoleViewer, list, 403, "forbidden"},
		{notifier.RoleViewer, read, 403, "forbidden"},
		{notifier.RoleOperator, list, 403, "forbidden"},
		{notifier.RoleOperator, read, 403, "forbidden"},
		{notifier.RoleAdmin, list, 200, ""},
		{notifier.RoleAdmin, read, 200, ""},
		{notifier.RoleAdmin, "/api/v1/mailbox/999999", 404, "not_found"},
	})
	// Refused requests leave nothing; the admin's list and read one entry
	// each, the read naming the message.
	want := []mailboxAudit{{"apptest admin", "mailbox.list", ""}, {"apptest admin", "mailbox.read", strconv.FormatInt(msgID, 10)}}
	if got := mailboxAudits(t, e); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit after capture mode = %v, want %v", got, want)
	}
	if err := e.App.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// The same database, now with a relay: the captures are purged at
	// start (logged and audited), and the routes are gone for everyone.
	relay := apptest.StartRelay(t, capture.Options{})
	cfg := apptest.TestConfig(e.App.Config.DatabaseURL)
	relayURL, err := config.ParseSMTPURL(relay.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.SMTP = relayURL
	var logs lockedBuffer
	r := apptest.StartApp(t, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if n := capturedCount(t, r); n != 0 {
		t.Errorf("%d captured messages left after a start with a relay, want 0", n)
	}
	if !strings.Contains(logs.String(), `msg="capture mailbox purged" count=2`) {
		t.Errorf("no purge log line with count=2:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "CAPTURE MAILBOX") {
		t.Errorf("a process with a relay warns about capturing:\n%s", logs.String())
	}
	want = append(want, mailboxAudit{"breachnotify (start with a relay configured)", "mailbox.purge", ""})
	if got := mailboxAudits(t, r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit after the start with a relay = %v, want %v", got, want)
	}
	check(r, "relay mode", []cell{
		{"", list, 404, "not_found"},
		{"", read, 404, "not_found"},
		{notifier.RoleViewer, list, 404, "not_found"},
		{notifier.RoleViewer, read, 404, "not_found"},
		{notifier.RoleOperator, list, 404, "not_found"},
		{notifier.RoleOperator, read, 404, "not_found"},
		{notifier.RoleAdmin, list, 404, "not_found"},
		{notifier.RoleAdmin, read, 404, "not_found"},
	})
	if got := mailboxAudits(t, r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit after relay mode = %v, want %v (unchanged)", got, want)
	}
}

// TestCaptureModeWarnsAtStart checks the loud warning of a process that
// captures instead of delivering.
func TestCaptureModeWarnsAtStart(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	apptest.StartApp(t, apptest.TestConfig(testdb.URL(t)), app.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	out := logs.String()
	for _, want := range []string{"level=WARN", "CAPTURE MAILBOX", "no notice or sign-in email is delivered to anyone",
		"live acknowledgement and sign-in links", "readable by admins"} {
		if !strings.Contains(out, want) {
			t.Errorf("start log lacks %q:\n%s", want, out)
		}
	}
}

func roleName(r notifier.Role) string {
	if r == "" {
		return "no key:"
	}
	return string(r) + ":"
}

// errCodeOf is the code of an API error body.
func errCodeOf(body []byte) string {
	var b struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Error.Code
}
