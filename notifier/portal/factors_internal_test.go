package portal

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// TestSafeNext: only a path of this portal comes back; anything that
// could leave the origin (schemes, hosts, protocol-relative and
// backslashed URLs, control characters) or the portal is the overview.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/portal/messages/1-abc", "/portal/messages/1-abc"},
		{"/portal/messages?secrets=1&from=x%40y", "/portal/messages?secrets=1&from=x%40y"},
		{"/portal", "/portal"},
		{"", "/portal"},
		{"https://evil.example/portal/x", "/portal"},
		{"//evil.example/portal", "/portal"},
		{"/\\evil.example", "/portal"},
		{"/portal\\..\\x", "/portal"},
		{"/portal/../admin", "/portal"},
		{"/portal/./x", "/portal"},
		{"/portalx", "/portal"},
		{"/admin", "/portal"},
		{"javascript:alert(1)", "/portal"},
		{"/portal/x\r\nLocation: https://evil.example", "/portal"},
		{"/portal/x\tx", "/portal"},
		{"/portal/" + strings.Repeat("a", 600), "/portal"},
		{"http:/portal", "/portal"},
		{"/portal@evil.example", "/portal"},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzSafeNext: whatever comes in, what goes out is a same-origin path
// under /portal that parses back to itself.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/portal/messages/1-a", "//x", "/\\x", "https://x/portal", "/portal/%2e%2e/admin", "/portal?next=//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := safeNext(in)
		if out != "/portal" && !strings.HasPrefix(out, "/portal/") && !strings.HasPrefix(out, "/portal?") {
			t.Fatalf("safeNext(%q) = %q", in, out)
		}
		if strings.HasPrefix(out, "//") || strings.ContainsAny(out, "\\\r\n\t ") || safeNext(out) != out {
			t.Fatalf("safeNext(%q) = %q, not stable or not a path", in, out)
		}
	})
}

// TestMatchTOTP checks codes against a controlled clock: the current
// step and one either side are accepted (and say which step they were),
// older or newer ones and malformed ones are not.
func TestMatchTOTP(t *testing.T) {
	t.Parallel()
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	now := time.Date(2026, 12, 7, 10, 0, 15, 0, time.UTC)
	step := now.Unix() / 30
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(secret, at, totpOpts)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name string
		code string
		want int64
	}{
		{"now", code(now), step},
		{"30 s ago", code(now.Add(-30 * time.Second)), step - 1},
		{"30 s ahead", code(now.Add(30 * time.Second)), step + 1},
		{"90 s ago", code(now.Add(-90 * time.Second)), 0},
		{"90 s ahead", code(now.Add(90 * time.Second)), 0},
		{"with spaces", " " + code(now) + " ", step},
		{"empty", "", 0},
		{"letters", "abcdef", 0},
		{"too long", code(now) + "0", 0},
	} {
		if got := matchTOTP(secret, tc.code, now); got != tc.want {
			t.Errorf("%s: step %d, want %d", tc.name, got, tc.want)
		}
		// ValidateCustom, which the match uses, agrees at the same time.
		if ok, _ := totp.ValidateCustom(strings.TrimSpace(tc.code), secret, now, totpOpts); ok != (tc.want != 0) {
			t.Errorf("%s: ValidateCustom %v", tc.name, ok)
		}
	}
}

// TestSealTOTP: a sealed secret opens only for its own contact, under
// the key of its own installation secret, and is not the secret in clear.
func TestSealTOTP(t *testing.T) {
	t.Parallel()
	mk := func(secret string) *Server {
		a, err := newFactorAEAD([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return &Server{factorAEAD: a}
	}
	s, other := mk(strings.Repeat("s", 32)), mk(strings.Repeat("o", 32))
	sealed := s.sealTOTP(7, "JBSWY3DPEHPK3PXP")
	if bytes.Contains(sealed, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatal("the secret is in clear")
	}
	if got, err := s.openTOTP(7, sealed); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := s.openTOTP(8, sealed); err == nil {
		t.Error("another contact's row opened the secret")
	}
	if _, err := other.openTOTP(7, sealed); err == nil {
		t.Error("another installation's key opened the secret")
	}
	if _, err := s.openTOTP(7, sealed[:5]); err == nil {
		t.Error("a truncated secret opened")
	}
}

// TestRelyingParty: passkeys need a domain; an IP address or no host
// turns them off (the authenticator app remains) rather than failing.
func TestRelyingParty(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		on  bool
	}{
		{"https://notify.example.com", true},
		{"http://localhost:8080", true},
		{"http://127.0.0.1:8080", false},
		{"http://[::1]:8080", false},
		{"", false},
	} {
		if rp := newRelyingParty(tc.url, "", slog.New(slog.DiscardHandler)); (rp != nil) != tc.on {
			t.Errorf("%q: passkeys on %v, want %v", tc.url, rp != nil, tc.on)
		}
	}
}

func TestDeviceName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ ua, want string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36", "Chrome · Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0", "Edge · Windows"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Version/18.1 Mobile/15E148 Safari/604.1", "Safari · iOS"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox · Linux"},
		{"curl/8.5.0", "curl/8.5.0"},
		{"<script>" + strings.Repeat("x", 60), "<script>" + strings.Repeat("x", 32) + "…"},
		{"", ""},
	} {
		if got := deviceName(c.ua); got != c.want {
			t.Errorf("deviceName(%q) = %q, want %q", c.ua, got, c.want)
		}
	}
}
