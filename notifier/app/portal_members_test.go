package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
	"github.com/breachnotify/breachnotify/templates"
)

// staffAPI calls the JSON API as IR staff (the harness's admin key) and
// returns the status and the body.
func staffAPI(t *testing.T, e *apptest.Env, method, path string, body any) (int, string) {
	t.Helper()
	var in io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.App.URL()+path, in)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.Key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// memberMails are the texts of the membership mails (no sign-in link)
// rcpt received.
func memberMails(t *testing.T, e *apptest.Env, rcpt string) []string {
	t.Helper()
	var out []string
	for _, m := range e.Mailbox.Messages() {
		if len(m.Recipients) == 0 || !strings.EqualFold(m.Recipients[0], rcpt) {
			continue
		}
		p := apptest.Parse(t, m.Raw)
		if !portalLoginLink.MatchString(p.Text) {
			out = append(out, p.Header.Get("Subject")+"\n"+p.Text)
		}
	}
	return out
}

func awaitMemberMail(t *testing.T, e *apptest.Env, rcpt, want string) string {
	t.Helper()
	var got string
	eventually(t, "a membership mail to "+rcpt, func() bool {
		for _, m := range memberMails(t, e, rcpt) {
			if strings.Contains(m, want) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// TestPortalMembers runs an organization's membership from the portal:
// the approver (the security contact, by default) invites at the
// organization's domain only; the invitee is told how to sign in, signs
// in, and is no notice recipient; a member at the notices level cannot
// open the stolen mail until given the mail level; revoking ends the
// member's session at once and a re-import does not bring them back;
// approvers cannot revoke approvers; anyone at the domain may ask for
// access (the same answer for an unknown domain), the approvers are told
// and decide; every change is listed to the organization; IR staff
// override through the API.
func TestPortalMembers(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	ctx := context.Background()
	slug := e.LoadSample(t, "mail")
	e.LaunchInitial(t, slug)
	refs := importMail(t, e, slug, stolenMultipart("cfo@contoso.example", "x@elsewhere.example", "Contoso files", "http://attacker.invalid"))

	approver := newVisitor(t, e)
	socSecret := approver.signInWithFactor("soc@contoso.example")
	if st, page, _ := approver.do("GET", "/portal/members", nil); st != 200 || !strings.Contains(page, `action="/portal/members/invite"`) ||
		!strings.Contains(page, "ciso@contoso[.]example") || !strings.Contains(page, "Approver (stolen mail too)") {
		t.Fatalf("members page of an approver: %d\n%s", st, page)
	}
	invite := func(email, level string) (int, string) {
		approver.do("GET", "/portal/members", nil)
		st, _, h := approver.do("POST", "/portal/members/invite", url.Values{"csrf": {approver.csrf()}, "email": {email}, "level": {level}})
		return st, h.Get("Location")
	}
	if st, to := invite("analyst@contoso.example", "notices"); st != http.StatusSeeOther || to != "/portal/members?done=invited" {
		t.Fatalf("invite: %d %q", st, to)
	}
	if st, _ := invite("friend@elsewhere.example", "mail"); st != http.StatusForbidden {
		t.Errorf("invite at another domain: %d, want 403", st)
	}
	if st, _ := invite("analyst2@contoso.example", "admin"); st != http.StatusUnprocessableEntity {
		t.Errorf("invite with an unknown level: %d, want 422", st)
	}
	mail := awaitMemberMail(t, e, "analyst@contoso.example", "invited you")
	if !strings.Contains(mail, "http://notify.test/portal/login") || !strings.Contains(mail, "\u2068Contoso Ltd\u2069") {
		t.Errorf("invitation mail:\n%s", mail)
	}

	// The invitee signs in; reads notices but not the stolen mail.
	analyst := newVisitor(t, e)
	analyst.signIn("analyst@contoso.example")
	if st, _, _ := analyst.do("GET", "/portal", nil); st != 200 {
		t.Errorf("invitee's overview: %d", st)
	}
	if st, page, _ := analyst.do("GET", "/portal/messages", nil); st != http.StatusForbidden || strings.Contains(page, "Contoso files") {
		t.Errorf("notices-level member on the mail list: %d, want 403", st)
	}
	if st, page, _ := analyst.do("GET", "/portal/members", nil); st != 200 || strings.Contains(page, "/portal/members/invite") {
		t.Errorf("members page of a member: %d, want 200 without the invite form", st)
	}
	// Invited members are no notice recipients.
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "crm", Title: "CRM export", Summary: "Contacts exported."}); err != nil {
		t.Fatal(err)
	}
	importItems(t, e, "crm", "org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\ncontoso,CRM-1,other,2024-04-01T00:00:00Z,Accounts,Accounts,\n")
	plan, err := e.Client.PlanWave(ctx, "crm", templates.KindInitial)
	if err != nil || plan.Deliveries != 3 {
		t.Errorf("plan for contoso: %+v %v, want 3 deliveries (its imported contacts, not the invitee)", plan, err)
	}

	// The mail level opens the list; the second factor still guards a message.
	analystID := contactID(t, e, "analyst@contoso.example")
	approver.do("GET", "/portal/members", nil)
	if st, _, h := approver.do("POST", "/portal/members/"+itoa(analystID)+"/level", url.Values{"csrf": {approver.csrf()}, "level": {"mail"}}); st != http.StatusSeeOther || h.Get("Location") != "/portal/members?done=level" {
		t.Fatalf("set level: %d %q", st, h.Get("Location"))
	}
	if st, _, _ := analyst.do("GET", "/portal/messages", nil); st != 200 {
		t.Errorf("mail-level member on the list: %d, want 200", st)
	}
	if st, _, h := analyst.do("GET", "/portal/messages/"+refs["Contoso files"], nil); st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/portal/factors") {
		t.Errorf("mail-level member without a factor on a message: %d %q", st, h.Get("Location"))
	}

	// Approvers cannot revoke approvers, themselves included.
	approver.do("GET", "/portal/members", nil)
	if st, _, _ := approver.do("POST", "/portal/members/"+itoa(contactID(t, e, "soc@contoso.example"))+"/revoke", url.Values{"csrf": {approver.csrf()}}); st != http.StatusConflict {
		t.Errorf("approver revoking an approver: %d, want 409", st)
	}
	// Revoking ends the member's session at once.
	approver.do("GET", "/portal/members", nil)
	if st, _, h := approver.do("POST", "/portal/members/"+itoa(analystID)+"/revoke", url.Values{"csrf": {approver.csrf()}}); st != http.StatusSeeOther || h.Get("Location") != "/portal/members?done=revoked" {
		t.Fatalf("revoke: %d %q", st, h.Get("Location"))
	}
	if st, page, _ := analyst.do("GET", "/portal", nil); st != http.StatusNotFound || !strings.Contains(page, "Your session has ended") {
		t.Errorf("revoked member's next request: %d, want the session-ended 404", st)
	}
	// The executive contact, revoked, then re-imported: still revoked.
	cisoID := contactID(t, e, "ciso@contoso.example")
	approver.do("GET", "/portal/members", nil)
	approver.do("POST", "/portal/members/"+itoa(cisoID)+"/revoke", url.Values{"csrf": {approver.csrf()}})
	if _, err := e.Client.ImportOrganizations(ctx, bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	before := len(portalLinks(t, e, "ciso@contoso.example"))
	newVisitor(t, e).requestLink("ciso@contoso.example")
	waitJobs(t, e)
	if n := len(portalLinks(t, e, "ciso@contoso.example")); n != before {
		t.Errorf("a revoked member got a sign-in link after a re-import")
	}

	// An access request: the same answer for a domain nobody has.
	for _, addr := range []string{"newhire@contoso.example", "someone@nowhere.example"} {
		v := newVisitor(t, e)
		if st, _, _ := v.do("GET", "/portal/request-access", nil); st != 200 {
			t.Fatalf("request page: %d", st)
		}
		if st, page, _ := v.do("POST", "/portal/request-access", url.Values{"csrf": {v.csrf()}, "email": {addr}}); st != 200 || !strings.Contains(page, "Thank you.") {
			t.Errorf("request from %s: %d\n%s", addr, st, page)
		}
	}
	awaitMemberMail(t, e, "soc@contoso.example", "newhire@contoso[.]example")
	var reqID int64
	if err := e.App.Pool.QueryRow(ctx, `SELECT id FROM portal_access_requests WHERE email = 'newhire@contoso.example'`).Scan(&reqID); err != nil {
		t.Fatal(err)
	}
	if _, page, _ := approver.do("GET", "/portal/members", nil); !strings.Contains(page, "newhire@contoso[.]example") {
		t.Errorf("the request is not on the approver's page")
	}
	if st, _, h := approver.do("POST", "/portal/requests/"+itoa(reqID), url.Values{"csrf": {approver.csrf()}, "decision": {"approved"}, "level": {"notices"}}); st != http.StatusSeeOther || h.Get("Location") != "/portal/members?done=decided" {
		t.Fatalf("approve: %d %q", st, h.Get("Location"))
	}
	awaitMemberMail(t, e, "newhire@contoso.example", "was approved")
	// Every change, listed to the organization.
	_, page, _ := approver.do("GET", "/portal/members", nil)
	for _, want := range []string{"invited", "revoked", "changed the access of", "access requested by", "decided the request of"} {
		if !strings.Contains(page, want) {
			t.Errorf("the members page's changes lack %q", want)
		}
	}

	// The approver resets a member's factors and ends every session of
	// the organization at once, their own too.
	newhireID := contactID(t, e, "newhire@contoso.example")
	approver.do("GET", "/portal/members", nil)
	if st, _, h := approver.do("POST", "/portal/members/"+itoa(newhireID)+"/factors/reset", url.Values{"csrf": {approver.csrf()}}); st != http.StatusSeeOther || h.Get("Location") != "/portal/members?done=reset" {
		t.Errorf("reset factors: %d %q", st, h.Get("Location"))
	}
	newhire := newVisitor(t, e)
	newhire.signIn("newhire@contoso.example")
	approver.do("GET", "/portal/members", nil)
	if st, _, h := approver.do("POST", "/portal/members/sessions/end", url.Values{"csrf": {approver.csrf()}}); st != http.StatusSeeOther || h.Get("Location") != "/portal/login?signed_out=1" {
		t.Fatalf("end every session: %d %q", st, h.Get("Location"))
	}
	for name, v := range map[string]*visitor{"the member": newhire, "the approver": approver} {
		if st, _, _ := v.do("GET", "/portal", nil); st != http.StatusNotFound && st != http.StatusSeeOther {
			t.Errorf("%s after the organization-wide end: %d", name, st)
		}
	}
	approver = newVisitor(t, e)
	approver.signIn("soc@contoso.example")
	// The next step's code: the one enrolment used is not accepted twice.
	if st, to := approver.verifyFactor(totpCode(socSecret, time.Now().Add(30*time.Second)), "/portal/members"); st != http.StatusSeeOther || to != "/portal/members" {
		t.Fatalf("verify again: %d %q", st, to)
	}

	// IR staff: take the approver role away (the default rule no longer
	// holds for them), restore a revoked member, an exception domain.
	socID := contactID(t, e, "soc@contoso.example")
	if st, body := staffAPI(t, e, "PATCH", "/api/v1/organizations/contoso/members/"+itoa(socID), map[string]any{"approver": false}); st != 200 {
		t.Fatalf("IR staff unset approver: %d %s", st, body)
	}
	if _, page, _ := approver.do("GET", "/portal/members", nil); strings.Contains(page, "/portal/members/invite") {
		t.Errorf("no longer an approver, still offered the invite form")
	}
	if st, _, _ := approver.do("GET", "/portal/messages", nil); st != http.StatusForbidden {
		t.Errorf("no longer an approver (notices level): mail list %d, want 403", st)
	}
	if st, body := staffAPI(t, e, "PATCH", "/api/v1/organizations/contoso/members/"+itoa(socID), map[string]any{"default_approver": true}); st != 200 {
		t.Fatalf("IR staff default approver: %d %s", st, body)
	}
	if st, body := staffAPI(t, e, "PATCH", "/api/v1/organizations/contoso/members/"+itoa(cisoID), map[string]any{"revoked": false, "level": "mail"}); st != 200 || !strings.Contains(body, `"email":"ciso@contoso.example"`) {
		t.Fatalf("IR staff restore: %d %s", st, body)
	}
	newVisitor(t, e).signIn("ciso@contoso.example")
	if st, _ := staffAPI(t, e, "POST", "/api/v1/organizations/contoso/members", map[string]any{"email": "temp@contractor.example", "level": "notices"}); st != http.StatusForbidden {
		t.Errorf("IR staff invite outside the domains without an exception: %d, want 403", st)
	}
	if st, body := staffAPI(t, e, "POST", "/api/v1/organizations/contoso/invite-domains", map[string]any{"domain": "contractor.example", "allow": true}); st != 200 || !strings.Contains(body, `"invite_domains":["contractor.example"]`) {
		t.Fatalf("exception: %d %s", st, body)
	}
	if st, body := staffAPI(t, e, "POST", "/api/v1/organizations/contoso/members", map[string]any{"email": "temp@contractor.example", "level": "notices"}); st != 200 {
		t.Errorf("IR staff invite at an exception: %d %s", st, body)
	}
	if st, _ := staffAPI(t, e, "PATCH", "/api/v1/organizations/fabrikam/members/"+itoa(cisoID), map[string]any{"level": "mail"}); st != http.StatusNotFound {
		t.Errorf("another organization's member through fabrikam: %d, want 404", st)
	}
	if st, _ := staffAPI(t, e, "POST", "/api/v1/organizations/fabrikam/access-requests/"+itoa(reqID), map[string]any{"decision": "refused"}); st != http.StatusNotFound {
		t.Errorf("contoso's request through fabrikam: %d, want 404", st)
	}
}
