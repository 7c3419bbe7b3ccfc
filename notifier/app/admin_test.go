package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/templates"
)

// staffBrowser is a staff member's browser without JavaScript: it keeps
// cookies and does not follow redirects, so each answer can be checked.
type staffBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newStaffBrowser(t *testing.T, e *apptest.Env) *staffBrowser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &staffBrowser{t: t, base: e.App.URL(), c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// reply is one answer as a test checks it.
type reply struct {
	status int
	body   string
	header http.Header
}

func (b *staffBrowser) do(method, path string, form url.Values, header ...string) reply {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(out), resp.Header}
}

func (b *staffBrowser) get(path string) reply { return b.do("GET", path, nil) }

func (b *staffBrowser) post(path string, form url.Values) reply { return b.do("POST", path, form) }

// cookie is the value of the browser's cookie name, or "".
func (b *staffBrowser) cookie(name string) string {
	u, _ := url.Parse(b.base + "/admin")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// csrf is the first form token of a page (csrfField is the portal tests').
func csrf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token on the page:\n%s", page)
	}
	return m[1]
}

// signIn fills in the sign-in form with key.
func (b *staffBrowser) signIn(key string) reply {
	b.t.Helper()
	form := b.get("/admin/login")
	if form.status != 200 {
		b.t.Fatalf("sign-in form: %d", form.status)
	}
	return b.post("/admin/login", url.Values{"csrf": {csrf(b.t, form.body)}, "key": {key}})
}

// mustSignIn signs in with key and fails the test unless it worked.
func (b *staffBrowser) mustSignIn(key string) {
	b.t.Helper()
	if r := b.signIn(key); r.status != 303 || r.header.Get("Location") != "/admin" {
		b.t.Fatalf("sign in: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
}

func expectRedirect(t *testing.T, what string, r reply, to string) {
	t.Helper()
	if r.status != 303 || r.header.Get("Location") != to {
		t.Errorf("%s: %d to %q, want 303 to %q", what, r.status, r.header.Get("Location"), to)
	}
}

func expectPage(t *testing.T, what string, r reply, status int, want ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: %d, want %d:\n%s", what, r.status, status, r.body)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.body, w) {
			t.Errorf("%s: the page does not say %q:\n%s", what, w, r.body)
		}
	}
}

// auditedAs reports whether the audit trail has action by the key named name.
func auditedAs(t *testing.T, e *apptest.Env, action, name string) bool {
	t.Helper()
	list, err := e.App.Service.AuditEntries(context.Background(), notifier.LocalActor("test"), notifier.AuditFilter{Action: action}, notifier.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list.Items {
		if a.ActorName == name {
			return true
		}
	}
	return false
}

// TestAdminSignIn signs staff in and out: a wrong key is refused, a key is
// never taken from the URL, the cookies are what they should be, a revoked
// key's session ends at its next request, a signed-out session's copied
// cookie is worthless, forms need their token, and sign-in attempts are
// rate-limited per address.
func TestAdminSignIn(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	viewer := newKey(t, e, "vera viewer", notifier.RoleViewer)
	b := newStaffBrowser(t, e)

	expectRedirect(t, "anonymous overview", b.get("/admin"), "/admin/login")
	expectRedirect(t, "anonymous incident page", b.get("/admin/incidents/1"), "/admin/login?next=%2Fadmin%2Fincidents%2F1")
	form := b.get("/admin/login")
	expectPage(t, "sign-in form", form, 200, `type="password"`, `method="post"`)
	if sc := strings.Join(form.header.Values("Set-Cookie"), "\n"); !strings.Contains(sc, "bn_admin_signin=") ||
		!strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
		t.Errorf("sign-in cookie: %s", sc)
	}
	if csp := form.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("dashboard CSP: %q", csp)
	}
	token := csrf(t, form.body)

	// Refused: no form token, a wrong key, a key in the URL.
	expectPage(t, "sign-in without a form token", b.post("/admin/login", url.Values{"key": {viewer}}), 403, "Not signed in")
	wrong := []byte(viewer)
	wrong[len(wrong)-1] = map[bool]byte{true: 'b', false: 'a'}[wrong[len(wrong)-1] == 'a']
	expectPage(t, "a wrong key", b.post("/admin/login", url.Values{"csrf": {token}, "key": {string(wrong)}}), 401, "That key does not work")
	expectPage(t, "a key in the URL", b.post("/admin/login?key="+url.QueryEscape(viewer), url.Values{"csrf": {token}}), 401, "That key does not work")
	if c := b.cookie("bn_admin"); c != "" {
		t.Fatalf("a refused sign-in set a session cookie")
	}

	// A viewer signs in, and is brought back to the page asked for.
	r := b.post("/admin/login", url.Values{"csrf": {token}, "key": {viewer}, "next": {"/admin/failures"}})
	expectRedirect(t, "sign in", r, "/admin/failures")
	sc := r.header.Get("Set-Cookie")
	for _, want := range []string{"bn_admin=", "Path=/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(sc, want) {
			t.Errorf("session cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, "Max-Age") || strings.Contains(sc, viewer) {
		t.Errorf("session cookie %q: want a browser-session cookie that is not the key", sc)
	}
	expectPage(t, "overview", b.get("/admin"), 200, "Jobs waiting in the queue", "Unreachable organizations", "vera viewer", "(viewer)")
	expectPage(t, "failures", b.get("/admin/failures"), 200, "No delivery has failed")
	if !auditedAs(t, e, "admin.sign_in", "vera viewer") {
		t.Error("the sign-in is not on the audit trail")
	}
	// Another site's link to the sign-in page does not lead elsewhere.
	// (notifier/admin's tests try more; each attempt here counts against
	// the address's sign-in budget, checked below.)
	for _, next := range []string{"//evil.example/", "https://evil.example/"} {
		b2 := newStaffBrowser(t, e)
		f := b2.get("/admin/login")
		r := b2.post("/admin/login", url.Values{"csrf": {csrf(t, f.body)}, "key": {viewer}, "next": {next}})
		expectRedirect(t, "sign in with next="+next, r, "/admin")
	}

	// Revoking the key ends its sessions at their next request.
	keys, _ := e.App.Service.APIKeys(context.Background(), notifier.LocalActor("test"))
	if _, err := e.App.Service.RevokeAPIKey(context.Background(), notifier.LocalActor("test"), keys[len(keys)-1].ID); err != nil {
		t.Fatal(err)
	}
	r = b.get("/admin")
	expectRedirect(t, "a revoked key's session", r, "/admin/login?ended=1")
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "bn_admin=;") {
		t.Errorf("the ended session's cookie is not deleted: %q", sc)
	}
	expectPage(t, "sign-in page after the session ended", b.get("/admin/login?ended=1"), 200, "Your session has ended")
	expectPage(t, "the revoked key", b.signIn(viewer), 401, "That key does not work")

	// Signing out ends the session on the server: a copy of the cookie no
	// longer works. Signing out needs the form token too.
	b.mustSignIn(newKey(t, e, "olga operator", notifier.RoleOperator))
	copied := b.cookie("bn_admin")
	expectPage(t, "sign out without a form token", b.post("/admin/logout", url.Values{}), 403, "Nothing was done")
	expectRedirect(t, "sign out", b.post("/admin/logout", url.Values{"csrf": {csrf(t, b.get("/admin").body)}}), "/admin/login?signed_out=1")
	expectPage(t, "signed out", b.get("/admin/login?signed_out=1"), 200, "You are signed out")
	thief := newStaffBrowser(t, e)
	u, _ := url.Parse(e.App.URL())
	thief.c.Jar.SetCookies(u, []*http.Cookie{{Name: "bn_admin", Value: copied, Path: "/"}})
	expectRedirect(t, "a signed-out session's cookie", thief.get("/admin"), "/admin/login?ended=1")
	if !auditedAs(t, e, "admin.sign_out", "olga operator") {
		t.Error("the sign-out is not on the audit trail")
	}

	// Sign-in attempts are limited per address: 10, then one a minute.
	limited := false
	for i := 0; i < 12 && !limited; i++ {
		r := b.signIn("bn_wrong")
		limited = r.status == 429
		if limited && r.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if !limited {
		t.Error("12 more sign-in attempts from one address were not limited")
	}
}

// dashboardWave launches the sample's initial wave slowly: one worker,
// chunks of 2, and each recipient answered after delay, so the wave runs
// for about 12 × delay unless told otherwise.
func dashboardWave(t *testing.T, slug string, delay time.Duration) (*apptest.Env, notifier.Wave) {
	t.Helper()
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) { c.Workers, c.ChunkSize = 1, 2 }})
	for rcpt := range batch1Recipients {
		e.Replies.Always(rcpt, capture.StepRcpt, capture.Fault{Delay: delay})
	}
	e.LoadSample(t, slug)
	plan, err := e.Client.PlanWave(context.Background(), slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.Client.LaunchWave(context.Background(), plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	return e, w
}

// speedUp lets the wave's remaining sends through at once.
func speedUp(e *apptest.Env) {
	for rcpt := range batch1Recipients {
		e.Replies.Always(rcpt, capture.StepRcpt, capture.Fault{})
	}
}

func waveStatus(t *testing.T, e *apptest.Env, id int64) notifier.WaveStatus {
	t.Helper()
	w, err := e.Client.Wave(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return w.Status
}

// TestAdminWaveControls checks who may pause and resume a wave from the
// dashboard: a viewer sees the buttons disabled and is refused anyway,
// a form without its session's token does nothing, and an operator's
// pause and resume take effect and are audited as the operator's key.
func TestAdminWaveControls(t *testing.T) {
	t.Parallel()
	e, w := dashboardWave(t, "dash", 400*time.Millisecond)
	incPage := fmt.Sprintf("/admin/incidents/%d", w.IncidentID)
	pause := fmt.Sprintf("/admin/waves/%d/pause", w.ID)
	resume := fmt.Sprintf("/admin/waves/%d/resume", w.ID)

	viewer := newStaffBrowser(t, e)
	viewer.mustSignIn(newKey(t, e, "vera viewer", notifier.RoleViewer))
	page := viewer.get(incPage)
	expectPage(t, "viewer's incident page", page, 200, "Mail breach", "deliveries finished", "<progress", `max="12"`,
		"disabled", "needs an operator or admin key",
		// Live: refreshed in place by the script, or reloaded without it.
		`data-refresh="5"`, `<noscript><meta http-equiv="refresh" content="5"></noscript>`)
	if strings.Contains(page.body, `action="`+pause+`"`) {
		t.Error("a viewer is offered the pause form")
	}
	expectPage(t, "viewer pauses", viewer.post(pause, url.Values{"csrf": {csrf(t, page.body)}}), 403, "role")
	if st := waveStatus(t, e, w.ID); st != notifier.WaveRunning {
		t.Fatalf("after the viewer's attempt the wave is %s", st)
	}

	operator := newStaffBrowser(t, e)
	operator.mustSignIn(newKey(t, e, "olga operator", notifier.RoleOperator))
	page = operator.get(incPage)
	expectPage(t, "operator's incident page", page, 200, `action="`+pause+`"`, "Pause")
	expectPage(t, "pause without a form token", operator.post(pause, url.Values{}), 403, "Nothing was done")
	expectPage(t, "pause with another session's token", operator.post(pause, url.Values{"csrf": {csrf(t, viewer.get(incPage).body)}}), 403, "Nothing was done")
	expectPage(t, "pause with a forged token", operator.post(pause, url.Values{"csrf": {"9999999999.AAAA"}}), 403, "Nothing was done")
	if st := waveStatus(t, e, w.ID); st != notifier.WaveRunning {
		t.Fatalf("after refused forms the wave is %s", st)
	}

	done := fmt.Sprintf("%s?done=paused&wave=%d", incPage, w.ID)
	expectRedirect(t, "operator pauses", operator.post(pause, url.Values{"csrf": {csrf(t, page.body)}}), done)
	if st := waveStatus(t, e, w.ID); st != notifier.WavePaused {
		t.Fatalf("after pausing the wave is %s", st)
	}
	page = operator.get(done)
	expectPage(t, "paused wave", page, 200, "is paused", `action="`+resume+`"`)
	expectPage(t, "pausing again", operator.post(pause, url.Values{"csrf": {csrf(t, page.body)}}), 409, "Not done")
	if !auditedAs(t, e, "wave.pause", "olga operator") {
		t.Error("the pause is not on the audit trail as the operator's key")
	}

	speedUp(e)
	expectRedirect(t, "operator resumes", operator.post(resume, url.Values{"csrf": {csrf(t, page.body)}}),
		fmt.Sprintf("%s?done=resumed&wave=%d", incPage, w.ID))
	if !auditedAs(t, e, "wave.resume", "olga operator") {
		t.Error("the resume is not on the audit trail as the operator's key")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	final, err := e.Client.WaitWave(ctx, w.ID, 50*time.Millisecond, nil)
	if err != nil || final.Status != notifier.WaveCompleted {
		t.Fatalf("after resuming: %+v %v", final, err)
	}
	page = operator.get(incPage)
	expectPage(t, "completed wave", page, 200, "12 of 12 deliveries finished", "Completed")
	if strings.Contains(page.body, "data-refresh") || strings.Contains(page.body, `http-equiv="refresh"`) {
		t.Error("the page of a completed wave still refreshes")
	}
}

// TestAdminPages fills the lists a viewer watches: an unreachable
// organization with its last reply, notices awaiting acknowledgement and
// recent failures with their SMTP replies, and never a token.
func TestAdminPages(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	for _, rcpt := range []string{"security@northwind.example", "counsel@northwind.example"} {
		e.Replies.Always(rcpt, capture.StepRcpt, capture.Fault{Code: 550, Message: "5.1.1 mailbox unavailable"})
	}
	slug := e.LoadSample(t, "pages")
	w := e.LaunchInitial(t, slug)
	b := newStaffBrowser(t, e)
	b.mustSignIn(newKey(t, e, "vera viewer", notifier.RoleViewer))

	expectPage(t, "incidents", b.get("/admin/incidents"), 200, fmt.Sprintf(`href="/admin/incidents/%d"`, w.IncidentID), "Mail breach")
	expectPage(t, "unreachable", b.get("/admin/unreachable"), 200, "Northwind Traders", "security@northwind[.]example", "mailbox unavailable")
	expectPage(t, "failures", b.get("/admin/failures"), 200, "security@northwind[.]example", "550", "5.1.1 mailbox unavailable", "Northwind Traders")
	notices := b.get("/admin/notices")
	expectPage(t, "notices", notices, 200, "Contoso Ltd", "Fabrikam GmbH", "Mail breach")
	if i, j := strings.Index(notices.body, "Contoso Ltd"), strings.Index(notices.body, "Fabrikam GmbH"); i > j {
		t.Error("notices are not oldest first")
	}
	overview := b.get("/admin")
	expectPage(t, "overview", overview, 200, "Sent notices awaiting acknowledgement", "The River UI (the job queue&#39;s own pages) is for admin keys")
	ds, _ := e.App.Store.WaveDeliveries(context.Background(), w.ID)
	for _, page := range []reply{notices, overview, b.get("/admin/failures"), b.get("/admin/unreachable"), b.get(fmt.Sprintf("/admin/incidents/%d", w.IncidentID))} {
		for _, d := range ds {
			if strings.Contains(page.body, d.Reference) {
				t.Errorf("a page shows the reference code of delivery %d", d.ID)
			}
		}
	}
	expectPage(t, "unknown page", b.get("/admin/nothing"), 404, "no such dashboard page")
	expectPage(t, "unknown incident", b.get("/admin/incidents/99999"), 404, "Not found")
}

// TestRiverUIAccess checks that the River UI answers admins only, on
// every path (page, assets, API), that its relaxed CSP stays under
// /riverui/, and that a change made through it is audited and must come
// from its own pages.
func TestRiverUIAccess(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	anon := newStaffBrowser(t, e)
	expectRedirect(t, "anonymous River UI page", anon.do("GET", "/riverui/", nil, "Accept", "text/html"), "/admin/login?next=%2Friverui%2F")
	for _, path := range []string{"/riverui/api/jobs?state=available", "/riverui/api/queues", "/riverui/assets/x.js"} {
		if r := anon.get(path); r.status != 403 {
			t.Errorf("anonymous %s: %d, want 403", path, r.status)
		}
	}
	for _, role := range []notifier.Role{notifier.RoleViewer, notifier.RoleOperator} {
		b := newStaffBrowser(t, e)
		b.mustSignIn(newKey(t, e, "staff "+string(role), role))
		expectPage(t, string(role)+"'s River UI page", b.get("/riverui/"), 403, "The River UI is for admins")
		if r := b.get("/riverui/api/queues"); r.status != 403 {
			t.Errorf("%s's River UI API call: %d, want 403", role, r.status)
		}
		if strings.Contains(b.get("/admin").body, `href="/riverui/"`) {
			t.Errorf("the %s's dashboard links to the River UI", role)
		}
	}

	admin := newStaffBrowser(t, e)
	admin.mustSignIn(newKey(t, e, "ada admin", notifier.RoleAdmin))
	if !strings.Contains(admin.get("/admin").body, `href="/riverui/"`) {
		t.Error("the admin's dashboard does not link to the River UI")
	}
	page := admin.get("/riverui/")
	expectPage(t, "admin's River UI", page, 200, `<div id="root"`)
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "script-src 'self' 'unsafe") {
		t.Errorf("River UI CSP: %q", csp)
	}
	expectPage(t, "admin's River UI API", admin.get("/riverui/api/queues"), 200, `"data"`)
	expectPage(t, "admin's River UI jobs", admin.get("/riverui/api/jobs?state=available"), 200, `"data"`)
	if r := admin.get("/riverui"); r.status != 301 || r.header.Get("Location") != "/riverui/" {
		t.Errorf("/riverui: %d to %q", r.status, r.header.Get("Location"))
	}

	// A change must come from the UI's own pages, and is audited first
	// (whatever the UI then makes of it: this job does not exist).
	body := `{"job_ids":["987654"]}`
	if r := admin.do("POST", "/riverui/api/jobs/cancel", nil, "Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"); r.status != 403 {
		t.Errorf("a cross-site job cancel: %d, want 403", r.status)
	}
	if auditedAs(t, e, "riverui.request", "ada admin") {
		t.Error("a refused River UI request is on the audit trail")
	}
	// Two keys equal but for case: the UI would act on the last, the
	// audit entry show the first. Refused, and so not audited.
	req, _ := http.NewRequest("POST", e.App.URL()+"/riverui/api/jobs/cancel", strings.NewReader(`{"job_ids":["987654"],"JOB_IDS":["1"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if resp, err := admin.c.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("a job cancel with duplicate keys: %v %v, want 400", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	if auditedAs(t, e, "riverui.request", "ada admin") {
		t.Error("a refused River UI request is on the audit trail")
	}
	req, _ = http.NewRequest("POST", e.App.URL()+"/riverui/api/jobs/cancel", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := admin.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 403 || resp.StatusCode == 401 {
		t.Errorf("the admin's job cancel: %d", resp.StatusCode)
	}
	if !auditedAs(t, e, "riverui.request", "ada admin") {
		t.Error("the River UI request is not on the audit trail")
	}
}

// TestRiverUIWithoutWorkers checks that an API-only process still offers
// the River UI, through an insert-only River client.
func TestRiverUIWithoutWorkers(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	e.LoadSample(t, "noworkers")
	plan, err := e.Client.PlanWave(context.Background(), "noworkers", templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.LaunchWave(context.Background(), plan.ID); err != nil {
		t.Fatal(err)
	}
	b := newStaffBrowser(t, e)
	b.mustSignIn(newKey(t, e, "ada admin", notifier.RoleAdmin))
	expectPage(t, "jobs in an API-only process", b.get("/riverui/api/jobs?state=available"), 200, `"kind":"deliver"`)
	expectPage(t, "overview", b.get("/admin"), 200, "Jobs waiting in the queue", `href="/riverui/"`)
}
