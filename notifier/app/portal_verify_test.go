package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
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
		// The organization it was sent to (issue 14), but never more: no
		// items, no full address.
		if !strings.Contains(page, "<dd><bdi>Contoso Ltd</bdi></dd>") {
			t.Errorf("the verify answer does not name the organization")
		}
		for _, secret := range []string{"soc@contoso.example", "soc@contoso[.]example", "MSG-", "Tenant migration", "Contoso SOC"} {
			if strings.Contains(page, secret) {
				t.Errorf("the verify answer shows %q", secret)
			}
		}
	}
	// A code made before codes were base32 (16 hex digits, the first half
	// the delivery id) is still in databases and still verifies, read with
	// Crockford's rules (o for 0, l for 1) like any other.
	const hexCode = "BN-0000-0001-3E96-4BF7"
	if _, err := e.App.Pool.Exec(context.Background(), `UPDATE deliveries SET reference_code = $1 WHERE recipient = 'legal@contoso.example'`, hexCode); err != nil {
		t.Fatal(err)
	}
	if st, page := check("bn oooo ooo1 3e96 4bf7"); st != 200 || !strings.Contains(page, "Genuine: we sent this notice") || !strings.Contains(page, hexCode) ||
		!strings.Contains(page, "l***@contoso[.]example") {
		t.Errorf("an old hex code: %d\n%s", st, page)
	}
	// Unknown, malformed and never-sent codes: not ours.
	if _, err := e.App.Pool.Exec(context.Background(), `UPDATE deliveries SET status = 'failed' WHERE recipient = 'ciso@contoso.example'`); err != nil {
		t.Fatal(err)
	}
	unsent := messagesTo(t, e, "ciso@contoso.example")[0].Header.Get("X-Breachnotify-Reference")
	for _, typed := range []string{"BN-0000-0000-0000-0000", "BN-UUUU-1234-5678-9ABC", "<script>", unsent} {
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

// TestDeliveryKeysAreRandom checks the reference codes and Message-IDs a
// launch makes: codes in Crockford's base32 with 80 random bits, and
// neither they nor the Message-IDs carry the delivery id, which would
// tell a recipient how many notices went out before theirs.
func TestDeliveryKeysAreRandom(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	w := e.LaunchInitial(t, e.LoadSample(t, "keys"))
	ds, err := e.App.Store.WaveDeliveries(context.Background(), w.ID)
	if err != nil || len(ds) < 10 {
		t.Fatalf("%d deliveries, %v", len(ds), err)
	}
	code := regexp.MustCompile(`^BN-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)
	messageID := regexp.MustCompile(`^[0-9a-f]{32}@notify\.example$`)
	firstHalves := map[string]bool{}
	for _, d := range ds {
		if !code.MatchString(d.Reference) || !messageID.MatchString(d.MessageID) {
			t.Errorf("delivery %d: reference %q, Message-ID %q", d.ID, d.Reference, d.MessageID)
		}
		// The old keys began with the id in hex (BN-0000-000D-…,
		// 00000000000d.…@): nothing of it may show.
		if strings.HasPrefix(strings.ReplaceAll(d.Reference, "-", ""), fmt.Sprintf("BN%08X", d.ID)) || strings.HasPrefix(d.MessageID, fmt.Sprintf("%012x", d.ID)) {
			t.Errorf("delivery %d: its id shows in %q or %q", d.ID, d.Reference, d.MessageID)
		}
		firstHalves[d.Reference[:12]] = true
	}
	// Consecutive deliveries share no prefix: 40 random bits each.
	if len(firstHalves) != len(ds) {
		t.Errorf("%d deliveries share %d first halves of reference codes", len(ds), len(firstHalves))
	}
	// The message carries the same code and Message-ID.
	sent := messagesTo(t, e, ds[0].Recipient)[0]
	if sent.Header.Get("X-Breachnotify-Reference") != ds[0].Reference || sent.Header.Get("Message-Id") != "<"+ds[0].MessageID+">" {
		t.Errorf("the message has %q, %q; the delivery %q, %q", sent.Header.Get("X-Breachnotify-Reference"), sent.Header.Get("Message-Id"), ds[0].Reference, ds[0].MessageID)
	}
}
