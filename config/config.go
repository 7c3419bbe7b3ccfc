// Package config loads breachnotify's settings from the environment, with
// `*_FILE` variants for secrets, and validates them with messages that say
// which variable is wrong and what it should look like.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
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
	LogFormatDefault         = "text"
	LogLevelDefault          = "info"

	// JobRescueAfterDefault is River's default: a job still running after
	// an hour is taken to belong to a dead process.
	JobRescueAfterDefault = time.Hour
)

// Config is every setting the binary reads. The zero value is not useful:
// build it with Load or Default.
type Config struct {
	// DatabaseURL is the PostgreSQL connection string (BREACHNOTIFY_DATABASE_URL).
	// `migrate` creates the database it names when it does not exist.
	DatabaseURL string
	// DBPoolSize is the maximum number of pooled connections
	// (BREACHNOTIFY_DB_POOL_SIZE); 0 sizes the pool for Workers plus the API.
	DBPoolSize int
	// HTTPAddr is where `serve` listens (BREACHNOTIFY_HTTP_ADDR).
	HTTPAddr string
	// PublicURL is the base URL recipients use for acknowledgement, verify and
	// portal links (BREACHNOTIFY_PUBLIC_URL); default http://HTTPAddr.
	PublicURL string
	// SMTP is the relay to send through, parsed from BREACHNOTIFY_SMTP_URL.
	// Nil means the embedded capture mailbox.
	SMTP *SMTP
	// CaptureAddr is the listen address of the embedded capture mailbox
	// (BREACHNOTIFY_CAPTURE_ADDR), used only when SMTP is nil.
	CaptureAddr string
	// From is the sender of every notice (BREACHNOTIFY_FROM), "Name <addr>".
	From *mail.Address
	// SecretFile holds the installation secret (BREACHNOTIFY_SECRET_FILE).
	// Empty means a secret generated once and kept in the database.
	SecretFile string
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
	// RateLimit caps messages per second sent by one process
	// (BREACHNOTIFY_RATE_LIMIT); 0 means no limit.
	RateLimit float64
	// DomainRateLimit caps messages per second to one recipient domain, per
	// process (BREACHNOTIFY_DOMAIN_RATE_LIMIT); 0 means no limit.
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
	// JobRescueAfter is how long a delivery job may stay running before it
	// is taken to belong to a dead process and run again
	// (BREACHNOTIFY_JOB_RESCUE_AFTER). The job timeout is kept at a quarter
	// of it at most, so a live job is never rescued; lowering it makes a
	// killed process's chunks resume sooner (tests use seconds).
	JobRescueAfter time.Duration
	// MaxBodyBytes caps request bodies (BREACHNOTIFY_MAX_BODY_BYTES); past it
	// the API answers 413.
	MaxBodyBytes int64
	// LogFormat is "text" or "json" (BREACHNOTIFY_LOG_FORMAT).
	LogFormat string
	// LogLevel is debug, info, warn or error (BREACHNOTIFY_LOG_LEVEL).
	LogLevel string

	// URL and APIKey are what the CLI verbs use to reach a running server
	// (BREACHNOTIFY_URL, BREACHNOTIFY_API_KEY).
	URL    string
	APIKey string
}

// SMTP is a parsed relay URL: smtp://user:pass@host:port?tls=starttls|tls|none.
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
}

// Addr is host:port.
func (s *SMTP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// String is the URL without its password, safe to log.
func (s *SMTP) String() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr(), RawQuery: "tls=" + s.TLS}
	if s.Username != "" {
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
		MaxBodyBytes:      MaxBodyBytesDefault,
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
	c.DBPoolSize = l.integer("BREACHNOTIFY_DB_POOL_SIZE", 0)
	c.HTTPAddr = l.str("BREACHNOTIFY_HTTP_ADDR", c.HTTPAddr)
	c.PublicURL = l.str("BREACHNOTIFY_PUBLIC_URL", "http://"+c.HTTPAddr)
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
	c.SecretFile = l.str("BREACHNOTIFY_SECRET_FILE", "")
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
	c.MaxBodyBytes = int64(l.integer("BREACHNOTIFY_MAX_BODY_BYTES", int(c.MaxBodyBytes)))
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
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("BREACHNOTIFY_HTTP_ADDR", "must be host:port, e.g. 127.0.0.1:8080")
	}
	if _, _, err := net.SplitHostPort(c.CaptureAddr); err != nil {
		bad("BREACHNOTIFY_CAPTURE_ADDR", "must be host:port, e.g. 127.0.0.1:2525")
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("BREACHNOTIFY_PUBLIC_URL", "must be an absolute http(s) URL without query, e.g. https://notify.example.com")
	}
	if c.From == nil || !strings.Contains(c.From.Address, "@") {
		bad("BREACHNOTIFY_FROM", "must name a sender address")
	}
	if c.RetryMinDelay <= 0 || c.RetryMaxDelay < c.RetryMinDelay {
		bad("BREACHNOTIFY_RETRY_MIN_DELAY", "must be positive and not above BREACHNOTIFY_RETRY_MAX_DELAY")
	}
	if c.RetryLifetime < c.RetryMinDelay {
		bad("BREACHNOTIFY_RETRY_LIFETIME", "must be at least BREACHNOTIFY_RETRY_MIN_DELAY")
	}
	if c.SMTPTimeout <= 0 {
		bad("BREACHNOTIFY_SMTP_TIMEOUT", "must be positive")
	}
	if c.Workers < 1 || c.Workers > 10000 {
		bad("BREACHNOTIFY_WORKERS", "must be between 1 and 10000")
	}
	if c.ChunkSize < 1 || c.ChunkSize > 1000 {
		bad("BREACHNOTIFY_CHUNK_SIZE", "must be between 1 and 1000")
	}
	if c.RateLimit < 0 || c.DomainRateLimit < 0 || c.DomainConcurrency < 0 {
		bad("BREACHNOTIFY_RATE_LIMIT", "and the domain limits must not be negative (0 means no limit)")
	}
	if c.ThrottleCooldown <= 0 || c.RelayCooldown <= 0 {
		bad("BREACHNOTIFY_THROTTLE_COOLDOWN", "and BREACHNOTIFY_RELAY_COOLDOWN must be positive")
	}
	if c.JobRescueAfter <= 0 {
		bad("BREACHNOTIFY_JOB_RESCUE_AFTER", "must be positive")
	}
	if c.DBPoolSize < 0 {
		bad("BREACHNOTIFY_DB_POOL_SIZE", "must not be negative")
	}
	if c.MaxBodyBytes < 1024 {
		bad("BREACHNOTIFY_MAX_BODY_BYTES", "must be at least 1024")
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

// PoolSize is the database pool size to use: DBPoolSize when set, otherwise
// enough for every worker plus the API, River's own loops and a margin.
func (c *Config) PoolSize() int {
	if c.DBPoolSize > 0 {
		return c.DBPoolSize
	}
	return c.Workers/2 + 10
}

// ParseSMTPURL parses smtp://user:pass@host:port?tls=starttls|tls|none. The
// port defaults to 465 for tls and 587 otherwise; tls defaults to starttls.
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
		if k != "tls" && k != "tls_skip_verify" {
			return nil, fmt.Errorf("unknown parameter %q (known: tls, tls_skip_verify)", k)
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
	return s, nil
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
