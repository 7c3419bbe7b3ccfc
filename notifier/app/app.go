// Package app assembles a running breachnotify from a Config: the database
// pool, store, job queue, SMTP sender (or the embedded capture mailbox),
// metrics and the HTTP server. The binary and the end-to-end tests build the
// service the same way, through New.
package app

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/admin"
	"github.com/breachnotify/breachnotify/notifier/bouncehooks"
	"github.com/breachnotify/breachnotify/notifier/buildinfo"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/deadlines"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/evidence"
	"github.com/breachnotify/breachnotify/notifier/httpapi"
	"github.com/breachnotify/breachnotify/notifier/ingest"
	"github.com/breachnotify/breachnotify/notifier/metrics"
	"github.com/breachnotify/breachnotify/notifier/politeness"
	"github.com/breachnotify/breachnotify/notifier/portal"
	"github.com/breachnotify/breachnotify/notifier/review"
	"github.com/breachnotify/breachnotify/notifier/secrets"
	"github.com/breachnotify/breachnotify/notifier/smtp"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/notifier/vault"
	"github.com/breachnotify/breachnotify/notifier/web"
	"github.com/breachnotify/breachnotify/notifier/webhook"
	"github.com/breachnotify/breachnotify/queue"
	"github.com/breachnotify/breachnotify/templates"
)

// Options change how New assembles the service, mostly for tests.
type Options struct {
	// Logger receives every log line; nil builds one from the Config.
	Logger *slog.Logger
	// Sender replaces the SMTP sender built from the Config.
	Sender delivery.Sender
	// CaptureSink replaces where the embedded mailbox keeps messages
	// (the database by default).
	CaptureSink capture.Sink
	// CaptureScript injects faults into the embedded mailbox.
	CaptureScript capture.Script
	// NoWorkers runs the API without working jobs.
	NoWorkers bool
	// NoAPI serves only the operational endpoints (/healthz, /readyz,
	// /metrics), for a workers-only process.
	NoAPI bool
	// Templates replaces the shipped templates (templates.Defaults), for
	// tests that need a template of their own.
	Templates *templates.Set
	// Clock wraps the database clock the service schedules by (tests move
	// time with it).
	Clock func(notifier.Clock) notifier.Clock
	// SNSFetch replaces the HTTPS GET of SNS signing certificates and
	// subscription confirmations (tests serve their own certificate).
	SNSFetch func(ctx context.Context, url string) ([]byte, error)
}

// App is an assembled service. Start runs it; Stop stops it gracefully.
//
// It keeps three database pools, so that no side can starve another of
// connections: Pool for the workers, River and the operational endpoints
// (/readyz, /metrics), and, in a process that serves the API, one for the
// staff (API, dashboard, River UI) and one for the customer pages.
// Store and Service work on Pool.
type App struct {
	Config   *config.Config
	Logger   *slog.Logger
	Pool     *pgxpool.Pool
	Store    *store.Store
	Service  *notifier.Service
	Engine   *delivery.Engine
	Registry *prometheus.Registry
	// Capture is the embedded capture mailbox; nil when a relay is configured.
	Capture *capture.Server
	// API is the HTTP API's handler.
	API *httpapi.Server
	// Evidence imports stolen mail (nil in a process without the API).
	Evidence *ingest.Importer
	// Webhooks manages outbound webhooks (nil in a process without the API).
	Webhooks *webhook.Service

	// staffPool and publicPool are the HTTP side's pools (nil in a
	// workers-only process).
	staffPool, publicPool *pgxpool.Pool
	renderer              *notifier.Renderer
	river                 *river.Client[pgx.Tx]
	// writer commits the delivery outcomes of all workers (group commit);
	// lease is this process's delivery lease (see delivery.Lease).
	writer      *delivery.Writer
	lease       *delivery.Lease
	delivering  bool // the writer and the lease run (Start got that far)
	sender      *smtp.Sender
	httpServer  *http.Server
	listener    net.Listener
	served      chan error
	refreshStop chan struct{}
	dashboard   *admin.Server
	// webhookRing seals and opens webhook signing secrets.
	webhookRing *vault.Keyring
	stopOnce    sync.Once
	stopErr     error
}

// NewLogger builds the logger the Config asks for.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// New connects to the database, refuses an out-of-date schema, and builds
// every part. Nothing listens or works until Start.
func New(ctx context.Context, cfg *config.Config, opts Options) (*App, error) {
	a := &App{Config: cfg, Logger: opts.Logger, Registry: prometheus.NewRegistry()}
	if a.Logger == nil {
		a.Logger = NewLogger(cfg, os.Stderr)
	}
	err := a.openPools(ctx, !opts.NoAPI)
	if err == nil {
		err = a.build(ctx, opts)
	}
	if err != nil {
		if a.Capture != nil {
			_ = a.Capture.Close()
		}
		a.closePools()
		return nil, err
	}
	return a, nil
}

// openPools opens the workers' pool and, with the HTTP side, the staff's
// and the customers' (see App).
func (a *App) openPools(ctx context.Context, web bool) error {
	cfg := a.Config
	var err error
	if a.Pool, err = openPool(ctx, cfg, cfg.PoolSize(), "breachnotify workers"); err != nil {
		return err
	}
	if !web {
		return nil
	}
	if a.staffPool, err = openPool(ctx, cfg, cfg.DBStaffPoolSize, "breachnotify staff"); err != nil {
		return err
	}
	a.publicPool, err = openPool(ctx, cfg, cfg.DBPublicPoolSize, "breachnotify public")
	return err
}

// openPool opens a pool of at most size connections, named for
// pg_stat_activity unless the URL names them itself.
func openPool(ctx context.Context, cfg *config.Config, size int, name string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("BREACHNOTIFY_DATABASE_URL: %w", err)
	}
	pc.MaxConns = int32(size)
	if _, named := pc.ConnConfig.RuntimeParams["application_name"]; !named {
		pc.ConnConfig.RuntimeParams["application_name"] = name
	}
	// Every connection works as the service's role, which may not alter
	// anything or rewrite the audit trail, whoever the URL logs in as.
	pc.AfterConnect = migrations.AssumeServiceRole
	if cfg.DatabasePollOnly {
		behindPooler(pc, cfg)
	}
	p, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	// The pool connects lazily: connect now, so a user that cannot take
	// the role stops the start with what to do, not a later query.
	if err := p.Ping(ctx); err != nil {
		p.Close()
		if !cfg.DatabasePollOnly && LooksPooled(err) {
			return nil, fmt.Errorf("%w: %s", err, PollOnlyHint)
		}
		return nil, err
	}
	return p, nil
}

// PollOnlyHint is what to do when LooksPooled.
const PollOnlyHint = "BREACHNOTIFY_DATABASE_URL seems to go through PgBouncer (or another pooler) in transaction mode, " +
	"which keeps no prepared statement between transactions: set BREACHNOTIFY_DATABASE_POLL_ONLY=true (docs/operations.md, PgBouncer)"

// LooksPooled reports whether err is what pgx's named prepared statements
// meet through a pooler in transaction mode: a statement prepared on one
// server connection is missing on the next, or already there for another
// client.
func LooksPooled(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P05" || pgErr.Code == "26000") // duplicate_prepared_statement, invalid_sql_statement_name
}

// behindPooler adapts pc to a pooler in transaction mode (PgBouncer):
// queries as PoolerSafe sends them, and no role switched per session,
// which would hold on one server connection only; the login must already
// work as the service's role (its default role).
func behindPooler(pc *pgxpool.Config, cfg *config.Config) {
	PoolerSafe(cfg, pc.ConnConfig)
	pc.AfterConnect = migrations.RequireServiceRole
}

// PoolerSafe makes cc send its queries so that they work through a pooler
// in transaction mode, when cfg says the database is behind one
// (DatabasePollOnly), where consecutive transactions of one connection may
// run on different server connections. pgx's default caches named
// prepared statements, which would be missing there (PgBouncer before
// 1.21 cannot track them). QueryExecModeCacheDescribe caches only each
// statement's description (learnt once through the unnamed statement) and
// sends every query whole, parse, bind and execute, in one round trip:
// nothing lives on the server between transactions, and arguments keep
// their binary encoding by the described types, so a []byte for a jsonb
// column works as with the default (the "exec" and "simple_protocol"
// modes would send it as bytea). A URL that sets default_query_exec_mode
// keeps its own.
func PoolerSafe(cfg *config.Config, cc *pgx.ConnConfig) {
	if cfg.DatabasePollOnly && !strings.Contains(cfg.DatabaseURL, "default_query_exec_mode") {
		cc.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
}

func (a *App) closePools() {
	for _, p := range []*pgxpool.Pool{a.publicPool, a.staffPool, a.Pool} {
		if p != nil {
			p.Close()
		}
	}
}

func (a *App) build(ctx context.Context, opts Options) error {
	cfg := a.Config
	if err := migrations.Check(ctx, a.Pool); err != nil {
		return err
	}
	inserter, err := queue.NewInserter(a.Pool, a.Logger)
	if err != nil {
		return err
	}
	secret, keys, err := secretAndAuditKeys(ctx, cfg, a.Pool, a.Logger)
	if err != nil {
		return err
	}
	if a.webhookRing, err = webhookKeyring(cfg, secret); err != nil {
		return err
	}
	storeCfg := store.Config{Jobs: inserter, MessageIDDomain: domainOf(cfg.From.Address), AuditKeys: keys}
	a.Store = store.New(a.Pool, storeCfg)
	if !Capturing(cfg) {
		if _, err := purgeCaptures(ctx, a.Store, relayStartActor, a.Logger); err != nil {
			return err
		}
	}
	tmpl := opts.Templates
	if tmpl == nil {
		if tmpl, err = templates.Defaults(); err != nil {
			return fmt.Errorf("templates: %w", err)
		}
	}
	a.renderer = notifier.NewRenderer(tmpl, *cfg.From, cfg.PublicURL)
	var clock notifier.Clock = a.Store
	if opts.Clock != nil {
		clock = opts.Clock(a.Store)
	}
	profiles, err := deadlines.Builtin()
	if err != nil {
		return err
	}
	svcCfg := notifier.ServiceConfig{ChunkSize: cfg.ChunkSize, Renderer: a.renderer, Clock: clock, Logger: a.Logger, AuditKeys: keys, Deadlines: profiles,
		ImportLimits: notifier.ImportLimits{MaxRows: cfg.ImportMaxRows, MaxBytes: cfg.ImportMaxBytes},
		Bounces:      metrics.NewBounces(a.Registry)}
	a.Service = notifier.NewService(a.Store, svcCfg)
	// The template versions admins made current replace the shipped ones.
	if err := a.Service.RefreshTemplates(ctx); err != nil {
		return err
	}

	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(a.Registry)
	a.Registry.MustRegister(metrics.NewStateCollector(a.Store, a.Logger))
	a.Registry.MustRegister(metrics.NewDeadlineCollector(a.Store, profiles, a.Logger))
	metrics.RegisterBuildInfo(a.Registry, buildinfo.Read())

	if !opts.NoWorkers {
		if err := a.buildWorkers(opts, m); err != nil {
			return err
		}
	}

	// The HTTP side works on its own pools (the renderer, and so the
	// templates in use, are shared); a workers-only process serves only
	// the operational endpoints, which use the workers' pool.
	staff, public := a.Service, a.Service
	var importer *ingest.Importer
	var publicStore *store.Store
	var hooks *webhook.Service
	if !opts.NoAPI {
		staffStore := store.New(a.staffPool, storeCfg)
		hooks = webhook.NewService(webhook.Config{Store: staffStore, Keyring: a.webhookRing, Policy: webhookPolicy(cfg), Logger: a.Logger})
		staff = notifier.NewService(staffStore, svcCfg)
		publicStore = store.New(a.publicPool, storeCfg)
		public = notifier.NewService(publicStore, svcCfg)
		if importer, err = newImporter(cfg, secret, staffStore, a.Logger); err != nil {
			return err
		}
	}
	a.Evidence = importer
	a.Webhooks = hooks
	var bounceHooks []bouncehooks.Hook
	if !opts.NoAPI {
		bounceHooks = providerBounceHooks(cfg.Bounces, opts.SNSFetch)
	}
	a.API = httpapi.New(httpapi.Config{
		Service:  staff,
		Evidence: importer,
		Webhooks: hooks,
		// Readiness asks the workers' pool: a flood of page or API
		// requests does not make the process look down.
		Ready: a.Store.Ping,
		// Concurrent scrapes share one gather, so one database query.
		Metrics: promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{
			Registry: a.Registry, CoalesceGather: true, Timeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
		}),
		MetricsToken:   cfg.MetricsToken,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		OpsOnly:        opts.NoAPI,
		CaptureMailbox: Capturing(cfg),
		HSTS:           cfg.PublicHTTPS(),
		BounceHooks:    bounceHooks,
		ClientAddr:     web.NewClientAddr(cfg.TrustedProxies),
		Logger:         a.Logger,
		Requests:       metrics.NewHTTP(a.Registry),
	})
	if !opts.NoAPI {
		reviewer, err := newReviewer(public, publicStore, importer)
		if err != nil {
			return err
		}
		portalSrv, err := portal.New(portal.Config{Service: public, Secret: secret, Sender: cfg.From.Name, PublicURL: cfg.PublicURL,
			TrustedProxies: cfg.TrustedProxies, Logger: a.Logger, Review: reviewer,
			ContactURL: cfg.ContactURL, ContactText: cfg.ContactText})
		if err != nil {
			return err
		}
		portalSrv.Register(a.API.Mux())
		if err := a.buildDashboard(staff, secret); err != nil {
			return err
		}
	}
	// The server's timeouts are the short ones, for every request that
	// gets no other: the operational endpoints, the dashboard, the River
	// UI, requests without a valid key. Routes set their own from there:
	// customer pages a few seconds (portal.Register), authenticated API
	// calls minutes for imports and reports (httpapi.APIDeadline).
	a.httpServer = &http.Server{
		Handler:           a.API,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	return nil
}

// buildDashboard mounts the staff dashboard (/admin) and River's UI
// (/riverui/) behind its sign-in, on the staff's pool. The UI needs a
// River client: an insert-only one on that pool, which reads and changes
// the jobs in the database as the workers' client would, without taking
// the workers' connections.
func (a *App) buildDashboard(svc *notifier.Service, secret []byte) error {
	client, err := river.NewClient(riverpgxv5.New(a.staffPool), &river.Config{Logger: a.Logger.With("component", "river")})
	if err != nil {
		return fmt.Errorf("river UI client: %w", err)
	}
	d, err := admin.New(admin.Config{Service: svc, Secret: secret, PublicURL: a.Config.PublicURL,
		TrustedProxies: a.Config.TrustedProxies, Queue: client, Logger: a.Logger, Evidence: a.Evidence})
	if err != nil {
		return err
	}
	d.Register(a.API.Mux())
	a.dashboard = d
	return nil
}

func (a *App) stopDashboard() {
	if a.dashboard != nil {
		a.dashboard.Stop()
	}
}

// newImporter builds the evidence importer with the master keys of
// BREACHNOTIFY_EVIDENCE_KEY_FILE, or one derived from
// BREACHNOTIFY_SECRET_FILE; with neither, imports are refused (the
// evidence key must not live in the database it protects).
func newImporter(cfg *config.Config, secret []byte, st *store.Store, logger *slog.Logger) (*ingest.Importer, error) {
	ring, err := evidenceKeyring(cfg, secret)
	if err != nil {
		return nil, err
	}
	free, err := evidence.NewFreeMail(evidence.DefaultFreeMailDomains())
	if err != nil {
		return nil, err
	}
	// Findings are fingerprinted under a key of their own, derived from the
	// installation secret: stable across restarts and master key rotations,
	// so the same secret in two imports matches.
	fpKey, err := hkdf.Key(sha256.New, secret, nil, "breachnotify secret fingerprints v1", secrets.MinKeyLen)
	if err != nil {
		return nil, err
	}
	scanner, err := secrets.NewScanner(fpKey)
	if err != nil {
		return nil, err
	}
	return ingest.New(ingest.Config{Store: st, Keyring: ring, FreeMail: free, Secrets: scanner, Logger: logger})
}

// evidenceKeyring is the master keys of BREACHNOTIFY_EVIDENCE_KEY_FILE,
// or those derived from BREACHNOTIFY_SECRET_FILE; nil with neither.
func evidenceKeyring(cfg *config.Config, secret []byte) (*vault.Keyring, error) {
	switch {
	case cfg.EvidenceKeyFile != "":
		b, err := os.ReadFile(cfg.EvidenceKeyFile)
		if err != nil {
			return nil, fmt.Errorf("BREACHNOTIFY_EVIDENCE_KEY_FILE: %w", err)
		}
		ring, err := vault.ParseKeyFile(b)
		if err != nil {
			return nil, fmt.Errorf("BREACHNOTIFY_EVIDENCE_KEY_FILE: %w", err)
		}
		return ring, nil
	case cfg.SecretFile != "":
		ring, err := vault.DeriveKeyring(secret)
		if err != nil {
			return nil, fmt.Errorf("BREACHNOTIFY_SECRET_FILE: %w", err)
		}
		return ring, nil
	}
	return nil, nil
}

// webhookKeyring seals webhook signing secrets: with the evidence master
// keys when there are some, else with keys derived from the installation
// secret, which then lives in the database itself (a development setup):
// the secrets are still never stored in the clear.
func webhookKeyring(cfg *config.Config, secret []byte) (*vault.Keyring, error) {
	ring, err := evidenceKeyring(cfg, secret)
	if err != nil || ring != nil {
		return ring, err
	}
	return vault.DeriveKeyring(secret)
}

// webhookPolicy is the configured policy for webhook targets.
func webhookPolicy(cfg *config.Config) webhook.Policy {
	return webhook.Policy{AllowLocalHTTP: cfg.WebhookAllowLocalHTTP, AllowPrivate: cfg.WebhookAllowPrivate}
}

// newReviewer builds the portal's review of stolen mail, on the public
// pages' store, with the importer's master keys and secret scanner; nil
// (the mail pages not found) when evidence has no master key.
func newReviewer(svc *notifier.Service, st *store.Store, importer *ingest.Importer) (*review.Reviewer, error) {
	if importer == nil || importer.Keyring() == nil {
		return nil, nil
	}
	return review.New(review.Config{Service: svc, Blobs: st, Keyring: importer.Keyring(), Scope: ingest.Scope, Secrets: importer.Scanner()})
}

// secretAndAuditKeys reads the installation secret (BREACHNOTIFY_SECRET_FILE's
// content, or one generated once and kept in the database) and the audit
// chain's keys, which may derive from it. The secret is read before any
// store that keys audit entries exists.
func secretAndAuditKeys(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool, logger *slog.Logger) ([]byte, *notifier.AuditKeys, error) {
	var secret []byte
	var err error
	if cfg.SecretFile == "" {
		secret, err = store.New(pool, store.Config{}).InstallationSecret(ctx)
	} else {
		secret, err = readSecretFile(cfg.SecretFile)
	}
	if err != nil {
		return nil, nil, err
	}
	keys, err := auditKeys(cfg, secret, logger)
	return secret, keys, err
}

func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("BREACHNOTIFY_SECRET_FILE: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < 32 {
		return nil, fmt.Errorf("BREACHNOTIFY_SECRET_FILE must hold at least 32 bytes (e.g. openssl rand -base64 48 > FILE)")
	}
	return b, nil
}

// auditKeys are the audit chain's keys: those of the files (see
// LocalAuditKeys) and, without BREACHNOTIFY_SECRET_FILE, the key derived
// from the secret kept in the database, which keys new entries when no
// file gives a key (as said at every start) and otherwise still verifies
// the entries it keyed before.
func auditKeys(cfg *config.Config, secret []byte, logger *slog.Logger) (*notifier.AuditKeys, error) {
	keys, _, err := localAuditKeys(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.SecretFile == "" {
		derived, err := notifier.DeriveAuditKey(secret)
		if err != nil {
			return nil, err
		}
		keys = append(keys, notifier.AuditKey{Secret: derived, InDatabase: true})
		if len(keys) == 1 {
			logger.Warn("the audit chain is keyed with a key derived from the secret kept in the database: someone who can rewrite the database can rewrite the chain; set BREACHNOTIFY_AUDIT_KEY_FILE (docs/operations.md, Database roles)")
		}
	}
	return notifier.NewAuditKeys(keys...)
}

// Where the audit key comes from, as LocalAuditKeys reports it.
const (
	AuditKeyFromFile     = "BREACHNOTIFY_AUDIT_KEY_FILE"
	AuditKeyFromSecret   = "derived from BREACHNOTIFY_SECRET_FILE"
	AuditKeyFromDatabase = "derived from the installation secret kept in the database"
)

// LocalAuditKeys returns the audit chain's keys that live outside the
// database, and where the current one comes from: the keys of
// BREACHNOTIFY_AUDIT_KEY_FILE (the first is current), and the key derived
// from BREACHNOTIFY_SECRET_FILE, current only without a key file (after
// one is added it still verifies the entries it keyed). Without either
// file it returns nil keys and AuditKeyFromDatabase: the service derives
// its key from the secret the database keeps, which a process without
// database access (the CLI) does not have.
func LocalAuditKeys(cfg *config.Config) (*notifier.AuditKeys, string, error) {
	keys, source, err := localAuditKeys(cfg)
	if err != nil || len(keys) == 0 {
		return nil, source, err
	}
	k, err := notifier.NewAuditKeys(keys...)
	return k, source, err
}

func localAuditKeys(cfg *config.Config) ([]notifier.AuditKey, string, error) {
	var keys []notifier.AuditKey
	for _, k := range cfg.AuditKeys {
		keys = append(keys, notifier.AuditKey{Secret: k})
	}
	source := AuditKeyFromFile
	if cfg.SecretFile != "" {
		secret, err := readSecretFile(cfg.SecretFile)
		if err != nil {
			return nil, "", err
		}
		derived, err := notifier.DeriveAuditKey(secret)
		if err != nil {
			return nil, "", err
		}
		keys = append(keys, notifier.AuditKey{Secret: derived})
		if len(cfg.AuditKeys) == 0 {
			source = AuditKeyFromSecret
		}
	}
	if len(keys) == 0 {
		source = AuditKeyFromDatabase
	}
	return keys, source, nil
}

// buildWorkers builds the delivery side: the sender (and the
// embedded mailbox when no relay is configured), the deliverer and River.
func (a *App) buildWorkers(opts Options, m *metrics.Metrics) error {
	cfg := a.Config
	sender := opts.Sender
	if sender == nil {
		smtpCfg, err := a.relay(opts)
		if err != nil {
			return err
		}
		if a.sender, err = smtp.New(smtpCfg); err != nil {
			return err
		}
		sender = a.sender
	}
	process := delivery.NewProcess()
	a.writer = delivery.NewWriter(delivery.WriterConfig{Store: a.Store, Observer: m, Logger: a.Logger.With("component", "outcomes")})
	a.lease = delivery.NewLease(process, delivery.LeaseConfig{Store: a.Store, TTL: cfg.LeaseTTL, OnTakeover: m.ObserveTakeover,
		Logger: a.Logger.With("component", "lease")})
	a.Engine = delivery.NewEngine(delivery.EngineConfig{
		Writer:   a.writer,
		Lease:    a.lease,
		Store:    a.Store,
		Sender:   sender,
		Renderer: a.renderer,
		Retry:    delivery.RetryPolicy{Min: cfg.RetryMinDelay, Max: cfg.RetryMaxDelay, Lifetime: cfg.RetryLifetime},
		Politeness: politeness.New(politeness.Config{
			// The rates hold for every process on this database together.
			Rate: cfg.RateLimit, DomainRate: cfg.DomainRateLimit, Slots: a.Store, DomainConcurrency: cfg.DomainConcurrency,
			ThrottleCooldown: cfg.ThrottleCooldown, BreakerCooldown: cfg.RelayCooldown, ProbeTimeout: 2 * cfg.SMTPTimeout,
		}),
		SendTimeout: cfg.SMTPTimeout,
		Observer:    m,
		Logger:      a.Logger,
	})
	// Sign-in emails go through the same relay as notices.
	memberMails, err := portal.NewMemberMails(*cfg.From, cfg.PublicURL)
	if err != nil {
		return err
	}
	portalLinks := &queue.PortalLinkWorker{Mailer: delivery.NewPortalMailer(delivery.PortalMailerConfig{
		Store: a.Store, MemberStore: a.Store, MemberMails: memberMails,
		Sender: sender, Renderer: a.renderer, Observer: m, Logger: a.Logger}), MaxTimeout: cfg.DeliverJobTimeout()}
	// Template versions are reloaded by every process (refreshTemplates),
	// not here: the upkeep runs on one process only.
	// The evidence retention purges incidents past their retention and
	// finishes purges interrupted midway (issue 13).
	upkeep := queue.Maintainers{a.Store, queue.MaintainerFunc(a.Store.ExpireStaffSessions), queue.MaintainerFunc(a.Store.ForgetIdlePacing),
		queue.MaintainerFunc(a.Service.RunEvidenceRetention), queue.MaintainerFunc(a.Store.ForgetOldWebhookEvents)}
	bouncePoll, err := a.bouncePoller()
	if err != nil {
		return err
	}
	var pollEvery time.Duration
	if bouncePoll != nil {
		pollEvery = cfg.Bounces.IMAP.Interval
	}
	a.river, err = queue.NewClient(a.Pool, queue.Config{
		ID:                   process.ID,
		Workers:              cfg.Workers,
		RescueStuckJobsAfter: cfg.JobRescueAfter,
		PollOnly:             cfg.DatabasePollOnly,
		// A job times out well before River would rescue it as stuck.
		Deliver:    &queue.DeliverWorker{Engine: a.Engine, JobTimeout: cfg.DeliverJobTimeout()},
		Service:    a.Service,
		Maintainer: upkeep,
		PortalLink: portalLinks,
		// Webhooks are a channel of their own beside email (notifier/webhook
		// says why they do not go through the engine).
		Webhooks: webhook.NewDispatcher(webhook.DispatcherConfig{Store: a.Store, Keyring: a.webhookRing,
			Sender: webhook.NewSender(webhookPolicy(cfg), 0), Observer: m, Logger: a.Logger.With("component", "webhooks")}),
		// Bounces in by themselves (issue 16).
		BouncePoll:         bouncePoll,
		BouncePollInterval: pollEvery,
		Logger:             a.Logger.With("component", "river"),
	})
	if err != nil {
		return fmt.Errorf("river: %w", err)
	}
	return nil
}

// relay is the SMTP relay to use: the configured one, or the embedded
// capture mailbox, started here so its address is known.
func (a *App) relay(opts Options) (smtp.Config, error) {
	cfg := a.Config
	base := smtp.Config{Timeout: cfg.SMTPTimeout, MaxIdle: cfg.Workers}
	// Messages to the capture mailbox are signed too, so what the demo and
	// the tests show is what recipients get.
	if d := cfg.DKIM; d != nil {
		base.DKIM = &smtp.DKIM{Domain: d.Domain, Selector: d.Selector, Key: d.Key}
	}
	if d := cfg.DKIMEd25519; d != nil {
		base.DKIMEd25519 = &smtp.DKIM{Domain: d.Domain, Selector: d.Selector, Key: d.Key}
	}
	if cfg.SMIME != nil {
		base.SMIME = cfg.SMIME.Certificate
	}
	if cfg.SMTP != nil {
		base.Host, base.Port, base.Username, base.Password = cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.Username, cfg.SMTP.Password
		base.TLS, base.SkipVerify = cfg.SMTP.TLS, cfg.SMTP.SkipVerify
		base.Auth, base.InsecureAuth = cfg.SMTP.Auth, cfg.SMTP.InsecureAuth
		return base, nil
	}
	sink := opts.CaptureSink
	if sink == nil {
		sink = a.Store
	}
	srv, err := capture.Start(cfg.CaptureAddr, // The embedded mailbox keeps what it receives in the database, which
		// holds any address: it takes internationalized ones.
		capture.Options{Sink: sink, Script: opts.CaptureScript, SMTPUTF8: true})
	if err != nil {
		return base, err
	}
	a.Capture = srv
	host, port, _ := net.SplitHostPort(srv.Addr())
	base.Host, base.TLS = host, "none"
	fmt.Sscan(port, &base.Port)
	return base, nil
}

// Start listens on the configured HTTP address and starts the workers. It
// refuses an http public URL unless the configuration allows one for
// development (config.CheckPublicURL): from here on, links go out in
// notices and sessions start.
func (a *App) Start(ctx context.Context) error {
	if err := a.Config.CheckPublicURL(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on BREACHNOTIFY_HTTP_ADDR %s: %w", a.Config.HTTPAddr, err)
	}
	a.listener = ln
	if a.dashboard != nil {
		// The River UI's background services run before it serves.
		if err := a.dashboard.Start(ctx); err != nil {
			_ = ln.Close()
			return err
		}
	}
	if a.lease != nil {
		// The lease first: no claim is made without it. The writer runs
		// before any chunk can hand it an outcome.
		if err := a.lease.Start(ctx); err != nil {
			a.stopDashboard()
			_ = ln.Close()
			return err
		}
		go a.writer.Run()
		go a.lease.Run()
		a.delivering = true
	}
	if a.river != nil {
		// River treats a cancelled start context as a hard stop that
		// cancels running jobs. The caller's context is usually the
		// signal context, and a SIGTERM must be a graceful stop: Stop
		// lets in-flight chunks finish and cancels them only when its
		// own deadline passes.
		if err := a.river.Start(context.WithoutCancel(ctx)); err != nil {
			a.stopDashboard()
			_ = ln.Close()
			return fmt.Errorf("start workers: %w", err)
		}
	}
	a.served = make(chan error, 1)
	go func() { a.served <- a.httpServer.Serve(ln) }()
	a.refreshStop = make(chan struct{})
	go a.refreshTemplates(a.refreshStop)
	a.Logger.Info("serving", "http", "http://"+ln.Addr().String(), "workers", a.river != nil, "capture_mailbox", a.captureAddr())
	if Capturing(a.Config) {
		a.Logger.Warn(captureWarning, "capture_mailbox", a.captureAddr())
	}
	return nil
}

// templateRefresh is how soon every process uses a template version
// activated through another process.
const templateRefresh = time.Minute

// refreshTemplates reloads the current template versions every minute, so
// an activation reaches every process, not just the one that answered it.
func (a *App) refreshTemplates(stop <-chan struct{}) {
	t := time.NewTicker(templateRefresh)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := a.Service.RefreshTemplates(ctx); err != nil {
				a.Logger.Warn("template refresh failed", "error", err)
			}
			cancel()
		}
	}
}

func (a *App) captureAddr() string {
	if a.Capture == nil {
		return ""
	}
	return a.Capture.Addr()
}

// URL is the base URL of the running HTTP server.
func (a *App) URL() string { return "http://" + a.listener.Addr().String() }

// Done is closed with the HTTP server's error if it stops on its own.
func (a *App) Done() <-chan error { return a.served }

// Stop shuts down gracefully: the HTTP server stops taking requests, the
// workers finish the sends in flight (a chunk interrupted by the deadline
// records what it sent and is snoozed, so nothing is lost), then the
// mailbox and the pool close.
func (a *App) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() { a.stopErr = a.stop(ctx) })
	return a.stopErr
}

func (a *App) stop(ctx context.Context) error {
	var errs []error
	if a.refreshStop != nil {
		close(a.refreshStop)
	}
	// The HTTP side and the workers stop side by side, each with the whole
	// grace period: a slow request (a report download) must not use up the
	// time the sends in flight have to finish.
	var wg sync.WaitGroup
	var httpErr, riverErr error
	if a.listener != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.httpServer.Shutdown(ctx); err != nil {
				// Requests still running are cut off, so they let go of
				// their database connections before the pool closes.
				_ = a.httpServer.Close()
				httpErr = fmt.Errorf("http shutdown: %w", err)
			}
		}()
	}
	if a.river != nil && a.listener != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.river.Stop(ctx); err != nil {
				// Soft stop ran out of time: cancel the jobs still running;
				// each records its outcomes and snoozes itself.
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				if err := a.river.StopAndCancel(cctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
					riverErr = fmt.Errorf("stop workers: %w", err)
				}
			}
		}()
	}
	wg.Wait()
	if a.delivering {
		// The chunks have stopped: commit what they handed over, then
		// give up the lease (nothing of this process is left to take over).
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		a.writer.Close(wctx)
		if err := a.lease.Stop(wctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	if httpErr != nil {
		errs = append(errs, httpErr)
	}
	if riverErr != nil {
		errs = append(errs, riverErr)
	}
	a.stopDashboard()
	if a.sender != nil {
		a.sender.Close()
	}
	if a.Capture != nil {
		if err := a.Capture.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	a.closePools()
	return errors.Join(errs...)
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "breachnotify.invalid"
}
