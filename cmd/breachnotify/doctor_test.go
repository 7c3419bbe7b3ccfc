package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/smtp"
	"github.com/breachnotify/breachnotify/notifier/smtp/smtptest"
)

// fakeDNS answers TXT queries from a map; a name it lacks does not exist,
// and down makes every query time out as on a machine without DNS.
type fakeDNS struct {
	records map[string][]string
	down    bool
}

func (f *fakeDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if f.down {
		return nil, &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true}
	}
	if r, ok := f.records[strings.TrimSuffix(name, ".")]; ok {
		return r, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// doctorBundle is a doctor whose sender is set up correctly: every check
// passes until a test breaks one thing.
type doctorBundle struct {
	doctor *doctor
	cfg    *config.Config
	dns    *fakeDNS
	key    ed25519.PrivateKey
}

func setupDoctor(t *testing.T) *doctorBundle {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	record, err := smtp.DKIMRecord(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	relay, err := capture.Start("127.0.0.1:0", capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	host, port, _ := net.SplitHostPort(relay.Addr())
	p, _ := strconv.Atoi(port)

	cfg := config.Default()
	// serve logs in as a member of the service's role, not as the owner.
	cfg.DatabaseURL = testdb.LoginURL(t, testdb.URL(t), testdb.ServiceLogin)
	cfg.AuditKeyFile, cfg.AuditKeys = "audit.key", [][]byte{[]byte("Zm9yIHRoZSBkb2N0b3IncyB0ZXN0cywgMzIgYnl0ZXMh")}
	cfg.From = &mail.Address{Name: "Security Notices", Address: "security-notice@notify.example.com"}
	cfg.PublicURL = "https://portal.notify.example.com"
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} // the HTTPS proxy in front
	cfg.MetricsToken = "metrics-token"
	cfg.DKIM = &config.DKIM{Key: key, Selector: "bn2026", Domain: "notify.example.com"}
	cfg.SMTP = &config.SMTP{Host: host, Port: p, TLS: "none"}
	dns := &fakeDNS{records: map[string][]string{
		"bn2026._domainkey.notify.example.com": {record},
		"notify.example.com":                   {"google-site-verification=abc", "v=spf1 include:_spf.relay.example -all"},
		// Found by walking up from the From domain, as receivers do.
		"_dmarc.example.com": {"v=DMARC1; p=reject; rua=mailto:dmarc@example.com"},
	}}
	return &doctorBundle{
		doctor: &doctor{cfg: cfg, dns: dns, timeout: 2 * time.Second, now: time.Now},
		cfg:    cfg, dns: dns, key: key,
	}
}

// check runs the doctor and returns the named check's result, failing the
// test if it is missing.
func (b *doctorBundle) check(t *testing.T, name string) checkResult {
	t.Helper()
	for _, r := range b.doctor.run(context.Background()) {
		if r.name == name {
			return r
		}
	}
	t.Fatalf("no %s check", name)
	return checkResult{}
}

func TestDoctorAllGood(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	results := b.doctor.run(context.Background())
	var out bytes.Buffer
	if failed := printChecks(&out, results); failed != 0 {
		t.Errorf("%d checks failed:\n%s", failed, &out)
	}
	want := []string{"dkim", "dkim-dns", "spf", "dmarc", "public-url", "proxy", "metrics", "smime", "relay", "database", "db-role", "audit-key"}
	if len(results) != len(want) {
		t.Fatalf("%d checks, want %d:\n%s", len(results), len(want), &out)
	}
	for i, r := range results {
		if r.name != want[i] || r.status != statusOK {
			t.Errorf("check %d = %s %s (%s), want %s OK", i, r.status, r.name, r.detail, want[i])
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) || !strings.HasPrefix(lines[1], "OK    dkim-dns    bn2026._domainkey.notify.example.com publishes the configured key") {
		t.Errorf("output is not one line per check:\n%s", &out)
	}
}

func TestDoctorMissingDMARC(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	delete(b.dns.records, "_dmarc.example.com")
	r := b.check(t, "dmarc")
	if r.status != statusFail || !strings.Contains(r.detail, "no DMARC record for notify.example.com") {
		t.Errorf("dmarc = %+v, want FAIL", r)
	}
	if len(r.fix) != 1 || !strings.Contains(r.fix[0], `_dmarc.notify.example.com. TXT "v=DMARC1; p=quarantine;`) {
		t.Errorf("fix = %q, want the record to publish", r.fix)
	}

	b.dns.records["_dmarc.notify.example.com"] = []string{"v=DMARC1; p=none"}
	if r := b.check(t, "dmarc"); r.status != statusWarn || !strings.Contains(r.detail, "policy none") {
		t.Errorf("p=none: dmarc = %+v, want WARN", r)
	}
	// A parent's sp= is what applies to the From domain below it.
	delete(b.dns.records, "_dmarc.notify.example.com")
	b.dns.records["_dmarc.example.com"] = []string{"v=DMARC1; p=reject; sp=none"}
	if r := b.check(t, "dmarc"); r.status != statusWarn {
		t.Errorf("sp=none at the parent: dmarc = %+v, want WARN", r)
	}
}

func TestDoctorSPF(t *testing.T) {
	t.Parallel()
	cases := []struct {
		records []string
		want    checkStatus
		detail  string
	}{
		{nil, statusFail, "no SPF record"},
		{[]string{"v=spf1 a -all", "v=spf1 mx -all"}, statusFail, "2 SPF records"},
		{[]string{"v=spf1 +all"}, statusFail, "anyone may send"},
		{[]string{"v=spf1 include:x.example ?all"}, statusWarn, "?all"},
		{[]string{"v=spf1 include:x.example ~all"}, statusOK, "~all"},
	}
	b := setupDoctor(t)
	for _, c := range cases {
		b.dns.records["notify.example.com"] = c.records
		if r := b.check(t, "spf"); r.status != c.want || !strings.Contains(r.detail, c.detail) {
			t.Errorf("%q: spf = %+v, want %s with %q", c.records, r, c.want, c.detail)
		}
	}
}

func TestDoctorDKIMKeyMismatch(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	stale, _ := smtp.DKIMRecord(other.Public())
	b.dns.records["bn2026._domainkey.notify.example.com"] = []string{stale}
	r := b.check(t, "dkim-dns")
	if r.status != statusFail || !strings.Contains(r.detail, "does not match BREACHNOTIFY_DKIM_KEY_FILE") {
		t.Fatalf("dkim-dns = %+v, want FAIL", r)
	}
	want, _ := smtp.DKIMRecord(b.key.Public())
	if len(r.fix) == 0 || !strings.Contains(r.fix[0], `bn2026._domainkey.notify.example.com. TXT "`+want+`"`) {
		t.Errorf("fix = %q, want the record for the configured key", r.fix)
	}

	delete(b.dns.records, "bn2026._domainkey.notify.example.com")
	if r := b.check(t, "dkim-dns"); r.status != statusFail || !strings.Contains(r.detail, "no DKIM key published") {
		t.Errorf("no record: dkim-dns = %+v, want FAIL", r)
	}
	b.cfg.DKIM = nil
	results := b.doctor.run(context.Background())
	if results[0].name != "dkim" || results[0].status != statusWarn || results[1].name == "dkim-dns" {
		t.Errorf("DKIM off: %+v, want a WARN and no DNS check", results[:2])
	}
}

func TestDoctorDKIMAlignment(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	b.cfg.DKIM.Domain = "example.com" // a parent of the From domain: aligned
	if r := b.check(t, "dkim"); r.status != statusOK {
		t.Errorf("parent domain: %+v, want OK", r)
	}
	b.cfg.DKIM.Domain = "mailer.example.net"
	if r := b.check(t, "dkim"); r.status != statusWarn || !strings.Contains(r.detail, "DMARC") {
		t.Errorf("unrelated domain: %+v, want WARN about DMARC", r)
	}
}

func TestDoctorPublicURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url  string
		want checkStatus
		says []string
	}{
		{"https://notify.example.com", statusOK, nil},
		{"https://portal.notify.example.com/breach", statusOK, nil},
		{"https://example.com", statusOK, nil}, // the organization's own domain
		{"http://breach-info.example.net/notice", statusFail, []string{"not https", "breach-info.example.net", "phishing"}},
		{"http://portal.notify.example.com", statusFail, []string{"not https"}},
		{"https://notify.example.com.evil.example", statusFail, []string{"phishing"}},
		{"https://evilnotify.example.com", statusFail, []string{"phishing"}},
		{"https://127.0.0.1:8080", statusFail, []string{"phishing"}},
	}
	b := setupDoctor(t)
	for _, c := range cases {
		b.cfg.PublicURL = c.url
		r := b.check(t, "public-url")
		if r.status != c.want {
			t.Errorf("%s: %+v, want %s", c.url, r, c.want)
		}
		for _, s := range c.says {
			if !strings.Contains(r.detail, s) {
				t.Errorf("%s: %q lacks %q", c.url, r.detail, s)
			}
		}
	}
}

func TestDoctorPublicURLAllowedForDevelopment(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	b.cfg.PublicURL = "http://portal.notify.example.com"
	if r := b.check(t, "public-url"); r.status != statusFail || !strings.Contains(r.detail, "serve refuses to start") {
		t.Errorf("http: %+v, want FAIL saying serve refuses it", r)
	}
	// Allowed for development, it is still no way to send real notices.
	b.cfg.AllowInsecurePublicURL = true
	if r := b.check(t, "public-url"); r.status != statusFail || !strings.Contains(r.detail, "BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL=true") || !strings.Contains(r.detail, "development only") {
		t.Errorf("http, allowed: %+v, want FAIL naming the development switch", r)
	}
}

func TestDoctorProxy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		httpAddr, publicURL string
		trusted             bool
		want                checkStatus
	}{
		{"127.0.0.1:8080", "https://portal.notify.example.com", false, statusWarn}, // TLS proxy in front
		{"127.0.0.1:8080", "https://portal.notify.example.com", true, statusOK},
		{"10.0.0.5:8080", "http://notify.example.com", false, statusWarn},   // another port: a proxy on 80
		{"10.0.0.5:80", "http://notify.example.com", false, statusWarn},     // another host
		{"127.0.0.1:8080", "http://127.0.0.1:8080", false, statusOK},        // served directly
		{"localhost:8080", "http://127.0.0.1:8080/", false, statusOK},       // the same loopback
		{"0.0.0.0:8080", "http://notify.example.com:8080", false, statusOK}, // listens on every name
		{"[::1]:8080", "http://[::1]:8080", false, statusOK},
	}
	b := setupDoctor(t)
	for _, c := range cases {
		b.cfg.HTTPAddr, b.cfg.PublicURL, b.cfg.TrustedProxies = c.httpAddr, c.publicURL, nil
		if c.trusted {
			b.cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		}
		r := b.check(t, "proxy")
		if r.status != c.want {
			t.Errorf("%s behind %s (trusted %v): %+v, want %s", c.httpAddr, c.publicURL, c.trusted, r, c.want)
		}
		if r.status == statusWarn && (!strings.Contains(r.detail, "BREACHNOTIFY_TRUSTED_PROXIES is empty") || !strings.Contains(r.detail, "rate limit") ||
			!strings.Contains(r.detail, "acknowledgements record the proxy's address") || len(r.fix) == 0) {
			t.Errorf("%s behind %s: the warning does not explain itself: %+v", c.httpAddr, c.publicURL, r)
		}
	}
}

func TestDoctorMetrics(t *testing.T) {
	t.Parallel()
	cases := []struct {
		httpAddr, publicURL, token string
		want                       checkStatus
		says                       string
	}{
		{"127.0.0.1:8080", "https://portal.notify.example.com", "t", statusOK, "requires the bearer token"},
		{"0.0.0.0:8080", "https://portal.notify.example.com", "t", statusOK, "requires the bearer token"},
		{"0.0.0.0:8080", "http://notify.example.com:8080", "", statusWarn, "other machines can reach"},
		{":8080", "http://notify.example.com:8080", "", statusWarn, "other machines can reach"},
		{"10.0.0.5:8080", "http://10.0.0.5:8080", "", statusWarn, "other machines can reach"},
		{"127.0.0.1:8080", "https://portal.notify.example.com", "", statusWarn, "a proxy is in front"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", "", statusOK, "only on the loopback address"},
		{"[::1]:8080", "http://[::1]:8080", "", statusOK, "only on the loopback address"},
	}
	b := setupDoctor(t)
	for _, c := range cases {
		b.cfg.HTTPAddr, b.cfg.PublicURL, b.cfg.MetricsToken = c.httpAddr, c.publicURL, c.token
		r := b.check(t, "metrics")
		if r.status != c.want || !strings.Contains(r.detail, c.says) {
			t.Errorf("%s (%s, token %q): %+v, want %s saying %q", c.httpAddr, c.publicURL, c.token, r, c.want, c.says)
		}
		if r.status == statusWarn && (len(r.fix) == 0 || !strings.Contains(r.fix[0], "BREACHNOTIFY_METRICS_TOKEN")) {
			t.Errorf("%s: no fix naming the token: %+v", c.httpAddr, r)
		}
	}
}

func TestDoctorDNSUnreachable(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	b.dns.down = true
	for _, name := range []string{"dkim-dns", "spf", "dmarc"} {
		r := b.check(t, name)
		if r.status != statusWarn || !strings.Contains(r.detail, "skipped") {
			t.Errorf("%s = %+v, want a WARN saying it was skipped", name, r)
		}
	}
	if r := b.check(t, "dkim-dns"); len(r.fix) == 0 || !strings.Contains(r.fix[0], "v=DKIM1; k=ed25519; p=") {
		t.Errorf("skipped DKIM check does not print the record to publish: %q", r.fix)
	}
}

func TestDoctorRelayAndDatabase(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	b.cfg.SMTP.TLS = "starttls" // the capture mailbox offers no STARTTLS
	if r := b.check(t, "relay"); r.status != statusFail || !strings.Contains(r.detail, "does not offer STARTTLS") {
		t.Errorf("relay = %+v, want FAIL for missing STARTTLS", r)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b.cfg.SMTP = &config.SMTP{Host: "127.0.0.1", Port: closed, TLS: "none"}
	if r := b.check(t, "relay"); r.status != statusFail || !strings.Contains(r.detail, "connect") {
		t.Errorf("relay = %+v, want FAIL to connect", r)
	}
	b.cfg.SMTP = nil
	// Capturing is a FAIL, not a warning: nobody is told anything, and
	// every live link is kept in the database.
	if r := b.check(t, "relay"); r.status != statusFail || !strings.Contains(r.detail, "capture mailbox") ||
		!strings.Contains(r.detail, "readable by admins") || len(r.fix) == 0 || !strings.Contains(r.fix[0], "BREACHNOTIFY_SMTP_URL") {
		t.Errorf("relay = %+v, want FAIL for the capture mailbox, with the fix", r)
	}
	b.cfg.DatabaseURL = "postgres://postgres@127.0.0.1:" + strconv.Itoa(closed) + "/breachnotify?sslmode=disable&connect_timeout=2"
	if r := b.check(t, "database"); r.status != statusFail || !strings.Contains(r.detail, "cannot reach") {
		t.Errorf("database = %+v, want FAIL", r)
	}
}

// TestDoctorDatabaseRoleAndAuditKey: serve logging in as the owner or a
// superuser works but is warned about (a process taken over could switch
// back), a user that cannot take the service's role fails, and so does an
// audit key kept in the database earn a warning.
func TestDoctorDatabaseRoleAndAuditKey(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	if r := b.check(t, "db-role"); r.status != statusOK || !strings.Contains(r.detail, "logs in as "+testdb.ServiceLogin+" and works as "+migrations.ServiceRole) {
		t.Errorf("db-role as a member = %+v", r)
	}
	owner := testdb.URL(t)
	b.cfg.DatabaseURL = owner
	if r := b.check(t, "db-role"); r.status != statusWarn || !strings.Contains(r.detail, "owns the schema") || !strings.Contains(strings.Join(r.fix, " "), "IN ROLE "+migrations.ServiceRole) {
		t.Errorf("db-role as the owner = %+v", r)
	}
	u, _ := url.Parse(owner)
	super, _ := url.Parse(testdb.ServerURL())
	super.Path = u.Path
	b.cfg.DatabaseURL = super.String()
	if r := b.check(t, "db-role"); r.status != statusWarn || !strings.Contains(r.detail, "a superuser") {
		t.Errorf("db-role as a superuser = %+v", r)
	}
	b.cfg.DatabaseURL = testdb.LoginURL(t, owner, testdb.StrangerLogin)
	if r := b.check(t, "db-role"); r.status != statusFail || !strings.Contains(r.detail, "may not act as") || !strings.Contains(strings.Join(r.fix, " "), "GRANT "+migrations.ServiceRole+" TO "+testdb.StrangerLogin) {
		t.Errorf("db-role as a stranger = %+v", r)
	}

	if r := b.check(t, "audit-key"); r.status != statusOK || !strings.Contains(r.detail, "BREACHNOTIFY_AUDIT_KEY_FILE") {
		t.Errorf("audit-key from a file = %+v", r)
	}
	b.cfg.AuditKeyFile, b.cfg.AuditKeys = "", nil
	if r := b.check(t, "audit-key"); r.status != statusWarn || !strings.Contains(r.detail, "only as safe as the database") {
		t.Errorf("audit-key in the database = %+v", r)
	}
	b.cfg.SecretFile = writeFile(t, t.TempDir(), "secret", []byte("an installation secret of more than 32 bytes\n"))
	if r := b.check(t, "audit-key"); r.status != statusOK || !strings.Contains(r.detail, "derived from BREACHNOTIFY_SECRET_FILE") {
		t.Errorf("audit-key from the secret file = %+v", r)
	}
}

func TestDoctorSMIME(t *testing.T) {
	t.Parallel()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(1000 * time.Hour)}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(email string, notAfter time.Time, eku x509.ExtKeyUsage, selfSigned bool) *tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "notices"}, EmailAddresses: []string{email}, ExtKeyUsage: []x509.ExtKeyUsage{eku}, KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
		parent, signer := ca, crypto.Signer(caKey)
		if selfSigned {
			parent, signer = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	}
	year := time.Now().Add(365 * 24 * time.Hour)
	cases := []struct {
		name string
		cert *tls.Certificate
		want checkStatus
		says string
	}{
		{"good", issue("security-notice@notify.example.com", year, x509.ExtKeyUsageEmailProtection, false), statusOK, "signing as security-notice@notify.example.com"},
		{"expiring", issue("security-notice@notify.example.com", time.Now().Add(72*time.Hour), x509.ExtKeyUsageEmailProtection, false), statusWarn, "renew"},
		{"expired", issue("security-notice@notify.example.com", time.Now().Add(-time.Minute), x509.ExtKeyUsageEmailProtection, false), statusFail, "expired"},
		{"someone else's", issue("alice@example.com", year, x509.ExtKeyUsageEmailProtection, false), statusFail, "does not name security-notice@notify.example.com"},
		{"a TLS server certificate", issue("security-notice@notify.example.com", year, x509.ExtKeyUsageServerAuth, false), statusFail, "not for email protection"},
		{"self-signed", issue("security-notice@notify.example.com", year, x509.ExtKeyUsageEmailProtection, true), statusWarn, "self-signed"},
	}
	b := setupDoctor(t)
	for _, c := range cases {
		b.cfg.SMIME = &config.SMIME{Certificate: c.cert}
		if r := b.check(t, "smime"); r.status != c.want || !strings.Contains(r.detail, c.says) {
			t.Errorf("%s: smime = %+v, want %s saying %q", c.name, r, c.want, c.says)
		}
	}
}

func TestDoctorPrintsTheDKIMRecord(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, out, errOut := testEnv(t)
	cfg, _ := e.loadConfig()
	cfg.DKIM = &config.DKIM{Key: key, Selector: "bn2026", Domain: "notify.example"}
	if code := run(context.Background(), e, []string{"doctor", "--dkim-record"}); code != 0 {
		t.Fatalf("doctor --dkim-record exited %d: %s", code, errOut)
	}
	name, value, ok := strings.Cut(strings.TrimSpace(out.String()), " TXT ")
	if !ok || name != "bn2026._domainkey.notify.example." {
		t.Fatalf("output %q, want NAME TXT VALUE", out)
	}
	// A zone file takes the record as strings of at most 255 characters.
	var joined strings.Builder
	for _, s := range strings.Split(value, `" "`) {
		s = strings.Trim(s, `"`)
		if len(s) > 255 {
			t.Errorf("a TXT string of %d characters", len(s))
		}
		joined.WriteString(s)
	}
	if err := smtp.CheckDKIMRecord(joined.String(), key.Public()); err != nil {
		t.Errorf("printed record does not carry the key: %v", err)
	}

	if code := run(context.Background(), e, []string{"doctor", "extra"}); code != 2 {
		t.Errorf("doctor with an argument exited %d, want 2", code)
	}
}

// TestDoctorRelayLogin: a relay that refuses the login is a FAIL that says
// what it offers, what was tried, what it answered and what to change;
// one that takes it says with which mechanism.
func TestDoctorRelayLogin(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	host, port := plainRelay(t, "alice", "s3cret")
	b.cfg.SMTP = &config.SMTP{Host: host, Port: port, TLS: "none", Username: "alice", Password: "wrong", Auth: config.SMTPAuthPlain, InsecureAuth: true}
	r := b.check(t, "relay")
	for _, want := range []string{"refuses the login as alice", "offers PLAIN", "tried PLAIN", "535"} {
		if r.status != statusFail || !strings.Contains(r.detail, want) {
			t.Errorf("relay = %+v, want FAIL saying %q", r, want)
		}
	}
	if len(r.fix) != 1 || !strings.Contains(r.fix[0], "check the user name and password in BREACHNOTIFY_SMTP_URL") {
		t.Errorf("fix = %q", r.fix)
	}
	b.cfg.SMTP.Auth = config.SMTPAuthCramMD5
	if r := b.check(t, "relay"); r.status != statusFail || !strings.Contains(r.detail, "nothing was tried") || len(r.fix) != 1 || !strings.Contains(r.fix[0], "set auth=plain") {
		t.Errorf("relay with auth=cram-md5 = %+v, want FAIL naming auth=plain", r)
	}
	b.cfg.SMTP.Auth, b.cfg.SMTP.Password = config.SMTPAuthPlain, "s3cret"
	if r := b.check(t, "relay"); r.status != statusOK || !strings.Contains(r.detail, "logs in as alice with PLAIN") {
		t.Errorf("relay = %+v, want OK naming the mechanism", r)
	}
}

// plainRelay is a go-smtp relay without TLS that offers PLAIN and takes
// user with password.
func plainRelay(t *testing.T, user, password string) (host string, port int) {
	t.Helper()
	return smtptest.Serve(t, "relay.test", plainBackend{user: user, password: password})
}

type plainBackend struct{ user, password string }

func (b plainBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return plainSession{b}, nil }

type plainSession struct{ b plainBackend }

func (plainSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s plainSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != s.b.user || password != s.b.password {
			return gosmtp.ErrAuthFailed
		}
		return nil
	}), nil
}
func (plainSession) Reset()                                 {}
func (plainSession) Logout() error                          { return nil }
func (plainSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (plainSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (plainSession) Data(r io.Reader) error                 { _, err := io.Copy(io.Discard, r); return err }

// TestDoctorDKIMDualSigning: the second (Ed25519) key's record is checked
// under its own selector, and its fix names its own settings.
func TestDoctorDKIMDualSigning(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	rsaK, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaRecord, _ := smtp.DKIMRecord(rsaK.Public())
	b.cfg.DKIM = &config.DKIM{Key: rsaK, Selector: "rsa2026", Domain: "notify.example.com"}
	b.dns.records["rsa2026._domainkey.notify.example.com"] = []string{rsaRecord}
	b.cfg.DKIMEd25519 = &config.DKIM{Key: b.key, Selector: "bn2026", Domain: "notify.example.com"}
	if r := b.check(t, "dkim"); r.status != statusOK || !strings.Contains(r.detail, "s=bn2026 with an Ed25519 key (RFC 8463 dual signing)") {
		t.Errorf("dkim = %+v", r)
	}
	for _, name := range []string{"dkim-dns", "dkim-dns-ed"} {
		if r := b.check(t, name); r.status != statusOK {
			t.Errorf("%s = %+v, want OK", name, r)
		}
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	stale, _ := smtp.DKIMRecord(other.Public())
	b.dns.records["bn2026._domainkey.notify.example.com"] = []string{stale}
	r := b.check(t, "dkim-dns-ed")
	if r.status != statusFail || !strings.Contains(r.detail, "does not match BREACHNOTIFY_DKIM_ED25519_KEY_FILE") ||
		len(r.fix) != 2 || !strings.Contains(r.fix[1], "BREACHNOTIFY_DKIM_ED25519_SELECTOR") {
		t.Errorf("dkim-dns-ed = %+v, want FAIL naming the Ed25519 settings", r)
	}
	if r := b.check(t, "dkim-dns"); r.status != statusOK {
		t.Errorf("dkim-dns = %+v, want OK", r)
	}
}

// TestDoctorJSON: --json has every check with stable field names, and a
// failed check still fails the command.
func TestDoctorJSON(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	delete(b.dns.records, "_dmarc.example.com")
	var out bytes.Buffer
	failed, err := printChecksJSON(&out, b.doctor.run(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK     bool `json:"ok"`
		Failed int  `json:"failed"`
		Checks []struct {
			Name   string   `json:"name"`
			Status string   `json:"status"`
			Detail string   `json:"detail"`
			Fix    []string `json:"fix"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, &out)
	}
	if got.OK || got.Failed != 1 || failed != 1 || len(got.Checks) != 12 {
		t.Errorf("doctor --json = %+v", got)
	}
	for _, c := range got.Checks {
		if c.Name == "dmarc" && (c.Status != "FAIL" || len(c.Fix) != 1 || !strings.Contains(c.Fix[0], "_dmarc.notify.example.com. TXT")) {
			t.Errorf("dmarc = %+v", c)
		}
		if c.Fix == nil {
			t.Errorf("%s: fix is null, want a list", c.Name)
		}
	}
}
