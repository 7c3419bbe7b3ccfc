package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// portalRoute is one route of the matrix; {incident}, {notice}, {item}
// and {batch} are filled with some organization's ids.
type portalRoute struct {
	method, path string
	// scoped routes name an organization's thing; the others are the
	// same for everyone.
	scoped bool
}

var portalRoutes = []portalRoute{
	{"GET", "/portal", false},
	{"GET", "/portal/items", false},
	{"GET", "/portal/items.csv", false},
	{"GET", "/portal/incidents/{incident}", true},
	{"GET", "/portal/notices/{notice}", true},
	{"GET", "/portal/items/{item}", true},
	{"GET", "/portal/items?incident={incident}", true},
	{"GET", "/portal/items?batch={batch}", true},
	{"GET", "/portal/items?batch={batch}&kind=email&secret=password", true},
	{"GET", "/portal/items.csv?batch={batch}", true},
	{"GET", "/portal/items.csv?incident={incident}", true},
	{"POST", "/portal/notices/{unacked}/ack", true},
	// The review of stolen mail.
	{"GET", "/portal/messages", false},
	{"GET", "/portal/messages?secrets=1&participant={domain}", false},
	{"GET", "/portal/activity", false},
	// The second factor's pages.
	{"GET", "/portal/factors", false},
	{"GET", "/portal/verify-factor?next=/portal/messages", false},
	{"GET", "/portal/messages/{message}", true},
	{"GET", "/portal/messages/{message}/html", true},
	{"POST", "/portal/messages/{message}/reveal", true},
	{"GET", "/portal/messages/{message}/attachments/0", true},
	{"POST", "/portal/messages/{message}/attachments/0", true},
	{"GET", "/portal/messages/{message}/original", true},
	{"POST", "/portal/messages/{message}/original", true},
	// The member's devices; {session} is a spare session of the member
	// (not the one of the request).
	{"GET", "/portal/sessions", false},
	{"POST", "/portal/sessions/{session}/end", true},
	// Membership: {member} is a member who is not an approver, {request}
	// a pending access request.
	{"GET", "/portal/members", false},
	{"POST", "/portal/members/{member}/level", true},
	{"POST", "/portal/members/{member}/factors/reset", true},
	{"POST", "/portal/requests/{request}", true},
}

func (r portalRoute) fill(ids orgIDs) string {
	return strings.NewReplacer("{incident}", fmt.Sprint(ids.incident), "{notice}", fmt.Sprint(ids.notice),
		"{item}", fmt.Sprint(ids.item), "{batch}", fmt.Sprint(ids.batch), "{unacked}", fmt.Sprint(ids.unacked),
		"{message}", ids.message, "{domain}", ids.domain, "{session}", fmt.Sprint(ids.session),
		"{member}", fmt.Sprint(ids.member), "{request}", fmt.Sprint(ids.request)).Replace(r.path)
}

// TestPortalIsolation is the isolation matrix: every portal route, as a
// contact of its own organization (200), of the other organization with
// the first one's ids (404), anonymous (sent to sign in) and with an
// expired session (404), both ways between two organizations; and signed
// in by link only, without a second factor (sent to enrol or verify,
// never the stolen content); a member who is not an approver on the
// membership changes (404), at the notices level on the stolen mail
// (403), and revoked (the session ends).
func TestPortalIsolation(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	portalScenario(t, e)
	ctx := context.Background()
	ids := map[string]orgIDs{"contoso": idsOf(t, e, "contoso"), "fabrikam": idsOf(t, e, "fabrikam")}
	// Each organization's own stolen message, with a secret and a file.
	mine := importMail(t, e, "mail",
		stolenMultipart("cfo@contoso.example", "x@elsewhere.example", "Contoso files", "http://attacker.invalid"),
		stolenMultipart("it-leitung@fabrikam.example", "y@elsewhere.example", "Fabrikam files", "http://attacker.invalid"))
	for org, subject := range map[string]string{"contoso": "Contoso files", "fabrikam": "Fabrikam files"} {
		o := ids[org]
		o.message, o.domain = mine[subject], org+".example"
		ids[org] = o
	}
	// Membership: a member who is not an approver (contoso's executive
	// contact, given the mail level; a member fabrikam's approvers invited
	// at the notices level) and a pending access request, per organization.
	if st, body := staffAPI(t, e, "PATCH", "/api/v1/organizations/contoso/members/"+itoa(contactID(t, e, "ciso@contoso.example")),
		map[string]any{"level": "mail"}); st != 200 {
		t.Fatalf("grant ciso the mail level: %d %s", st, body)
	}
	if st, body := staffAPI(t, e, "POST", "/api/v1/organizations/fabrikam/members", map[string]any{"email": "team@fabrikam.example", "level": "notices"}); st != 200 {
		t.Fatalf("invite a fabrikam member: %d %s", st, body)
	}
	for org, member := range map[string]string{"contoso": "ciso@contoso.example", "fabrikam": "team@fabrikam.example"} {
		if err := e.App.Service.RequestPortalAccess(ctx, "asker@"+org+".example", "en"); err != nil {
			t.Fatal(err)
		}
		o := ids[org]
		o.member = contactID(t, e, member)
		if err := e.App.Pool.QueryRow(ctx, `SELECT id FROM portal_access_requests WHERE email = $1`, "asker@"+org+".example").Scan(&o.request); err != nil {
			t.Fatal(err)
		}
		ids[org] = o
	}
	users := map[string]*visitor{"contoso": newVisitor(t, e), "fabrikam": newVisitor(t, e)}
	users["contoso"].signInWithFactor("soc@contoso.example")
	users["fabrikam"].signInWithFactor("sicherheit@fabrikam.example")
	// A spare session of each member, for the sign-out of one device.
	for org, email := range map[string]string{"contoso": "soc@contoso.example", "fabrikam": "sicherheit@fabrikam.example"} {
		spare := newVisitor(t, e)
		spare.signIn(email)
		o := ids[org]
		o.session = portalSessionID(t, e, spare.cookie("bn_portal"))
		ids[org] = o
	}
	// Signed in by link only: a contact with no factor, and a new session
	// of a contact with one that it has not verified.
	noFactor := newVisitor(t, e)
	noFactor.signIn("ciso@contoso.example")
	unverified := newVisitor(t, e)
	unverified.signIn("soc@contoso.example")

	anonymous := newVisitor(t, e)
	expired := newVisitor(t, e)
	expired.signIn("ciso@contoso.example")
	expiredCookie := expired.cookie("bn_portal")
	if _, err := e.App.Pool.Exec(ctx, `UPDATE portal_sessions SET last_seen_at = now() - interval '8 hours 1 minute' WHERE id_hash = $1`,
		sessionHash(expiredCookie)); err != nil {
		t.Fatal(err)
	}

	// request sends the route's request; a POST carries the visitor's
	// form token, or a made-up one when it has no page to take it from.
	request := func(v *visitor, method, path string) (int, string, http.Header) {
		if method == "GET" {
			return v.do("GET", path, nil)
		}
		csrf := "9999999999.AAAA"
		if v != anonymous && v != expired {
			// Any signed-in page has the session's form token.
			v.do("GET", "/portal", nil)
			csrf = v.csrf()
		}
		form := url.Values{"csrf": {csrf}, "level": {"mail"}, "decision": {"refused"}}
		if strings.HasSuffix(path, "/reveal") {
			form.Set("finding", "0")
		}
		return v.do("POST", path, form)
	}
	isSignInRedirect := func(st int, h http.Header) bool {
		return st == http.StatusSeeOther && h.Get("Location") == "/portal/login"
	}
	others := map[string]string{"contoso": "fabrikam", "fabrikam": "contoso"}

	// The other organization's ids first (so that an acknowledgement that
	// leaked would show): not found, whatever the route.
	for own, other := range others {
		for _, rt := range portalRoutes {
			if !rt.scoped {
				continue
			}
			path := rt.fill(ids[other])
			if st, page, _ := request(users[own], rt.method, path); st != http.StatusNotFound || !strings.Contains(page, "Page not found") {
				t.Errorf("%s guessing %s's ids: %s %s: %d, want 404\n%s", own, other, rt.method, path, st, page)
			}
		}
	}
	// Its own organization's: the page (a POST redirects to the notice).
	for own := range others {
		for _, rt := range portalRoutes {
			path := rt.fill(ids[own])
			st, page, h := request(users[own], rt.method, path)
			switch {
			case rt.method == "POST" && strings.HasPrefix(path, "/portal/sessions/"):
				if st != http.StatusSeeOther || h.Get("Location") != "/portal/sessions?ended=1" {
					t.Errorf("%s: %s %s: %d %q, want 303 to the device list", own, rt.method, path, st, h.Get("Location"))
				}
			case rt.method == "POST" && (strings.HasPrefix(path, "/portal/members/") || strings.HasPrefix(path, "/portal/requests/")):
				if st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/portal/members?done=") {
					t.Errorf("%s: %s %s: %d %q, want 303 to the members page", own, rt.method, path, st, h.Get("Location"))
				}
			case rt.method == "POST" && strings.HasPrefix(path, "/portal/messages/"):
				if st != 200 {
					t.Errorf("%s: %s %s: %d, want 200", own, rt.method, path, st)
				}
			case rt.method == "POST":
				if want := fmt.Sprintf("/portal/notices/%d", ids[own].unacked); st != http.StatusSeeOther || h.Get("Location") != want {
					t.Errorf("%s: %s %s: %d %q, want 303 to %s", own, rt.method, path, st, h.Get("Location"), want)
				}
			case st != 200:
				t.Errorf("%s: %s %s: %d, want 200\n%s", own, rt.method, path, st, page)
			}
		}
	}
	// Anonymous: sent to sign in. Expired: the neutral 404.
	for _, rt := range portalRoutes {
		path := rt.fill(ids["contoso"])
		if st, _, h := request(anonymous, rt.method, path); !isSignInRedirect(st, h) {
			t.Errorf("anonymous: %s %s: %d %q, want 303 to /portal/login", rt.method, path, st, h.Get("Location"))
		}
		if st, page, _ := request(expired, rt.method, path); st != http.StatusNotFound || !strings.Contains(page, "Your session has ended") {
			t.Errorf("expired session: %s %s: %d, want 404", rt.method, path, st)
		}
		expired.setCookie("bn_portal", expiredCookie) // the 404 deleted it: present it again
	}

	// No second factor: the stolen content's routes send the visitor to
	// enrol (no factor) or verify (a factor, not verified in this
	// session), whatever the organization the ids belong to, and show
	// nothing of the message; the list is still there.
	for name, v := range map[string]*visitor{"no factor": noFactor, "unverified": unverified} {
		want := "/portal/factors?next="
		if v == unverified {
			want = "/portal/verify-factor?next="
		}
		for _, org := range []string{"contoso", "fabrikam"} {
			for _, rt := range portalRoutes {
				path := rt.fill(ids[org])
				if !strings.HasPrefix(path, "/portal/messages/") {
					continue
				}
				st, page, h := request(v, rt.method, path)
				if st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), want) || strings.Contains(page, "files") {
					t.Errorf("%s: %s %s: %d %q, want 303 to %s…", name, rt.method, path, st, h.Get("Location"), want)
				}
			}
		}
		if st, _, _ := v.do("GET", "/portal/messages", nil); st != 200 {
			t.Errorf("%s: the message list: %d, want 200", name, st)
		}
	}

	// A member who is not an approver, with a fresh second factor: the
	// membership changes are the neutral 404, whoever they name; at the
	// notices level, every stolen-mail route (and the record of who read
	// which message) is a 403 that shows nothing.
	// (The matrix above gave the member the mail level: an approver takes it back.)
	if st, body := staffAPI(t, e, "PATCH", "/api/v1/organizations/fabrikam/members/"+itoa(ids["fabrikam"].member), map[string]any{"level": "notices"}); st != 200 {
		t.Fatalf("level: %d %s", st, body)
	}
	member := newVisitor(t, e)
	member.signInWithFactor("team@fabrikam.example")
	for _, org := range []string{"contoso", "fabrikam"} {
		for _, rt := range portalRoutes {
			path := rt.fill(ids[org])
			switch {
			case rt.method == "POST" && (strings.HasPrefix(path, "/portal/members/") || strings.HasPrefix(path, "/portal/requests/")):
				if st, _, _ := request(member, rt.method, path); st != http.StatusNotFound {
					t.Errorf("member, not approver: %s %s: %d, want 404", rt.method, path, st)
				}
			case strings.HasPrefix(path, "/portal/messages"), strings.HasPrefix(path, "/portal/activity"):
				if st, page, _ := request(member, rt.method, path); st != http.StatusForbidden || strings.Contains(page, "files") {
					t.Errorf("notices-level member: %s %s: %d, want 403", rt.method, path, st)
				}
			}
		}
	}
	if st, page, _ := member.do("GET", "/portal/members", nil); st != 200 || strings.Contains(page, "/portal/members/invite") {
		t.Errorf("member's members page: %d, want 200 without the approver's forms", st)
	}
	// Revoked: the session ends at once, on every route.
	if st, body := staffAPI(t, e, "PATCH", "/api/v1/organizations/fabrikam/members/"+itoa(ids["fabrikam"].member), map[string]any{"revoked": true}); st != 200 {
		t.Fatalf("revoke: %d %s", st, body)
	}
	revokedCookie := member.cookie("bn_portal")
	for _, rt := range portalRoutes {
		path := rt.fill(ids["fabrikam"])
		var form url.Values
		if rt.method == "POST" {
			form = url.Values{"csrf": {"9999999999.AAAA"}}
		}
		if st, page, _ := member.do(rt.method, path, form); st != http.StatusNotFound || !strings.Contains(page, "Your session has ended") {
			t.Errorf("revoked member: %s %s: %d, want 404", rt.method, path, st)
		}
		member.setCookie("bn_portal", revokedCookie)
	}

	// Ids that exist nowhere, and ids that are not ids.
	for _, path := range []string{"/portal/incidents/999999999", "/portal/notices/0", "/portal/items/-1", "/portal/items/abc",
		"/portal/incidents/1e3", "/portal/items?batch=abc", "/portal/items?incident=-5", "/portal/items?kind=secret",
		"/portal/items?after=bogus", "/portal/nothing-here", "/portal/", "/portal/items/1/edit",
		"/portal/messages/abc", "/portal/messages/1-" + strings.Repeat("0", 64), "/portal/messages/01-" + strings.Repeat("a", 64),
		"/portal/messages/" + strings.ToUpper(ids["contoso"].message), "/portal/messages/" + ids["contoso"].message + "/attachments/7",
		"/portal/messages/" + ids["contoso"].message + "/attachments/-1", "/portal/messages?from=yesterday", "/portal/messages?after=bogus",
		"/portal/activity?after=bogus"} {
		if st, _, _ := users["contoso"].do("GET", path, nil); st != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, st)
		}
	}

	// The other organization's notice is still unacknowledged; its own
	// acknowledgements were recorded by the contacts who pressed.
	var acked []string
	rows, _ := e.App.Pool.Query(ctx, `SELECT o.ref || ':' || c.email FROM notices n JOIN organizations o ON o.id = n.organization_id
		JOIN contacts c ON c.id = n.acknowledged_by WHERE n.acknowledged_at IS NOT NULL ORDER BY o.ref`)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		acked = append(acked, s)
	}
	rows.Close()
	if strings.Join(acked, " ") != "contoso:soc@contoso.example fabrikam:sicherheit@fabrikam.example" {
		t.Errorf("acknowledged notices = %v, want one each, by the contact who pressed", acked)
	}

	// Sign-out: the form works once; the old cookie then gets the 404.
	u := users["contoso"]
	cookie := u.cookie("bn_portal")
	request(u, "GET", "/portal")
	if st, _, h := u.do("POST", "/portal/logout", url.Values{"csrf": {u.csrf()}}); st != http.StatusSeeOther || h.Get("Location") != "/portal/login?signed_out=1" {
		t.Fatalf("sign out: %d %q", st, h.Get("Location"))
	}
	if st, _, h := u.do("GET", "/portal", nil); !isSignInRedirect(st, h) {
		t.Errorf("after sign-out: %d %q, want sent to sign in", st, h.Get("Location"))
	}
	u.setCookie("bn_portal", cookie)
	if st, _, _ := u.do("GET", "/portal", nil); st != http.StatusNotFound {
		t.Errorf("the signed-out cookie presented again: %d, want 404", st)
	}
}
