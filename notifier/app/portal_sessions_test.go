package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// portalSessionID is the number of the session a cookie names.
func portalSessionID(t *testing.T, e *apptest.Env, cookie string) int64 {
	t.Helper()
	var id int64
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT id FROM portal_sessions WHERE id_hash = $1`, sessionHash(cookie)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPortalSessionsMemberControls: a member signed in on two devices
// sees both, this one marked; signing the other out makes its cookie fail
// at once; another member's session cannot be ended (not found); IR
// staff end every session of the organization, and both cookies fail.
func TestPortalSessionsMemberControls(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	portalScenario(t, e)
	ctx := context.Background()

	laptop, phone, colleague := newVisitor(t, e), newVisitor(t, e), newVisitor(t, e)
	laptop.signIn("soc@contoso.example")
	phone.signIn("soc@contoso.example")
	colleague.signIn("ciso@contoso.example")
	phoneID := portalSessionID(t, e, phone.cookie("bn_portal"))
	colleagueID := portalSessionID(t, e, colleague.cookie("bn_portal"))

	// The client address is kept as its network only.
	var network string
	if err := e.App.Pool.QueryRow(ctx, `SELECT ip FROM portal_sessions WHERE id = $1`, phoneID).Scan(&network); err != nil ||
		!strings.HasSuffix(network, ".0/24") && !strings.HasSuffix(network, "::/48") {
		t.Errorf("the stored client address: %q %v, want a /24 or /48", network, err)
	}

	st, page, _ := laptop.do("GET", "/portal/sessions", nil)
	if st != 200 || strings.Count(page, `/end">`) != 2 || strings.Count(page, "(this device)") != 1 ||
		!strings.Contains(page, fmt.Sprintf(`action="/portal/sessions/%d/end"`, phoneID)) {
		t.Fatalf("the device list: %d\n%s", st, page)
	}
	if strings.Contains(page, fmt.Sprintf(`/portal/sessions/%d/end`, colleagueID)) {
		t.Error("the device list shows a colleague's session")
	}

	// Another member's session: the neutral 404, and it lives on.
	csrf := laptop.csrf()
	if st, page, _ := laptop.do("POST", fmt.Sprintf("/portal/sessions/%d/end", colleagueID), url.Values{"csrf": {csrf}}); st != http.StatusNotFound ||
		!strings.Contains(page, "Page not found") {
		t.Errorf("ending a colleague's session: %d, want 404", st)
	}
	if st, _, _ := colleague.do("GET", "/portal", nil); st != 200 {
		t.Errorf("the colleague after the attempt: %d, want 200", st)
	}
	// Without the form token: refused.
	if st, _, _ := laptop.do("POST", fmt.Sprintf("/portal/sessions/%d/end", phoneID), url.Values{"csrf": {"9999999999.AAAA"}}); st != http.StatusForbidden {
		t.Errorf("sign-out without the form token: %d, want 403", st)
	}

	// The phone signed out from the laptop: its cookie fails at once.
	laptop.do("GET", "/portal/sessions", nil)
	if st, _, h := laptop.do("POST", fmt.Sprintf("/portal/sessions/%d/end", phoneID), url.Values{"csrf": {laptop.csrf()}}); st != http.StatusSeeOther ||
		h.Get("Location") != "/portal/sessions?ended=1" {
		t.Fatalf("signing the phone out: %d %q", st, h.Get("Location"))
	}
	if st, page, _ := phone.do("GET", "/portal", nil); st != http.StatusNotFound || !strings.Contains(page, "Your session has ended") {
		t.Errorf("the phone after its sign-out: %d, want 404", st)
	}
	if st, page, _ := laptop.do("GET", "/portal/sessions", nil); st != 200 || strings.Count(page, `/end">`) != 1 {
		t.Errorf("the list after the sign-out: %d\n%s", st, page)
	}

	// IR staff end every session of the organization: an operator may,
	// a viewer may not; both members' cookies fail at once.
	path := "/api/v1/organizations/contoso/portal-sessions"
	viewer := newKey(t, e, "vera viewer", notifier.RoleViewer)
	st, body := call(t, e, "GET", path, viewer, nil)
	if st != 200 || strings.Count(string(body), `"contact_email"`) != 2 || strings.Contains(string(body), `"id`) {
		t.Errorf("the organization's sessions: %d %s", st, body)
	}
	if st, _ := call(t, e, "POST", path+"/end", viewer, nil); st != http.StatusForbidden {
		t.Errorf("end all by a viewer: %d, want 403", st)
	}
	st, body = call(t, e, "POST", path+"/end", newKey(t, e, "otto operator", notifier.RoleOperator), nil)
	if st != 200 || !strings.Contains(string(body), `"ended":2`) {
		t.Fatalf("end all: %d %s", st, body)
	}
	for name, v := range map[string]*visitor{"laptop": laptop, "colleague": colleague} {
		if st, _, _ := v.do("GET", "/portal", nil); st != http.StatusNotFound {
			t.Errorf("%s after the organization's sessions ended: %d, want 404", name, st)
		}
	}

	// Audited, with the member or the IR key as actor.
	var n int
	if err := e.App.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action IN ('portal.sessions_end', 'portal.sessions_end_all')`).Scan(&n); err != nil || n != 2 {
		t.Errorf("audit entries: %d %v, want 2", n, err)
	}
}

// TestPortalSessionsSignOutOthersAndAll: "all other devices" spares this
// one; "everywhere" ends this one too and sends the visitor to sign in.
func TestPortalSessionsSignOutOthersAndAll(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	portalScenario(t, e)
	a, b, c := newVisitor(t, e), newVisitor(t, e), newVisitor(t, e)
	for _, v := range []*visitor{a, b, c} {
		v.signIn("soc@contoso.example")
	}
	anonymous := newVisitor(t, e)
	if st, _, h := anonymous.do("POST", "/portal/sessions/end", url.Values{"csrf": {"9999999999.AAAA"}, "scope": {"all"}}); st != http.StatusSeeOther ||
		h.Get("Location") != "/portal/login" {
		t.Errorf("anonymous: %d %q, want sent to sign in", st, h.Get("Location"))
	}
	a.do("GET", "/portal/sessions", nil)
	if st, _, h := a.do("POST", "/portal/sessions/end", url.Values{"csrf": {a.csrf()}, "scope": {"others"}}); st != http.StatusSeeOther ||
		h.Get("Location") != "/portal/sessions?ended=2" {
		t.Fatalf("others: %d %q", st, h.Get("Location"))
	}
	for name, v := range map[string]*visitor{"b": b, "c": c} {
		if st, _, _ := v.do("GET", "/portal", nil); st != http.StatusNotFound {
			t.Errorf("%s after others were signed out: %d, want 404", name, st)
		}
	}
	if st, _, _ := a.do("GET", "/portal/sessions", nil); st != 200 {
		t.Fatalf("this device after others were signed out: %d", st)
	}
	if st, _, h := a.do("POST", "/portal/sessions/end", url.Values{"csrf": {a.csrf()}, "scope": {"all"}}); st != http.StatusSeeOther ||
		h.Get("Location") != "/portal/login?signed_out=1" {
		t.Fatalf("all: %d %q", st, h.Get("Location"))
	}
	if st, _, h := a.do("GET", "/portal", nil); st != http.StatusSeeOther || h.Get("Location") != "/portal/login" {
		t.Errorf("this device after everywhere: %d %q, want sent to sign in", st, h.Get("Location"))
	}
}
