package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.LoadFrom(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != config.DatabaseURLDefault || c.SMTP != nil || c.RetryLifetime != 96*time.Hour || c.From.Address != "security-notice@notify.example" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := config.LoadFrom(env(map[string]string{
		"BREACHNOTIFY_WORKERS":        "many",
		"BREACHNOTIFY_RETRY_LIFETIME": "4 days",
		"BREACHNOTIFY_SMTP_URL":       "http://relay",
		"BREACHNOTIFY_PUBLIC_URL":     "ftp://x",
	}))
	if err == nil {
		t.Fatal("accepted bad configuration")
	}
	for _, name := range []string{"BREACHNOTIFY_WORKERS", "BREACHNOTIFY_RETRY_LIFETIME", "BREACHNOTIFY_SMTP_URL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestSecretFromFile(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(f, []byte("smtp://u:p%40ss@relay.example:2525?tls=none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_SMTP_URL_FILE": f}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTP.Password != "p@ss" || c.SMTP.Port != 2525 || c.SMTP.TLS != "none" || strings.Contains(c.SMTP.String(), "p@ss") {
		t.Errorf("smtp = %+v (%s)", c.SMTP, c.SMTP)
	}
	if _, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_SMTP_URL_FILE": f, "BREACHNOTIFY_SMTP_URL": "smtp://x"})); err == nil {
		t.Error("accepted both a value and a file")
	}
}

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		ok   bool
		port int
		tls  string
	}{
		{"smtp://relay.example", true, 587, "starttls"},
		{"smtp://relay.example?tls=tls", true, 465, "tls"},
		{"smtp://127.0.0.1:2525?tls=none", true, 2525, "none"},
		{"smtp://[::1]:25?tls=none", true, 25, "none"},
		{"smtp://relay.example?tls=maybe", false, 0, ""},
		{"smtp://relay.example?foo=1", false, 0, ""},
		{"smtp://relay.example:99999", false, 0, ""},
		{"smtps://relay.example", false, 0, ""},
		{"smtp:///nohost", false, 0, ""},
	}
	for _, c := range cases {
		s, err := config.ParseSMTPURL(c.in)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.in, err, c.ok)
			continue
		}
		if c.ok && (s.Port != c.port || s.TLS != c.tls) {
			t.Errorf("%s: %+v", c.in, s)
		}
	}
}

func FuzzParseSMTPURL(f *testing.F) {
	f.Add("smtp://user:pass@relay.example:587?tls=starttls")
	f.Add("smtp://relay.example?tls=none&tls_skip_verify=true")
	f.Add("smtp://%0d%0a@x")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := config.ParseSMTPURL(s)
		if err != nil {
			return
		}
		if u.Host == "" || u.Port < 1 || u.Port > 65535 || strings.ContainsAny(u.Host+u.Username+u.Password, "\r\n\x00") {
			t.Fatalf("accepted %q as %+v", s, u)
		}
		if u.TLS != "starttls" && u.TLS != "tls" && u.TLS != "none" {
			t.Fatalf("tls mode %q", u.TLS)
		}
	})
}
