package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestVerifyPage checks reference codes as a reader of a notice would type
// them, and that the answer tells no more than it should.
func TestVerifyPage(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	e.LaunchInitial(t, e.LoadSample(t, "verify"))
	msg := messagesTo(t, e, "soc@contoso.example")[0]
	ref := msg.Header.Get("X-Breachnotify-Reference")
	if !strings.Contains(msg.Text, ref) {
		t.Fatalf("reference %q is not in the notice", ref)
	}
	v := newVisitor(t, e)
	lookups := 0
	check := func(code string) (int, string) {
		t.Helper()
		lookups++
		st, page, hdr := v.do("GET", "/verify?code="+url.QueryEscape(code), nil)
		if st == 200 && (hdr.Get("Cache-Control") != "no-store" || hdr.Get("Referrer-Policy") != "no-referrer") {
			t.Errorf("verify page headers: %v", hdr)
		}
		return st, page
	}

	if st, page, _ := v.do("GET", "/verify", nil); st != 200 || !strings.Contains(page, `<label for="code">`) || strings.Contains(page, "Genuine") {
		t.Fatalf("GET /verify: %d\n%s", st, page)
	}
	// Lower case, no dashes, spaces: all the same code.
	compact := strings.ToLower(strings.ReplaceAll(ref, "-", ""))
	for _, typed := range []string{ref, compact, " " + strings.ToLower(ref) + " ", strings.ReplaceAll(ref, "-", " "), strings.TrimPrefix(compact, "bn")} {
		st, page := check(typed)
		if st != 200 || !strings.Contains(page, "Genuine: we sent this notice") || !strings.Contains(page, ref) ||
			!strings.Contains(page, "s***@contoso[.]example") || !strings.Contains(page, "Mail breach") {
			t.Errorf("code typed as %q: %d\n%s", typed, st, page)
			continue
		}
		// Never more: no organization, no items, no full address.
		for _, secret := range []string{"Contoso Ltd", "soc@contoso.example", "soc@contoso[.]example", "MSG-", "Tenant migration", "Contoso SOC"} {
			if strings.Contains(page, secret) {
				t.Errorf("the verify answer shows %q", secret)
			}
		}
	}
	// Unknown, malformed and never-sent codes: not ours.
	if _, err := e.App.Pool.Exec(context.Background(), `UPDATE deliveries SET status = 'failed' WHERE recipient = 'ciso@contoso.example'`); err != nil {
		t.Fatal(err)
	}
	unsent := messagesTo(t, e, "ciso@contoso.example")[0].Header.Get("X-Breachnotify-Reference")
	for _, typed := range []string{"BN-0000-0000-0000-0000", "BN-XXXX-1234-5678-9ABC", "<script>", unsent} {
		st, page := check(typed)
		if st != 200 || !strings.Contains(page, "Not a notice from us") || !strings.Contains(page, "Do not follow its links") || strings.Contains(page, "Genuine") {
			t.Errorf("code %q: %d\n%s", typed, st, page)
		}
		if strings.Contains(page, "<script>") {
			t.Error("the typed code is not escaped")
		}
	}
	// Ten lookups a minute per client address, then 429 with Retry-After.
	for lookups < 10 {
		check(ref)
	}
	st, page, hdr := v.do("GET", "/verify?code="+ref, nil)
	if st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || !strings.Contains(page, "Too many attempts") {
		t.Errorf("11th lookup: %d, Retry-After %q", st, hdr.Get("Retry-After"))
	}
	// The form itself is never limited.
	if st, _, _ := v.do("GET", "/verify", nil); st != 200 {
		t.Errorf("GET /verify after the limit: %d", st)
	}
}
