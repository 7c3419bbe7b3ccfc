package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

// doctorTimeoutDefault bounds each DNS lookup and network check: long
// enough for a slow resolver, short enough that a machine without DNS
// finishes the whole run in seconds.
const doctorTimeoutDefault = 5 * time.Second

// certRenewWarning is how long before its expiry an S/MIME certificate is
// reported.
const certRenewWarning = 30 * 24 * time.Hour

// cmdDoctor checks what makes notices recognisable as genuine (DKIM, SPF,
// DMARC, S/MIME, links on the sender's domain), what sending needs (relay,
// database), and what keeps the audit trail honest (the database role
// serve logs in as, the audit key), printing one line per check. Any FAIL
// makes the exit code 1.
func cmdDoctor(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	timeout := fs.Duration("timeout", doctorTimeoutDefault, "limit for each DNS lookup and network check")
	recordOnly := fs.Bool("dkim-record", false, "print only the DKIM TXT record to publish")
	asJSON := fs.Bool("json", false, "print the checks as one JSON object (exit code as without)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 || *timeout <= 0 {
		return usageError{"usage: breachnotify doctor [--timeout 5s] [--dkim-record] [--json]"}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	if *recordOnly {
		if cfg.DKIM == nil {
			return errors.New("DKIM is off: set BREACHNOTIFY_DKIM_KEY_FILE and BREACHNOTIFY_DKIM_SELECTOR")
		}
		for _, k := range []*config.DKIM{cfg.DKIM, cfg.DKIMEd25519} {
			if k == nil {
				continue
			}
			name, value, err := dkimRecord(k)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s. TXT %s\n", name, zoneQuote(value))
		}
		return nil
	}
	d := &doctor{cfg: cfg, dns: net.DefaultResolver, timeout: *timeout, now: time.Now}
	results := d.run(ctx)
	var failed int
	if *asJSON {
		failed, err = printChecksJSON(e.stdout, results)
		if err != nil {
			return err
		}
	} else {
		failed = printChecks(e.stdout, results)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(results))
	}
	return nil
}

// doctorJSON is doctor --json's output; its field names are stable.
type doctorJSON struct {
	OK     bool        `json:"ok"`
	Failed int         `json:"failed"`
	Checks []checkJSON `json:"checks"`
}

type checkJSON struct {
	Name   string   `json:"name"`
	Status string   `json:"status"`
	Detail string   `json:"detail"`
	Fix    []string `json:"fix"`
}

// printChecksJSON writes the checks as one JSON object and returns how
// many failed.
func printChecksJSON(w io.Writer, results []checkResult) (int, error) {
	out := doctorJSON{Checks: []checkJSON{}}
	for _, r := range results {
		if r.status == statusFail {
			out.Failed++
		}
		out.Checks = append(out.Checks, checkJSON{Name: r.name, Status: string(r.status), Detail: r.detail, Fix: append([]string{}, r.fix...)})
	}
	out.OK = out.Failed == 0
	return out.Failed, printJSON(w, out)
}

// txtResolver is the DNS a doctor asks; *net.Resolver is one, tests fake it.
type txtResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// doctor runs the checks against one configuration.
type doctor struct {
	cfg     *config.Config
	dns     txtResolver
	timeout time.Duration
	now     func() time.Time
}

// checkStatus is the verdict of one check.
type checkStatus string

const (
	statusOK   checkStatus = "OK"
	statusWarn checkStatus = "WARN"
	statusFail checkStatus = "FAIL"
)

// checkResult is one printed check: a verdict, what was found, and what
// to do about it (records to publish, settings to change).
type checkResult struct {
	status checkStatus
	name   string
	detail string
	fix    []string
}

// run performs every check at once (each waits on the network at most
// d.timeout) and returns the results in a fixed order.
func (d *doctor) run(ctx context.Context) []checkResult {
	checks := []func(context.Context) checkResult{
		d.checkDKIM, d.checkDKIMRecord, d.checkDKIMEd25519Record, d.checkSPF, d.checkDMARC,
		d.checkPublicURL, d.checkProxy, d.checkMetrics, d.checkSMIME, d.checkRelay, d.checkDatabase, d.checkDatabaseRole, d.checkAuditKey,
	}
	results := make([]checkResult, len(checks))
	var wg sync.WaitGroup
	for i, check := range checks {
		wg.Go(func() { results[i] = check(ctx) })
	}
	wg.Wait()
	out := results[:0]
	for _, r := range results {
		if r.name != "" { // a check with nothing to say (dkim-dns with DKIM off)
			out = append(out, r)
		}
	}
	return out
}

// printChecks writes one line per check, then its fixes indented below it,
// and returns how many failed.
func printChecks(w io.Writer, results []checkResult) int {
	failed := 0
	for _, r := range results {
		fmt.Fprintf(w, "%-4s  %-10s  %s\n", r.status, r.name, r.detail)
		for _, f := range r.fix {
			fmt.Fprintf(w, "      %-10s  → %s\n", "", f)
		}
		if r.status == statusFail {
			failed++
		}
	}
	return failed
}

func (d *doctor) fromDomain() string {
	return domainOfAddress(d.cfg.From.Address)
}

func (d *doctor) checkDKIM(context.Context) checkResult {
	r := checkResult{name: "dkim"}
	k := d.cfg.DKIM
	if k == nil {
		r.status = statusWarn
		r.detail = "notices are not DKIM-signed, so receivers cannot tell them from forgeries (fine only if the relay signs for this domain)"
		r.fix = []string{"set BREACHNOTIFY_DKIM_KEY_FILE and BREACHNOTIFY_DKIM_SELECTOR (README: Sender authenticity)"}
		return r
	}
	r.status = statusOK
	r.detail = fmt.Sprintf("signing as d=%s s=%s with %s key", k.Domain, k.Selector, keyKind(k.Key))
	if e := d.cfg.DKIMEd25519; e != nil {
		r.detail += fmt.Sprintf(", and s=%s with an Ed25519 key (RFC 8463 dual signing)", e.Selector)
	}
	if from := d.fromDomain(); !related(k.Domain, from) {
		r.status = statusWarn
		r.detail += fmt.Sprintf("; d=%s and the From domain %s are unrelated, so DMARC will not count this signature unless both share an organizational domain", k.Domain, from)
		r.fix = []string{"leave BREACHNOTIFY_DKIM_DOMAIN empty to sign as " + from}
	}
	return r
}

func (d *doctor) checkDKIMRecord(ctx context.Context) checkResult {
	return d.dkimRecordCheck(ctx, "dkim-dns", d.cfg.DKIM, "BREACHNOTIFY_DKIM_KEY_FILE", "BREACHNOTIFY_DKIM_SELECTOR")
}

// checkDKIMEd25519Record checks the second key's record: receivers that
// know Ed25519 look it up under its own selector.
func (d *doctor) checkDKIMEd25519Record(ctx context.Context) checkResult {
	return d.dkimRecordCheck(ctx, "dkim-dns-ed", d.cfg.DKIMEd25519, "BREACHNOTIFY_DKIM_ED25519_KEY_FILE", "BREACHNOTIFY_DKIM_ED25519_SELECTOR")
}

// dkimRecordCheck checks that DNS publishes k's public key; keyVar and
// selectorVar name the settings it came from.
func (d *doctor) dkimRecordCheck(ctx context.Context, check string, k *config.DKIM, keyVar, selectorVar string) checkResult {
	if k == nil {
		return checkResult{}
	}
	r := checkResult{name: check}
	name, want, err := dkimRecord(k)
	if err != nil {
		return checkResult{name: check, status: statusFail, detail: err.Error()}
	}
	publish := fmt.Sprintf("publish: %s. TXT %s", name, zoneQuote(want))
	records, err := d.lookupTXT(ctx, name)
	switch {
	case err != nil:
		r.status, r.detail = statusWarn, fmt.Sprintf("DNS did not answer (%v): check of %s skipped", err, name)
		r.fix = []string{publish}
	case len(records) == 0:
		r.status, r.detail = statusFail, "no DKIM key published at "+name+": receivers cannot verify any notice"
		r.fix = []string{publish}
	case len(records) > 1:
		r.status, r.detail = statusFail, fmt.Sprintf("%d TXT records at %s: receivers treat that as no key (RFC 6376 §3.6.2.2); keep one", len(records), name)
		r.fix = []string{publish}
	default:
		if err := smtp.CheckDKIMRecord(records[0], k.Key.Public()); err != nil {
			r.status, r.detail = statusFail, fmt.Sprintf("%s does not match %s: %v", name, keyVar, err)
			r.fix = []string{publish, "or set " + selectorVar + " to the selector whose record holds this key"}
			return r
		}
		r.status, r.detail = statusOK, name+" publishes the configured key"
	}
	return r
}

func (d *doctor) checkSPF(ctx context.Context) checkResult {
	domain := d.fromDomain()
	r := checkResult{name: "spf"}
	records, err := d.lookupTXT(ctx, domain)
	if err != nil {
		r.status, r.detail = statusWarn, fmt.Sprintf("DNS did not answer (%v): SPF check of %s skipped", err, domain)
		return r
	}
	var spf []string
	for _, rec := range records {
		if f := strings.Fields(strings.ToLower(rec)); len(f) > 0 && f[0] == "v=spf1" {
			spf = append(spf, rec)
		}
	}
	// The envelope sender is the From address, so SPF is checked for the
	// From domain.
	switch {
	case len(spf) == 0:
		r.status, r.detail = statusFail, "no SPF record for "+domain+": receivers cannot tell whether the relay may send for it"
		r.fix = []string{fmt.Sprintf(`publish: %s. TXT "v=spf1 include:<your relay's SPF domain> -all" (your relay's documentation names it)`, domain)}
	case len(spf) > 1:
		r.status, r.detail = statusFail, fmt.Sprintf("%d SPF records for %s: receivers treat that as an error (RFC 7208 §4.5)", len(spf), domain)
		r.fix = []string{"merge them into one v=spf1 record"}
	default:
		last := strings.Fields(strings.ToLower(spf[0]))
		switch all := last[len(last)-1]; all {
		case "+all", "all":
			r.status, r.detail = statusFail, fmt.Sprintf("%s ends in %s: anyone may send as %s", domain, all, domain)
			r.fix = []string{"end the record with -all (or ~all while testing)"}
		case "?all":
			r.status, r.detail = statusWarn, fmt.Sprintf("%s ends in ?all, which tells receivers nothing: %q", domain, spf[0])
			r.fix = []string{"end the record with -all (or ~all while testing)"}
		default:
			r.status, r.detail = statusOK, fmt.Sprintf("%s: %q", domain, spf[0])
		}
	}
	return r
}

func (d *doctor) checkDMARC(ctx context.Context) checkResult {
	domain := d.fromDomain()
	r := checkResult{name: "dmarc"}
	// Receivers look at the From domain, then up the tree towards the
	// organizational domain (RFC 7489 §6.6.3; DMARCbis walks the same way).
	for name := domain; strings.Contains(name, "."); name = parentDomain(name) {
		records, err := d.lookupTXT(ctx, "_dmarc."+name)
		if err != nil {
			r.status, r.detail = statusWarn, fmt.Sprintf("DNS did not answer (%v): DMARC check of %s skipped", err, domain)
			return r
		}
		var dmarc []string
		for _, rec := range records {
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(rec)), "V=DMARC1") {
				dmarc = append(dmarc, rec)
			}
		}
		if len(dmarc) == 0 {
			continue
		}
		if len(dmarc) > 1 {
			r.status, r.detail = statusFail, fmt.Sprintf("%d DMARC records at _dmarc.%s: receivers ignore them all", len(dmarc), name)
			r.fix = []string{"keep one"}
			return r
		}
		tags := tagList(dmarc[0])
		policy := tags["p"]
		if name != domain && tags["sp"] != "" {
			policy = tags["sp"] // the policy for subdomains
		}
		switch strings.ToLower(policy) {
		case "quarantine", "reject":
			r.status, r.detail = statusOK, fmt.Sprintf("_dmarc.%s: policy %s", name, policy)
		case "none":
			r.status, r.detail = statusWarn, fmt.Sprintf("_dmarc.%s has policy none: receivers are not asked to stop forgeries of %s", name, domain)
			r.fix = []string{"once the aggregate reports show only your own mail, move to p=quarantine, then p=reject"}
		default:
			r.status, r.detail = statusFail, fmt.Sprintf("_dmarc.%s has no valid p= policy: %q", name, dmarc[0])
			r.fix = []string{dmarcAdvice(domain)}
		}
		return r
	}
	r.status, r.detail = statusFail, "no DMARC record for "+domain+": receivers have no policy for mail that fails SPF and DKIM"
	r.fix = []string{dmarcAdvice(domain)}
	return r
}

func dmarcAdvice(domain string) string {
	return fmt.Sprintf(`publish: _dmarc.%s. TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@%s"`, domain, domain)
}

func (d *doctor) checkPublicURL(context.Context) checkResult {
	r := checkResult{name: "public-url"}
	from := d.fromDomain()
	u, err := url.Parse(d.cfg.PublicURL)
	if err != nil {
		return checkResult{name: "public-url", status: statusFail, detail: "BREACHNOTIFY_PUBLIC_URL is not a URL"}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	var problems []string
	// A FAIL even when allowed for development: doctor judges whether
	// notices may go out, and over http their tokens and the sessions
	// they open can be read on the way.
	if u.Scheme != "https" {
		if d.cfg.AllowInsecurePublicURL {
			problems = append(problems, "is not https (recipients are asked to trust these links; BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL=true lets serve run with it, for development only)")
		} else {
			problems = append(problems, "is not https (recipients are asked to trust these links; serve refuses to start with it)")
		}
		r.fix = append(r.fix, "serve the portal over https and set BREACHNOTIFY_PUBLIC_URL=https://…")
	}
	if !onSenderDomain(host, from) {
		problems = append(problems, fmt.Sprintf("links to %s, not to the sender's domain %s: a notice linking to an unrelated domain looks like phishing", host, from))
		r.fix = append(r.fix, fmt.Sprintf("host the portal on %s or a subdomain of it (such as portal.%s)", from, from))
	}
	if len(problems) > 0 {
		r.status, r.detail = statusFail, d.cfg.PublicURL+" "+strings.Join(problems, "; ")
		return r
	}
	r.status, r.detail = statusOK, d.cfg.PublicURL+" is https on the sender's domain "+from
	return r
}

// checkProxy warns when a reverse proxy is in front of serve but not
// trusted to name the client: every client then has the proxy's address.
func (d *doctor) checkProxy(context.Context) checkResult {
	r := checkResult{name: "proxy"}
	switch {
	case len(d.cfg.TrustedProxies) > 0:
		list := make([]string, len(d.cfg.TrustedProxies))
		for i, p := range d.cfg.TrustedProxies {
			list[i] = p.String()
		}
		r.status, r.detail = statusOK, "the client address is taken from X-Forwarded-For when the request comes from "+strings.Join(list, ", ")
	case d.proxyInFront():
		r.status = statusWarn
		r.detail = fmt.Sprintf("BREACHNOTIFY_PUBLIC_URL %s is not BREACHNOTIFY_HTTP_ADDR %s, so a proxy is in front, and BREACHNOTIFY_TRUSTED_PROXIES "+
			"is empty: every client then has the proxy's address, so all share one rate limit (verify, portal and dashboard sign-in: "+
			"one busy client locks everyone out) and acknowledgements record the proxy's address instead of the person's",
			d.cfg.PublicURL, d.cfg.HTTPAddr)
		r.fix = []string{"set BREACHNOTIFY_TRUSTED_PROXIES to the proxy's address or network (127.0.0.1,::1 when it runs on this host), and have it append to X-Forwarded-For"}
	default:
		r.status, r.detail = statusOK, "no proxy in front (BREACHNOTIFY_PUBLIC_URL is BREACHNOTIFY_HTTP_ADDR): each client's address is its connection's"
	}
	return r
}

// checkMetrics warns when /metrics has no token and others can reach it:
// its counts tell a campaign's size and progress, and the relay's health.
func (d *doctor) checkMetrics(context.Context) checkResult {
	r := checkResult{name: "metrics"}
	host, _, _ := net.SplitHostPort(d.cfg.HTTPAddr)
	fix := []string{"set BREACHNOTIFY_METRICS_TOKEN (or _FILE) and give Prometheus the same token (authorization.credentials_file)"}
	switch {
	case d.cfg.MetricsToken != "":
		r.status, r.detail = statusOK, "/metrics requires the bearer token BREACHNOTIFY_METRICS_TOKEN"
	case !isLoopback(host):
		r.status, r.fix = statusWarn, fix
		r.detail = fmt.Sprintf("/metrics is open (no BREACHNOTIFY_METRICS_TOKEN) on BREACHNOTIFY_HTTP_ADDR %s, which other machines can reach: "+
			"anyone there reads how many notices went out, how many wait, and how the relay answers", d.cfg.HTTPAddr)
	case d.proxyInFront():
		// A proxy forwarding every path serves /metrics to the world.
		r.status, r.fix = statusWarn, append(fix, "or make sure the proxy does not forward /metrics")
		r.detail = fmt.Sprintf("/metrics is open (no BREACHNOTIFY_METRICS_TOKEN) on %s, loopback only, but a proxy is in front: "+
			"unless it keeps /metrics off its public side, anyone can read how many notices went out and how the relay answers", d.cfg.HTTPAddr)
	default:
		r.status, r.detail = statusOK, "/metrics is open, but only on the loopback address "+d.cfg.HTTPAddr
	}
	return r
}

// proxyInFront reports whether recipients reach serve through something
// else: the public URL's scheme, host or port is not the HTTP address's.
// serve speaks plain http only, so an https public URL always means a
// proxy; a wildcard HTTP address listens on every host name.
func (d *doctor) proxyInFront() bool {
	u, err := url.Parse(d.cfg.PublicURL)
	if err != nil {
		return false
	}
	host, port, err := net.SplitHostPort(d.cfg.HTTPAddr)
	if err != nil {
		return false
	}
	publicPort := u.Port()
	if publicPort == "" {
		publicPort = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	switch {
	case u.Scheme != "http" || publicPort != port:
		return true
	case host == "" || host == "0.0.0.0" || host == "::":
		return false
	case isLoopback(host) && isLoopback(u.Hostname()):
		return false
	}
	return !strings.EqualFold(strings.TrimSuffix(u.Hostname(), "."), strings.TrimSuffix(host, "."))
}

func (d *doctor) checkSMIME(context.Context) checkResult {
	r := checkResult{name: "smime"}
	s := d.cfg.SMIME
	if s == nil || s.Certificate == nil {
		r.status, r.detail = statusOK, "off (optional: BREACHNOTIFY_SMIME_CERT_FILE and BREACHNOTIFY_SMIME_KEY_FILE)"
		return r
	}
	leaf := s.Certificate.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(s.Certificate.Certificate[0]); err != nil {
			r.status, r.detail = statusFail, "BREACHNOTIFY_SMIME_CERT_FILE: "+err.Error()
			return r
		}
	}
	now := d.now()
	var fails, warns []string
	switch {
	case now.After(leaf.NotAfter):
		fails = append(fails, "expired on "+leaf.NotAfter.Format(time.DateOnly))
	case now.Before(leaf.NotBefore):
		fails = append(fails, "not valid before "+leaf.NotBefore.Format(time.DateOnly))
	case leaf.NotAfter.Sub(now) < certRenewWarning:
		warns = append(warns, "expires on "+leaf.NotAfter.Format(time.DateOnly)+": renew it")
	}
	if !certNames(leaf, d.cfg.From.Address) {
		fails = append(fails, fmt.Sprintf("does not name %s, so mail clients show the signature as someone else's", d.cfg.From.Address))
	}
	if !emailProtection(leaf) {
		fails = append(fails, "is not for email protection (extended key usage)")
	}
	// CheckSignatureFrom would insist the issuer be a CA; a self-signed
	// end-entity certificate is exactly what it must also catch.
	if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) && leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil {
		warns = append(warns, "is self-signed: recipients' clients will not trust it")
	}
	switch {
	case len(fails) > 0:
		r.status, r.detail = statusFail, "certificate "+strings.Join(append(fails, warns...), "; ")
	case len(warns) > 0:
		r.status, r.detail = statusWarn, "certificate "+strings.Join(warns, "; ")
	default:
		r.status, r.detail = statusOK, fmt.Sprintf("signing as %s until %s", d.cfg.From.Address, leaf.NotAfter.Format(time.DateOnly))
	}
	return r
}

func (d *doctor) checkRelay(ctx context.Context) checkResult {
	r := checkResult{name: "relay"}
	s := d.cfg.SMTP
	if s == nil {
		// Not a warning: in this state nobody is told anything, and every
		// acknowledgement and sign-in link sits in the database.
		r.status, r.detail = statusFail, "BREACHNOTIFY_SMTP_URL is empty: notices go to the embedded capture mailbox and reach nobody; "+
			"every message, with its live acknowledgement and sign-in links, is kept in the database and readable by admins"
		r.fix = []string{"set BREACHNOTIFY_SMTP_URL to your relay, e.g. smtp://user:pass@relay.example.com:587?tls=starttls (serve and migrate then purge the captured messages)"}
		return r
	}
	cfg := relayConfig(s)
	cfg.Timeout = min(d.timeout, d.cfg.SMTPTimeout)
	offer, err := smtp.Probe(ctx, cfg)
	var authErr *smtp.AuthError
	switch {
	case errors.Is(err, smtp.ErrNoStartTLS):
		r.status, r.detail = statusFail, s.String()+" answers EHLO but does not offer STARTTLS, which tls=starttls requires"
		r.fix = []string{"use the relay's submission port (587) or tls=tls on 465"}
	case errors.As(err, &authErr):
		r.status, r.detail = statusFail, s.String()+" refuses the login as "+s.Username+": "+authFailure(authErr)
		r.fix = []string{authErr.Fix}
	case err != nil:
		r.status, r.detail = statusFail, fmt.Sprintf("%s: %v", s.String(), err)
	default:
		r.status, r.detail = statusOK, s.String()+" answers EHLO"
		if offer.StartTLS {
			r.detail += ", offers STARTTLS"
		}
		if offer.Mechanism != "" {
			r.detail += fmt.Sprintf(", logs in as %s with %s (offers %s)", s.Username, offer.Mechanism, offer.Auth)
		}
		switch {
		case s.TLS == "none" && s.InsecureAuth && !isLoopback(s.Host):
			r.status = statusWarn
			r.detail += "; tls=none with insecure_auth=true sends notices and the password unencrypted"
			r.fix = []string{"use tls=starttls or tls=tls unless the connection is protected otherwise (a tunnel)"}
		case s.TLS == "none" && !isLoopback(s.Host):
			r.status = statusWarn
			r.detail += "; tls=none sends notices unencrypted"
		}
	}
	return r
}

// relayConfig is the sender's view of the configured relay.
func relayConfig(s *config.SMTP) smtp.Config {
	return smtp.Config{Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password, TLS: s.TLS, SkipVerify: s.SkipVerify,
		Auth: s.Auth, InsecureAuth: s.InsecureAuth}
}

// authFailure says what the relay offered, what was tried and what it
// answered, without the fix (printed on a line of its own).
func authFailure(e *smtp.AuthError) string {
	offered := "no AUTH"
	if len(e.Offered) > 0 {
		offered = strings.Join(e.Offered, " ")
	}
	if e.Tried == "" {
		return fmt.Sprintf("it offers %s; %s, so nothing was tried", offered, e.Reply)
	}
	return fmt.Sprintf("it offers %s; tried %s, it answered %s", offered, e.Tried, e.Reply)
}

func (d *doctor) checkDatabase(ctx context.Context) checkResult {
	r := checkResult{name: "database"}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	pc, err := pgxpool.ParseConfig(d.cfg.DatabaseURL)
	if err != nil {
		r.status, r.detail = statusFail, "BREACHNOTIFY_DATABASE_URL: "+err.Error()
		return r
	}
	pc.MaxConns = 2
	app.PoolerSafe(d.cfg, pc.ConnConfig)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err == nil {
		defer pool.Close()
		err = pool.Ping(ctx)
	}
	if err != nil {
		r.status, r.detail = statusFail, "cannot reach the database: "+err.Error()
		r.fix = []string{"check BREACHNOTIFY_DATABASE_URL; `breachnotify migrate` creates a missing database"}
		return r
	}
	if err := migrations.Check(ctx, pool); err != nil {
		// ErrOutdated's message already says to run migrate.
		r.status, r.detail = statusFail, err.Error()
		return r
	}
	r.status, r.detail = statusOK, "reachable, schema up to date"
	return r
}

// checkDatabaseRole looks at the user BREACHNOTIFY_DATABASE_URL logs in as:
// serve works as the role breachnotify_service whatever it is, but a
// superuser or the schema's owner can switch back (RESET ROLE) once the
// process is taken over; a login that is only a member of the role cannot.
func (d *doctor) checkDatabaseRole(ctx context.Context) checkResult {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	cc, err := pgx.ParseConfig(d.cfg.DatabaseURL)
	if err != nil {
		return checkResult{} // the database check says why
	}
	app.PoolerSafe(d.cfg, cc)
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return checkResult{} // the database check says why
	}
	defer conn.Close(context.WithoutCancel(ctx))
	l, err := migrations.InspectLogin(ctx, conn)
	if err != nil {
		return checkResult{name: "db-role", status: statusFail, detail: err.Error()}
	}
	r := checkResult{name: "db-role"}
	if d.cfg.DatabasePollOnly && l.RoleExists && l.CanAssume {
		// Behind a pooler the login must start as the role (serve checks).
		if err := migrations.RequireServiceRole(ctx, conn); err != nil {
			r.status, r.detail = statusFail, err.Error()
			return r
		}
	}
	ownLogin := fmt.Sprintf("make serve a login of its own: CREATE ROLE bn_app LOGIN PASSWORD '…' IN ROLE %s; then BREACHNOTIFY_DATABASE_URL logs in as bn_app and BREACHNOTIFY_MIGRATE_DATABASE_URL as %s (docs/operations.md, Database roles)", migrations.ServiceRole, l.User)
	switch {
	case !l.RoleExists:
		r.status, r.detail = statusFail, fmt.Sprintf("the role %s does not exist, so serve cannot start", migrations.ServiceRole)
		r.fix = []string{"run `breachnotify migrate` (it creates the role)"}
	case !l.CanAssume:
		r.status, r.detail = statusFail, fmt.Sprintf("serve logs in as %s, which may not act as %s, so it cannot start", l.User, migrations.ServiceRole)
		r.fix = []string{fmt.Sprintf("as the schema owner: GRANT %s TO %s", migrations.ServiceRole, l.User)}
	case l.Superuser:
		r.status, r.detail = statusWarn, fmt.Sprintf("serve logs in as %s, a superuser: it works as %s, but a process taken over can switch back and rewrite the audit trail", l.User, migrations.ServiceRole)
		r.fix = []string{ownLogin}
	case l.OwnsSchema:
		r.status, r.detail = statusWarn, fmt.Sprintf("serve logs in as %s, which owns the schema: it works as %s, but a process taken over can switch back, disable the audit trail's triggers and rewrite it", l.User, migrations.ServiceRole)
		r.fix = []string{ownLogin}
	default:
		r.status, r.detail = statusOK, fmt.Sprintf("serve logs in as %s and works as %s: it cannot alter the schema or rewrite the audit trail", l.User, migrations.ServiceRole)
	}
	return r
}

// checkAuditKey says where the audit chain's key comes from: a key that
// lives in the database protects the chain from nobody who can write it.
func (d *doctor) checkAuditKey(context.Context) checkResult {
	r := checkResult{name: "audit-key"}
	keys, source, err := app.LocalAuditKeys(d.cfg)
	switch {
	case err != nil:
		r.status, r.detail = statusFail, err.Error()
	case keys == nil:
		r.status, r.detail = statusWarn, "the audit chain is keyed with a key "+source+": the chain is then only as safe as the database"
		r.fix = []string{"openssl rand -base64 48 > audit.key; set BREACHNOTIFY_AUDIT_KEY_FILE to it on every process, and keep it (docs/operations.md, Database roles)"}
	default:
		r.status, r.detail = statusOK, fmt.Sprintf("the audit chain is keyed with key %s (%s)", keys.CurrentID(), source)
		if n := len(d.cfg.AuditKeys); n > 1 {
			r.detail += fmt.Sprintf("; %d older keys verify", n-1)
		}
	}
	return r
}

// lookupTXT returns the TXT records at name, none when the name or its TXT
// records do not exist, and an error only when DNS could not answer.
func (d *doctor) lookupTXT(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	records, err := d.dns.LookupTXT(ctx, name)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return nil, nil
	}
	return records, err
}

func dkimRecord(k *config.DKIM) (name, value string, err error) {
	sd := &smtp.DKIM{Domain: k.Domain, Selector: k.Selector, Key: k.Key}
	value, err = sd.Record()
	return sd.RecordName(), value, err
}

// zoneQuote writes a TXT value as zone-file strings of at most 255
// characters each, the longest one DNS string can be (RFC 1035 §3.3);
// an RSA 2048 key record is about 400.
func zoneQuote(value string) string {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, `"`+value[:255]+`"`)
		value = value[255:]
	}
	return strings.Join(append(parts, `"`+value+`"`), " ")
}

func keyKind(k any) string {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return fmt.Sprintf("a %d-bit RSA", k.N.BitLen())
	case ed25519.PrivateKey:
		return "an Ed25519"
	default:
		return fmt.Sprintf("a %T", k)
	}
}

// onSenderDomain is whether a link to host would look like it comes from
// the sender: the From domain itself, a subdomain of it, or a parent of it
// (the organization's own domain).
func onSenderDomain(host, from string) bool {
	return host == from || strings.HasSuffix(host, "."+from) ||
		(strings.Contains(host, ".") && strings.HasSuffix(from, "."+host))
}

// related is whether one domain is the other or a parent of it, so DMARC's
// relaxed alignment holds. Siblings (mail.example.com, notify.example.com)
// align too, but telling them from unrelated domains under one public
// suffix (example.co.uk, other.co.uk) needs the public suffix list, so
// they are only warned about.
func related(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	return a == b || strings.HasSuffix(a, "."+b) || strings.HasSuffix(b, "."+a)
}

func parentDomain(name string) string {
	_, parent, _ := strings.Cut(name, ".")
	return parent
}

func domainOfAddress(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

// tagList parses "k=v; k=v" records (DMARC, DKIM).
func tagList(record string) map[string]string {
	tags := map[string]string{}
	for _, field := range strings.Split(record, ";") {
		if k, v, ok := strings.Cut(field, "="); ok {
			tags[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return tags
}

func certNames(c *x509.Certificate, addr string) bool {
	for _, e := range c.EmailAddresses {
		if strings.EqualFold(e, addr) {
			return true
		}
	}
	return false
}

func emailProtection(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 {
		return true // no restriction
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageEmailProtection || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// isLoopback is whether host is this machine, where an unencrypted hop to
// a local relay exposes nothing.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
