package app_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
	"github.com/breachnotify/breachnotify/templates"
)

// movableClock is the database clock plus an offset the test moves.
type movableClock struct {
	base   notifier.Clock
	offset atomic.Int64
}

func (c *movableClock) Now(ctx context.Context) (time.Time, error) {
	t, err := c.base.Now(ctx)
	return t.Add(time.Duration(c.offset.Load())), err
}

func (c *movableClock) set(d time.Duration) { c.offset.Store(int64(d)) }

func setPolicy(t *testing.T, e *apptest.Env, slug string, policy map[string]any) {
	t.Helper()
	if st, b := call(t, e, "PATCH", "/api/v1/incidents/"+slug, e.Key, map[string]any{"policy": policy}); st != 200 {
		t.Fatalf("policy: %d %s", st, b)
	}
}

// messagesTo returns the parsed messages a recipient received, in order.
func messagesTo(t *testing.T, e *apptest.Env, rcpt string) []apptest.Parsed {
	var out []apptest.Parsed
	for _, m := range e.Mailbox.Messages() {
		if m.Recipients[0] == rcpt {
			out = append(out, apptest.Parse(t, m.Raw))
		}
	}
	return out
}

func msgID(p apptest.Parsed) string { return strings.Trim(p.Header.Get("Message-Id"), "<>") }

func itemRefs(t *testing.T, e *apptest.Env, noticeID int64) []string {
	t.Helper()
	n, err := e.App.Store.Notice(context.Background(), noticeID)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, it := range n.ItemList {
		refs = append(refs, it.ItemRef)
	}
	slices.Sort(refs)
	return refs
}

func TestFollowUpsTellOnlyWhatIsNew(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	slug := e.LoadSample(t, "follow")
	e.LaunchInitial(t, slug)
	setPolicy(t, e, slug, map[string]any{"follow_up_window": "1s"})

	res, err := e.Client.ImportExposures(ctx, slug, bytes.NewReader(sampledata.File(sampledata.ExposuresBatch2)), notifier.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if res.ItemsNew != 4 || res.ItemsDuplicate != 1 || !slices.Equal(res.FollowUps, []string{"contoso", "fabrikam"}) ||
		!slices.Equal(res.AwaitingInitial, []string{"proseware"}) {
		t.Fatalf("batch 2 = %+v", res)
	}
	waitFor(t, "two follow-up waves", func() bool {
		list, _ := e.App.Service.Waves(ctx, notifier.LocalActor("t"), slug, notifier.WaveFilter{}, notifier.Page{})
		done := 0
		for _, w := range list.Items {
			if w.Kind == templates.KindFollowUp && w.Status == notifier.WaveCompleted {
				done++
			}
		}
		return done == 2
	})
	notices, _ := e.App.Service.Notices(ctx, notifier.LocalActor("t"), slug, notifier.NoticeFilter{Kind: templates.KindFollowUp}, notifier.Page{})
	if len(notices.Items) != 2 {
		t.Fatalf("%d follow-up notices, want 2", len(notices.Items))
	}
	want := map[string][]string{"contoso": {"MSG-100004", "MSG-100005"}, "fabrikam": {"MSG-200003"}}
	for _, n := range notices.Items {
		if got := itemRefs(t, e, n.ID); !slices.Equal(got, want[n.OrgRef]) {
			t.Errorf("follow-up to %s covers %v, want %v", n.OrgRef, got, want[n.OrgRef])
		}
	}
	// Each contact of contoso and fabrikam got exactly one follow-up, in
	// reply to its own initial notice; nobody else got anything new.
	for rcpt := range batch1Recipients {
		msgs := messagesTo(t, e, rcpt)
		org := strings.Split(strings.Split(rcpt, "@")[1], ".")[0]
		wantN := 1
		if org == "contoso" || org == "fabrikam" {
			wantN = 2
		}
		if len(msgs) != wantN {
			t.Errorf("%s received %d messages, want %d", rcpt, len(msgs), wantN)
			continue
		}
		if wantN == 2 {
			initial, follow := msgs[0], msgs[1]
			if follow.Header.Get("In-Reply-To") != "<"+msgID(initial)+">" || !strings.Contains(follow.Header.Get("References"), msgID(initial)) {
				t.Errorf("%s: follow-up In-Reply-To %q References %q, want the initial %s", rcpt,
					follow.Header.Get("In-Reply-To"), follow.Header.Get("References"), msgID(initial))
			}
			if strings.Contains(follow.Text, "MSG-100002") || strings.Contains(follow.Text, "MSG-100001") {
				t.Errorf("%s: the follow-up repeats items already told", rcpt)
			}
		}
	}
	// Proseware waits for an initial notice, which the next wave sends.
	plan, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil || plan.Notices != 1 || plan.Deliveries != 1 {
		t.Errorf("next initial plan = %+v, %v; want proseware alone", plan, err)
	}
	// Re-importing the same batch schedules nothing.
	again, err := e.Client.ImportExposures(ctx, slug, bytes.NewReader(sampledata.File(sampledata.ExposuresBatch2)), notifier.FormatCSV)
	if err != nil || again.ItemsNew != 0 || len(again.FollowUps) != 0 {
		t.Errorf("re-import = %+v, %v; want nothing new and no follow-up", again, err)
	}
}

func TestBatchesInTheWindowMakeOneFollowUp(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	slug := e.LoadSample(t, "window")
	e.LaunchInitial(t, slug)
	setPolicy(t, e, slug, map[string]any{"follow_up_window": "2s"})
	for i := 1; i <= 3; i++ {
		res, err := e.Client.ImportExposures(ctx, slug, strings.NewReader(fmt.Sprintf("org_ref,item_ref,kind\ncontoso,NEW-%d,file\n", i)), notifier.FormatCSV)
		if err != nil || !slices.Equal(res.FollowUps, []string{"contoso"}) {
			t.Fatalf("batch %d = %+v, %v", i, res, err)
		}
	}
	waitFor(t, "the follow-up", func() bool { return len(messagesTo(t, e, "soc@contoso.example")) == 2 })
	notices, _ := e.App.Service.Notices(ctx, notifier.LocalActor("t"), slug, notifier.NoticeFilter{Kind: templates.KindFollowUp}, notifier.Page{})
	if len(notices.Items) != 1 || !slices.Equal(itemRefs(t, e, notices.Items[0].ID), []string{"NEW-1", "NEW-2", "NEW-3"}) {
		t.Fatalf("follow-ups = %+v, want one covering NEW-1..3", notices.Items)
	}
	// A manual follow-up wave has nothing left to send.
	plan, err := e.Client.PlanWave(ctx, slug, templates.KindFollowUp)
	if err != nil || plan.Notices != 0 {
		t.Errorf("manual follow-up plan = %+v, %v", plan, err)
	}
}

var ackLink = regexp.MustCompile(`http://notify\.test(/ack/[A-Za-z0-9_-]{43})`)
var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestAcknowledgementNeedsADeliberatePost(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	w := e.LaunchInitial(t, e.LoadSample(t, "ack"))
	msgs := messagesTo(t, e, "security@northwind.example")
	m := ackLink.FindStringSubmatch(msgs[0].Text)
	if m == nil || !strings.Contains(msgs[0].HTML, m[1]) {
		t.Fatalf("no acknowledgement link in the message:\n%s", msgs[0].Text)
	}
	link := e.App.URL() + m[1]
	noticeOf := func() notifier.Notice {
		list, _ := e.App.Service.Notices(ctx, notifier.LocalActor("t"), "ack", notifier.NoticeFilter{WaveID: w.ID}, notifier.Page{})
		for _, n := range list.Items {
			if n.OrgRef == "northwind" {
				return n
			}
		}
		t.Fatal("no northwind notice")
		return notifier.Notice{}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(method, u string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, u, nil)
		req.Header.Set("User-Agent", "Mail-Scanner/1.0")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String(), resp.Header
	}
	st, page, hdr := get("GET", link)
	if st != 200 || !strings.Contains(page, "Northwind Traders") || !strings.Contains(page, "Mail breach") || !strings.Contains(page, "<button") {
		t.Fatalf("GET: %d\n%s", st, page)
	}
	if hdr.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("headers: %v", hdr)
	}
	if st, _, _ := get("HEAD", link); st != 200 {
		t.Errorf("HEAD: %d", st)
	}
	if n := noticeOf(); n.AcknowledgedAt != nil {
		t.Fatal("a GET or HEAD acknowledged the notice")
	}
	post := func(form url.Values) (int, string) {
		resp, err := client.PostForm(link, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if st, _ := post(url.Values{}); st != 403 {
		t.Errorf("POST without the form token: %d, want 403", st)
	}
	if st, _ := post(url.Values{"csrf": {"9999999999.AAAA"}}); st != 403 {
		t.Errorf("POST with a forged form token: %d, want 403", st)
	}
	if n := noticeOf(); n.AcknowledgedAt != nil {
		t.Fatal("a POST without a valid form token acknowledged")
	}
	csrf := html.UnescapeString(csrfField.FindStringSubmatch(page)[1])
	st, done := post(url.Values{"csrf": {csrf}})
	if st != 200 || !strings.Contains(done, "Thank you") {
		t.Fatalf("POST: %d\n%s", st, done)
	}
	first := noticeOf()
	if first.AcknowledgedAt == nil || first.AcknowledgedBy != "security@northwind.example" {
		t.Fatalf("notice after POST = %+v", first)
	}
	if st, _ := post(url.Values{"csrf": {csrf}}); st != 200 {
		t.Errorf("second POST: %d", st)
	}
	if again := noticeOf(); !again.AcknowledgedAt.Equal(*first.AcknowledgedAt) {
		t.Error("a second POST changed the acknowledgement")
	}
	// The GET now shows it acknowledged, without a button.
	if _, page, _ := get("GET", link); !strings.Contains(page, "was acknowledged") || strings.Contains(page, "<button") {
		t.Errorf("GET after acknowledgement:\n%s", page)
	}
	// Forged, altered and truncated links all get the same neutral 404.
	token := strings.TrimPrefix(m[1], "/ack/")
	altered := []byte(token)
	altered[10] ^= 1
	for _, bad := range []string{strings.Repeat("A", 43), string(altered), token[:42], token + "A", "x"} {
		st, page, _ := get("GET", e.App.URL()+"/ack/"+bad)
		if st != 404 || !strings.Contains(page, "cannot be used") {
			t.Errorf("GET /ack/%s: %d", bad, st)
		}
	}
	// Opened links and the acknowledgement are on the delivery's timeline.
	d := findDelivery(t, e, w.ID, "security@northwind.example")
	detail, _ := e.App.Store.Delivery(ctx, d.ID)
	var types []string
	for _, ev := range detail.Events {
		types = append(types, ev.Type)
	}
	if !slices.Contains(types, "link_opened") || !slices.Contains(types, "acknowledged") {
		t.Errorf("events = %v", types)
	}
	// The silent notices list no longer has northwind.
	st, b := call(t, e, "GET", "/api/v1/incidents/ack/notices?acknowledged=false", e.Key, nil)
	silent := decode[notifier.ListResult[notifier.Notice]](t, b)
	if st != 200 || len(silent.Items) != 6 {
		t.Errorf("silent notices: %d, %d items, want 6", st, len(silent.Items))
	}
	wave, _ := e.Client.Wave(ctx, w.ID)
	if wave.Notices.Acknowledged != 1 || wave.Notices.Unacknowledged != 6 {
		t.Errorf("wave notices = %+v", wave.Notices)
	}
}

func TestRemindersThenEscalationStopAtAcknowledgement(t *testing.T) {
	t.Parallel()
	clock := &movableClock{}
	e := apptest.Start(t, apptest.Options{Clock: func(base notifier.Clock) notifier.Clock { clock.base = base; return clock }})
	ctx := context.Background()
	slug := e.LoadSample(t, "remind")
	w := e.LaunchInitial(t, slug)
	run := func(at time.Duration) notifier.ReminderRun {
		t.Helper()
		clock.set(at)
		r, err := e.App.Service.RunReminders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waitSettled(t, e, slug)
		return r
	}
	if r := run(47 * time.Hour); r.Reminded+r.Escalated != 0 {
		t.Fatalf("at 47h: %+v, want nothing yet", r)
	}
	if r := run(49 * time.Hour); r.Reminded != 7 {
		t.Fatalf("at 49h: %+v, want 7 reminders", r)
	}
	if r := run(50 * time.Hour); r.Reminded != 0 {
		t.Fatalf("at 50h: %+v, want nothing (next is due 48h after the first reminder)", r)
	}
	// Northwind acknowledges after the first reminder: its chain stops.
	ackNotice(t, e, "security@northwind.example")
	if r := run(98 * time.Hour); r.Reminded != 6 {
		t.Fatalf("at 98h: %+v, want 6 second reminders", r)
	}
	if r := run(147 * time.Hour); r.Escalated != 6 || r.Reminded != 0 {
		t.Fatalf("at 147h: %+v, want 6 escalations", r)
	}
	if r := run(500 * time.Hour); r.Reminded+r.Escalated != 0 {
		t.Fatalf("at 500h: %+v, want nothing after the escalation", r)
	}

	// Contoso's security and legal... : reminders went to every contact of the
	// notice, the escalation to legal and executive contacts only.
	subjects := func(rcpt string) []string {
		var out []string
		for _, m := range messagesTo(t, e, rcpt) {
			out = append(out, strings.SplitN(m.Header.Get("Subject"), ":", 2)[0])
		}
		return out
	}
	if got := subjects("soc@contoso.example"); len(got) != 3 || got[1] != "Reminder" || got[2] != "Reminder" {
		t.Errorf("soc@contoso: %v, want the notice and two reminders", got)
	}
	for _, rcpt := range []string{"ciso@contoso.example", "legal@contoso.example"} {
		if got := subjects(rcpt); len(got) != 4 || got[3] != "Action needed" {
			t.Errorf("%s: %v, want notice, two reminders, escalation", rcpt, got)
		}
	}
	// Tailspin has no legal or executive contact: the escalation goes to all.
	if got := subjects("secops@tailspin.example"); len(got) != 4 {
		t.Errorf("secops@tailspin: %v, want the escalation too", got)
	}
	if got := subjects("security@northwind.example"); len(got) != 2 {
		t.Errorf("northwind after acknowledging: %v, want the notice and one reminder", got)
	}
	// Reminders thread on the notice they chase.
	msgs := messagesTo(t, e, "soc@contoso.example")
	if msgs[1].Header.Get("In-Reply-To") != "<"+msgID(msgs[0])+">" {
		t.Errorf("reminder In-Reply-To = %q, want the notice %s", msgs[1].Header.Get("In-Reply-To"), msgID(msgs[0]))
	}
	// The notice shows its chase history.
	d := findDelivery(t, e, w.ID, "soc@contoso.example")
	n, _ := e.App.Store.Notice(ctx, d.NoticeID)
	if n.RemindersSent != 2 || n.EscalatedAt == nil || len(n.Chases) != 3 {
		t.Errorf("contoso notice = reminders %d, escalated %v, %d chases", n.RemindersSent, n.EscalatedAt, len(n.Chases))
	}
}

// TestAcknowledgementCancelsAQueuedReminder: a reminder deferred by the
// relay (greylisting) waits for its retry; the contact acknowledges
// meanwhile. The retry must not send it: the delivery ends cancelled.
func TestAcknowledgementCancelsAQueuedReminder(t *testing.T) {
	t.Parallel()
	clock := &movableClock{}
	e := apptest.Start(t, apptest.Options{
		Clock: func(base notifier.Clock) notifier.Clock { clock.base = base; return clock },
		Configure: func(c *config.Config) {
			c.RetryMinDelay, c.RetryMaxDelay = 2*time.Second, 2*time.Second // time to acknowledge
		},
	})
	ctx := context.Background()
	slug := e.LoadSample(t, "ack-queued")
	e.LaunchInitial(t, slug)
	const rcpt = "soc@contoso.example"
	e.Replies.Next(rcpt, capture.StepRcpt, capture.Fault{Code: 451, Message: "4.7.1 Greylisted, please retry"})
	clock.set(49 * time.Hour)
	if r, err := e.App.Service.RunReminders(ctx); err != nil || r.Reminded == 0 {
		t.Fatalf("reminders = %+v, %v", r, err)
	}
	reminder := func() (id int64, status string) {
		t.Helper()
		if err := e.App.Pool.QueryRow(ctx, `SELECT d.id, d.status FROM deliveries d JOIN notices n ON n.id = d.notice_id
			WHERE d.recipient = $1 AND n.kind = 'reminder'`, rcpt).Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		return id, status
	}
	waitFor(t, "the reminder to be deferred", func() bool { _, st := reminder(); return st == "deferred" })
	ackNotice(t, e, rcpt)
	waitSettled(t, e, slug)
	if id, st := reminder(); st != "cancelled" {
		t.Errorf("reminder delivery %d after the acknowledgement: %s, want cancelled", id, st)
	}
	if got := len(messagesTo(t, e, rcpt)); got != 1 {
		t.Errorf("%s received %d messages, want only the notice", rcpt, got)
	}
}

// waitSettled waits until no wave of the incident is running.
func waitSettled(t *testing.T, e *apptest.Env, slug string) {
	t.Helper()
	waitFor(t, "waves to complete", func() bool {
		list, err := e.App.Service.Waves(context.Background(), notifier.LocalActor("t"), slug, notifier.WaveFilter{Status: notifier.WaveRunning}, notifier.Page{})
		return err == nil && len(list.Items) == 0
	})
}

// ackNotice acknowledges the notice of the first message a recipient got.
func ackNotice(t *testing.T, e *apptest.Env, rcpt string) {
	t.Helper()
	m := ackLink.FindStringSubmatch(messagesTo(t, e, rcpt)[0].Text)
	if m == nil {
		t.Fatalf("no acknowledgement link to %s", rcpt)
	}
	resp, err := http.Get(e.App.URL() + m[1])
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	resp.Body.Close()
	csrf := html.UnescapeString(csrfField.FindStringSubmatch(b.String())[1])
	resp, err = http.PostForm(e.App.URL()+m[1], url.Values{"csrf": {csrf}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("acknowledge: %v %v", resp, err)
	}
	resp.Body.Close()
}

var _ = app.Options{}
