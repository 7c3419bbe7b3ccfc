package app_test

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/html"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/linkguard"
	"github.com/breachnotify/breachnotify/notifier/smtp"
	"github.com/breachnotify/breachnotify/templates"
	"github.com/breachnotify/breachnotify/templates/templatetest"
)

// Breach data written by the attacker's world: every link form a mail
// client turns into a link, encoded words, quotes, right-to-left text.
// Each organization has one contact, whose name is hostile too.
var hostileOrganizations = "org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n" +
	`h1,Reset your password at https://phish.attacker.example/login,hostile1.example,soc@hostile1.example,"Mallory"" <a@x>, ""x",security,true,en` + "\n" +
	`h2,www.evil.example GmbH,hostile2.example,soc@hostile2.example,mailto:boss@evil.example,security,true,de` + "\n" +
	`h3,ｈｔｔｐｓ://evil．example/login Ltd,hostile3.example,soc@hostile3.example,=?utf-8?q?Bcc:_x@y?=,security,false,fr` + "\n" +
	`h4,=?utf-8?q?Bcc:_x@y?= Inc,hostile4.example,soc@hostile4.example,محمد الأحمد evil.example/login,security,true,ja` + "\n" +
	`h5,"evil.example/login S.A. ""quoted"" 'single'",hostile5.example,soc@hostile5.example,Dana O'Brien \ backslash,security,true,en` + "\n"

var hostileItems = "org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n" +
	`h1,https://item-ref.attacker.example/x,email,2024-01-05T14:22:00Z,Reset your password at https://phish.attacker.example/login,see www.evil.example,password` + "\n" +
	`h2,MSG-2,email,2024-01-05T14:22:00Z,mailto:it@evil.example urgent,evil。com/login,` + "\n" +
	`h3,MSG-3,email,2024-01-05T14:22:00Z,ｈｔｔｐｓ：／／evil．example/login,,api_key` + "\n" +
	`h4,MSG-4,file,2024-01-05T14:22:00Z,\\evil.example\share\invoice.docx,ms-msdt:/id PCWDiagnostic,` + "\n" +
	`h5,MSG-5,other,2024-01-05T14:22:00Z,=?utf-8?b?QmNjOiB4QHk=?= evil.com,x@evil.example,` + "\n"

// hostileContacts are the contacts' names as imported (CSV unquoted).
var hostileContacts = map[string]string{
	"soc@hostile1.example": `Mallory" <a@x>, "x`,
	"soc@hostile2.example": "mailto:boss@evil.example",
	"soc@hostile3.example": "=?utf-8?q?Bcc:_x@y?=",
	"soc@hostile4.example": "محمد الأحمد evil.example/login",
	"soc@hostile5.example": `Dana O'Brien \ backslash`,
}

// liveForms are the hostile links as they were imported: none may reach
// a message in a form a client links.
var liveForms = []string{"phish.attacker.example", "https://phish", "item-ref.attacker.example", "www.evil.example",
	"evil.example/login", "mailto:", "ｈｔｔｐｓ", "evil．example", "evil。com", `\\evil`, "ms-msdt:", "evil.com", "x@evil.example",
	"boss@evil.example", "incident.attacker.example"}

// loadHostile creates the incident and imports the hostile data.
func loadHostile(t *testing.T, e *apptest.Env, slug string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: slug, Title: "Breach seen at https://incident.attacker.example",
		Summary: "Mailboxes were read; www.evil.example was involved."}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader(hostileOrganizations), notifier.FormatCSV); err != nil {
		t.Fatalf("import organizations: %v", err)
	}
	importItems(t, e, slug, hostileItems)
}

// TestHostileDataCampaign sends a wave about hostile data through Mailpit
// (an SMTP server this project did not write), DKIM-signed, and reads every
// message as a client would: it carries only its own links, none of the
// hostile links in a linkable form, every header decodes to exactly what
// was imported, and the signature verifies.
func TestHostileDataCampaign(t *testing.T) {
	t.Parallel()
	key := newRSA(t)
	d := &smtp.DKIM{Domain: "notify.example", Selector: "bn2026", Key: key}
	mp := apptest.StartMailpit(t)
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		s, err := config.ParseSMTPURL("smtp://notifier:secret@" + mp.SMTPAddr + "?tls=starttls&tls_skip_verify=true")
		if err != nil {
			t.Fatal(err)
		}
		c.SMTP = s
		c.DKIM = &config.DKIM{Key: key, Selector: d.Selector, Domain: d.Domain}
	}})
	ctx := context.Background()
	// Bidi overrides, which make a name read as another, are refused at
	// import, naming the line and the field.
	_, err := e.Client.ImportOrganizations(ctx, strings.NewReader("org_ref,org_name,contact_email\nrlo,invoice\u202efdp.exe,soc@rlo.example\n"), notifier.FormatCSV)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "org_name") {
		t.Errorf("an override in a name: %v, want it refused at line 2, org_name", err)
	}

	loadHostile(t, e, "hostile")
	w := e.LaunchInitial(t, "hostile")
	if w.Deliveries[notifier.DeliverySent] != 5 || w.Status != notifier.WaveCompleted {
		t.Fatalf("wave %+v: want 5 sent and completed (defanged data passes the firewall)", w)
	}
	msgs, err := mp.Messages(ctx)
	if err != nil || len(msgs) != 5 {
		t.Fatalf("mailpit has %d messages (%v), want 5", len(msgs), err)
	}
	record, err := smtp.DKIMRecord(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	sawDefanged := false
	for _, m := range msgs {
		raw, err := mp.Raw(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(string) ([]string, error) { return []string{record}, nil }})
		if err != nil || len(vs) != 1 || vs[0].Err != nil {
			t.Errorf("message %s: DKIM does not verify: %v %v", m.ID, err, vs)
		}
		p := apptest.Parse(t, raw)
		to, err := p.Header.AddressList("To")
		if err != nil || len(to) != 1 {
			t.Fatalf("To %q: %v", p.Header.Get("To"), err)
		}
		rcpt := to[0].Address
		if want := hostileContacts[rcpt]; to[0].Name != want {
			t.Errorf("%s: To name reads %q, want %q as imported", rcpt, to[0].Name, want)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(p.Header.Get("Subject"))
		if err != nil {
			t.Fatalf("subject %q: %v", p.Header.Get("Subject"), err)
		}
		if strings.Contains(subject, "Bcc: x@y") {
			t.Errorf("%s: the subject was read as an encoded word: %q", rcpt, subject)
		}
		visible, hrefs := readHTML(t, p.HTML)
		for _, part := range []struct{ name, text string }{{"subject", subject}, {"text", p.Text}, {"html", visible}} {
			for _, live := range liveForms {
				if strings.Contains(strings.ToLower(part.text), live) {
					t.Errorf("%s: the %s part carries %q in a linkable form", rcpt, part.name, live)
				}
			}
			for _, l := range linkguard.Scan(part.text) {
				if !isOwnLink(l.Text) && l.Text != "security-notice@notify.example" {
					t.Errorf("%s: the %s part links %q", rcpt, part.name, l.Text)
				}
			}
		}
		for _, h := range hrefs {
			if !isOwnLink(h) {
				t.Errorf("%s: the HTML links or loads %q", rcpt, h)
			}
		}
		if strings.Contains(p.Text, "hxxps://phish[.]attacker[.]example/login") {
			sawDefanged = true
		}
	}
	if !sawDefanged {
		t.Error("no message shows the phishing subject defanged: the data did not reach the notice")
	}
}

// isOwnLink reports the notice's own pages on the test's public URL.
func isOwnLink(u string) bool {
	return u == "http://notify.test/verify" || u == "http://notify.test/portal" ||
		(strings.HasPrefix(u, "http://notify.test/ack/") && !strings.ContainsAny(u[len("http://notify.test/ack/"):], "/.?#@"))
}

// readHTML parses an HTML part as a browser does and returns its visible
// text and every URL-bearing attribute value (href, src, action, ...).
func readHTML(t *testing.T, doc string) (string, []string) {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var urls []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			text.WriteString(n.Data)
		case html.ElementNode:
			if n.Data == "style" || n.Data == "script" {
				if n.FirstChild != nil && strings.Contains(strings.ToLower(n.FirstChild.Data), "url(") {
					urls = append(urls, "css:"+n.FirstChild.Data)
				}
				return
			}
			for _, a := range n.Attr {
				switch a.Key {
				case "href", "src", "srcset", "action", "formaction", "background", "poster", "data", "ping", "cite", "longdesc":
					urls = append(urls, a.Val)
				case "style":
					if strings.Contains(strings.ToLower(a.Val), "url(") {
						urls = append(urls, "css:"+a.Val)
					}
				}
			}
			text.WriteString("\n")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return text.String(), urls
}

// TestPagesDefangBreachData signs in to the portal of an organization with
// hostile data, checks a notice's code on the verify page, and reads the
// staff dashboard: every page shows the data (defanged) and no link but
// its own.
func TestPagesDefangBreachData(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	// A relay's reply quoting a hostile address, shown in the failure lists.
	e.Replies.Always("soc@hostile2.example", capture.StepRcpt, capture.Fault{Code: 550, Message: "5.1.1 <boss@evil.example>: see https://evil.example/why"})
	loadHostile(t, e, "hostile")
	e.LaunchInitial(t, "hostile")

	v := newVisitor(t, e)
	v.signIn("soc@hostile1.example")
	ids := idsOf(t, e, "h1")
	for _, path := range []string{"/portal", fmt.Sprintf("/portal/incidents/%d", ids.incident), fmt.Sprintf("/portal/notices/%d", ids.notice),
		"/portal/items", fmt.Sprintf("/portal/items/%d", ids.item)} {
		st, page, _ := v.do("GET", path, nil)
		if st != 200 {
			t.Fatalf("%s: %d", path, st)
		}
		checkPage(t, path, page)
	}
	if !strings.Contains(html.UnescapeString(v.last), "hxxps://item-ref[.]attacker[.]example/x") {
		t.Error("the item page does not show the item's reference (defanged)")
	}

	ref := messagesTo(t, e, "soc@hostile1.example")[0].Header.Get("X-Breachnotify-Reference")
	st, page, _ := v.do("GET", "/verify?code="+ref, nil)
	if st != 200 || !strings.Contains(html.UnescapeString(page), "hxxps://incident[.]attacker[.]example") {
		t.Fatalf("verify: %d\n%s", st, page)
	}
	checkPage(t, "verify", page)

	b := newStaffBrowser(t, e)
	b.mustSignIn(newKey(t, e, "vera viewer", notifier.RoleViewer))
	for _, path := range []string{"/admin", "/admin/incidents", "/admin/notices", "/admin/unreachable", "/admin/failures"} {
		r := b.get(path)
		if r.status != 200 {
			t.Fatalf("%s: %d", path, r.status)
		}
		checkPage(t, path, r.body)
	}
}

// checkPage fails when a page's visible text holds a hostile link in a
// linkable form or links anywhere but to itself.
func checkPage(t *testing.T, name, page string) {
	t.Helper()
	visible, urls := readHTML(t, page)
	for _, live := range liveForms {
		if strings.Contains(strings.ToLower(visible), live) {
			t.Errorf("%s: the page shows %q in a linkable form", name, live)
		}
	}
	for _, l := range linkguard.Scan(visible) {
		if l.Text != "http://notify.test" {
			t.Errorf("%s: the page's text links %q", name, l.Text)
		}
	}
	for _, u := range urls {
		if !(strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//")) && !strings.HasPrefix(u, "#") {
			t.Errorf("%s: the page links or loads %q", name, u)
		}
	}
}

// TestFirewallPausesTheWave activates templates that slipped past the
// upload checks (compiled unchecked, as if those checks had a hole): the
// first message is stopped before it is signed, its delivery fails with
// the reason, the wave pauses saying why, the block is counted and
// audited, and nothing leaves. Fixed, the wave resumes and completes. A
// sign-in email built to leak its own token through a CSS load is stopped
// too.
func TestFirewallPausesTheWave(t *testing.T) {
	t.Parallel()
	set, err := templates.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	shipped, _ := set.Get(templates.KindInitial, "en")
	for _, name := range []string{"href from pieces", "sign-in token in a css load"} {
		i := slices.IndexFunc(templatetest.Bypasses, func(b templatetest.Bypass) bool { return b.Name == name })
		b := templatetest.Bypasses[i]
		tmpl, err := templates.CompileUnchecked(b.TemplateKind(), "en", b.Source())
		if err != nil {
			t.Fatal(err)
		}
		set.Put(tmpl)
	}
	e := apptest.Start(t, apptest.Options{Templates: set})
	ctx := context.Background()
	slug := e.LoadSample(t, "firewall")
	plan, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.Sample.Subject, "not sendable: blocked by the link firewall") {
		t.Errorf("the plan's sample does not warn: %q", plan.Sample.Subject)
	}
	if _, err := e.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	var w notifier.Wave
	eventually(t, "the wave to pause", func() bool {
		w, err = e.Client.Wave(ctx, plan.ID)
		return err == nil && w.Status == notifier.WavePaused
	})
	if !strings.HasPrefix(w.PauseReason, "blocked by the link firewall: html: ") || len(linkguard.Scan(w.PauseReason)) > 0 {
		t.Errorf("pause reason %q", w.PauseReason)
	}
	if w.Deliveries[notifier.DeliveryFailed] < 1 || w.Deliveries[notifier.DeliverySent] != 0 || len(e.Mailbox.Messages()) != 0 {
		t.Fatalf("deliveries %v, %d messages received: want a failure and nothing sent", w.Deliveries, len(e.Mailbox.Messages()))
	}
	ds, err := e.App.Store.WaveDeliveries(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	blocked := 0
	for _, d := range ds {
		if d.Status == notifier.DeliveryFailed && strings.HasPrefix(d.SMTPReply, "blocked by the link firewall: ") {
			blocked++
		}
	}
	if blocked == 0 {
		t.Errorf("no delivery records the firewall's reason: %+v", ds)
	}
	if !auditedAs(t, e, "wave.pause", "link firewall") {
		t.Error("the pause is not audited as the link firewall's")
	}
	if metric := sample(t, e, `breachnotify_firewall_blocked_total{part="html"}`); metric < 1 {
		t.Errorf("blocks counted: %v", metric)
	}

	// The fix: the shipped template again; the wave resumes with it (a
	// wave the firewall stopped is pinned again to the templates in use)
	// and completes.
	set.Put(shipped)
	if w, err = e.Client.ResumeWave(ctx, w.ID); err != nil || w.TemplateVersions["en"] != shipped.Version {
		t.Fatalf("resume: %+v, %v; want it pinned to the shipped version %s", w.TemplateVersions, err, shipped.Version)
	}
	if w, err = e.Client.WaitWave(ctx, w.ID, 50*time.Millisecond, nil); err != nil || w.Deliveries[notifier.DeliverySent] != 12-blocked {
		t.Fatalf("after the fix: %+v, %v; want the other %d sent", w.Deliveries, err, 12-blocked)
	}

	// The sign-in email that would load its own token from elsewhere.
	before := sample(t, e, `breachnotify_firewall_blocked_total{part="html"}`)
	v := newVisitor(t, e)
	v.requestLink("soc@contoso.example")
	eventually(t, "the sign-in email to be blocked", func() bool {
		return sample(t, e, `breachnotify_firewall_blocked_total{part="html"}`) > before
	})
	for _, m := range e.Mailbox.Messages() {
		if strings.Contains(string(m.Raw), "/portal/login/") {
			t.Fatal("a sign-in email left")
		}
	}
}

// sample reads one series' value from /metrics (0 when absent).
func sample(t *testing.T, e *apptest.Env, series string) float64 {
	t.Helper()
	_, body := scrape(t, e.App.URL(), "")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
