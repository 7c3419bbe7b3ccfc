// Package apptest starts a whole breachnotify (HTTP API, River workers,
// SMTP over loopback) on a fresh PostgreSQL database for end-to-end tests,
// with an in-memory capture mailbox whose replies the test scripts.
package apptest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
	"github.com/breachnotify/breachnotify/templates"
)

// Env is a running service and what a test needs to drive and inspect it.
type Env struct {
	App *app.App
	// Client is authenticated with an admin key.
	Client *apiclient.Client
	Key    string
	// Mailbox records every message the capture server accepted.
	Mailbox *capture.Memory
	// Replies scripts the capture server's answers per recipient.
	Replies *Replies
}

// Options tune Start.
type Options struct {
	// Configure adjusts the configuration before the service is built.
	Configure func(*config.Config)
	// NoWorkers starts only the API.
	NoWorkers bool
	// Clock wraps the database clock (see app.Options.Clock).
	Clock func(notifier.Clock) notifier.Clock
	// Templates replaces the shipped templates (see app.Options.Templates).
	Templates *templates.Set
	// SNSFetch serves SNS signing certificates (see app.Options.SNSFetch).
	SNSFetch func(ctx context.Context, url string) ([]byte, error)
	// LogTo receives the service's log lines instead of the test log. A
	// fuzz target needs it: its *testing.F must not log from the fuzz
	// function.
	LogTo io.Writer
}

// Start builds and starts the service on a fresh database; it stops when
// the test ends.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = testdb.URL(t)
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.PublicURL = "http://notify.test"
	cfg.AllowInsecurePublicURL = true // tests talk plain http to a loopback port
	cfg.CaptureAddr = "127.0.0.1:0"
	cfg.Workers = 8
	cfg.RetryMinDelay = 50 * time.Millisecond
	cfg.RetryMaxDelay = 100 * time.Millisecond
	cfg.SMTPTimeout = 2 * time.Second
	cfg.ThrottleCooldown = 200 * time.Millisecond
	cfg.RelayCooldown = 200 * time.Millisecond
	if opts.Configure != nil {
		opts.Configure(cfg)
	}
	e := &Env{Mailbox: &capture.Memory{}, Replies: &Replies{script: map[string][]capture.Fault{}}}
	ctx := context.Background()
	var logTo io.Writer = testWriter{t}
	if opts.LogTo != nil {
		logTo = opts.LogTo
	}
	a, err := app.New(ctx, cfg, app.Options{
		Logger:        slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn})),
		CaptureSink:   e.Mailbox,
		CaptureScript: e.Replies.answer,
		NoWorkers:     opts.NoWorkers,
		Clock:         opts.Clock,
		Templates:     opts.Templates,
		SNSFetch:      opts.SNSFetch,
	})
	if err != nil {
		t.Fatalf("apptest: build: %v", err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatalf("apptest: start: %v", err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Stop(sctx); err != nil {
			t.Errorf("apptest: stop: %v", err)
		}
	})
	e.App = a
	key, _, err := a.Service.CreateAPIKey(ctx, notifier.LocalActor("apptest"), "apptest admin", notifier.RoleAdmin)
	if err != nil {
		t.Fatalf("apptest: api key: %v", err)
	}
	e.Key = key
	e.Client = apiclient.New(a.URL(), key)
	return e
}

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// LoadSample creates an incident with the sample organizations and first
// exposure batch, and returns its slug.
func (e *Env) LoadSample(t testing.TB, slug string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: slug, Title: "Mail breach", Summary: "Mailboxes were read."}); err != nil {
		t.Fatalf("create incident: %v", err)
	}
	if _, err := e.Client.ImportOrganizations(ctx, bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV); err != nil {
		t.Fatalf("import organizations: %v", err)
	}
	if _, err := e.Client.ImportExposures(ctx, slug, bytes.NewReader(sampledata.File(sampledata.ExposuresBatch1)), notifier.FormatCSV); err != nil {
		t.Fatalf("import exposures: %v", err)
	}
	return slug
}

// LaunchInitial plans and launches an initial wave and waits for it to
// complete.
func (e *Env) LaunchInitial(t testing.TB, slug string) notifier.Wave {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plan, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if _, err := e.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatalf("launch: %v", err)
	}
	w, err := e.Client.WaitWave(ctx, plan.ID, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("wave %d did not complete: %v (last state %+v)", plan.ID, err, w)
	}
	return w
}

// Replies scripts the capture server per recipient: each attempt to a
// recipient consumes the next scripted fault; when none is left the
// recipient is accepted.
type Replies struct {
	mu     sync.Mutex
	script map[string][]capture.Fault
	// always holds faults that never run out.
	always map[string]capture.Fault
	steps  map[string]capture.Step
}

// Next scripts the next answers at step for recipient, in order.
func (r *Replies) Next(recipient string, step capture.Step, faults ...capture.Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.steps == nil {
		r.steps = map[string]capture.Step{}
	}
	r.steps[recipient] = step
	r.script[recipient] = append(r.script[recipient], faults...)
}

// Always answers every attempt to recipient at step with f.
func (r *Replies) Always(recipient string, step capture.Step, f capture.Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.always == nil {
		r.always = map[string]capture.Fault{}
	}
	if r.steps == nil {
		r.steps = map[string]capture.Step{}
	}
	r.steps[recipient] = step
	r.always[recipient] = f
}

func (r *Replies) answer(step capture.Step, rcpt string) *capture.Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.steps[rcpt] != step {
		return nil
	}
	if f, ok := r.always[rcpt]; ok {
		return &f
	}
	list := r.script[rcpt]
	if len(list) == 0 {
		return nil
	}
	r.script[rcpt] = list[1:]
	return &list[0]
}

// Parsed is a received message split into what tests check.
type Parsed struct {
	Header mail.Header
	Text   string
	HTML   string
}

// Parse decodes a raw message with text and HTML alternatives.
func Parse(t testing.TB, raw []byte) Parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	p := Parsed{Header: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("message is not multipart: %q", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable transparently
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		body, _ := io.ReadAll(part)
		switch ct := part.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/plain"):
			p.Text = string(body)
		case strings.HasPrefix(ct, "text/html"):
			p.HTML = string(body)
		}
	}
	return p
}

// Owner connects to the service's database as the owner of its schema
// (the user `migrate` runs as), not as the role the service works as: for
// tests that do what only an owner can, such as tampering with the audit
// trail. The connection closes when the test ends.
func (e *Env) Owner(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.App.Config.DatabaseURL)
	if err != nil {
		t.Fatalf("apptest: connect as the owner: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}
