package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestPortalSecondFactor is the second factor end to end: signed in by
// link only, a member sees the prompt and is sent to enrol before any
// stolen message; enrols an authenticator app through the pages, reads
// the message; after 12 hours is asked again, gets in with a recovery
// code (once) or the app; a `next` that leaves the portal is refused;
// code checks are rate-limited; and an IR admin's reset (audited) takes
// the access away at once.
func TestPortalSecondFactor(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	portalScenario(t, e)
	ctx := context.Background()
	refs := importMail(t, e, "mail", stolenMultipart("cfo@contoso.example", "x@elsewhere.example", "Contoso files", "http://attacker.invalid"))
	msg := "/portal/messages/" + refs["Contoso files"]

	v := newVisitor(t, e)
	v.signIn("soc@contoso.example")
	if _, page, _ := v.do("GET", "/portal", nil); !strings.Contains(page, `id="factor-prompt"`) {
		t.Errorf("the overview does not prompt to set up a second factor:\n%s", page)
	}
	st, page, h := v.do("GET", msg, nil)
	if want := "/portal/factors?next=" + url.QueryEscape(msg); st != http.StatusSeeOther || h.Get("Location") != want || strings.Contains(page, "Contoso files") {
		t.Fatalf("the message before enrolment: %d %q, want 303 to %s", st, h.Get("Location"), want)
	}
	// A wrong code does not enrol.
	v.do("GET", h.Get("Location"), nil)
	if st, page, _ := v.do("POST", "/portal/factors/totp", url.Values{"csrf": {v.csrf()}, "code": {"000000"}, "next": {msg}}); st != http.StatusUnprocessableEntity || !strings.Contains(page, "That code is not right") {
		t.Errorf("a wrong enrolment code: %d", st)
	}
	secret, codes := v.enrolTOTP()
	if st, page, _ := v.do("GET", msg, nil); st != 200 || !strings.Contains(page, "Contoso files") {
		t.Fatalf("the message after enrolment: %d", st)
	}
	if _, page, _ := v.do("GET", "/portal", nil); strings.Contains(page, `id="factor-prompt"`) {
		t.Error("the overview still prompts after enrolment")
	}
	// The recovery codes are not in the database in clear, nor the secret.
	var clear bool
	if err := e.App.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM portal_totp WHERE position($1::bytea IN secret_sealed) > 0)
		OR EXISTS (SELECT 1 FROM portal_recovery_codes WHERE position($2::bytea IN code_hash) > 0)`, []byte(secret), []byte(codes[0])).Scan(&clear); err != nil || clear {
		t.Errorf("a secret or recovery code stored in clear (%v)", err)
	}

	// 12 hours later: asked again.
	expire := func() {
		t.Helper()
		if _, err := e.App.Pool.Exec(ctx, `UPDATE portal_sessions SET factor_verified_at = now() - interval '12 hours 1 minute' WHERE id_hash = $1`,
			sessionHash(v.cookie("bn_portal"))); err != nil {
			t.Fatal(err)
		}
	}
	expire()
	for _, path := range []string{msg, msg + "/html", msg + "/original"} {
		st, _, h := v.do("GET", path, nil)
		if want := "/portal/verify-factor?next=" + url.QueryEscape(path); st != http.StatusSeeOther || h.Get("Location") != want {
			t.Errorf("GET %s after 12 hours: %d %q, want 303 to %s", path, st, h.Get("Location"), want)
		}
	}
	if st, _ := v.verifyFactor("123456", msg); st != http.StatusUnprocessableEntity {
		t.Errorf("a wrong code: %d, want 422", st)
	}
	if st, to := v.verifyFactor(strings.ToLower(codes[3]), msg); st != http.StatusSeeOther || to != msg {
		t.Fatalf("a recovery code: %d %q, want 303 to the message", st, to)
	}
	if st, _, _ := v.do("GET", msg, nil); st != 200 {
		t.Errorf("the message after the recovery code: %d", st)
	}
	expire()
	if st, _ := v.verifyFactor(codes[3], msg); st != http.StatusUnprocessableEntity {
		t.Errorf("the same recovery code again: %d, want 422", st)
	}
	// The app's next code (the current one was spent by the enrolment).
	if st, to := v.verifyFactor(totpCode(secret, time.Now().Add(30*time.Second)), "https://evil.example/portal"); st != http.StatusSeeOther || to != "/portal" {
		t.Errorf("the app's code with a next leaving the portal: %d %q, want 303 to /portal", st, to)
	}
	if st, _, _ := v.do("GET", msg, nil); st != 200 {
		t.Errorf("the message after the app's code: %d", st)
	}

	// A sign-in link alone cannot add a passkey to a member who has a
	// factor: a new session, not verified, is refused the ceremony.
	u := newVisitor(t, e)
	u.signIn("soc@contoso.example")
	u.do("GET", "/portal", nil)
	if st, _, _ := u.do("POST", "/portal/factors/passkey/options", url.Values{"csrf": {u.csrf()}}); st != http.StatusUnprocessableEntity {
		t.Errorf("passkey enrolment in an unverified session: %d, want 422", st)
	}
	// The ceremonies are behind sign-in and the form token.
	anonymous := newVisitor(t, e)
	for _, path := range []string{"/portal/factors/totp", "/portal/verify-factor", "/portal/factors/passkey/options", "/portal/factors/passkey",
		"/portal/verify-factor/passkey/options", "/portal/verify-factor/passkey"} {
		if st, _, h := anonymous.do("POST", path, url.Values{"csrf": {"9999999999.AAAA"}}); st != http.StatusSeeOther || h.Get("Location") != "/portal/login" {
			t.Errorf("anonymous POST %s: %d %q, want sent to sign in", path, st, h.Get("Location"))
		}
		if st, _, _ := u.do("POST", path, url.Values{"csrf": {"9999999999.AAAA"}}); st != http.StatusForbidden {
			t.Errorf("POST %s with a forged form token: %d, want 403", path, st)
		}
	}

	// Too many wrong codes (another contact, its own limit): 429.
	w := newVisitor(t, e)
	w.signInWithFactor("ciso@contoso.example")
	limited := false
	for range 12 {
		if st, _ := w.verifyFactor("000000", "/portal"); st == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("12 wrong codes in a row were all checked")
	}

	// The reset, by an IR admin (an operator may not): the member's
	// session can no longer read stolen mail, and must enrol again.
	var contactID int64
	if err := e.App.Pool.QueryRow(ctx, `SELECT id FROM contacts WHERE email = 'soc@contoso.example'`).Scan(&contactID); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/contacts/%d/factors/reset", contactID)
	if st, _ := call(t, e, "POST", path, newKey(t, e, "otto operator", notifier.RoleOperator), map[string]string{"reason": "lost phone"}); st != http.StatusForbidden {
		t.Errorf("reset by an operator: %d, want 403", st)
	}
	admin := newKey(t, e, "ada admin", notifier.RoleAdmin)
	if st, _ := call(t, e, "POST", path, admin, map[string]string{}); st != http.StatusUnprocessableEntity {
		t.Errorf("reset without a reason: %d, want 422", st)
	}
	st, body := call(t, e, "POST", path, admin, map[string]string{"reason": "lost phone"})
	if r := decode[notifier.FactorReset](t, body); st != 200 || r.TOTP != 1 || r.Sessions != 1 {
		t.Fatalf("reset: %d %s", st, body)
	}
	if st, _, h := v.do("GET", msg, nil); st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/portal/factors?") {
		t.Errorf("the message after the reset: %d %q, want sent to enrol", st, h.Get("Location"))
	}
	v.do("GET", "/portal", nil)
	if st, _, h := v.do("POST", "/portal/verify-factor", url.Values{"csrf": {v.csrf()}, "code": {codes[5]}, "next": {msg}}); st != http.StatusSeeOther ||
		!strings.HasPrefix(h.Get("Location"), "/portal/factors?") {
		t.Errorf("an old recovery code after the reset: %d %q, want sent to enrol", st, h.Get("Location"))
	}

	// Everything was audited.
	var actions []string
	rows, _ := e.App.Pool.Query(ctx, `SELECT action FROM audit_log WHERE action LIKE 'portal.factor%' OR action = 'contact.factors_reset' ORDER BY id`)
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		actions = append(actions, a)
	}
	rows.Close()
	got := strings.Join(actions, " ")
	for _, want := range []string{"portal.factor_enrolled", "portal.factor_verified", "portal.factor_verify_failed", "contact.factors_reset"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit trail %q lacks %s", got, want)
		}
	}
}
