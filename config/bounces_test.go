package config_test

import (
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/config"
)

func TestParseIMAPURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw, addr string
		mode      string
		insecure  bool
		bad       string
	}{
		{raw: "imaps://bounces:s3cr%40t@imap.example.com", addr: "imap.example.com:993", mode: config.IMAPTLS},
		{raw: "imap://bounces:pw@imap.example.com", addr: "imap.example.com:143", mode: config.IMAPStartTLS},
		{raw: "imaps://bounces:pw@[2001:db8::1]:1993", addr: "[2001:db8::1]:1993", mode: config.IMAPTLS},
		{raw: "imap://u:p@127.0.0.1:1143?tls=none", addr: "127.0.0.1:1143", mode: config.IMAPNoTLS, insecure: true},
		{raw: "imap://u:p@127.0.0.1:1143?tls=none", bad: "in clear"},
		{raw: "imaps://u:p@h?tls=none", insecure: true, bad: "only be none, with imap://"},
		{raw: "pop3://u:p@h", bad: "imaps://"},
		{raw: "imaps://h", bad: "user and password"},
		{raw: "imaps://u:p@h/INBOX", bad: "BREACHNOTIFY_BOUNCE_IMAP_MAILBOX"},
		{raw: "imaps://u:p@h?x=1", bad: "unknown parameter"},
	} {
		s, err := config.ParseIMAPURL(tc.raw, tc.insecure)
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%s: error %v, want one saying %q", tc.raw, err, tc.bad)
			}
			if err != nil && strings.Contains(err.Error(), ":p@") {
				t.Errorf("%s: the error repeats the password", tc.raw)
			}
			continue
		}
		if err != nil || s.Addr != tc.addr || s.TLS != tc.mode {
			t.Errorf("%s: %+v %v", tc.raw, s, err)
		}
	}
	if s, _ := config.ParseIMAPURL("imaps://bounces:s3cr%40t@imap.example.com", false); s.Password != "s3cr@t" {
		t.Errorf("percent-encoded password = %q", s.Password)
	}
}

func FuzzParseIMAPURL(f *testing.F) {
	for _, s := range []string{"imaps://u:p@h", "imap://u:p@h:1?tls=none", "imap://%zz@h", "imaps://[::1", "imap://u:p@h/x?tls=none&tls=none"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := config.ParseIMAPURL(raw, false)
		if err != nil {
			return
		}
		if s.TLS == config.IMAPNoTLS || s.Addr == "" || s.Username == "" || s.Password == "" {
			t.Fatalf("%q accepted as %+v", raw, s)
		}
	})
}
