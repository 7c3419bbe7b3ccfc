package config_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
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
	// Three pools: the workers' follows the workers, the HTTP side's are fixed.
	if c.PoolSize() != 25 || c.DBStaffPoolSize != 5 || c.DBPublicPoolSize != 5 {
		t.Errorf("pools = %d workers, %d staff, %d public; want 25, 5, 5", c.PoolSize(), c.DBStaffPoolSize, c.DBPublicPoolSize)
	}
}

func TestPoolSizes(t *testing.T) {
	t.Parallel()
	c, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_WORKERS": "100", "BREACHNOTIFY_DB_STAFF_POOL_SIZE": "12",
		"BREACHNOTIFY_DB_PUBLIC_POOL_SIZE": "20"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.PoolSize() != 55 || c.DBStaffPoolSize != 12 || c.DBPublicPoolSize != 20 {
		t.Errorf("pools = %d workers, %d staff, %d public; want 55, 12, 20", c.PoolSize(), c.DBStaffPoolSize, c.DBPublicPoolSize)
	}
	if c, err = config.LoadFrom(env(map[string]string{"BREACHNOTIFY_DB_POOL_SIZE": "7"})); err != nil || c.PoolSize() != 7 {
		t.Errorf("BREACHNOTIFY_DB_POOL_SIZE=7: %v, %v", c, err)
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

// TestLoadRefusesValuesThatBreakLater: values that parse but would break
// the service once running are refused at start, each by its name.
func TestLoadRefusesValuesThatBreakLater(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"BREACHNOTIFY_HTTP_ADDR": "0.0.0.0:8080"}, "BREACHNOTIFY_PUBLIC_URL"},
		{map[string]string{"BREACHNOTIFY_PUBLIC_URL": "http://[::]:8080"}, "BREACHNOTIFY_PUBLIC_URL"},
		{map[string]string{"BREACHNOTIFY_RATE_LIMIT": "NaN"}, "BREACHNOTIFY_RATE_LIMIT"},
		{map[string]string{"BREACHNOTIFY_DOMAIN_RATE_LIMIT": "+Inf"}, "BREACHNOTIFY_DOMAIN_RATE_LIMIT"},
		{map[string]string{"BREACHNOTIFY_DOMAIN_RATE_LIMIT": "1e-10"}, "BREACHNOTIFY_DOMAIN_RATE_LIMIT"},
		{map[string]string{"BREACHNOTIFY_SMTP_TIMEOUT": "1ns"}, "BREACHNOTIFY_SMTP_TIMEOUT"},
		{map[string]string{"BREACHNOTIFY_JOB_RESCUE_AFTER": "80s"}, "BREACHNOTIFY_JOB_RESCUE_AFTER"}, // jobs of 53 s, SMTP timeout 30 s
		{map[string]string{"BREACHNOTIFY_LEASE_TTL": "1s"}, "BREACHNOTIFY_LEASE_TTL"},
		{map[string]string{"BREACHNOTIFY_DB_POOL_SIZE": "-1"}, "BREACHNOTIFY_DB_POOL_SIZE"},
		{map[string]string{"BREACHNOTIFY_DB_STAFF_POOL_SIZE": "0"}, "BREACHNOTIFY_DB_STAFF_POOL_SIZE"},
		{map[string]string{"BREACHNOTIFY_DB_STAFF_POOL_SIZE": "five"}, "BREACHNOTIFY_DB_STAFF_POOL_SIZE"},
		{map[string]string{"BREACHNOTIFY_DB_PUBLIC_POOL_SIZE": "0"}, "BREACHNOTIFY_DB_PUBLIC_POOL_SIZE"},
		{map[string]string{"BREACHNOTIFY_DB_PUBLIC_POOL_SIZE": "100000"}, "BREACHNOTIFY_DB_PUBLIC_POOL_SIZE"},
		{map[string]string{"BREACHNOTIFY_CONTACT_URL": "javascript:alert(1)"}, "BREACHNOTIFY_CONTACT_URL"},
		{map[string]string{"BREACHNOTIFY_CONTACT_URL": "http://example.com/contact"}, "BREACHNOTIFY_CONTACT_URL"},
		{map[string]string{"BREACHNOTIFY_CONTACT_URL": "https://user:pw@example.com/"}, "BREACHNOTIFY_CONTACT_URL"},
		{map[string]string{"BREACHNOTIFY_CONTACT_TEXT": "line\nbreak"}, "BREACHNOTIFY_CONTACT_TEXT"},
	} {
		_, err := config.LoadFrom(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%v: err = %v, want it to name %s", tc.env, err, tc.name)
		}
	}
	if _, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_JOB_RESCUE_AFTER": "4m", "BREACHNOTIFY_RATE_LIMIT": "0"})); err != nil {
		t.Errorf("rescue after 4m with the default SMTP timeout, no rate limit: %v", err)
	}
}

// TestPublicURLMustBeHTTPS: a process that serves or sends refuses an http
// public URL (CheckPublicURL) unless the development switch is on, with a
// message naming both variables; loading alone refuses neither, since the
// IR verbs, migrate and apikey never use the URL.
func TestPublicURLMustBeHTTPS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env       map[string]string
		https, ok bool
	}{
		{nil, false, false}, // the default, http://127.0.0.1:8080
		{map[string]string{"BREACHNOTIFY_PUBLIC_URL": "http://notify.example.com"}, false, false},
		{map[string]string{"BREACHNOTIFY_PUBLIC_URL": "HTTP://notify.example.com"}, false, false},
		{map[string]string{"BREACHNOTIFY_PUBLIC_URL": "https://notify.example.com"}, true, true},
		{map[string]string{"BREACHNOTIFY_PUBLIC_URL": "HTTPS://notify.example.com/breach"}, true, true},
		{map[string]string{"BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL": "true"}, false, true},
		{map[string]string{"BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL": "1", "BREACHNOTIFY_PUBLIC_URL": "http://10.0.0.5:8080"}, false, true},
		{map[string]string{"BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL": "false"}, false, false},
		{map[string]string{"BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL": "true", "BREACHNOTIFY_PUBLIC_URL": "https://notify.example.com"}, true, true},
	} {
		c, err := config.LoadFrom(env(tc.env))
		if err != nil {
			t.Errorf("%v: %v", tc.env, err)
			continue
		}
		if c.PublicHTTPS() != tc.https {
			t.Errorf("%v: PublicHTTPS() = %v", tc.env, c.PublicHTTPS())
		}
		err = c.CheckPublicURL()
		switch {
		case tc.ok && err != nil:
			t.Errorf("%v: %v, want it allowed", tc.env, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "BREACHNOTIFY_PUBLIC_URL") || !strings.Contains(err.Error(), "BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL=true")):
			t.Errorf("%v: %v, want a refusal naming both variables", tc.env, err)
		}
	}
	_, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL": "yes please"}))
	if err == nil || !strings.Contains(err.Error(), "BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL") {
		t.Errorf("a switch that is not a boolean: %v", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	c, err := config.LoadFrom(env(nil))
	if err != nil || len(c.TrustedProxies) != 0 {
		t.Fatalf("default: %v, %v; want none trusted", c.TrustedProxies, err)
	}
	for _, tc := range []struct {
		in   string
		want string // the prefixes, space-separated; "" for an error
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"192.0.2.7", "192.0.2.7/32"},
		{" 10.0.0.0/8 , 192.0.2.7,2001:db8::/32 ", "10.0.0.0/8 192.0.2.7/32 2001:db8::/32"},
		{"2001:DB8::7", "2001:db8::7/128"},
		{"10.1.2.3/8", "10.0.0.0/8"},                       // masked
		{"::ffff:192.0.2.7", "192.0.2.7/32"},               // IPv4-mapped: the IPv4 address
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},              // and prefix
		{"10.0.0.1,,10.0.0.2,", "10.0.0.1/32 10.0.0.2/32"}, // empty entries skipped
		{"10.0.0.0/33", ""},
		{"10.0.0.300", ""},
		{"proxy.internal", ""},
		{"10.0.0.1:8080", ""},
		{"fe80::1%eth0", ""},
		{"10.0.0.0/8 192.0.2.7", ""},
		{"0.0.0.0/0", ""},
		{"::/0", ""},
	} {
		ps, err := config.ParseTrustedProxies(tc.in)
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseTrustedProxies(%q) = %v, want an error", tc.in, got)
		case tc.want != "" && (err != nil || strings.Join(got, " ") != tc.want):
			t.Errorf("ParseTrustedProxies(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	c, err = config.LoadFrom(env(map[string]string{"BREACHNOTIFY_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::1"}))
	if err != nil || len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "2001:db8::1/128" {
		t.Fatalf("loaded %v, %v", c.TrustedProxies, err)
	}
	// The message names the variable and the bad entry.
	_, err = config.LoadFrom(env(map[string]string{"BREACHNOTIFY_TRUSTED_PROXIES": "10.0.0.0/8, 10.0.0.300"}))
	if err == nil || !strings.Contains(err.Error(), "BREACHNOTIFY_TRUSTED_PROXIES") || !strings.Contains(err.Error(), `"10.0.0.300"`) {
		t.Errorf("bad entry: %v", err)
	}
}

func TestSecretFromFile(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(f, []byte("smtp://u:p%40ss@relay.example:2525?tls=none&auth=cram-md5\n"), 0o600); err != nil {
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

// TestMigrateDatabaseURL: migrate connects as the owner when told to, as
// the service otherwise, and never to another database than the service.
func TestMigrateDatabaseURL(t *testing.T) {
	t.Parallel()
	c, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_DATABASE_URL": "postgres://bn_app@db.internal/breachnotify"}))
	if err != nil || c.MigrateDatabaseURL != "" || c.MigrateURL() != "postgres://bn_app@db.internal/breachnotify" {
		t.Errorf("default: %q, MigrateURL %q, %v", c.MigrateDatabaseURL, c.MigrateURL(), err)
	}
	owner := filepath.Join(t.TempDir(), "owner-url")
	if err := os.WriteFile(owner, []byte("postgres://bn_owner:s3cret@db.internal/breachnotify\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = config.LoadFrom(env(map[string]string{
		"BREACHNOTIFY_DATABASE_URL":              "postgres://bn_app@db.internal/breachnotify",
		"BREACHNOTIFY_MIGRATE_DATABASE_URL_FILE": owner,
	}))
	if err != nil || c.MigrateURL() != "postgres://bn_owner:s3cret@db.internal/breachnotify" || c.DatabaseURL != "postgres://bn_app@db.internal/breachnotify" {
		t.Errorf("from a file: %q, %v", c.MigrateURL(), err)
	}
	for _, bad := range []string{"mysql://root@db.internal/breachnotify", "postgres://bn_owner:s3cret@db.internal/other", "postgres://bn_owner:s3cret@elsewhere/breachnotify"} {
		_, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_DATABASE_URL": "postgres://bn_app@db.internal/breachnotify", "BREACHNOTIFY_MIGRATE_DATABASE_URL": bad}))
		if err == nil || !strings.Contains(err.Error(), "BREACHNOTIFY_MIGRATE_DATABASE_URL") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: err = %v, want one naming the variable (and no password)", bad, err)
		}
	}
}

// TestDatabasePollOnly: behind a pooler, migrate needs its own direct
// URL, which then names another host (the server, not the pooler) but
// still the same database.
func TestDatabasePollOnly(t *testing.T) {
	t.Parallel()
	const pooled = "postgres://bn_app@pgbouncer.internal:6432/breachnotify"
	for _, tc := range []struct {
		name, pollOnly, migrateURL string
		loadErr, migrateErr        bool
	}{
		{"direct, migrate on the same URL", "", "", false, false},
		{"pooled, migrate on the pooler", "true", "", false, true},
		{"pooled, migrate direct", "true", "postgres://bn_owner@db.internal:5432/breachnotify", false, false},
		{"pooled, migrate direct to another database", "true", "postgres://bn_owner@db.internal:5432/other", true, false},
		{"not pooled, migrate on another host", "false", "postgres://bn_owner@db.internal:5432/breachnotify", true, false},
	} {
		c, err := config.LoadFrom(env(map[string]string{
			"BREACHNOTIFY_DATABASE_URL":         pooled,
			"BREACHNOTIFY_DATABASE_POLL_ONLY":   tc.pollOnly,
			"BREACHNOTIFY_MIGRATE_DATABASE_URL": tc.migrateURL,
		}))
		if (err != nil) != tc.loadErr {
			t.Errorf("%s: load: %v, want error %v", tc.name, err, tc.loadErr)
			continue
		}
		if err != nil {
			continue
		}
		if c.DatabasePollOnly != (tc.pollOnly == "true") {
			t.Errorf("%s: DatabasePollOnly = %v", tc.name, c.DatabasePollOnly)
		}
		err = c.CheckMigrateURL()
		if (err != nil) != tc.migrateErr || (err != nil && !strings.Contains(err.Error(), "BREACHNOTIFY_MIGRATE_DATABASE_URL")) {
			t.Errorf("%s: CheckMigrateURL: %v, want error %v naming BREACHNOTIFY_MIGRATE_DATABASE_URL", tc.name, err, tc.migrateErr)
		}
	}
}

// TestAuditKeyFile: one key per line, the first current; short, repeated
// or missing keys are refused at start, naming the variable.
func TestAuditKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	current, old := "ZgUoWXqPUcxgW1e1tOwO0b0JBvm9Yw6wSvb7ZtY7Eb0bZ6qk", "Fh8nO1w0JqkR2cW6tB3mV9xYp5sL4dA7eG0iU8oT1zQ2rS3u"
	c, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_AUDIT_KEY_FILE": write("keys", current+"\r\n\n  "+old+"  \n")}))
	if err != nil || len(c.AuditKeys) != 2 || string(c.AuditKeys[0]) != current || string(c.AuditKeys[1]) != old {
		t.Fatalf("two keys: %q, %v", c.AuditKeys, err)
	}
	if c, err := config.LoadFrom(env(nil)); err != nil || c.AuditKeyFile != "" || c.AuditKeys != nil {
		t.Errorf("default: %q %q %v", c.AuditKeyFile, c.AuditKeys, err)
	}
	for name, content := range map[string]string{
		"empty":    "\n\n",
		"short":    current + "\nshort-key\n",
		"repeated": current + "\n" + current + "\n",
		"binary":   "\x01\x02\n\x03",
	} {
		_, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_AUDIT_KEY_FILE": write(name, content)}))
		if err == nil || !strings.Contains(err.Error(), "BREACHNOTIFY_AUDIT_KEY_FILE") || strings.Contains(err.Error(), current) {
			t.Errorf("%s: err = %v, want one naming the variable (and no key)", name, err)
		}
	}
	if _, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_AUDIT_KEY_FILE": filepath.Join(dir, "missing")})); err == nil || !strings.Contains(err.Error(), "BREACHNOTIFY_AUDIT_KEY_FILE cannot be read") {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParseAuditKeys: whatever the file holds, every key accepted is at
// least 32 bytes of trimmed, distinct text, and an error names no key.
func FuzzParseAuditKeys(f *testing.F) {
	f.Add([]byte("ZgUoWXqPUcxgW1e1tOwO0b0JBvm9Yw6wSvb7ZtY7Eb0bZ6qk\n"))
	f.Add([]byte("ZgUoWXqPUcxgW1e1tOwO0b0JBvm9Yw6wSvb7ZtY7Eb0bZ6qk\r\nFh8nO1w0JqkR2cW6tB3mV9xYp5sL4dA7eG0iU8oT1zQ2rS3u"))
	f.Add([]byte("\n \t\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := config.ParseAuditKeys(b)
		if err != nil {
			if keys != nil {
				t.Fatalf("keys %q with error %v", keys, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if len(k) < config.AuditKeyMinBytes || strings.TrimSpace(string(k)) != string(k) || strings.Contains(string(k), "\n") || seen[string(k)] {
				t.Fatalf("accepted key %q from %q", k, b)
			}
			seen[string(k)] = true
		}
		if len(keys) == 0 {
			t.Fatalf("no keys and no error from %q", b)
		}
	})
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
		{"smtp://relay.example?tls=none&tls=tls", false, 0, ""},
	}
	// A password with an unescaped "?" must not come back in the error.
	if _, err := config.ParseSMTPURL("smtp://user:1234?s3cr3t@relay.example:587"); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("password in a query: err = %v, want an error that does not quote it", err)
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

// TestParseSMTPURLAuth: which AUTH settings a relay URL may carry, and
// that each refusal names what to change.
func TestParseSMTPURLAuth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in       string
		auth     string
		insecure bool
		// wantErr lists what the error must say; nil means accepted.
		wantErr []string
	}{
		{in: "smtp://u:p@relay.example", auth: ""},
		{in: "smtp://u:p@relay.example?auth=plain", auth: "plain"},
		{in: "smtp://u:p@relay.example?tls=tls&auth=LOGIN", auth: "login"},
		{in: "smtp://u:p@relay.example?auth=cram-md5", auth: "cram-md5"},
		{in: "smtp://relay.example?auth=none", auth: "none"},
		{in: "smtp://relay.example?tls=none", auth: ""},
		{in: "smtp://u:p@relay.example?tls=none&auth=cram-md5", auth: "cram-md5"},
		{in: "smtp://u:p@relay.example?tls=none&auth=plain&insecure_auth=true", auth: "plain", insecure: true},
		{in: "smtp://u:p@relay.example?tls=none&auth=login&insecure_auth=1", auth: "login", insecure: true},
		{in: "smtp://u:p@relay.example?auth=plain&insecure_auth=true", auth: "plain", insecure: true},

		{in: "smtp://u:p@relay.example?auth=xoauth2", wantErr: []string{`"xoauth2"`, "plain, login, cram-md5 or none"}},
		{in: "smtp://u:p@relay.example?auth=", auth: ""},
		{in: "smtp://u:p@relay.example?tls=none", wantErr: []string{"tls=none", "tls=starttls", "auth=cram-md5", "insecure_auth=true"}},
		{in: "smtp://u:p@relay.example?tls=none&auth=plain", wantErr: []string{"auth=plain", "insecure_auth=true", "tls=starttls", "auth=cram-md5"}},
		{in: "smtp://u:p@relay.example?tls=none&auth=login&insecure_auth=false", wantErr: []string{"auth=login", "insecure_auth=true"}},
		{in: "smtp://u:p@relay.example?tls=none&auth=plain&insecure_auth=yes", wantErr: []string{"insecure_auth must be true or false"}},
		{in: "smtp://u:p@relay.example?auth=none", wantErr: []string{"auth=none"}},
		{in: "smtp://relay.example?auth=plain", wantErr: []string{"auth=plain needs a user name and password"}},
		{in: "smtp://relay.example?insecure_auth=true", wantErr: []string{"insecure_auth=true"}},
		{in: "smtp://u:p@relay.example?auth=plain&auth=login", wantErr: []string{"auth more than once"}},
	}
	for _, c := range cases {
		s, err := config.ParseSMTPURL(c.in)
		if c.wantErr != nil {
			if err == nil {
				t.Errorf("%s: accepted as %+v, want an error", c.in, s)
				continue
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not say %q", c.in, err, w)
				}
			}
			if strings.Contains(err.Error(), ":p@") {
				t.Errorf("%s: error %q quotes the password", c.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if s.Auth != c.auth || s.InsecureAuth != c.insecure {
			t.Errorf("%s: auth %q insecure %v, want %q %v", c.in, s.Auth, s.InsecureAuth, c.auth, c.insecure)
		}
		// What is logged names the mechanism, never the password.
		if str := s.String(); strings.Contains(str, ":p@") || (c.auth != "" && !strings.Contains(str, "auth="+c.auth)) {
			t.Errorf("%s: String() = %s", c.in, str)
		}
	}
}

func FuzzParseSMTPURL(f *testing.F) {
	f.Add("smtp://user:pass@relay.example:587?tls=starttls")
	f.Add("smtp://relay.example?tls=none&tls_skip_verify=true")
	f.Add("smtp://%0d%0a@x")
	f.Add("smtp://u:p@relay.example?tls=none&auth=plain&insecure_auth=true")
	f.Add("smtp://u:p@relay.example?tls=none&auth=cram-md5")
	f.Add("smtp://relay.example?auth=none")
	f.Add("smtp://:p@relay.example?insecure_auth=true")
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
		switch u.Auth {
		case "", config.SMTPAuthPlain, config.SMTPAuthLogin, config.SMTPAuthCramMD5, config.SMTPAuthNone:
		default:
			t.Fatalf("auth %q", u.Auth)
		}
		// Never a password in the clear unless asked for by name.
		creds := u.Username != "" || u.Password != ""
		if creds && u.TLS == "none" && u.Auth != config.SMTPAuthCramMD5 && !u.InsecureAuth {
			t.Fatalf("accepted %q: credentials over tls=none with auth %q and no insecure_auth", s, u.Auth)
		}
		if creds && u.Auth == config.SMTPAuthNone || !creds && u.Auth != "" && u.Auth != config.SMTPAuthNone {
			t.Fatalf("accepted %q: auth %q with credentials %v", s, u.Auth, creds)
		}
		// What is logged parses back to the same settings.
		back, err := config.ParseSMTPURL(strings.Replace(u.String(), "REDACTED", "x", 1))
		if err != nil || back.Auth != u.Auth || back.InsecureAuth != u.InsecureAuth || back.TLS != u.TLS || back.Port != u.Port {
			t.Fatalf("%q logged as %s, which parses to %+v, %v", s, u.String(), back, err)
		}
	})
}

// writePEM writes one PEM block to a fresh file and returns its path.
func writePEM(t *testing.T, blockType string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkcs8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestDKIM(t *testing.T) {
	t.Parallel()
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edFile := writePEM(t, "PRIVATE KEY", pkcs8(t, ed))
	from := "Security Notices <security-notice@Notify.Example.com>"

	t.Run("Ed25519 with the From domain by default", func(t *testing.T) {
		c, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_FROM": from, "BREACHNOTIFY_DKIM_KEY_FILE": edFile, "BREACHNOTIFY_DKIM_SELECTOR": "bn2026"}))
		if err != nil {
			t.Fatal(err)
		}
		if c.DKIM == nil || c.DKIM.Domain != "notify.example.com" || c.DKIM.Selector != "bn2026" || !ed.Equal(c.DKIM.Key) {
			t.Errorf("DKIM = %+v", c.DKIM)
		}
	})
	t.Run("RSA PKCS#1 with its own domain", func(t *testing.T) {
		c, err := config.LoadFrom(env(map[string]string{
			"BREACHNOTIFY_DKIM_KEY_FILE": writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048)),
			"BREACHNOTIFY_DKIM_SELECTOR": "s1", "BREACHNOTIFY_DKIM_DOMAIN": "example.com.",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if c.DKIM.Domain != "example.com" || !rsa2048.Equal(c.DKIM.Key) {
			t.Errorf("DKIM = %+v", c.DKIM)
		}
	})
	rsaFile := writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048))
	t.Run("RSA and Ed25519 dual signing", func(t *testing.T) {
		c, err := config.LoadFrom(env(map[string]string{
			"BREACHNOTIFY_FROM":          from,
			"BREACHNOTIFY_DKIM_KEY_FILE": rsaFile, "BREACHNOTIFY_DKIM_SELECTOR": "rsa2026",
			"BREACHNOTIFY_DKIM_ED25519_KEY_FILE": edFile, "BREACHNOTIFY_DKIM_ED25519_SELECTOR": "ed2026",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if e := c.DKIMEd25519; e == nil || e.Domain != "notify.example.com" || e.Selector != "ed2026" || !ed.Equal(e.Key) {
			t.Errorf("DKIMEd25519 = %+v", c.DKIMEd25519)
		}
	})
	t.Run("off by default", func(t *testing.T) {
		c, err := config.LoadFrom(env(nil))
		if err != nil || c.DKIM != nil || c.SMIME != nil || c.DKIMEd25519 != nil {
			t.Errorf("DKIM = %+v, SMIME = %+v, err = %v; want both off", c.DKIM, c.SMIME, err)
		}
	})

	bad := []struct {
		name string
		vars map[string]string
		want []string
	}{
		{"key without selector", map[string]string{"BREACHNOTIFY_DKIM_KEY_FILE": edFile}, []string{"BREACHNOTIFY_DKIM_SELECTOR must be set"}},
		{"selector without key", map[string]string{"BREACHNOTIFY_DKIM_SELECTOR": "s1"}, []string{"BREACHNOTIFY_DKIM_KEY_FILE must be set"}},
		{"domain without key", map[string]string{"BREACHNOTIFY_DKIM_DOMAIN": "example.com"}, []string{"BREACHNOTIFY_DKIM_KEY_FILE must be set"}},
		{"1024-bit RSA", map[string]string{"BREACHNOTIFY_DKIM_KEY_FILE": writePEM(t, "PRIVATE KEY", pkcs8(t, rsa1024)), "BREACHNOTIFY_DKIM_SELECTOR": "s1"}, []string{"BREACHNOTIFY_DKIM_KEY_FILE holds a 1024-bit RSA key"}},
		{"EC key", map[string]string{"BREACHNOTIFY_DKIM_KEY_FILE": writePEM(t, "PRIVATE KEY", pkcs8(t, ec)), "BREACHNOTIFY_DKIM_SELECTOR": "s1"}, []string{"BREACHNOTIFY_DKIM_KEY_FILE holds a *ecdsa.PrivateKey"}},
		{"not a key", map[string]string{"BREACHNOTIFY_DKIM_KEY_FILE": writePEM(t, "CERTIFICATE", []byte("x")), "BREACHNOTIFY_DKIM_SELECTOR": "s1"}, []string{"BREACHNOTIFY_DKIM_KEY_FILE holds no PEM private key"}},
		{"missing file and bad selector", map[string]string{"BREACHNOTIFY_DKIM_KEY_FILE": "/nonexistent/dkim.pem", "BREACHNOTIFY_DKIM_SELECTOR": "bad selector"}, []string{"BREACHNOTIFY_DKIM_KEY_FILE cannot be read", "BREACHNOTIFY_DKIM_SELECTOR must be DNS labels"}},
		{"bad domain", map[string]string{"BREACHNOTIFY_DKIM_KEY_FILE": edFile, "BREACHNOTIFY_DKIM_SELECTOR": "s1", "BREACHNOTIFY_DKIM_DOMAIN": "localhost"}, []string{"BREACHNOTIFY_DKIM_DOMAIN must be a domain name"}},
		{"second key alone", map[string]string{"BREACHNOTIFY_DKIM_ED25519_KEY_FILE": edFile, "BREACHNOTIFY_DKIM_ED25519_SELECTOR": "ed"}, []string{"BREACHNOTIFY_DKIM_ED25519_KEY_FILE adds a second signature"}},
		{"second selector alone", map[string]string{"BREACHNOTIFY_DKIM_KEY_FILE": rsaFile, "BREACHNOTIFY_DKIM_SELECTOR": "s1", "BREACHNOTIFY_DKIM_ED25519_SELECTOR": "ed"}, []string{"BREACHNOTIFY_DKIM_ED25519_KEY_FILE must be set"}},
		{"second key beside Ed25519", map[string]string{"BREACHNOTIFY_DKIM_KEY_FILE": edFile, "BREACHNOTIFY_DKIM_SELECTOR": "s1", "BREACHNOTIFY_DKIM_ED25519_KEY_FILE": edFile, "BREACHNOTIFY_DKIM_ED25519_SELECTOR": "ed"}, []string{"must hold an RSA key"}},
		{"second key RSA", map[string]string{"BREACHNOTIFY_DKIM_KEY_FILE": rsaFile, "BREACHNOTIFY_DKIM_SELECTOR": "s1", "BREACHNOTIFY_DKIM_ED25519_KEY_FILE": rsaFile, "BREACHNOTIFY_DKIM_ED25519_SELECTOR": "ed"}, []string{"BREACHNOTIFY_DKIM_ED25519_KEY_FILE must hold an Ed25519 key"}},
		{"same selector twice", map[string]string{"BREACHNOTIFY_DKIM_KEY_FILE": rsaFile, "BREACHNOTIFY_DKIM_SELECTOR": "s1", "BREACHNOTIFY_DKIM_ED25519_KEY_FILE": edFile, "BREACHNOTIFY_DKIM_ED25519_SELECTOR": "s1"}, []string{"BREACHNOTIFY_DKIM_ED25519_SELECTOR must be DNS labels, and not the RSA key's selector"}},
	}
	for _, b := range bad {
		_, err := config.LoadFrom(env(b.vars))
		if err == nil {
			t.Errorf("%s: accepted", b.name)
			continue
		}
		for _, w := range b.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", b.name, err, w)
			}
		}
	}

	// Validate catches the same mistakes in a configuration built in code.
	c := config.Default()
	c.DKIM = &config.DKIM{Key: rsa1024, Domain: "example.com"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "BREACHNOTIFY_DKIM_SELECTOR") || !strings.Contains(err.Error(), "1024-bit") {
		t.Errorf("Validate = %v, want the selector and key size named", err)
	}
}

func selfSigned(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "notices"}, EmailAddresses: []string{"security-notice@notify.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestSMIME(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	cert := writePEM(t, "CERTIFICATE", selfSigned(t, ec))
	key := writePEM(t, "PRIVATE KEY", pkcs8(t, ec))

	c, err := config.LoadFrom(env(map[string]string{"BREACHNOTIFY_SMIME_CERT_FILE": cert, "BREACHNOTIFY_SMIME_KEY_FILE": key}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMIME == nil || c.SMIME.Certificate == nil || c.SMIME.Certificate.Leaf == nil || c.SMIME.Certificate.Leaf.EmailAddresses[0] != "security-notice@notify.example" {
		t.Fatalf("SMIME = %+v", c.SMIME)
	}

	bad := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"certificate alone", map[string]string{"BREACHNOTIFY_SMIME_CERT_FILE": cert}, "BREACHNOTIFY_SMIME_KEY_FILE must be set"},
		{"key alone", map[string]string{"BREACHNOTIFY_SMIME_KEY_FILE": key}, "BREACHNOTIFY_SMIME_CERT_FILE must be set"},
		{"key of another certificate", map[string]string{"BREACHNOTIFY_SMIME_CERT_FILE": cert, "BREACHNOTIFY_SMIME_KEY_FILE": writePEM(t, "PRIVATE KEY", pkcs8(t, other))}, "must be a PEM certificate and its private key"},
		{"Ed25519 key", map[string]string{"BREACHNOTIFY_SMIME_CERT_FILE": writePEM(t, "CERTIFICATE", selfSigned(t, ed)), "BREACHNOTIFY_SMIME_KEY_FILE": writePEM(t, "PRIVATE KEY", pkcs8(t, ed))}, "needs an RSA or ECDSA key"},
		{"unreadable", map[string]string{"BREACHNOTIFY_SMIME_CERT_FILE": "/nonexistent/c.pem", "BREACHNOTIFY_SMIME_KEY_FILE": key}, "BREACHNOTIFY_SMIME_CERT_FILE cannot be read"},
	}
	for _, b := range bad {
		if _, err := config.LoadFrom(env(b.vars)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: err = %v, want %q", b.name, err, b.want)
		}
	}
}
