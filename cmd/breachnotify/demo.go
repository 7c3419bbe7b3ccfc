package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
	"github.com/breachnotify/breachnotify/templates"
)

// demoTimeout bounds the whole campaign, its waits included.
const demoTimeout = 3 * time.Minute

// demoFollowUpWindow is the incident's follow-up window in the demo: short,
// so that the automatic follow-ups go out while it runs.
const demoFollowUpWindow = 2 * time.Second

// demoPoll is how often the demo asks the API whether waves are done.
const demoPoll = 200 * time.Millisecond

// cmdDemo runs a whole campaign on the sample data: migrate, serve, then
// drive it through the HTTP API and the recipients' pages, and summarise.
func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	once := fs.Bool("once", false, "exit after the summary instead of serving until interrupted")
	logFile := fs.String("log-file", "", "write the service's own log here (default: a new breachnotify-demo-*.log in the temporary directory); the terminal shows only its warnings")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	// The demo is a development run on this machine: its links may be
	// plain http (they point at this process unless BREACHNOTIFY_PUBLIC_URL
	// names something else).
	cfg.AllowInsecurePublicURL = true
	if err := refuseForeignDatabase(ctx, cfg); err != nil {
		return err
	}
	logger, log, err := demoLogger(cfg, e.stderr, *logFile)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(e.stdout, "The service's own log goes to %s (warnings also here).\n\n", log.Name())
	if err := migrate(ctx, e, cfg); err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: logger})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Stop(context.Background())
		return err
	}
	if err := runDemoCampaign(ctx, e, a); err != nil {
		_ = a.Stop(context.Background())
		return fmt.Errorf("%w\n(the service's log: %s)", err, log.Name())
	}
	fmt.Fprintf(e.stdout, "\nThe service's log of this run: %s\n", log.Name())
	if *once {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		return a.Stop(sctx)
	}
	fmt.Fprintln(e.stdout, "\nServing until interrupted (Ctrl-C).")
	return serveUntilDone(ctx, a)
}

// demo is one run of the demo campaign and what its steps learn.
type demo struct {
	out       io.Writer
	a         *app.App
	c         *apiclient.Client
	key       string
	slug      string
	publicURL string
	started   time.Time

	wave1 notifier.Wave
	// notices and deliveries of the initial wave.
	notices    map[int64]notifier.Notice
	deliveries []notifier.Delivery
	// bounceTo is the delivery the bounce step reports; ack the one
	// acknowledged.
	bounceTo notifier.Delivery
	ack      notifier.Delivery
	// reference is a reference code of a sent notice, for /verify.
	reference string
}

func runDemoCampaign(ctx context.Context, e *env, a *app.App) error {
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	key, _, err := a.Service.CreateAPIKey(ctx, notifier.LocalActor(osUser()), "demo "+time.Now().UTC().Format(time.RFC3339), notifier.RoleAdmin)
	if err != nil {
		return fmt.Errorf("demo: create an API key: %w", err)
	}
	d := &demo{
		out: e.stdout, a: a, c: apiclient.New(a.URL(), key), key: key,
		slug:      "demo-" + time.Now().UTC().Format("20060102-150405"),
		publicURL: strings.TrimRight(a.Config.PublicURL, "/"),
		started:   time.Now(),
	}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"create the incident", d.createIncident},
		{"send the initial wave", d.initialWave},
		{"acknowledge a notice", d.acknowledge},
		{"import batch 2 and follow up", d.followUps},
		{"record a bounce", d.bounce},
		{"collect the proof", d.proof},
	}
	for i, s := range steps {
		fmt.Fprintf(d.out, "\n── step %d of %d: %s\n", i+1, len(steps), s.name)
		if err := s.run(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w (the demo gives up after %s)", err, demoTimeout)
			}
			return fmt.Errorf("demo step %q: %w", s.name, err)
		}
	}
	fmt.Fprintf(d.out, "\nThe campaign took %s.\n", time.Since(d.started).Round(100*time.Millisecond))
	d.whereToLook()
	return nil
}

// section starts a part of the output; line prints one aligned line of it.
func (d *demo) section(title string) { fmt.Fprintf(d.out, "\n%s\n", title) }

func (d *demo) line(label, format string, args ...any) {
	fmt.Fprintf(d.out, "  %-17s %s\n", label, fmt.Sprintf(format, args...))
}

func (d *demo) createIncident(ctx context.Context) error {
	inc, err := d.c.CreateIncident(ctx, notifier.NewIncident{
		Slug:    d.slug,
		Title:   "Unauthorized access to corporate email",
		Summary: "A threat actor obtained access to a subset of our corporate mailboxes and read messages exchanged with customers. Access has been revoked and the investigation continues.",
	})
	if err != nil {
		return err
	}
	window := notifier.Duration(demoFollowUpWindow)
	if inc, err = d.c.PatchPolicy(ctx, d.slug, notifier.PolicyPatch{FollowUpWindow: &window}); err != nil {
		return fmt.Errorf("set the follow-up window: %w", err)
	}
	p, def := inc.Policy, notifier.DefaultPolicy()
	fmt.Fprintf(d.out, "Demo campaign %s (incident %d) at %s\n", inc.Slug, inc.ID, d.a.URL())
	d.section("Incident")
	d.line("title", "%s", inc.Title)
	d.line("follow-ups", "automatic=%t, window %s (shortened for the demo; default %s)",
		p.AutoFollowUp, shortDuration(p.FollowUpWindow), shortDuration(def.FollowUpWindow))
	d.line("reminders", "after %s, at most %d, then escalation (defaults)", shortDuration(p.ReminderAfter), p.MaxReminders)
	return nil
}

func (d *demo) initialWave(ctx context.Context) error {
	orgs, err := d.c.ImportOrganizations(ctx, bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV)
	if err != nil {
		return fmt.Errorf("import organizations: %w", err)
	}
	batch, err := d.c.ImportExposures(ctx, d.slug, bytes.NewReader(sampledata.File(sampledata.ExposuresBatch1)), notifier.FormatCSV)
	if err != nil {
		return fmt.Errorf("import exposure batch 1: %w", err)
	}
	d.section("Initial wave")
	d.line("organizations", "%d created, %d updated; contacts %d created, %d updated",
		orgs.Organizations.Created, orgs.Organizations.Updated, orgs.Contacts.Created, orgs.Contacts.Updated)
	d.line("exposure batch 1", "%d new items over %d organizations", batch.ItemsNew, batch.Organizations)
	w, err := d.planLaunchWait(ctx, true)
	if err != nil {
		return err
	}
	d.wave1 = w
	notices, err := apiclient.All(ctx, 0, func(ctx context.Context, p apiclient.Page) (notifier.ListResult[notifier.Notice], error) {
		return d.c.ListNotices(ctx, d.slug, apiclient.NoticeQuery{Page: p, Kind: string(templates.KindInitial)})
	})
	if err != nil {
		return fmt.Errorf("list the notices: %w", err)
	}
	d.notices = map[int64]notifier.Notice{}
	for _, n := range notices {
		d.notices[n.ID] = n
	}
	d.deliveries, err = apiclient.All(ctx, 0, func(ctx context.Context, p apiclient.Page) (notifier.ListResult[notifier.Delivery], error) {
		return d.c.ListDeliveries(ctx, apiclient.DeliveryQuery{Page: p, Wave: w.ID})
	})
	if err != nil {
		return fmt.Errorf("list the deliveries: %w", err)
	}
	return nil
}

// planLaunchWait plans an initial wave, prints the plan, launches it and
// waits for it to complete. all lists every skipped organization; otherwise
// they are counted by reason.
func (d *demo) planLaunchWait(ctx context.Context, all bool) (notifier.Wave, error) {
	plan, err := d.c.PlanWave(ctx, d.slug, templates.KindInitial)
	if err != nil {
		return notifier.Wave{}, fmt.Errorf("plan an initial wave: %w", err)
	}
	d.line(fmt.Sprintf("plan (wave %d)", plan.ID), "%s, %s, %s", plural(plan.Organizations, "organization"),
		plural(plan.Notices, "notice"), plural(plan.Deliveries, "delivery"))
	switch {
	case len(plan.Skipped) == 0:
		d.line("skipped", "none")
	case all:
		for i, s := range plan.Skipped {
			label := ""
			if i == 0 {
				label = "skipped"
			}
			d.line(label, "%-10s %s", s.OrgRef, s.Reason)
		}
	default:
		byReason := map[string][]string{}
		var reasons []string
		for _, s := range plan.Skipped {
			if byReason[s.Reason] == nil {
				reasons = append(reasons, s.Reason)
			}
			byReason[s.Reason] = append(byReason[s.Reason], s.OrgRef)
		}
		var parts []string
		for _, r := range reasons {
			parts = append(parts, fmt.Sprintf("%s (%d: %s)", r, len(byReason[r]), strings.Join(byReason[r], ", ")))
		}
		d.line("skipped", "%s", strings.Join(parts, "; "))
	}
	if plan.Notices == 0 {
		return notifier.Wave{}, fmt.Errorf("wave %d has nothing to send", plan.ID)
	}
	if _, err := d.c.LaunchWave(ctx, plan.ID); err != nil {
		return notifier.Wave{}, fmt.Errorf("launch wave %d: %w", plan.ID, err)
	}
	start := time.Now()
	w, err := d.c.WaitWave(ctx, plan.ID, demoPoll, nil)
	if err != nil {
		return w, fmt.Errorf("wait for wave %d: %w", plan.ID, err)
	}
	d.line(fmt.Sprintf("wave %d", w.ID), "%s in %s: %s; deliveries %s", w.Status, time.Since(start).Round(100*time.Millisecond),
		plural(w.Notices.Total, "notice"), deliveryCounts(w.Deliveries))
	return w, nil
}

// acknowledge does what a recipient does: read a notice from the mailbox,
// open its acknowledgement link, press the button.
func (d *demo) acknowledge(ctx context.Context) error {
	// The bounce step later needs an organization with a single contact;
	// pick it now so that the acknowledged notice is another one.
	if err := d.pickBounce(); err != nil {
		return err
	}
	d.section("Acknowledgement (as a recipient would)")
	if d.a.Capture == nil {
		d.line("skipped", "messages went to the relay %s: there is no mailbox to read them from", d.a.Config.SMTP)
		for _, del := range d.deliveries {
			if del.ID != d.bounceTo.ID {
				d.ack = del
				break
			}
		}
		return nil
	}
	byMessageID := map[string]notifier.Delivery{}
	for _, del := range d.deliveries {
		if del.ID != d.bounceTo.ID {
			byMessageID[strings.Trim(del.MessageID, "<> ")] = del
		}
	}
	msgs, err := d.c.Mailbox(ctx, 100)
	if err != nil {
		return fmt.Errorf("list the mailbox: %w", err)
	}
	var captured notifier.CapturedMessage
	for _, m := range msgs {
		if _, ok := byMessageID[strings.Trim(m.MessageID, "<> ")]; ok {
			captured = m
			break
		}
	}
	if captured.ID == 0 {
		return fmt.Errorf("none of the %d newest messages in the mailbox is a notice of wave %d", len(msgs), d.wave1.ID)
	}
	raw, err := d.c.MailboxMessage(ctx, captured.ID)
	if err != nil {
		return fmt.Errorf("download message %d: %w", captured.ID, err)
	}
	hdr, text, err := messageText(raw)
	if err != nil {
		return fmt.Errorf("message %d: %w", captured.ID, err)
	}
	del, ok := byMessageID[strings.Trim(hdr.Get("Message-Id"), "<> ")]
	if !ok {
		return fmt.Errorf("message %d: its Message-ID %q is not that of a delivery of wave %d", captured.ID, hdr.Get("Message-Id"), d.wave1.ID)
	}
	token, err := ackToken(text, d.publicURL)
	if err != nil {
		return fmt.Errorf("message %d: %w", captured.ID, err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(hdr.Get("Subject"))
	d.line("message", "#%d to %s: %q", captured.ID, del.Recipient, subject)
	d.line("link", "%s/ack/%s… (in the text part)", d.publicURL, token[:8])

	// The page is served by this process; PUBLIC_URL may name a proxy.
	page := d.a.URL() + "/ack/" + token
	hc := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status, body, err := fetch(ctx, hc, http.MethodGet, page, nil)
	if err != nil {
		return fmt.Errorf("open the link: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("open the link: HTTP %d", status)
	}
	action, csrf, err := ackForm(body)
	if err != nil {
		return fmt.Errorf("the acknowledgement page: %w", err)
	}
	target, err := url.Parse(page)
	if err == nil {
		var ref *url.URL
		if ref, err = url.Parse(action); err == nil {
			target = target.ResolveReference(ref)
		}
	}
	if err != nil {
		return fmt.Errorf("the acknowledgement form's action %q: %w", action, err)
	}
	status, body, err = fetch(ctx, hc, http.MethodPost, target.String(), url.Values{"csrf": {csrf}})
	if err != nil {
		return fmt.Errorf("press the button: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("press the button: HTTP %d", status)
	}
	d.line("page", "GET showed the form with its CSRF token; POST answered %d %q", status, pageHeading(body))
	n, err := d.c.Notice(ctx, del.NoticeID)
	if err != nil {
		return fmt.Errorf("read notice %d: %w", del.NoticeID, err)
	}
	if n.AcknowledgedAt == nil {
		return fmt.Errorf("notice %d is not acknowledged after the POST", n.ID)
	}
	d.line(fmt.Sprintf("notice %d", n.ID), "%s acknowledged at %s by %s", n.OrgRef, n.AcknowledgedAt.Local().Format(time.TimeOnly), n.AcknowledgedBy)
	w, err := d.c.Wave(ctx, d.wave1.ID)
	if err != nil {
		return fmt.Errorf("read wave %d: %w", d.wave1.ID, err)
	}
	d.line(fmt.Sprintf("wave %d", w.ID), "acknowledged %d, awaiting acknowledgement %d", w.Notices.Acknowledged, w.Notices.Unacknowledged)
	d.ack = del
	return nil
}

// pickBounce chooses the delivery the bounce step reports: the sample
// DSN's recipient when it is the single contact of a notice sent in the
// initial wave, else the first such contact.
func (d *demo) pickBounce() error {
	perNotice := map[int64][]notifier.Delivery{}
	for _, del := range d.deliveries {
		perNotice[del.NoticeID] = append(perNotice[del.NoticeID], del)
	}
	var candidates []notifier.Delivery
	for _, list := range perNotice {
		if len(list) == 1 && list[0].Status == notifier.DeliverySent {
			candidates = append(candidates, list[0])
		}
	}
	if len(candidates) == 0 {
		return fmt.Errorf("wave %d reached no organization with a single contact, to show a bounce with", d.wave1.ID)
	}
	slices.SortFunc(candidates, func(a, b notifier.Delivery) int { return cmp.Compare(a.ID, b.ID) })
	d.bounceTo = candidates[0]
	if dsn, err := notifier.ParseDSN(sampledata.File(sampledata.HardBounce), ""); err == nil && len(dsn) > 0 {
		for _, c := range candidates {
			if strings.EqualFold(c.Recipient, dsn[0].Recipient) {
				d.bounceTo = c
			}
		}
	}
	return nil
}

func (d *demo) followUps(ctx context.Context) error {
	batch, err := d.c.ImportExposures(ctx, d.slug, bytes.NewReader(sampledata.File(sampledata.ExposuresBatch2)), notifier.FormatCSV)
	if err != nil {
		return fmt.Errorf("import exposure batch 2: %w", err)
	}
	d.section("Exposure batch 2")
	d.line("exposure batch 2", "%d new items, %d already known, over %d organizations", batch.ItemsNew, batch.ItemsDuplicate, batch.Organizations)
	d.line("follow_ups", "%s", refs(batch.FollowUps))
	d.line("awaiting_initial", "%s", refs(batch.AwaitingInitial))
	if len(batch.FollowUps) > 0 {
		start := time.Now()
		waves, err := d.waitFollowUps(ctx, len(batch.FollowUps))
		if err != nil {
			return err
		}
		var ids []string
		total := map[notifier.DeliveryStatus]int{}
		for _, w := range waves {
			ids = append(ids, strconv.FormatInt(w.ID, 10))
			for st, n := range w.Deliveries {
				total[st] += n
			}
		}
		d.line("follow-up waves", "%d completed after %s (waves %s); deliveries %s", len(waves),
			time.Since(start).Round(100*time.Millisecond), strings.Join(ids, ", "), deliveryCounts(total))
	}
	if len(batch.AwaitingInitial) > 0 {
		if _, err := d.planLaunchWait(ctx, false); err != nil {
			return err
		}
	}
	return nil
}

// waitFollowUps waits until the incident has at least n follow-up waves,
// all of them completed or cancelled, and returns them oldest first.
func (d *demo) waitFollowUps(ctx context.Context, n int) ([]notifier.Wave, error) {
	t := time.NewTicker(demoPoll)
	defer t.Stop()
	for {
		list, err := apiclient.All(ctx, 0, func(ctx context.Context, p apiclient.Page) (notifier.ListResult[notifier.Wave], error) {
			return d.c.ListWaves(ctx, d.slug, p)
		})
		if err != nil {
			return nil, fmt.Errorf("list the waves: %w", err)
		}
		var waves []notifier.Wave
		done := 0
		for _, w := range list {
			if w.Kind == templates.KindFollowUp {
				waves = append(waves, w)
				if w.Status == notifier.WaveCompleted || w.Status == notifier.WaveCancelled {
					done++
				}
			}
		}
		if len(waves) >= n && done == len(waves) {
			slices.SortFunc(waves, func(a, b notifier.Wave) int { return cmp.Compare(a.ID, b.ID) })
			return waves, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %d follow-up waves (%d seen, %d done): %w", n, len(waves), done, ctx.Err())
		case <-t.C:
		}
	}
}

// bounce reports a hard bounce for one delivery as a relay would, in the
// JSON form: the sample DSN names a Message-ID none of ours has.
func (d *demo) bounce(ctx context.Context) error {
	del := d.bounceTo
	status, diagnostic := "5.1.1", "smtp; 550 5.1.1 <"+del.Recipient+">: Recipient address rejected: User unknown"
	if dsn, err := notifier.ParseDSN(sampledata.File(sampledata.HardBounce), ""); err == nil && len(dsn) > 0 {
		status = dsn[0].Status
		diagnostic = strings.ReplaceAll(dsn[0].Diagnostic, dsn[0].Recipient, del.Recipient)
	}
	body, err := json.Marshal(notifier.BounceJSON{MessageID: del.MessageID, Recipient: del.Recipient, Status: status, Diagnostic: diagnostic})
	if err != nil {
		return err
	}
	res, err := d.c.RecordBounce(ctx, body, "application/json")
	if err != nil {
		return fmt.Errorf("post the bounce: %w", err)
	}
	if len(res.Items) != 1 || !res.Items[0].Applied {
		return fmt.Errorf("the bounce for delivery %d was recorded but not applied: %+v", del.ID, res.Items)
	}
	d.section("Bounce")
	d.line("bounce report", "JSON form, %s (%s) for Message-ID <%s>: applied to delivery %d (%s, notice %d)",
		status, res.Items[0].Kind, del.MessageID, del.ID, d.notices[del.NoticeID].OrgRef, del.NoticeID)
	c, err := d.c.Contact(ctx, del.ContactID)
	if err != nil {
		return fmt.Errorf("read contact %d: %w", del.ContactID, err)
	}
	if c.Status != notifier.ContactBounced {
		return fmt.Errorf("contact %s is %s after the bounce, not bounced", c.Email, c.Status)
	}
	d.line("contact", "%s is now %s (%s)", c.Email, c.Status, c.StatusReason)
	unreachable, err := apiclient.All(ctx, 0, func(ctx context.Context, p apiclient.Page) (notifier.ListResult[notifier.UnreachableNotice], error) {
		return d.c.Unreachable(ctx, d.slug, p)
	})
	if err != nil {
		return fmt.Errorf("list the unreachable notices: %w", err)
	}
	i := slices.IndexFunc(unreachable, func(u notifier.UnreachableNotice) bool { return u.NoticeID == del.NoticeID })
	if i < 0 {
		return fmt.Errorf("notice %d is not in the unreachable list after its only delivery bounced", del.NoticeID)
	}
	u := unreachable[i]
	for j, uc := range u.Contacts {
		label := ""
		if j == 0 {
			label = "unreachable"
		}
		d.line(label, "notice %d %s: %s %s", u.NoticeID, u.OrgRef, uc.Recipient, uc.Status)
	}
	// The sample organizations live on in the database; the next demo run
	// should reach this contact again.
	if _, err := d.c.ReactivateContact(ctx, c.ID, "the demo's bounce was simulated"); err != nil {
		return fmt.Errorf("reactivate contact %d: %w", c.ID, err)
	}
	d.line("then", "reactivated %s (the bounce was simulated), so the next demo reaches it", c.Email)
	return nil
}

// proof downloads the report and checks the audit chain.
func (d *demo) proof(ctx context.Context) error {
	var buf bytes.Buffer
	if err := d.c.Report(ctx, d.slug, "json", &buf); err != nil {
		return fmt.Errorf("download the report: %w", err)
	}
	var report struct {
		Incident string               `json:"incident"`
		Rows     []notifier.ReportRow `json:"rows"`
	}
	if err := json.Unmarshal(buf.Bytes(), &report); err != nil {
		return fmt.Errorf("read the report: %w", err)
	}
	i := slices.IndexFunc(report.Rows, func(r notifier.ReportRow) bool { return r.DeliveryID == d.ack.ID })
	if i < 0 {
		return fmt.Errorf("the report has %d rows but none for delivery %d", len(report.Rows), d.ack.ID)
	}
	row := report.Rows[i]
	d.reference = row.Reference
	d.section("Proof")
	d.line("report (JSON)", "%s (one per delivery)", plural(len(report.Rows), "row"))
	ack := "not acknowledged"
	if row.AcknowledgedAt != nil {
		ack = "acknowledged by " + row.AcknowledgedBy
	}
	d.line("row", "delivery %d, %s to %s, %s", row.DeliveryID, row.Status, row.ContactEmail, ack)
	d.line("  Message-ID", "<%s>", row.MessageID)
	d.line("  reference", "%s", row.Reference)
	d.line("  template", "version %s", row.TemplateVersion)
	d.line("  SHA-256", "%s", row.MessageSHA256)
	v, err := d.c.AuditVerify(ctx, "")
	if err != nil {
		return fmt.Errorf("verify the audit chain: %w", err)
	}
	if !v.OK {
		return fmt.Errorf("the audit chain is broken at entry %d: %s", v.BrokenAt, v.Reason)
	}
	d.line("audit chain", "ok: %d entries, head %s", v.Entries, v.Head)
	d.line("  checkpoint", "%s", v.Checkpoint)
	return nil
}

func (d *demo) whereToLook() {
	d.section("Where to look")
	d.line("API key", "export BREACHNOTIFY_API_KEY=%s", d.key)
	d.line("dashboard", "%s/admin (sign in with that key)", d.a.URL())
	d.line("River UI", "%s/riverui/ (after signing in to the dashboard)", d.a.URL())
	verify := d.publicURL + "/verify"
	if d.reference != "" {
		verify += "?code=" + url.QueryEscape(d.reference)
	}
	d.line("verify page", "%s", verify)
	if email := portalContact(); email != "" {
		d.line("portal", "%s/portal (sign in as %s; the link arrives by email)", d.publicURL, email)
	}
	if d.a.Capture != nil {
		d.line("mailbox", "curl -H \"Authorization: Bearer $BREACHNOTIFY_API_KEY\" %s/api/v1/mailbox", d.a.URL())
	} else {
		d.line("mailbox", "none: messages went to the relay %s", d.a.Config.SMTP)
	}
	d.line("metrics", "%s/metrics", d.a.URL())
}

// portalContact is a sample contact allowed to sign in to the portal.
func portalContact() string {
	rows, err := csv.NewReader(bytes.NewReader(sampledata.File(sampledata.Organizations))).ReadAll()
	if err != nil || len(rows) < 2 {
		return ""
	}
	email, access := slices.Index(rows[0], "contact_email"), slices.Index(rows[0], "portal_access")
	if email < 0 || access < 0 {
		return ""
	}
	for _, r := range rows[1:] {
		if ok, _ := strconv.ParseBool(r[access]); ok {
			return r[email]
		}
	}
	return ""
}

// messageText parses a message and returns its header and its first
// text/plain part, decoded.
func messageText(raw []byte) (mail.Header, string, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, "", fmt.Errorf("not a message: %w", err)
	}
	text, ok, err := findText(textproto.MIMEHeader(m.Header), m.Body, 0)
	if err != nil {
		return m.Header, "", err
	}
	if !ok {
		return m.Header, "", errors.New("the message has no text/plain part")
	}
	return m.Header, text, nil
}

// findText walks a MIME entity for its first text/plain part.
func findText(h textproto.MIMEHeader, body io.Reader, depth int) (string, bool, error) {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false, fmt.Errorf("Content-Type %q: %w", ct, err)
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if depth > 8 {
			return "", false, errors.New("multipart nested too deep")
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return "", false, nil
			}
			if err != nil {
				return "", false, fmt.Errorf("read a MIME part: %w", err)
			}
			text, ok, err := findText(p.Header, p, depth+1)
			if err != nil || ok {
				return text, ok, err
			}
		}
	case mt == "text/plain":
		var r io.Reader = body
		switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
		case "quoted-printable":
			r = quotedprintable.NewReader(body)
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return "", false, fmt.Errorf("decode the text part: %w", err)
		}
		return string(b), true, nil
	}
	return "", false, nil
}

// ackToken finds the acknowledgement link (publicURL/ack/TOKEN) in a
// message's text and returns its token.
func ackToken(text, publicURL string) (string, error) {
	prefix := publicURL + "/ack/"
	i := strings.Index(text, prefix)
	if i < 0 {
		return "", fmt.Errorf("no acknowledgement link %sTOKEN in the text part", prefix)
	}
	rest := text[i+len(prefix):]
	end := strings.IndexFunc(rest, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
	})
	if end < 0 {
		end = len(rest)
	}
	token := rest[:end]
	if _, ok := notifier.ParseAckToken(token); !ok {
		return "", fmt.Errorf("the acknowledgement link's token %q is not well formed", token)
	}
	return token, nil
}

var (
	formTag   = regexp.MustCompile(`(?is)<form\b[^>]*\bmethod="post"[^>]*>`)
	actionAt  = regexp.MustCompile(`(?is)\baction="([^"]*)"`)
	csrfInput = regexp.MustCompile(`(?is)<input\b[^>]*\bname="csrf"[^>]*\bvalue="([^"]*)"`)
	heading   = regexp.MustCompile(`(?is)<h1[^>]*>(.*?)</h1>`)
)

// ackForm finds the acknowledgement page's form: where it posts, and its
// CSRF token.
func ackForm(page string) (action, csrf string, err error) {
	form := formTag.FindString(page)
	if form == "" {
		return "", "", errors.New("no form to press: was the notice already acknowledged?")
	}
	if m := actionAt.FindStringSubmatch(form); m != nil {
		action = html.UnescapeString(m[1])
	}
	m := csrfInput.FindStringSubmatch(page)
	if m == nil || m[1] == "" {
		return "", "", errors.New("the form carries no CSRF token")
	}
	return action, html.UnescapeString(m[1]), nil
}

// pageHeading is a page's first h1, as text.
func pageHeading(page string) string {
	m := heading.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(html.UnescapeString(m[1]))
}

// fetch sends a GET (form nil) or a form POST and returns the status and
// body.
func fetch(ctx context.Context, hc *http.Client, method, u string, form url.Values) (int, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "breachnotify-demo (acting as a recipient)")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

// deliveryCounts formats the non-zero counts in lifecycle order.
func deliveryCounts(m map[notifier.DeliveryStatus]int) string {
	var parts []string
	for _, st := range notifier.DeliveryStatuses {
		if m[st] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", st, m[st]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// shortDuration writes 48h rather than 48h0m0s.
func shortDuration(d notifier.Duration) string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func refs(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return strconv.Itoa(n) + " " + strings.TrimSuffix(word, "y") + "ies"
	}
	return strconv.Itoa(n) + " " + word + "s"
}
