package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// The BREACHNOTIFY_BOUNCE_* settings: every part is off by default, the
// mailbox URL may come from a file, and each mistake names its variable.
func TestLoadBounces(t *testing.T) {
	t.Parallel()
	c, err := config.LoadFrom(env(nil))
	if err != nil || c.Bounces.IMAP != nil || c.Bounces.SESTopicARNs != nil || c.Bounces.SendGridPublicKey != nil ||
		c.Bounces.PostmarkUser != "" || c.Bounces.MailgunSigningKey != "" {
		t.Fatalf("defaults: %+v, %v; want every part off", c.Bounces, err)
	}
	urlFile := filepath.Join(t.TempDir(), "imap-url")
	if err := os.WriteFile(urlFile, []byte("imaps://bounces:s3cret@imap.example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// SendGrid's verification key as its settings page shows it (the
	// key of SendGrid's own library tests).
	const sendgridKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
	c, err = config.LoadFrom(env(map[string]string{
		"BREACHNOTIFY_BOUNCE_IMAP_URL_FILE":        urlFile,
		"BREACHNOTIFY_BOUNCE_IMAP_PROCESSED":       "Bounces/Done",
		"BREACHNOTIFY_BOUNCE_IMAP_INTERVAL":        "30s",
		"BREACHNOTIFY_BOUNCE_SES_TOPIC_ARNS":       "arn:aws:sns:eu-west-1:123456789012:ses-bounces, arn:aws:sns:us-east-1:123456789012:ses-complaints",
		"BREACHNOTIFY_BOUNCE_SENDGRID_PUBLIC_KEY":  sendgridKey,
		"BREACHNOTIFY_BOUNCE_POSTMARK_CREDENTIALS": "postmark:0123456789abcdef",
		"BREACHNOTIFY_BOUNCE_MAILGUN_SIGNING_KEY":  "key-abc",
	}))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Bounces
	if m := b.IMAP; m == nil || m.Addr != "imap.example.com:993" || m.Password != "s3cret" || m.TLS != config.IMAPTLS ||
		m.Mailbox != "INBOX" || m.Processed != "Bounces/Done" || m.Interval != 30*time.Second {
		t.Errorf("IMAP = %+v", b.IMAP)
	}
	if len(b.SESTopicARNs) != 2 || b.SendGridPublicKey == nil || b.PostmarkPassword != "0123456789abcdef" || b.MailgunSigningKey != "key-abc" {
		t.Errorf("providers = %+v", b)
	}
	for name, tc := range map[string]struct{ env map[string]string }{
		"BREACHNOTIFY_BOUNCE_IMAP_URL":             {map[string]string{"BREACHNOTIFY_BOUNCE_IMAP_URL": "imap://u:p@h?tls=none"}},
		"BREACHNOTIFY_BOUNCE_IMAP_INTERVAL":        {map[string]string{"BREACHNOTIFY_BOUNCE_IMAP_URL": "imaps://u:p@h", "BREACHNOTIFY_BOUNCE_IMAP_INTERVAL": "10ms"}},
		"BREACHNOTIFY_BOUNCE_IMAP_PROCESSED":       {map[string]string{"BREACHNOTIFY_BOUNCE_IMAP_URL": "imaps://u:p@h", "BREACHNOTIFY_BOUNCE_IMAP_PROCESSED": "INBOX"}},
		"BREACHNOTIFY_BOUNCE_SES_TOPIC_ARNS":       {map[string]string{"BREACHNOTIFY_BOUNCE_SES_TOPIC_ARNS": "ses-bounces"}},
		"BREACHNOTIFY_BOUNCE_SENDGRID_PUBLIC_KEY":  {map[string]string{"BREACHNOTIFY_BOUNCE_SENDGRID_PUBLIC_KEY": "not a key"}},
		"BREACHNOTIFY_BOUNCE_POSTMARK_CREDENTIALS": {map[string]string{"BREACHNOTIFY_BOUNCE_POSTMARK_CREDENTIALS": "postmark:short"}},
	} {
		_, err := config.LoadFrom(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming it", name, err)
		}
	}
	if _, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_BOUNCE_IMAP_URL": "imap://u:p@127.0.0.1:1143?tls=none",
		"BREACHNOTIFY_BOUNCE_IMAP_ALLOW_INSECURE": "true"})); err != nil {
		t.Errorf("tls=none with the insecure switch: %v", err)
	}
}
