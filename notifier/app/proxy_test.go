package app_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestPortalAndAdminBehindTrustedProxy: behind a reverse proxy named in
// BREACHNOTIFY_TRUSTED_PROXIES, the per-address limits and the records
// use the client that X-Forwarded-For names, not the proxy's address;
// without it, the header counts for nothing.
func TestPortalAndAdminBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	// The tests connect from loopback: that is the "proxy".
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}})
	e.LaunchInitial(t, e.LoadSample(t, "ack"))
	client := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path, xff string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, e.App.URL()+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const lookup = "/verify?code=BN-0000-0000-0000-0000"

	// The verify page: ten lookups a minute per client, each client its own.
	for i := range 10 {
		if st, _ := send("GET", lookup, "203.0.113.1", nil); st != 200 {
			t.Fatalf("lookup %d of client 1: %d", i+1, st)
		}
	}
	if st, _ := send("GET", lookup, "203.0.113.1", nil); st != http.StatusTooManyRequests {
		t.Errorf("11th lookup of client 1: %d, want 429", st)
	}
	// A client cannot leave its bucket by sending a header of its own:
	// the proxy appends the address it saw, and that one counts.
	if st, _ := send("GET", lookup, "198.51.100.66, 203.0.113.1", nil); st != http.StatusTooManyRequests {
		t.Errorf("client 1 with a forged entry: %d, want 429", st)
	}
	if st, _ := send("GET", lookup, "203.0.113.2", nil); st != 200 {
		t.Errorf("client 2 behind the same proxy: %d, want 200 (its own bucket)", st)
	}

	// An acknowledgement records the client's address, past a chain of
	// trusted proxies (127.0.0.2 stands for a second one).
	m := ackLink.FindStringSubmatch(messagesTo(t, e, "security@northwind.example")[0].Text)
	if m == nil {
		t.Fatal("no acknowledgement link")
	}
	st, page := send("GET", m[1], "203.0.113.3", nil)
	f := csrfField.FindStringSubmatch(page)
	if st != 200 || f == nil {
		t.Fatalf("GET %s: %d\n%s", m[1], st, page)
	}
	if st, _ := send("POST", m[1], "2001:DB8::3, 127.0.0.2", url.Values{"csrf": {html.UnescapeString(f[1])}}); st != 200 {
		t.Fatalf("POST %s: %d", m[1], st)
	}
	var ackIP string
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT ack_ip FROM notices WHERE acknowledged_at IS NOT NULL`).Scan(&ackIP); err != nil {
		t.Fatal(err)
	}
	if ackIP != "2001:db8::3" {
		t.Errorf("acknowledgement recorded from %q, want the client 2001:db8::3", ackIP)
	}

	// Staff sign-in: limited per client, and the session records it.
	b := newStaffBrowser(t, e)
	signIn := func(key, xff string) reply {
		t.Helper()
		form := b.do("GET", "/admin/login", nil, "X-Forwarded-For", xff)
		return b.do("POST", "/admin/login", url.Values{"csrf": {csrf(t, form.body)}, "key": {key}}, "X-Forwarded-For", xff)
	}
	limited := false
	for i := 0; i < 12 && !limited; i++ {
		limited = signIn("bn_wrong", "203.0.113.4").status == http.StatusTooManyRequests
	}
	if !limited {
		t.Error("12 sign-in attempts of one client were not limited")
	}
	key, _, err := e.App.Service.CreateAPIKey(context.Background(), notifier.LocalActor("test"), "proxied admin", notifier.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if r := signIn(key, "203.0.113.5"); r.status != 303 {
		t.Fatalf("sign-in of another client behind the same proxy: %d\n%s", r.status, r.body)
	}
	var sessIP string
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT ip FROM admin_sessions ORDER BY created_at DESC LIMIT 1`).Scan(&sessIP); err != nil {
		t.Fatal(err)
	}
	if sessIP != "203.0.113.5" {
		t.Errorf("staff session recorded from %q, want 203.0.113.5", sessIP)
	}
}

// TestVerifyIgnoresForwardedForByDefault: with no trusted proxy, a client
// cannot pick a new address (and a fresh rate-limit bucket) per request.
func TestVerifyIgnoresForwardedForByDefault(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	client := &http.Client{Timeout: 20 * time.Second}
	limited := false
	for i := 0; i < 12 && !limited; i++ {
		req, _ := http.NewRequest("GET", e.App.URL()+"/verify?code=BN-0000-0000-0000-0000", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113."+string(rune('0'+i%10)))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		limited = resp.StatusCode == http.StatusTooManyRequests
	}
	if !limited {
		t.Error("lookups with a new X-Forwarded-For each were not limited: the header was believed")
	}
}
