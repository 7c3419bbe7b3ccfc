package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"html"
	"mime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
	"github.com/breachnotify/breachnotify/templates"
)

// TestMinimalDisclosureNotices runs a campaign under "disclosure: minimal"
// through the real mailbox: the plan's sample and every message, in every
// locale of the sample data, text and HTML, carry the reference code, the
// verify address and the portal link, and nothing of the incident, the
// items' subjects or their secret types; a policy changed after planning
// makes the launch refuse; reminders tell no more than their notice, even
// once the policy is full again; the report says "minimal" for each.
func TestMinimalDisclosureNotices(t *testing.T) {
	t.Parallel()
	clock := &movableClock{}
	e := apptest.Start(t, apptest.Options{Clock: func(base notifier.Clock) notifier.Clock { clock.base = base; return clock }})
	ctx := context.Background()
	const slug = "minimal"
	const title = "Exchange mailboxes read by APT-29"
	const summary = "The attacker exported the support mailboxes."
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: slug, Title: title, Summary: summary}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ImportOrganizations(ctx, bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	// Both batches before the first wave: every organization, Proseware
	// (ja) too, gets an initial notice.
	for _, f := range []string{sampledata.ExposuresBatch1, sampledata.ExposuresBatch2} {
		if _, err := e.Client.ImportExposures(ctx, slug, bytes.NewReader(sampledata.File(f)), notifier.FormatCSV); err != nil {
			t.Fatal(err)
		}
	}
	// What no minimal message may show: the incident, every item's
	// subject and reference, every secret type.
	forbidden := []string{title, "APT-29", summary, "exported the support"}
	for _, f := range []string{sampledata.ExposuresBatch1, sampledata.ExposuresBatch2} {
		rows, err := csv.NewReader(bytes.NewReader(sampledata.File(f))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows[1:] {
			forbidden = append(forbidden, r[1], r[4], r[5])
			for _, st := range strings.Split(r[6], ";") {
				// "password" is an everyday word ("We will never ask you
				// for a password"); the others name what leaked.
				if st != "" && st != "password" {
					forbidden = append(forbidden, st, templates.SecretLabel("en", st))
				}
			}
		}
	}
	check := func(what, subject, text, htmlPart string) {
		t.Helper()
		for _, part := range []string{subject, text, html.UnescapeString(htmlPart)} {
			for _, f := range forbidden {
				if f != "" && strings.Contains(part, f) {
					t.Errorf("%s shows %q", what, f)
				}
			}
		}
	}

	if st, b := call(t, e, "PATCH", "/api/v1/incidents/"+slug, e.Key, map[string]any{"policy": map[string]any{"disclosure": "partial"}}); st != 422 || !strings.Contains(string(b), `"disclosure"`) {
		t.Fatalf("an unknown disclosure: %d %s, want 422 naming the field", st, b)
	}
	setPolicy(t, e, slug, map[string]any{"disclosure": "minimal"})
	plan, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Disclosure != notifier.DisclosureMinimal || plan.Sample == nil {
		t.Fatalf("plan: disclosure %q, sample %v", plan.Disclosure, plan.Sample)
	}
	check("the plan's sample", plan.Sample.Subject, plan.Sample.Text, plan.Sample.HTML)
	if !strings.Contains(plan.Sample.Text, "http://notify.test/verify") {
		t.Errorf("the sample lacks the verify address:\n%s", plan.Sample.Text)
	}

	// Planned minimal, the policy now full: the launch refuses.
	setPolicy(t, e, slug, map[string]any{"disclosure": "full"})
	st, b := call(t, e, "POST", "/api/v1/waves/"+strconv.FormatInt(plan.ID, 10)+"/launch", e.Key, nil)
	if st != 409 || !strings.Contains(string(b), "disclosure") {
		t.Fatalf("launch under another disclosure: %d %s, want 409 naming the disclosure", st, b)
	}
	setPolicy(t, e, slug, map[string]any{"disclosure": "minimal"})
	if _, err := e.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatalf("launch under the planned disclosure: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := e.Client.WaitWave(wctx, plan.ID, 50*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}

	// The policy goes back to full; the reminders still tell no more
	// than the notice they chase.
	setPolicy(t, e, slug, map[string]any{"disclosure": "full"})
	clock.set(49 * time.Hour)
	if r, err := e.App.Service.RunReminders(ctx); err != nil || r.Reminded == 0 {
		t.Fatalf("reminders: %+v, %v", r, err)
	}
	waitSettled(t, e, slug)

	msgs := e.Mailbox.Messages()
	locales := map[string]bool{}
	reminders := 0
	for _, m := range msgs {
		p := apptest.Parse(t, m.Raw)
		subject := p.Header.Get("Subject")
		if dec, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
			subject = dec
		}
		what := "the message to " + m.Recipients[0] + " (" + subject + ")"
		check(what, subject, p.Text, p.HTML)
		ref := p.Header.Get("X-Breachnotify-Reference")
		for _, part := range []string{subject, p.Text, p.HTML} {
			if ref == "" || !strings.Contains(part, ref) {
				t.Errorf("%s: a part lacks the reference code %q", what, ref)
			}
			if part != subject && !strings.Contains(part, "http://notify.test/verify") {
				t.Errorf("%s: a part lacks the verify address", what)
			}
		}
		if !strings.Contains(p.Text, "http://notify.test/ack/") || !strings.Contains(p.HTML, `href="http://notify.test/ack/`) {
			t.Errorf("%s: no acknowledgement link", what)
		}
		if strings.Contains(p.Text, "http://notify.test/portal") {
			locales[langOf(p.HTML)] = true
		}
		if strings.HasPrefix(subject, "Reminder") || strings.HasPrefix(subject, "Erinnerung") || strings.HasPrefix(subject, "Rappel") || strings.HasPrefix(subject, "【ご確認") {
			reminders++
		}
	}
	// Whoever has the mail has its links: the acknowledgement and verify
	// pages of a minimal notice do not name the incident either.
	first := apptest.Parse(t, msgs[0].Raw)
	m := ackLink.FindStringSubmatch(first.Text)
	if m == nil {
		t.Fatalf("no acknowledgement link in:\n%s", first.Text)
	}
	v := newVisitor(t, e)
	for _, path := range []string{m[1], "/verify?code=" + first.Header.Get("X-Breachnotify-Reference")} {
		st, page, _ := v.do("GET", path, nil)
		if st != 200 || !strings.Contains(page, "Acknowledge") && !strings.Contains(page, "Genuine") {
			t.Errorf("GET %s: %d\n%s", path, st, page)
		}
		check("the page "+path, "", page, "")
	}
	for _, loc := range []string{"en", "de", "fr", "ja"} {
		if !locales[loc] {
			t.Errorf("no minimal message in %s with the portal link (got %v)", loc, locales)
		}
	}
	if reminders == 0 {
		t.Error("no reminder was checked")
	}

	// The report says what was sent, not what the policy says now.
	report := reportRows(t, e, slug)
	kinds := map[string]int{}
	for _, r := range report {
		kinds[r.NoticeKind]++
		if r.Disclosure != notifier.DisclosureMinimal {
			t.Errorf("report row %d (%s to %s): disclosure %q, want minimal", r.DeliveryID, r.NoticeKind, r.ContactEmail, r.Disclosure)
		}
	}
	if len(report) != len(msgs) || kinds["initial"] == 0 || kinds["reminder"] == 0 {
		t.Errorf("report: %d rows (%v) for %d messages", len(report), kinds, len(msgs))
	}
	var buf bytes.Buffer
	if err := e.Client.Report(ctx, slug, "csv", &buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], "disclosure")
	if col < 0 || len(rows) < 2 || rows[1][col] != "minimal" {
		t.Errorf("CSV report: header %v, first row %v", rows[0], rows[min(1, len(rows)-1)])
	}
}

// TestFullDisclosureIsTheDefault: a new incident's notices tell
// everything, as before the policy existed, and the report says so.
func TestFullDisclosureIsTheDefault(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	slug := e.LoadSample(t, "full")
	inc, err := e.Client.Incident(ctx, slug)
	if err != nil || inc.Policy.Disclosure != notifier.DisclosureFull {
		t.Fatalf("a new incident's disclosure: %q, %v", inc.Policy.Disclosure, err)
	}
	e.LaunchInitial(t, slug)
	msgs := messagesTo(t, e, "soc@contoso.example")
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Tenant migration plan") || !strings.Contains(msgs[0].Text, "Mail breach") {
		t.Fatalf("the full notice does not tell the items and the incident: %d messages", len(msgs))
	}
	// An upload that could not render a minimal notice is refused: any
	// incident may switch to minimal disclosure.
	st, b := call(t, e, "POST", "/api/v1/templates", e.Key, templateBody(t, templates.KindInitial, "en", func(s *templates.Source) {
		s.Subject = "{{(index .Notice.Items 0).Subject}} [{{.Notice.Reference}}]"
	}))
	if st != 422 || !strings.Contains(string(b), "minimal-disclosure") || !strings.Contains(string(b), `"subject"`) {
		t.Errorf("upload of a template that fails on minimal notices: %d %s", st, b)
	}
	var buf bytes.Buffer
	if err := e.Client.Report(ctx, slug, "json", &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"disclosure":"full"`) || strings.Contains(buf.String(), `"disclosure":"minimal"`) {
		t.Errorf("the report does not say full: %.400s", buf.String())
	}
}

// langOf is the lang attribute of an HTML message.
func langOf(h string) string {
	_, rest, ok := strings.Cut(h, `<html lang="`)
	if !ok {
		return ""
	}
	lang, _, _ := strings.Cut(rest, `"`)
	return lang
}

// TestFollowUpTakesThePolicyOfItsTime: notices launched minimal stay
// minimal in the report after the policy turns full, and the automatic
// follow-up made after that change is full (it tells the new items).
func TestFollowUpTakesThePolicyOfItsTime(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	slug := e.LoadSample(t, "follow-disclosure")
	setPolicy(t, e, slug, map[string]any{"disclosure": "minimal", "follow_up_window": "1s"})
	e.LaunchInitial(t, slug)
	if msgs := messagesTo(t, e, "soc@contoso.example"); len(msgs) != 1 || strings.Contains(msgs[0].Text, "Tenant migration plan") {
		t.Fatalf("the minimal initial notice: %d messages or it lists an item", len(msgs))
	}
	setPolicy(t, e, slug, map[string]any{"disclosure": "full"})
	if _, err := e.Client.ImportExposures(ctx, slug, bytes.NewReader(sampledata.File(sampledata.ExposuresBatch2)), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follow-up to contoso", func() bool { return len(messagesTo(t, e, "soc@contoso.example")) == 2 })
	waitSettled(t, e, slug)
	if follow := messagesTo(t, e, "soc@contoso.example")[1]; !strings.Contains(follow.Text, "Break-glass account") {
		t.Errorf("the follow-up planned under the full policy does not list the new items:\n%s", follow.Text)
	}
	report := reportRows(t, e, slug)
	seen := map[string]bool{}
	for _, r := range report {
		want := notifier.DisclosureMinimal
		if r.NoticeKind == string(templates.KindFollowUp) {
			want = notifier.DisclosureFull
		}
		seen[r.NoticeKind] = true
		if r.Disclosure != want {
			t.Errorf("report: %s to %s says %q, want %q", r.NoticeKind, r.ContactEmail, r.Disclosure, want)
		}
	}
	if !seen["initial"] || !seen["follow_up"] {
		t.Errorf("report kinds %v, want initial and follow_up rows", seen)
	}
	// The notices say it too.
	notices, err := e.App.Service.Notices(ctx, notifier.LocalActor("t"), slug, notifier.NoticeFilter{}, notifier.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notices.Items {
		if want := n.Kind == templates.KindFollowUp; (n.Disclosure == notifier.DisclosureFull) != want {
			t.Errorf("notice %d (%s): disclosure %q", n.ID, n.Kind, n.Disclosure)
		}
	}
}

// reportRows reads the incident's proof-of-notification report as JSON.
func reportRows(t *testing.T, e *apptest.Env, slug string) []notifier.ReportRow {
	t.Helper()
	var buf bytes.Buffer
	if err := e.Client.Report(context.Background(), slug, "json", &buf); err != nil {
		t.Fatal(err)
	}
	var report struct {
		Rows []notifier.ReportRow `json:"rows"`
	}
	if err := json.Unmarshal(buf.Bytes(), &report); err != nil {
		t.Fatal(err)
	}
	return report.Rows
}
