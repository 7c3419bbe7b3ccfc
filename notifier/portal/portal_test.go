package portal

import (
	"strings"
	"testing"
	"time"
)

func TestNewParsesEveryPage(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Secret: []byte("0123456789abcdef0123456789abcdef"), PublicURL: "https://notify.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.pages) != len(pageNames) || !s.secure || s.cookieName(sessionCookie) != "__Host-bn_portal" {
		t.Errorf("pages %d/%d, secure %v, cookie %s", len(s.pages), len(pageNames), s.secure, s.cookieName(sessionCookie))
	}
}

// TestFormTokens: a form token works for its purpose, its binding and its
// lifetime only.
func TestFormTokens(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	tok := s.formToken(formSession, []byte("session-a"), now)
	for _, tc := range []struct {
		name    string
		purpose string
		bound   string
		token   string
		at      time.Time
		want    bool
	}{
		{"as made", formSession, "session-a", tok, now, true},
		{"another session", formSession, "session-b", tok, now, false},
		{"another form", formLogin, "session-a", tok, now, false},
		{"expired", formSession, "session-a", tok, now.Add(csrfLifetime + time.Second), false},
		{"expiry altered", formSession, "session-a", "9" + tok[1:], now, false},
		{"no binding", formSession, "", tok, now, false},
		{"garbage", formSession, "session-a", "x", now, false},
		{"mac cut", formSession, "session-a", strings.TrimRight(tok[:len(tok)-2], "."), now, false},
	} {
		if got := s.validForm(tc.purpose, tc.token, []byte(tc.bound), tc.at); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
