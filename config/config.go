// Package config loads breachnotify's settings from the environment, with
// `*_FILE` variants for secrets, and validates them with messages that say
// which variable is wrong and what it should look like.
package config

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Defaults for every setting. They are exported so the README and tests can
// refer to them instead of repeating literals.
const (
	DatabaseURLDefault   = "postgres://postgres@127.0.0.1:5432/breachnotify?sslmode=disable"
	HTTPAddrDefault      = "127.0.0.1:8080"
	FromDefault          = "Security Notices <security-notice@notify.example>"
	CaptureAddrDefault   = "127.0.0.1:0"
	RetryMinDelayDefault = time.Minute
	RetryMaxDelayDefault = time.Hour
	RetryLifetimeDefault = 96 * time.Hour
	// WorkersDefault and ChunkSizeDefault were measured on a 2-core machine:
	// see docs/performance.md.
	WorkersDefault   = 40
	ChunkSizeDefault = 100
	// Politeness defaults: per process.
	RateLimitDefault         = 1000
	DomainRateLimitDefault   = 50
	DomainConcurrencyDefault = 10
	ThrottleCooldownDefault  = 30 * time.Second
	RelayCooldownDefault     = 5 * time.Second
	SMTPTimeoutDefault       = 30 * time.Second
	MaxBodyBytesDefault      = 32 << 20
	// An import streams, so its limits bound work, not memory: a
	// million-row exposure file (about 134 MB) fits.
	ImportMaxRowsDefault  = 2_000_000
	ImportMaxBytesDefault = 1 << 30
	LogFormatDefault      = "text"
	LogLevelDefault       = "info"

	// The HTTP side's pools: the staff's (API, dashboard, River UI) and
	// the customers' (acknowledgement, verify and portal pages), each
	// its own so neither can take the other's connections or the
	// workers'. A page or an API call holds a connection for a query or a
	// transaction, not while it writes to the client: see
	// docs/operations.md ("Sizing") for the measurements.
	DBStaffPoolSizeDefault  = 5
	DBPublicPoolSizeDefault = 5

	// JobRescueAfterDefault is when River takes a job still running to
	// belong to a dead process: the last resort, just above the job
	// timeout (two thirds of it). A dead process's chunks are taken over
	// long before, when its lease lapses (LeaseTTL).
	JobRescueAfterDefault = 3 * time.Minute
)

// Config is every setting the binary reads. The zero value is not useful:
// build it with Load or Default.
type Config struct {
	// DatabaseURL is the PostgreSQL connection string of the service
	// (BREACHNOTIFY_DATABASE_URL). Its user must be able to act as the
	// role breachnotify_service, which every pooled connection switches
	// to; best a login role that is nothing but a member of it.
	DatabaseURL string
	// MigrateDatabaseURL is the connection string `migrate` uses
	// (BREACHNOTIFY_MIGRATE_DATABASE_URL): the schema owner's. Empty means
	// DatabaseURL (see MigrateURL).
	MigrateDatabaseURL string
	// DatabasePollOnly says DatabaseURL reaches PostgreSQL through a pooler
	// in transaction mode, such as PgBouncer
	// (BREACHNOTIFY_DATABASE_POLL_ONLY=true): River polls for work instead
	// of LISTENing, queries use no named prepared statements, and a
	// connection must log in working as the service's role already, since
	// a session setting does not survive the pooler. `migrate` then needs
	// a direct connection (MigrateDatabaseURL, see CheckMigrateURL).
	DatabasePollOnly bool
	// DBPoolSize is the maximum number of connections of the workers,
	// River and the operational endpoints (BREACHNOTIFY_DB_POOL_SIZE); 0
	// sizes the pool for Workers (see PoolSize).
	DBPoolSize int
	// DBStaffPoolSize is the maximum number of connections of the staff
	// API, the dashboard and the River UI (BREACHNOTIFY_DB_STAFF_POOL_SIZE).
	DBStaffPoolSize int
	// DBPublicPoolSize is the maximum number of connections of the
	// customer pages: acknowledgement, verify and portal
	// (BREACHNOTIFY_DB_PUBLIC_POOL_SIZE).
	DBPublicPoolSize int
	// HTTPAddr is where `serve` listens (BREACHNOTIFY_HTTP_ADDR).
	HTTPAddr string
	// PublicURL is the base URL recipients use for acknowledgement, verify and
	// portal links (BREACHNOTIFY_PUBLIC_URL); default http://HTTPAddr. A
	// process that serves or sends refuses an http one (CheckPublicURL)
	// unless AllowInsecurePublicURL.
	PublicURL string
	// AllowInsecurePublicURL lets a process serve and send with an http
	// PublicURL (BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL=true): for a
	// development run on one machine only. Over http, the tokens in
	// acknowledgement and sign-in links and the session cookies cross the
	// network readable by anyone on the way.
	AllowInsecurePublicURL bool
	// WebhookAllowLocalHTTP lets webhook endpoints be http:// to localhost
	// and loopback addresses (BREACHNOTIFY_WEBHOOK_ALLOW_LOCAL_HTTP=true):
	// for development and tests. Otherwise endpoints must be https.
	WebhookAllowLocalHTTP bool
	// WebhookAllowPrivate lets webhook endpoints point at private,
	// link-local and unique-local addresses
	// (BREACHNOTIFY_WEBHOOK_ALLOW_PRIVATE=true): for a receiver inside
	// the service's own network. Refused by default (SSRF).
	WebhookAllowPrivate bool
	// ContactURL and ContactText tell the verify page's visitor how to
	// reach the sender by a channel a forged mail cannot carry
	// (BREACHNOTIFY_CONTACT_URL: an https page, e.g. the company's contact
	// page; BREACHNOTIFY_CONTACT_TEXT: its link text, or on its own, e.g.
	// a phone number). Both optional.
	ContactURL  string
	ContactText string
	// TrustedProxies are the reverse proxies in front of the service
	// (BREACHNOTIFY_TRUSTED_PROXIES: IPs and CIDRs, comma-separated).
	// Only a request from one of them has its client address taken from
	// X-Forwarded-For, for rate limits and acknowledgement records; empty
	// trusts no header, and the client is the connection's peer.
	TrustedProxies []netip.Prefix
	// SMTP is the relay to send through, parsed from BREACHNOTIFY_SMTP_URL.
	// Nil means the embedded capture mailbox.
	SMTP *SMTP
	// CaptureAddr is the listen address of the embedded capture mailbox
	// (BREACHNOTIFY_CAPTURE_ADDR), used only when SMTP is nil.
	CaptureAddr string
	// From is the sender of every notice (BREACHNOTIFY_FROM), "Name <addr>".
	From *mail.Address
	// DKIM signs every notice; nil sends unsigned (see DKIM).
	DKIM *DKIM
	// DKIMEd25519 adds a second signature with an Ed25519 key beside an
	// RSA DKIM (RFC 8463 dual signing), from
	// BREACHNOTIFY_DKIM_ED25519_KEY_FILE and
	// BREACHNOTIFY_DKIM_ED25519_SELECTOR; same domain as DKIM. Nil: one
	// signature.
	DKIMEd25519 *DKIM
	// SMIME additionally S/MIME-signs every notice; nil does not (see SMIME).
	SMIME *SMIME
	// SecretFile holds the installation secret (BREACHNOTIFY_SECRET_FILE).
	// Empty means a secret generated once and kept in the database.
	SecretFile string
	// AuditKeyFile holds the audit chain's keys (BREACHNOTIFY_AUDIT_KEY_FILE):
	// one per line, the first keys new entries and checkpoints, the others
	// (older keys after a rotation) only verify. Empty means a key derived
	// from the installation secret.
	AuditKeyFile string
	// AuditKeys are the keys read from AuditKeyFile, each of at least
	// AuditKeyMinBytes bytes.
	AuditKeys [][]byte
	// EvidenceKeyFile holds the master keys that wrap each incident's
	// evidence key (BREACHNOTIFY_EVIDENCE_KEY_FILE): one per line, 32
	// random bytes in base64 or hex, the first wraps, all unwrap. Empty
	// means a key derived from BREACHNOTIFY_SECRET_FILE, and without that
	// evidence is not imported: its key must live outside the database.
	EvidenceKeyFile string
	// SMTPTimeout bounds each SMTP command and the dial (BREACHNOTIFY_SMTP_TIMEOUT).
	SMTPTimeout time.Duration
	// RetryMinDelay and RetryMaxDelay bound the exponential backoff between
	// attempts of a deferred delivery (BREACHNOTIFY_RETRY_MIN_DELAY, _MAX_DELAY).
	RetryMinDelay time.Duration
	RetryMaxDelay time.Duration
	// RetryLifetime is how long after its first attempt a deferred delivery is
	// given up as failed (BREACHNOTIFY_RETRY_LIFETIME), after RFC 5321 §4.5.4.1.
	RetryLifetime time.Duration
	// Workers is the number of delivery jobs worked at once per process
	// (BREACHNOTIFY_WORKERS); each holds one SMTP connection.
	Workers int
	// ChunkSize is the number of deliveries carried by one delivery job
	// (BREACHNOTIFY_CHUNK_SIZE).
	ChunkSize int
	// RateLimit caps messages per second sent by all processes on the
	// database together (BREACHNOTIFY_RATE_LIMIT); 0 means no limit.
	RateLimit float64
	// DomainRateLimit caps messages per second to one recipient domain, all
	// processes together (BREACHNOTIFY_DOMAIN_RATE_LIMIT); 0 means no limit.
	DomainRateLimit float64
	// DomainConcurrency caps SMTP transactions in flight to one recipient
	// domain, per process (BREACHNOTIFY_DOMAIN_CONCURRENCY); 0 means no limit.
	DomainConcurrency int
	// ThrottleCooldown is how long a recipient domain is paused after it
	// asks us to slow down (BREACHNOTIFY_THROTTLE_COOLDOWN); it doubles
	// with each further throttling reply.
	ThrottleCooldown time.Duration
	// RelayCooldown is how long workers stop dialling an unreachable relay
	// (BREACHNOTIFY_RELAY_COOLDOWN); it doubles up to two minutes.
	RelayCooldown time.Duration
	// JobRescueAfter is how long a delivery job may stay running before
	// River takes it to belong to a dead process and runs it again
	// (BREACHNOTIFY_JOB_RESCUE_AFTER). The job timeout is two thirds of
	// it, so a live job is never rescued. It is the last resort: a dead
	// process's chunks are taken over when its lease lapses.
	JobRescueAfter time.Duration
	// LeaseTTL is how long a sending process's lease lasts unless renewed
	// (BREACHNOTIFY_LEASE_TTL, default delivery.LeaseTTLDefault, 30 s): a
	// killed process's deliveries are taken over within about 1.5 × it.
	LeaseTTL time.Duration
	// MaxBodyBytes caps request bodies (BREACHNOTIFY_MAX_BODY_BYTES); past it
	// the API answers 413.
	MaxBodyBytes int64
	// ImportMaxRows and ImportMaxBytes bound one organizations or exposure
	// import file (BREACHNOTIFY_IMPORT_MAX_ROWS, BREACHNOTIFY_IMPORT_MAX_BYTES);
	// MaxBodyBytes does not apply to imports. Past them the API answers
	// 413 naming the setting.
	ImportMaxRows  int
	ImportMaxBytes int64
	// MetricsToken, when set, is the bearer token /metrics requires
	// (BREACHNOTIFY_METRICS_TOKEN or _FILE).
	MetricsToken string
	// LogFormat is "text" or "json" (BREACHNOTIFY_LOG_FORMAT).
	LogFormat string
	// LogLevel is debug, info, warn or error (BREACHNOTIFY_LOG_LEVEL).
	LogLevel string

	// Bounces is how bounces come in by themselves (BREACHNOTIFY_BOUNCE_*).
	Bounces Bounces

	// URL and APIKey are what the CLI verbs use to reach a running server
	// (BREACHNOTIFY_URL, BREACHNOTIFY_API_KEY).
	URL    string
	APIKey string
}

// SMTP is a parsed relay URL:
// smtp://user:pass@host:port?tls=starttls|tls|none&auth=plain|login|cram-md5|none.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLS is "starttls" (required), "tls" (implicit TLS) or "none".
	TLS string
	// SkipVerify accepts any server certificate (tls_skip_verify=true); only
	// for test relays.
	SkipVerify bool
	// Auth is the SASL mechanism to log in with (auth=): one of the
	// SMTPAuth… constants. Empty with credentials means the best of PLAIN,
	// LOGIN and CRAM-MD5 that the relay offers, over TLS only; empty
	// without credentials means no AUTH.
	Auth string
	// InsecureAuth allows auth=plain or auth=login over tls=none
	// (insecure_auth=true), where the password crosses the network in
	// the clear: only for a connection protected otherwise (a tunnel).
	InsecureAuth bool
}

// The SASL mechanisms a relay URL may name with auth=.
const (
	SMTPAuthPlain   = "plain"
	SMTPAuthLogin   = "login"
	SMTPAuthCramMD5 = "cram-md5"
	SMTPAuthNone    = "none"
)

// DKIM is the DomainKeys Identified Mail setup. It is all or nothing:
// BREACHNOTIFY_DKIM_KEY_FILE and BREACHNOTIFY_DKIM_SELECTOR together turn
// it on, and BREACHNOTIFY_DKIM_DOMAIN may change the signing domain.
type DKIM struct {
	// KeyFile is the PEM private key file (BREACHNOTIFY_DKIM_KEY_FILE):
	// PKCS#1 RSA, or PKCS#8 RSA or Ed25519, as openssl writes them.
	KeyFile string
	// Key is the key read from KeyFile: *rsa.PrivateKey of at least 2048
	// bits, or ed25519.PrivateKey.
	Key crypto.Signer
	// Selector names the key in DNS (BREACHNOTIFY_DKIM_SELECTOR): receivers
	// look it up at Selector._domainkey.Domain.
	Selector string
	// Domain is the signing domain, d= (BREACHNOTIFY_DKIM_DOMAIN); default
	// the From address's domain, which is what DMARC alignment wants.
	Domain string
}

// SMIME is the optional S/MIME signing identity: both
// BREACHNOTIFY_SMIME_CERT_FILE and BREACHNOTIFY_SMIME_KEY_FILE, or neither.
type SMIME struct {
	// CertFile is the PEM certificate, leaf first, then at most one
	// intermediate (BREACHNOTIFY_SMIME_CERT_FILE).
	CertFile string
	// KeyFile is the PEM private key of the leaf, RSA or ECDSA
	// (BREACHNOTIFY_SMIME_KEY_FILE).
	KeyFile string
	// Certificate is the parsed pair; Leaf is set.
	Certificate *tls.Certificate
}

// MinRSABits is the smallest RSA key accepted for DKIM and S/MIME: RFC 8301
// allows 1024 but asks for 2048, and receivers treat shorter keys as weak.
const MinRSABits = 2048

// Addr is host:port.
func (s *SMTP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// String is the URL without its password, safe to log.
func (s *SMTP) String() string {
	q := "tls=" + s.TLS
	if s.Auth != "" {
		q += "&auth=" + s.Auth
	}
	if s.InsecureAuth {
		q += "&insecure_auth=true"
	}
	u := url.URL{Scheme: "smtp", Host: s.Addr(), RawQuery: q}
	if s.Username != "" || s.Password != "" {
		u.User = url.UserPassword(s.Username, "REDACTED")
	}
	return u.String()
}

// Default returns the configuration with every default applied and nothing
// read from the environment.
func Default() *Config {
	from, _ := mail.ParseAddress(FromDefault)
	return &Config{
		DatabaseURL:       DatabaseURLDefault,
		DBStaffPoolSize:   DBStaffPoolSizeDefault,
		DBPublicPoolSize:  DBPublicPoolSizeDefault,
		HTTPAddr:          HTTPAddrDefault,
		PublicURL:         "http://" + HTTPAddrDefault,
		CaptureAddr:       CaptureAddrDefault,
		From:              from,
		SMTPTimeout:       SMTPTimeoutDefault,
		RetryMinDelay:     RetryMinDelayDefault,
		RetryMaxDelay:     RetryMaxDelayDefault,
		RetryLifetime:     RetryLifetimeDefault,
		Workers:           WorkersDefault,
		ChunkSize:         ChunkSizeDefault,
		RateLimit:         RateLimitDefault,
		DomainRateLimit:   DomainRateLimitDefault,
		DomainConcurrency: DomainConcurrencyDefault,
		ThrottleCooldown:  ThrottleCooldownDefault,
		RelayCooldown:     RelayCooldownDefault,
		JobRescueAfter:    JobRescueAfterDefault,
		LeaseTTL:          30 * time.Second, // delivery.LeaseTTLDefault
		MaxBodyBytes:      MaxBodyBytesDefault,
		ImportMaxRows:     ImportMaxRowsDefault,
		ImportMaxBytes:    ImportMaxBytesDefault,
		LogFormat:         LogFormatDefault,
		LogLevel:          LogLevelDefault,
		URL:               "http://" + HTTPAddrDefault,
	}
}

// Load reads the configuration from the process environment and validates it.
func Load() (*Config, error) { return LoadFrom(os.Getenv) }

// LoadFrom reads the configuration through getenv (os.Getenv in production, a
// map in tests) and validates it. Every problem is reported, not just the first.
func LoadFrom(getenv func(string) string) (*Config, error) {
	c := Default()
	l := loader{getenv: getenv}

	c.DatabaseURL = l.secret("BREACHNOTIFY_DATABASE_URL", c.DatabaseURL)
	c.MigrateDatabaseURL = l.secret("BREACHNOTIFY_MIGRATE_DATABASE_URL", "")
	c.DatabasePollOnly = l.boolean("BREACHNOTIFY_DATABASE_POLL_ONLY", false)
	c.DBPoolSize = l.integer("BREACHNOTIFY_DB_POOL_SIZE", 0)
	c.DBStaffPoolSize = l.integer("BREACHNOTIFY_DB_STAFF_POOL_SIZE", c.DBStaffPoolSize)
	c.DBPublicPoolSize = l.integer("BREACHNOTIFY_DB_PUBLIC_POOL_SIZE", c.DBPublicPoolSize)
	c.HTTPAddr = l.str("BREACHNOTIFY_HTTP_ADDR", c.HTTPAddr)
	c.PublicURL = l.str("BREACHNOTIFY_PUBLIC_URL", "http://"+c.HTTPAddr)
	c.AllowInsecurePublicURL = l.boolean("BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL", false)
	c.WebhookAllowLocalHTTP = l.boolean("BREACHNOTIFY_WEBHOOK_ALLOW_LOCAL_HTTP", false)
	c.WebhookAllowPrivate = l.boolean("BREACHNOTIFY_WEBHOOK_ALLOW_PRIVATE", false)
	c.ContactURL = l.str("BREACHNOTIFY_CONTACT_URL", "")
	c.ContactText = l.str("BREACHNOTIFY_CONTACT_TEXT", "")
	if raw := l.str("BREACHNOTIFY_TRUSTED_PROXIES", ""); raw != "" {
		p, err := ParseTrustedProxies(raw)
		if err != nil {
			l.fail("BREACHNOTIFY_TRUSTED_PROXIES", err.Error())
		}
		c.TrustedProxies = p
	}
	c.CaptureAddr = l.str("BREACHNOTIFY_CAPTURE_ADDR", c.CaptureAddr)
	if raw := l.secret("BREACHNOTIFY_SMTP_URL", ""); raw != "" {
		s, err := ParseSMTPURL(raw)
		if err != nil {
			l.fail("BREACHNOTIFY_SMTP_URL", err.Error())
		}
		c.SMTP = s
	}
	if raw := l.str("BREACHNOTIFY_FROM", ""); raw != "" {
		from, err := mail.ParseAddress(raw)
		if err != nil {
			l.fail("BREACHNOTIFY_FROM", `must be an address such as "Security Notices <notices@example.com>"`)
		} else {
			c.From = from
		}
	}
	c.DKIM = l.dkim(c.From)
	c.DKIMEd25519 = l.dkimEd25519(c.DKIM)
	c.SMIME = l.smime()
	c.SecretFile = l.str("BREACHNOTIFY_SECRET_FILE", "")
	c.AuditKeyFile = l.str("BREACHNOTIFY_AUDIT_KEY_FILE", "")
	c.EvidenceKeyFile = l.str("BREACHNOTIFY_EVIDENCE_KEY_FILE", "")
	if c.AuditKeyFile != "" {
		c.AuditKeys = l.auditKeys(c.AuditKeyFile)
	}
	c.SMTPTimeout = l.duration("BREACHNOTIFY_SMTP_TIMEOUT", c.SMTPTimeout)
	c.RetryMinDelay = l.duration("BREACHNOTIFY_RETRY_MIN_DELAY", c.RetryMinDelay)
	c.RetryMaxDelay = l.duration("BREACHNOTIFY_RETRY_MAX_DELAY", c.RetryMaxDelay)
	c.RetryLifetime = l.duration("BREACHNOTIFY_RETRY_LIFETIME", c.RetryLifetime)
	c.Workers = l.integer("BREACHNOTIFY_WORKERS", c.Workers)
	c.ChunkSize = l.integer("BREACHNOTIFY_CHUNK_SIZE", c.ChunkSize)
	c.RateLimit = l.number("BREACHNOTIFY_RATE_LIMIT", c.RateLimit)
	c.DomainRateLimit = l.number("BREACHNOTIFY_DOMAIN_RATE_LIMIT", c.DomainRateLimit)
	c.DomainConcurrency = l.integer("BREACHNOTIFY_DOMAIN_CONCURRENCY", c.DomainConcurrency)
	c.ThrottleCooldown = l.duration("BREACHNOTIFY_THROTTLE_COOLDOWN", c.ThrottleCooldown)
	c.RelayCooldown = l.duration("BREACHNOTIFY_RELAY_COOLDOWN", c.RelayCooldown)
	c.JobRescueAfter = l.duration("BREACHNOTIFY_JOB_RESCUE_AFTER", c.JobRescueAfter)
	c.LeaseTTL = l.duration("BREACHNOTIFY_LEASE_TTL", c.LeaseTTL)
	c.MaxBodyBytes = int64(l.integer("BREACHNOTIFY_MAX_BODY_BYTES", int(c.MaxBodyBytes)))
	c.ImportMaxRows = l.integer("BREACHNOTIFY_IMPORT_MAX_ROWS", c.ImportMaxRows)
	c.ImportMaxBytes = int64(l.integer("BREACHNOTIFY_IMPORT_MAX_BYTES", int(c.ImportMaxBytes)))
	c.MetricsToken = l.secret("BREACHNOTIFY_METRICS_TOKEN", "")
	c.Bounces = l.bounces()
	c.LogFormat = l.str("BREACHNOTIFY_LOG_FORMAT", c.LogFormat)
	c.LogLevel = l.str("BREACHNOTIFY_LOG_LEVEL", c.LogLevel)
	c.URL = l.str("BREACHNOTIFY_URL", "http://"+c.HTTPAddr)
	c.APIKey = l.secret("BREACHNOTIFY_API_KEY", "")

	if len(l.problems) > 0 {
		return nil, errors.Join(l.problems...)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the values that parsing alone cannot, and says how to fix them.
func (c *Config) Validate() error {
	var problems []error
	bad := func(name, msg string) { problems = append(problems, fmt.Errorf("%s %s", name, msg)) }

	if _, err := url.Parse(c.DatabaseURL); err != nil || !strings.HasPrefix(c.DatabaseURL, "postgres") {
		bad("BREACHNOTIFY_DATABASE_URL", "must be a postgres:// URL")
	}
	if m, err := url.Parse(c.MigrateDatabaseURL); c.MigrateDatabaseURL != "" && (err != nil || !strings.HasPrefix(c.MigrateDatabaseURL, "postgres")) {
		bad("BREACHNOTIFY_MIGRATE_DATABASE_URL", "must be a postgres:// URL (the schema owner's connection; default BREACHNOTIFY_DATABASE_URL)")
	} else if d, err := url.Parse(c.DatabaseURL); c.MigrateDatabaseURL != "" && err == nil && ((m.Host != d.Host && !c.DatabasePollOnly) || m.Path != d.Path) {
		// Otherwise migrate would migrate one database and serve refuse
		// the other as out of date. Behind a pooler the service's host is
		// the pooler's, and migrate's must differ.
		bad("BREACHNOTIFY_MIGRATE_DATABASE_URL", fmt.Sprintf("must name the same server and database as BREACHNOTIFY_DATABASE_URL (%s%s, not %s%s); only the user differs", d.Host, d.Path, m.Host, m.Path))
	}
	if c.AuditKeyFile != "" && len(c.AuditKeys) == 0 {
		bad("BREACHNOTIFY_AUDIT_KEY_FILE", "holds no key (one per line, e.g. openssl rand -base64 48 > FILE)")
	}
	for i, k := range c.AuditKeys {
		if len(k) < AuditKeyMinBytes {
			bad("BREACHNOTIFY_AUDIT_KEY_FILE", fmt.Sprintf("key %d holds %d bytes; each needs at least %d (openssl rand -base64 48)", i+1, len(k), AuditKeyMinBytes))
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("BREACHNOTIFY_HTTP_ADDR", "must be host:port, e.g. 127.0.0.1:8080")
	}
	if _, _, err := net.SplitHostPort(c.CaptureAddr); err != nil {
		bad("BREACHNOTIFY_CAPTURE_ADDR", "must be host:port, e.g. 127.0.0.1:2525")
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("BREACHNOTIFY_PUBLIC_URL", "must be an absolute http(s) URL without query, e.g. https://notify.example.com")
	} else if a, err := netip.ParseAddr(u.Hostname()); u.Hostname() == "" || (err == nil && a.IsUnspecified()) {
		// The default follows BREACHNOTIFY_HTTP_ADDR, which may be a
		// wildcard (0.0.0.0:8080): every link in every notice would be dead.
		bad("BREACHNOTIFY_PUBLIC_URL", "must name the host recipients reach the service at (it is "+c.PublicURL+"; set it, e.g. https://notify.example.com)")
	}
	if c.ContactURL != "" {
		// Shown as a link to people checking a notice: only a plain https
		// page, never credentials or a script.
		if u, err := url.Parse(c.ContactURL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(c.ContactURL) > 500 {
			bad("BREACHNOTIFY_CONTACT_URL", "must be an absolute https URL, e.g. https://example.com/contact")
		}
	}
	if len([]rune(c.ContactText)) > 300 || strings.IndexFunc(c.ContactText, unicode.IsControl) >= 0 {
		bad("BREACHNOTIFY_CONTACT_TEXT", "must be one line of at most 300 characters")
	}
	if c.From == nil || !strings.Contains(c.From.Address, "@") {
		bad("BREACHNOTIFY_FROM", "must name a sender address")
	}
	if c.DKIM != nil {
		for _, p := range c.DKIM.problems() {
			bad(p.name, p.msg)
		}
	}
	if e := c.DKIMEd25519; e != nil {
		_, rsaFirst := dkimKey(c.DKIM).(*rsa.PrivateKey)
		_, ed := e.Key.(ed25519.PrivateKey)
		switch {
		case !rsaFirst:
			bad("BREACHNOTIFY_DKIM_ED25519_KEY_FILE", "is the second signature beside an RSA one: BREACHNOTIFY_DKIM_KEY_FILE must hold an RSA key")
		case !ed:
			bad("BREACHNOTIFY_DKIM_ED25519_KEY_FILE", "must hold an Ed25519 key (openssl genpkey -algorithm ed25519)")
		case e.Selector == "" || !dnsNamePattern.MatchString(e.Selector) || e.Selector == c.DKIM.Selector:
			bad("BREACHNOTIFY_DKIM_ED25519_SELECTOR", "must be DNS labels, and not the RSA key's selector: each key has its record")
		}
	}
	if c.SMIME != nil {
		for _, p := range c.SMIME.problems() {
			bad(p.name, p.msg)
		}
	}
	if c.RetryMinDelay <= 0 || c.RetryMaxDelay < c.RetryMinDelay {
		bad("BREACHNOTIFY_RETRY_MIN_DELAY", "must be positive and not above BREACHNOTIFY_RETRY_MAX_DELAY")
	}
	if c.RetryLifetime < c.RetryMinDelay {
		bad("BREACHNOTIFY_RETRY_LIFETIME", "must be at least BREACHNOTIFY_RETRY_MIN_DELAY")
	}
	if c.SMTPTimeout < 100*time.Millisecond {
		bad("BREACHNOTIFY_SMTP_TIMEOUT", "must be at least 100ms")
	}
	if c.Workers < 1 || c.Workers > 10000 {
		bad("BREACHNOTIFY_WORKERS", "must be between 1 and 10000")
	}
	if c.ChunkSize < 1 || c.ChunkSize > 1000 {
		bad("BREACHNOTIFY_CHUNK_SIZE", "must be between 1 and 1000")
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"BREACHNOTIFY_RATE_LIMIT", c.RateLimit}, {"BREACHNOTIFY_DOMAIN_RATE_LIMIT", c.DomainRateLimit}} {
		if math.IsNaN(r.v) || math.IsInf(r.v, 0) || r.v < 0 || (r.v > 0 && r.v < 0.001) {
			bad(r.name, "must be 0 (no limit) or a number of messages per second of at least 0.001")
		}
	}
	if c.DomainConcurrency < 0 {
		bad("BREACHNOTIFY_DOMAIN_CONCURRENCY", "must not be negative (0 means no limit)")
	}
	if c.ThrottleCooldown <= 0 || c.RelayCooldown <= 0 {
		bad("BREACHNOTIFY_THROTTLE_COOLDOWN", "and BREACHNOTIFY_RELAY_COOLDOWN must be positive")
	}
	if c.JobRescueAfter <= 0 {
		bad("BREACHNOTIFY_JOB_RESCUE_AFTER", "must be positive")
	} else if c.DeliverJobTimeout() < 2*c.SMTPTimeout {
		// A delivery job must have room for a dial and a transaction, or it
		// sends one message per run (see delivery.Engine).
		bad("BREACHNOTIFY_JOB_RESCUE_AFTER", fmt.Sprintf("must be at least 3 × BREACHNOTIFY_SMTP_TIMEOUT (a delivery job runs for two thirds of it, %s, and needs room for two SMTP timeouts, %s)",
			c.DeliverJobTimeout(), 2*c.SMTPTimeout))
	}
	if c.LeaseTTL < 3*time.Second {
		// Renewed every third, with a 5 s margin at each end: below a few
		// seconds a process would stop sending at every hiccup.
		bad("BREACHNOTIFY_LEASE_TTL", "must be at least 3s (30s unless a test needs faster takeovers)")
	}
	if c.DBPoolSize < 0 || c.DBPoolSize > maxPoolSize {
		bad("BREACHNOTIFY_DB_POOL_SIZE", fmt.Sprintf("must be between 0 (sized for the workers) and %d", maxPoolSize))
	}
	if c.DBStaffPoolSize < 1 || c.DBStaffPoolSize > maxPoolSize {
		bad("BREACHNOTIFY_DB_STAFF_POOL_SIZE", fmt.Sprintf("must be between 1 and %d", maxPoolSize))
	}
	if c.DBPublicPoolSize < 1 || c.DBPublicPoolSize > maxPoolSize {
		bad("BREACHNOTIFY_DB_PUBLIC_POOL_SIZE", fmt.Sprintf("must be between 1 and %d", maxPoolSize))
	}
	if c.MaxBodyBytes < 1024 {
		bad("BREACHNOTIFY_MAX_BODY_BYTES", "must be at least 1024")
	}
	if c.ImportMaxRows < 1 {
		bad("BREACHNOTIFY_IMPORT_MAX_ROWS", "must be at least 1")
	}
	if c.ImportMaxBytes < 1024 {
		bad("BREACHNOTIFY_IMPORT_MAX_BYTES", "must be at least 1024")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("BREACHNOTIFY_LOG_FORMAT", `must be "text" or "json"`)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("BREACHNOTIFY_LOG_LEVEL", "must be debug, info, warn or error")
	}
	return errors.Join(problems...)
}

// CheckMigrateURL refuses to migrate through a pooler in transaction mode:
// migrate holds a session-level advisory lock while it changes the schema,
// which such a pooler would leave on a server connection after the
// session ends (and every later migrate would wait for it).
func (c *Config) CheckMigrateURL() error {
	if c.DatabasePollOnly && c.MigrateDatabaseURL == "" {
		return errors.New("BREACHNOTIFY_DATABASE_POLL_ONLY is set, so BREACHNOTIFY_DATABASE_URL goes through a pooler such as PgBouncer; " +
			"migrate needs a direct connection to PostgreSQL: set BREACHNOTIFY_MIGRATE_DATABASE_URL to the schema owner's URL on the server itself (port 5432, not the pooler's)")
	}
	return nil
}

// MigrateURL is the connection `migrate` uses: MigrateDatabaseURL, or
// DatabaseURL when that is empty. `migrate` creates the database it names
// when it does not exist, and the service's role.
func (c *Config) MigrateURL() string {
	if c.MigrateDatabaseURL != "" {
		return c.MigrateDatabaseURL
	}
	return c.DatabaseURL
}

// PublicHTTPS reports whether PublicURL is https, as it must be for
// anything but a development run: cookies are then Secure, and every
// response carries Strict-Transport-Security.
func (c *Config) PublicHTTPS() bool {
	u, err := url.Parse(c.PublicURL)
	return err == nil && u.Scheme == "https"
}

// CheckPublicURL refuses an http PublicURL unless AllowInsecurePublicURL
// is set. A process that serves pages or sends notices checks it when it
// starts; the commands that never use the public URL (the IR verbs,
// migrate, apikey, healthcheck, doctor, which reports it) do not, so they
// need neither an https URL nor the development switch.
func (c *Config) CheckPublicURL() error {
	if c.PublicHTTPS() || c.AllowInsecurePublicURL {
		return nil
	}
	return fmt.Errorf("BREACHNOTIFY_PUBLIC_URL is %s, not https: every notice's acknowledgement and sign-in links and every "+
		"portal and dashboard session would cross the network readable by anyone on the way; set BREACHNOTIFY_PUBLIC_URL to "+
		"the https address recipients reach the service at (such as https://notify.example.com), or, for a development run "+
		"on this machine only, set BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL=true", c.PublicURL)
}

// DeliverJobTimeout is how long one delivery job may run: two thirds of
// JobRescueAfter, so a live job is never rescued, and at most 10 minutes.
func (c *Config) DeliverJobTimeout() time.Duration {
	return min(10*time.Minute, c.JobRescueAfter*2/3)
}

// maxPoolSize bounds each pool: PostgreSQL's max_connections is 100 by
// default, and a pool far past it only moves the queue into the server.
const maxPoolSize = 1000

// PoolSize is the size of the workers' pool (River, the workers, and the
// operational endpoints): DBPoolSize when set, otherwise half the workers
// (a worker holds a connection only while it claims or records outcomes,
// not while it talks SMTP) plus 5 for River's own loops, /readyz and
// /metrics. The HTTP side has pools of its own (DBStaffPoolSize,
// DBPublicPoolSize). docs/performance.md has the measurements.
func (c *Config) PoolSize() int {
	if c.DBPoolSize > 0 {
		return c.DBPoolSize
	}
	return c.Workers/2 + 5
}

// ParseSMTPURL parses
// smtp://user:pass@host:port?tls=starttls|tls|none&auth=plain|login|cram-md5|none&insecure_auth=true.
// The port defaults to 465 for tls and 587 otherwise; tls defaults to
// starttls. It refuses what would send a password in the clear unasked
// (see checkSMTPAuth).
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("must be a URL such as smtp://user:pass@host:587?tls=starttls")
	}
	if u.Scheme != "smtp" {
		return nil, fmt.Errorf("scheme must be smtp, not %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("must name a host")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("must not have a path")
	}
	s := &SMTP{Host: u.Hostname(), TLS: "starttls"}
	q := u.Query()
	for k := range q {
		switch k {
		case "tls", "tls_skip_verify", "auth", "insecure_auth":
		default:
			// The name is not repeated: a password with an unescaped "?"
			// lands here, and must not reach a log.
			return nil, errors.New("has an unknown parameter (known: tls, tls_skip_verify, auth, insecure_auth; escape ? and @ in a password as %3F and %40)")
		}
		if len(q[k]) > 1 {
			return nil, fmt.Errorf("has %s more than once", k)
		}
	}
	if v := q.Get("tls"); v != "" {
		switch v {
		case "starttls", "tls", "none":
			s.TLS = v
		default:
			return nil, fmt.Errorf("tls must be starttls, tls or none, not %q", v)
		}
	}
	if v := q.Get("tls_skip_verify"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errors.New("tls_skip_verify must be true or false")
		}
		s.SkipVerify = b
	}
	if v := q.Get("auth"); v != "" {
		switch v = strings.ToLower(v); v {
		case SMTPAuthPlain, SMTPAuthLogin, SMTPAuthCramMD5, SMTPAuthNone:
			s.Auth = v
		default:
			return nil, fmt.Errorf("auth must be plain, login, cram-md5 or none, not %q", v)
		}
	}
	if v := q.Get("insecure_auth"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errors.New("insecure_auth must be true or false")
		}
		s.InsecureAuth = b
	}
	s.Port = 587
	if s.TLS == "tls" {
		s.Port = 465
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not a valid port", p)
		}
		s.Port = n
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	if strings.ContainsAny(s.Username+s.Password+s.Host, "\r\n\x00") {
		return nil, errors.New("must not contain control characters")
	}
	if err := checkSMTPAuth(s); err != nil {
		return nil, err
	}
	return s, nil
}

// checkSMTPAuth refuses an AUTH setting that cannot work or that would
// send the password unencrypted without being asked to: PLAIN and LOGIN
// carry it as it is (base64 is no protection), CRAM-MD5 only a keyed hash
// of a challenge.
func checkSMTPAuth(s *SMTP) error {
	creds := s.Username != "" || s.Password != ""
	switch {
	case s.Auth == SMTPAuthNone && creds:
		return errors.New("has a user name or password but auth=none: remove them, or name the mechanism (auth=plain, login or cram-md5)")
	case s.Auth != "" && s.Auth != SMTPAuthNone && s.Username == "":
		return fmt.Errorf("auth=%s needs a user name and password: smtp://user:pass@host", s.Auth)
	case !creds && s.InsecureAuth:
		return errors.New("insecure_auth=true without a user name and password means nothing: remove it")
	case s.TLS != "none" || !creds:
		return nil
	case s.Auth == "":
		return errors.New("has a user name and password but tls=none, where no mechanism is chosen for you: " +
			"use tls=starttls or tls=tls (best), or auth=cram-md5 if the relay offers it (the password itself is not sent), " +
			"or auth=plain&insecure_auth=true only if the connection is protected otherwise (a tunnel)")
	case (s.Auth == SMTPAuthPlain || s.Auth == SMTPAuthLogin) && !s.InsecureAuth:
		return fmt.Errorf("auth=%s over tls=none sends the password unencrypted: use tls=starttls or tls=tls, or auth=cram-md5, "+
			"or add insecure_auth=true if the connection is protected otherwise (a tunnel)", s.Auth)
	}
	return nil
}

// ParseTrustedProxies parses a comma-separated list of IP addresses
// (192.0.2.7, 2001:db8::7) and CIDR prefixes (10.0.0.0/8, 2001:db8::/32);
// empty entries are skipped. A prefix is masked (10.1.2.3/8 is
// 10.0.0.0/8) and an IPv4-mapped IPv6 entry means its IPv4 address. A
// prefix of length 0 is refused: it would trust every client to name its
// own address.
func ParseTrustedProxies(raw string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for entry := range strings.SplitSeq(raw, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(entry, "/") {
			var err error
			if p, err = netip.ParsePrefix(entry); err != nil {
				return nil, fmt.Errorf("entry %q is not a CIDR prefix such as 10.0.0.0/8 or 2001:db8::/32", entry)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
		} else {
			a, err := netip.ParseAddr(entry)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("entry %q is not an IP address such as 192.0.2.7 or a CIDR prefix such as 10.0.0.0/8", entry)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("entry %q trusts every address, so any client could choose the address it is limited and recorded by; name the proxies' own addresses or networks", entry)
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

// loader collects every problem while reading variables, so one run of the
// binary reports all of them.
type loader struct {
	getenv   func(string) string
	problems []error
}

func (l *loader) fail(name, msg string) {
	l.problems = append(l.problems, fmt.Errorf("%s %s", name, msg))
}

func (l *loader) str(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

// secret reads NAME, or the file named by NAME_FILE (trailing newline
// removed), so secrets can come from Docker or systemd credentials.
func (l *loader) secret(name, def string) string {
	v := l.getenv(name)
	file := l.getenv(name + "_FILE")
	if v != "" && file != "" {
		l.fail(name, "and "+name+"_FILE are both set; set one")
		return def
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			l.fail(name+"_FILE", fmt.Sprintf("cannot be read: %v", err))
			return def
		}
		v = strings.TrimRight(string(b), "\r\n")
	}
	if v == "" {
		return def
	}
	return v
}

func (l *loader) integer(name string, def int) int {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		l.fail(name, fmt.Sprintf("must be an integer, not %q", v))
		return def
	}
	return n
}

func (l *loader) boolean(name string, def bool) bool {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.fail(name, fmt.Sprintf("must be true or false, not %q", v))
		return def
	}
	return b
}

func (l *loader) number(name string, def float64) float64 {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		l.fail(name, fmt.Sprintf("must be a number, not %q", v))
		return def
	}
	return n
}

func (l *loader) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		l.fail(name, fmt.Sprintf("must be a Go duration such as 90s, 15m or 96h, not %q", v))
		return def
	}
	return d
}

// dkim reads the DKIM variables. Missing partners and key problems are
// reported here, together with every other loading problem.
func (l *loader) dkim(from *mail.Address) *DKIM {
	keyFile := l.str("BREACHNOTIFY_DKIM_KEY_FILE", "")
	selector := l.str("BREACHNOTIFY_DKIM_SELECTOR", "")
	domain := strings.ToLower(strings.TrimSuffix(l.str("BREACHNOTIFY_DKIM_DOMAIN", ""), "."))
	if keyFile == "" {
		if selector != "" || domain != "" {
			l.fail("BREACHNOTIFY_DKIM_KEY_FILE", "must be set when BREACHNOTIFY_DKIM_SELECTOR or BREACHNOTIFY_DKIM_DOMAIN is (DKIM needs the key too)")
		}
		return nil
	}
	if domain == "" && from != nil {
		domain = addressDomain(from.Address)
	}
	d := &DKIM{KeyFile: keyFile, Selector: selector, Domain: domain}
	for _, p := range d.nameProblems() {
		l.fail(p.name, p.msg)
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		l.fail("BREACHNOTIFY_DKIM_KEY_FILE", fmt.Sprintf("cannot be read: %v", err))
		return d
	}
	if d.Key, err = parseDKIMKey(b); err != nil {
		l.fail("BREACHNOTIFY_DKIM_KEY_FILE", err.Error())
		return d
	}
	for _, p := range d.keyProblems() {
		l.fail(p.name, p.msg)
	}
	return d
}

// auditKeys reads BREACHNOTIFY_AUDIT_KEY_FILE.
func (l *loader) auditKeys(path string) [][]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		l.fail("BREACHNOTIFY_AUDIT_KEY_FILE", fmt.Sprintf("cannot be read: %v", err))
		return nil
	}
	keys, err := ParseAuditKeys(b)
	if err != nil {
		l.fail("BREACHNOTIFY_AUDIT_KEY_FILE", err.Error())
	}
	return keys
}

// AuditKeyMinBytes is the shortest audit key accepted (as
// notifier.AuditKeyMinBytes: config imports only the standard library).
const AuditKeyMinBytes = 32

// auditKeyFileMax bounds an audit key file: a few keys are a few hundred
// bytes, and the file is read whole.
const auditKeyFileMax = 64 << 10

// ParseAuditKeys reads an audit key file: one key per line, as text (such
// as openssl rand -base64 48 writes), the current key first. Blank lines
// and the white space around a key are ignored; each key must hold at
// least AuditKeyMinBytes bytes, and no key may appear twice.
func ParseAuditKeys(b []byte) ([][]byte, error) {
	if len(b) > auditKeyFileMax {
		return nil, fmt.Errorf("is %d bytes long; an audit key file holds a few keys, one per line", len(b))
	}
	var keys [][]byte
	seen := map[string]bool{}
	for n, line := range bytes.Split(b, []byte("\n")) {
		k := bytes.TrimSpace(line)
		switch {
		case len(k) == 0:
			continue
		case len(k) < AuditKeyMinBytes:
			return nil, fmt.Errorf("line %d holds a key of %d bytes; each key needs at least %d: write keys as text, one per line (openssl rand -base64 48)", n+1, len(k), AuditKeyMinBytes)
		case seen[string(k)]:
			return nil, fmt.Errorf("line %d repeats a key given before", n+1)
		}
		seen[string(k)] = true
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("holds no key (one per line, e.g. openssl rand -base64 48 > FILE)")
	}
	return keys, nil
}

// smime reads the S/MIME variables: both files or neither.
func (l *loader) smime() *SMIME {
	s := &SMIME{CertFile: l.str("BREACHNOTIFY_SMIME_CERT_FILE", ""), KeyFile: l.str("BREACHNOTIFY_SMIME_KEY_FILE", "")}
	switch {
	case s.CertFile == "" && s.KeyFile == "":
		return nil
	case s.CertFile == "":
		l.fail("BREACHNOTIFY_SMIME_CERT_FILE", "must be set when BREACHNOTIFY_SMIME_KEY_FILE is")
		return nil
	case s.KeyFile == "":
		l.fail("BREACHNOTIFY_SMIME_KEY_FILE", "must be set when BREACHNOTIFY_SMIME_CERT_FILE is")
		return nil
	}
	certPEM, err := os.ReadFile(s.CertFile)
	if err != nil {
		l.fail("BREACHNOTIFY_SMIME_CERT_FILE", fmt.Sprintf("cannot be read: %v", err))
	}
	keyPEM, kerr := os.ReadFile(s.KeyFile)
	if kerr != nil {
		l.fail("BREACHNOTIFY_SMIME_KEY_FILE", fmt.Sprintf("cannot be read: %v", kerr))
	}
	if err != nil || kerr != nil {
		return s
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		l.fail("BREACHNOTIFY_SMIME_CERT_FILE", fmt.Sprintf("and BREACHNOTIFY_SMIME_KEY_FILE must be a PEM certificate and its private key: %v", err))
		return s
	}
	s.Certificate = &pair
	for _, p := range s.problems() {
		l.fail(p.name, p.msg)
	}
	return s
}

// dkimEd25519 reads the second, Ed25519 DKIM key (RFC 8463 dual signing);
// Validate checks that it is one and that the first key is RSA.
func (l *loader) dkimEd25519(first *DKIM) *DKIM {
	keyFile := l.str("BREACHNOTIFY_DKIM_ED25519_KEY_FILE", "")
	selector := l.str("BREACHNOTIFY_DKIM_ED25519_SELECTOR", "")
	if keyFile == "" {
		if selector != "" {
			l.fail("BREACHNOTIFY_DKIM_ED25519_KEY_FILE", "must be set when BREACHNOTIFY_DKIM_ED25519_SELECTOR is")
		}
		return nil
	}
	if first == nil {
		l.fail("BREACHNOTIFY_DKIM_ED25519_KEY_FILE", "adds a second signature: set BREACHNOTIFY_DKIM_KEY_FILE (RSA) and BREACHNOTIFY_DKIM_SELECTOR too")
		return nil
	}
	d := &DKIM{KeyFile: keyFile, Selector: selector, Domain: first.Domain}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		l.fail("BREACHNOTIFY_DKIM_ED25519_KEY_FILE", fmt.Sprintf("cannot be read: %v", err))
		return nil
	}
	if d.Key, err = parseDKIMKey(b); err != nil {
		l.fail("BREACHNOTIFY_DKIM_ED25519_KEY_FILE", err.Error())
		return nil
	}
	return d
}

// dkimKey is d's key, nil when there is no d.
func dkimKey(d *DKIM) crypto.Signer {
	if d == nil {
		return nil
	}
	return d.Key
}

// problem is one bad variable and what is wrong with it.
type problem struct{ name, msg string }

// problems checks a DKIM setup however it was built (Load or code).
func (d *DKIM) problems() []problem {
	return append(d.nameProblems(), d.keyProblems()...)
}

func (d *DKIM) nameProblems() []problem {
	var ps []problem
	switch {
	case d.Selector == "":
		ps = append(ps, problem{"BREACHNOTIFY_DKIM_SELECTOR", "must be set when BREACHNOTIFY_DKIM_KEY_FILE is, e.g. notify2026 (the public key is published at SELECTOR._domainkey.DOMAIN)"})
	case !dnsNamePattern.MatchString(d.Selector):
		ps = append(ps, problem{"BREACHNOTIFY_DKIM_SELECTOR", fmt.Sprintf("must be DNS labels (letters, digits, - and _), not %q", d.Selector)})
	}
	if !dnsNamePattern.MatchString(d.Domain) || !strings.Contains(d.Domain, ".") {
		ps = append(ps, problem{"BREACHNOTIFY_DKIM_DOMAIN", fmt.Sprintf("must be a domain name such as notify.example.com, not %q", d.Domain)})
	}
	return ps
}

func (d *DKIM) keyProblems() []problem {
	const name = "BREACHNOTIFY_DKIM_KEY_FILE"
	switch k := d.Key.(type) {
	case nil:
		return []problem{{name, "must hold a PEM private key"}}
	case *rsa.PrivateKey:
		if n := k.N.BitLen(); n < MinRSABits {
			return []problem{{name, fmt.Sprintf("holds a %d-bit RSA key; DKIM keys need at least %d bits (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)", n, MinRSABits)}}
		}
	case ed25519.PrivateKey:
	default:
		return []problem{{name, fmt.Sprintf("holds a %T; DKIM signs with RSA or Ed25519 keys", d.Key)}}
	}
	return nil
}

// problems checks an S/MIME identity however it was built.
func (s *SMIME) problems() []problem {
	const name = "BREACHNOTIFY_SMIME_KEY_FILE"
	if s.Certificate == nil || len(s.Certificate.Certificate) == 0 {
		return []problem{{"BREACHNOTIFY_SMIME_CERT_FILE", "must hold a PEM certificate"}}
	}
	switch k := s.Certificate.PrivateKey.(type) {
	case *rsa.PrivateKey:
		if n := k.N.BitLen(); n < MinRSABits {
			return []problem{{name, fmt.Sprintf("holds a %d-bit RSA key; at least %d bits are needed", n, MinRSABits)}}
		}
	case *ecdsa.PrivateKey:
	default:
		// go-mail's S/MIME signer knows RSA and ECDSA only.
		return []problem{{name, fmt.Sprintf("holds a %T; S/MIME signing needs an RSA or ECDSA key", s.Certificate.PrivateKey)}}
	}
	return nil
}

// dnsNamePattern is one or more dot-separated DNS labels. Underscores are
// allowed because some providers' selectors use them.
var dnsNamePattern = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$`)

// parseDKIMKey reads the first PEM private key in b, accepting the forms
// go-mail's mail.PrivKeyFromPEM does (PKCS#1 RSA, PKCS#8 RSA or Ed25519),
// with messages that say what to do instead.
func parseDKIMKey(b []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errors.New("holds no PEM private key (want -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("holds an unreadable RSA key: %v", err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("holds an unreadable PKCS#8 key: %v", err)
			}
			switch k := k.(type) {
			case *rsa.PrivateKey:
				return k, nil
			case ed25519.PrivateKey:
				return k, nil
			default:
				return nil, fmt.Errorf("holds a %T; DKIM signs with RSA or Ed25519 keys", k)
			}
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("holds an encrypted key; store it unencrypted with permissions 0600 (openssl pkey -in KEY -out KEY.plain)")
		case "EC PRIVATE KEY":
			return nil, errors.New("holds an EC key; DKIM signs with RSA or Ed25519 keys")
		}
	}
}

// addressDomain is the part of addr after its last @.
func addressDomain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}
