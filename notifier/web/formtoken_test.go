package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// TestFormTokens: a form token works for its purpose, its binding and its
// lifetime only.
func TestFormTokens(t *testing.T) {
	t.Parallel()
	f := mustFormTokens(t, []byte("0123456789abcdef0123456789abcdef"))
	now := time.Unix(1_700_000_000, 0)
	tok := f.Make("session", []byte("session-a"), now)
	for _, tc := range []struct {
		name    string
		purpose string
		bound   string
		token   string
		at      time.Time
		want    bool
	}{
		{"as made", "session", "session-a", tok, now, true},
		{"at its expiry", "session", "session-a", tok, now.Add(FormLifetime), true},
		{"another session", "session", "session-b", tok, now, false},
		{"another form", "login", "session-a", tok, now, false},
		{"expired", "session", "session-a", tok, now.Add(FormLifetime + time.Second), false},
		{"expiry altered", "session", "session-a", "9" + tok[1:], now, false},
		{"no binding", "session", "", tok, now, false},
		{"nothing bound", "session", "", f.Make("session", nil, now), now, false},
		{"garbage", "session", "session-a", "x", now, false},
		{"empty", "session", "session-a", "", now, false},
		{"mac cut", "session", "session-a", strings.TrimRight(tok[:len(tok)-2], "."), now, false},
		{"mac altered", "session", "session-a", tok[:len(tok)-2] + "AA", now, false},
		{"another secret", "session", "session-a", mustFormTokens(t, []byte("another secret, just as long....")).Make("session", []byte("session-a"), now), now, false},
	} {
		if got := f.Valid(tc.purpose, tc.token, []byte(tc.bound), tc.at); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestFormTokenFormat pins the format, so forms served before an upgrade
// still work after it: exp "." base64url(HMAC-SHA256(secret,
// "purpose|hex(bound)|exp")).
func TestFormTokenFormat(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_700_000_000, 0)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("portal-session|ff00|1700043200"))
	want := "1700043200." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if got := mustFormTokens(t, secret).Make("portal-session", []byte{0xff, 0x00}, now); got != want {
		t.Errorf("token = %q, want %q", got, want)
	}
}

func TestFormTokensNeedALongSecret(t *testing.T) {
	t.Parallel()
	if _, err := NewFormTokens([]byte("0123456789abcde")); err == nil {
		t.Error("a 15-byte secret is accepted")
	}
	if _, err := NewFormTokens(nil); err == nil {
		t.Error("no secret is accepted")
	}
}

func mustFormTokens(t *testing.T, secret []byte) FormTokens {
	t.Helper()
	f, err := NewFormTokens(secret)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
