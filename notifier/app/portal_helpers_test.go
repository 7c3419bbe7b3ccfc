package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/templates"
)

// Helpers of the customer portal's tests: a visitor over net/http with a
// cookie jar, the magic-link sign-in as a person does it, and the scenario
// data (two incidents, several notices and batches per organization).

var (
	portalLoginLink = regexp.MustCompile(`https?://(?:notify\.test|localhost:[0-9]+)(/portal/login/[A-Za-z0-9_-]{43})`)
	formToken       = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// visitor is one browser: a cookie jar, redirects not followed.
type visitor struct {
	t    *testing.T
	e    *apptest.Env
	c    *http.Client
	last string // the last page's body
}

func newVisitor(t *testing.T, e *apptest.Env) *visitor {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The visitor chose English with the pages' switcher (the lang
	// cookie wins over a contact's locale): these tests read English
	// pages; the other languages are tested in notifier/portal.
	if u, err := url.Parse(e.App.URL()); err == nil {
		jar.SetCookies(u, []*http.Cookie{{Name: "lang", Value: "en"}, {Name: "__Host-lang", Value: "en"}})
	}
	return &visitor{t: t, e: e, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
		Timeout:       30 * time.Second,
	}}
}

// do sends a request (a form when form is not nil) and returns the status,
// the body and the headers.
func (v *visitor) do(method, path string, form url.Values) (int, string, http.Header) {
	v.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, v.e.App.URL()+path, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := v.c.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	v.last = b.String()
	return resp.StatusCode, v.last, resp.Header
}

// csrf is the form token on the last page.
func (v *visitor) csrf() string {
	v.t.Helper()
	m := formToken.FindStringSubmatch(v.last)
	if m == nil {
		v.t.Fatalf("no form token on the page:\n%s", v.last)
	}
	return html.UnescapeString(m[1])
}

// cookie is the value of the visitor's cookie name, or "".
func (v *visitor) cookie(name string) string {
	u, _ := url.Parse(v.e.App.URL())
	for _, c := range v.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie replaces the visitor's cookie name.
func (v *visitor) setCookie(name, value string) {
	u, _ := url.Parse(v.e.App.URL())
	v.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// requestLink asks for sign-in links for email and checks the neutral answer.
func (v *visitor) requestLink(email string) {
	v.t.Helper()
	if st, page, _ := v.do("GET", "/portal/login", nil); st != 200 || !strings.Contains(page, `<label for="email">`) {
		v.t.Fatalf("GET /portal/login: %d\n%s", st, page)
	}
	st, page, _ := v.do("POST", "/portal/login", url.Values{"csrf": {v.csrf()}, "email": {email}})
	if st != 200 || !strings.Contains(page, "we have sent a sign-in link") {
		v.t.Fatalf("POST /portal/login: %d\n%s", st, page)
	}
}

// signIn signs the visitor in as email (a contact of one organization)
// through the email link, as a person does, and returns the link's path.
func (v *visitor) signIn(email string) string {
	v.t.Helper()
	before := len(portalLinks(v.t, v.e, email))
	v.requestLink(email)
	links := awaitLinks(v.t, v.e, email, before+1)
	link := links[len(links)-1].Path
	v.useLink(link)
	return link
}

// useLink opens a sign-in link and presses Continue.
func (v *visitor) useLink(path string) {
	v.t.Helper()
	if st, page, _ := v.do("GET", path, nil); st != 200 || !strings.Contains(page, "Continue") {
		v.t.Fatalf("GET sign-in link: %d\n%s", st, page)
	}
	st, _, hdr := v.do("POST", path, url.Values{"csrf": {v.csrf()}})
	if st != http.StatusSeeOther || hdr.Get("Location") != "/portal" || v.cookie("bn_portal") == "" {
		v.t.Fatalf("POST sign-in link: %d, Location %q, cookie %q", st, hdr.Get("Location"), v.cookie("bn_portal"))
	}
	// Behind plain http (as in tests): HttpOnly and SameSite, not Secure.
	for _, c := range hdr.Values("Set-Cookie") {
		if strings.HasPrefix(c, "bn_portal=") && (!strings.HasSuffix(c, "; Path=/; HttpOnly; SameSite=Lax") || strings.Contains(c, "Secure")) {
			v.t.Errorf("session cookie %q", c)
		}
	}
}

// portalMail is one sign-in email.
type portalMail struct {
	Path    string
	Subject string
	Text    string
}

// portalLinks returns the sign-in emails a recipient (in any case)
// received, in order.
func portalLinks(t *testing.T, e *apptest.Env, rcpt string) []portalMail {
	t.Helper()
	var out []portalMail
	for _, m := range e.Mailbox.Messages() {
		if len(m.Recipients) == 0 || !strings.EqualFold(m.Recipients[0], rcpt) {
			continue
		}
		p := apptest.Parse(t, m.Raw)
		if l := portalLoginLink.FindStringSubmatch(p.Text); l != nil {
			out = append(out, portalMail{Path: l[1], Subject: p.Header.Get("Subject"), Text: p.Text})
		}
	}
	return out
}

// awaitLinks waits until rcpt received n sign-in emails and their jobs
// are done, and returns the emails. The relay has a message a moment
// before the job's transaction, which stores the link's hash, commits.
func awaitLinks(t *testing.T, e *apptest.Env, rcpt string, n int) []portalMail {
	t.Helper()
	var links []portalMail
	eventually(t, "sign-in emails to "+rcpt, func() bool {
		links = portalLinks(t, e, rcpt)
		return len(links) >= n
	})
	if failed := waitJobs(t, e); failed != 0 {
		t.Errorf("%d sign-in email jobs failed", failed)
	}
	return portalLinks(t, e, rcpt)
}

// waitJobs waits until no sign-in email job is pending and returns how
// many failed for good.
func waitJobs(t *testing.T, e *apptest.Env) int {
	t.Helper()
	var pending, failed int
	eventually(t, "sign-in email jobs", func() bool {
		_ = e.App.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE state NOT IN ('completed', 'cancelled', 'discarded')),
			count(*) FILTER (WHERE state IN ('cancelled', 'discarded')) FROM river_job WHERE kind = 'portal_link'`).Scan(&pending, &failed)
		return pending == 0
	})
	return failed
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// launch plans and launches a wave of kind and waits for it.
func launch(t *testing.T, e *apptest.Env, slug string, kind templates.Kind) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plan, err := e.Client.PlanWave(ctx, slug, kind)
	if err != nil {
		t.Fatalf("plan %s: %v", kind, err)
	}
	if _, err := e.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatalf("launch %s: %v", kind, err)
	}
	if _, err := e.Client.WaitWave(ctx, plan.ID, 50*time.Millisecond, nil); err != nil {
		t.Fatalf("wave %d: %v", plan.ID, err)
	}
}

// importItems adds an exposure batch to an incident.
func importItems(t *testing.T, e *apptest.Env, slug, csv string) {
	t.Helper()
	if _, err := e.Client.ImportExposures(context.Background(), slug, strings.NewReader(csv), notifier.FormatCSV); err != nil {
		t.Fatalf("import exposures: %v", err)
	}
}

// portalScenario loads the sample campaign and more: contoso and fabrikam
// get an initial notice and a follow-up in incident "mail" (the follow-up
// from a batch of each organization's own, contoso's with spreadsheet
// formulas for subjects); each alone is notified about an incident of its
// own: fabrikam about "vpn", contoso about "crm".
func portalScenario(t *testing.T, e *apptest.Env) {
	t.Helper()
	slug := e.LoadSample(t, "mail")
	e.LaunchInitial(t, slug)
	importItems(t, e, slug, "org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n"+
		"contoso,MSG-100009,email,2024-02-01T10:00:00Z,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"open\"\")\",Formula in a subject,password\n"+
		"contoso,FILE-100010,file,2024-02-02T10:00:00Z,+secrets.xlsx,Spreadsheet,api_key\n")
	importItems(t, e, slug, "org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n"+
		"fabrikam,MSG-200009,email,2024-02-01T11:00:00Z,Re: VPN,Another thread,\n")
	launch(t, e, slug, templates.KindFollowUp)

	if _, err := e.Client.CreateIncident(context.Background(), notifier.NewIncident{Slug: "vpn", Title: "VPN appliance compromise", Summary: "Config exported."}); err != nil {
		t.Fatal(err)
	}
	importItems(t, e, "vpn", "org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n"+
		"fabrikam,CFG-1,file,2024-03-01T00:00:00Z,vpn.conf,VPN configuration,private_key\n"+
		"fabrikam,CRED-2,credential,2024-03-01T00:00:00Z,vpn admin,Admin credential,password\n")
	launch(t, e, "vpn", templates.KindInitial)

	if _, err := e.Client.CreateIncident(context.Background(), notifier.NewIncident{Slug: "crm", Title: "CRM export", Summary: "Contacts exported."}); err != nil {
		t.Fatal(err)
	}
	importItems(t, e, "crm", "org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n"+
		"contoso,CRM-1,other,2024-04-01T00:00:00Z,Account list,Customer accounts,\n")
	launch(t, e, "crm", templates.KindInitial)
}

// orgIDs are ids of one organization's things, for guessing at them.
type orgIDs struct {
	incident, notice, item, batch int64
	// unacked is a notice left unacknowledged.
	unacked int64
	// message is a stolen message of the organization alone; domain its
	// domain.
	message, domain string
	// session is the number of a spare session of one of its members.
	session int64
	// member is a member who is not an approver; request a pending
	// access request.
	member, request int64
}

// idsOf picks ids of an organization's incidents, notices, items and
// batches; batch is one that holds items of that organization only when
// possible.
func idsOf(t *testing.T, e *apptest.Env, orgRef string) orgIDs {
	t.Helper()
	var ids orgIDs
	err := e.App.Pool.QueryRow(context.Background(), `
SELECT max(n.incident_id), min(n.id), max(n.id),
       (SELECT max(i.id) FROM exposure_items i WHERE i.organization_id = o.id),
       (SELECT i.batch_id FROM exposure_items i WHERE i.organization_id = o.id GROUP BY i.batch_id
         ORDER BY bool_and(NOT EXISTS (SELECT 1 FROM exposure_items j WHERE j.batch_id = i.batch_id AND j.organization_id <> o.id)) DESC, i.batch_id DESC LIMIT 1)
FROM organizations o JOIN notices n ON n.organization_id = o.id AND n.parent_id IS NULL
WHERE o.ref = $1 GROUP BY o.id`, orgRef).Scan(&ids.incident, &ids.notice, &ids.unacked, &ids.item, &ids.batch)
	if err != nil {
		t.Fatalf("ids of %s: %v", orgRef, err)
	}
	return ids
}

// sessionHash is how the database names a session cookie.
func sessionHash(cookie string) []byte {
	h := sha256.Sum256([]byte(cookie))
	return h[:]
}
