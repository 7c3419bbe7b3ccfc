package apptest

// Helpers for fault tests: a service started from a given configuration and
// app options, a capture relay that can be taken down and brought back on
// the same address, `breachnotify serve` child processes that can be
// killed, and terminating a database's connections.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/capture"
)

// TestConfig is the configuration Start uses (fast retries and cooldowns,
// loopback addresses), on the database at dbURL.
func TestConfig(dbURL string) *config.Config {
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
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
	return cfg
}

// StartApp is Start for a test that needs its own app options (templates,
// say) or database: it builds and starts the service from cfg and opts.
// When opts leaves them nil, the logger writes warnings to the test log
// and the embedded mailbox keeps messages in Env.Mailbox, answering as
// Env.Replies says. The service stops when the test ends.
func StartApp(t testing.TB, cfg *config.Config, opts app.Options) *Env {
	t.Helper()
	e := &Env{Mailbox: &capture.Memory{}, Replies: &Replies{script: map[string][]capture.Fault{}}}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opts.CaptureSink == nil {
		opts.CaptureSink = e.Mailbox
	}
	if opts.CaptureScript == nil {
		opts.CaptureScript = e.Replies.answer
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, opts)
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

// Relay is a capture SMTP server on a fixed loopback address that a test
// can take down (Stop) and bring back (Start) on the same address, so that
// a service pointed at it sees the relay become unreachable, then return.
type Relay struct {
	t    testing.TB
	addr string
	opts capture.Options

	mu       sync.Mutex
	srv      *capture.Server
	accepted []int64
}

// StartRelay picks a free loopback port and starts a capture server on it
// with opts. It is stopped when the test ends.
func StartRelay(t testing.TB, opts capture.Options) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("relay: find a free port: %v", err)
	}
	r := &Relay{t: t, addr: ln.Addr().String(), opts: opts}
	if err := ln.Close(); err != nil {
		t.Fatalf("relay: %v", err)
	}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// URL is the relay as BREACHNOTIFY_SMTP_URL (no TLS), the same across
// restarts.
func (r *Relay) URL() string { return "smtp://" + r.addr + "?tls=none" }

// Start brings the relay up on its address; it does nothing when it is up.
// The port was free a moment ago, but the kernel may take a little while
// to let it be bound again: Start retries for a few seconds.
func (r *Relay) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		srv, err := capture.Start(r.addr, r.opts)
		if err == nil {
			r.srv = srv
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("relay: start again on %s: %v", r.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop takes the relay down: the listener and every open connection are
// closed. It does nothing when the relay is down.
func (r *Relay) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv == nil {
		return
	}
	if err := r.srv.Close(); err != nil {
		r.t.Errorf("relay: stop: %v", err)
	}
	r.accepted = append(r.accepted, r.srv.Accepted())
	r.srv = nil
}

// Accepted lists how many messages each incarnation of the relay accepted,
// in order, the running one last.
func (r *Relay) Accepted() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]int64(nil), r.accepted...)
	if r.srv != nil {
		out = append(out, r.srv.Accepted())
	}
	return out
}

// BuildBinary builds cmd/breachnotify into a temporary directory of the test
// and returns its path. It is built with the race detector when the test
// is, so that the packages compiled for the test come from the build cache
// (a build with nothing cached takes a minute or more).
func BuildBinary(t testing.TB) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(t.TempDir(), "breachnotify")
	args := []string{"build", "-o", bin}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	cmd := exec.Command("go", append(args, "./cmd/breachnotify")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/breachnotify: %v\n%s", err, out)
	}
	return bin
}

// Proc is a `breachnotify serve` child process that a test can kill and
// start again with the same environment.
type Proc struct {
	t    testing.TB
	name string
	bin  string
	args []string
	env  []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *procOutput
	done chan struct{}
	// URL is the HTTP server of the current incarnation.
	URL string
	// Starts counts the incarnations started.
	Starts int
}

// StartProc runs `bin serve` with the BREACHNOTIFY_* variables of the
// parent removed and env added (BREACHNOTIFY_LOG_FORMAT=json is required:
// the process is ready when it logs "serving"). The process may serve an
// http public URL (BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL=true) unless env
// says otherwise. The process is stopped
// with SIGTERM (then SIGKILL) when the test ends.
func StartProc(t testing.TB, name, bin string, env ...string) *Proc {
	t.Helper()
	return StartServe(t, name, bin, nil, env...)
}

// StartServe is StartProc with arguments for serve (--api, --workers).
func StartServe(t testing.TB, name, bin string, args []string, env ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, name: name, bin: bin, args: args}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BREACHNOTIFY_") {
			p.env = append(p.env, kv)
		}
	}
	p.env = append(p.env, "BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL=true") // a later entry in env wins
	p.env = append(p.env, env...)
	p.Start()
	t.Cleanup(p.stop)
	return p
}

// Start starts a new incarnation and waits until it serves.
func (p *Proc) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		p.t.Fatalf("%s: already running", p.name)
	}
	p.Starts++
	out := &procOutput{ready: make(chan string, 1)}
	cmd := exec.Command(p.bin, append([]string{"serve"}, p.args...)...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("%s: start: %v", p.name, err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	select {
	case p.URL = <-out.ready:
	case <-done:
		p.t.Fatalf("%s: exited before serving (%v):\n%s", p.name, waitErr, out.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		p.t.Fatalf("%s: not serving after 30s:\n%s", p.name, out.String())
	}
	p.cmd, p.out, p.done = cmd, out, done
}

// Kill sends SIGKILL to the running incarnation and waits for it to die:
// nothing it was doing is finished or recorded.
func (p *Proc) Kill() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		p.t.Fatalf("%s: not running", p.name)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("%s: kill: %v", p.name, err)
	}
	<-p.done
	p.cmd = nil
}

// PID is the process id of the running incarnation (0 when none runs), for
// reading its /proc entries (peak memory, say).
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Output is what every incarnation wrote so far (JSON log lines).
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out == nil {
		return ""
	}
	return p.out.String()
}

// stop asks the running incarnation to stop gracefully, and kills it if
// it has not within 15 s.
// Stop ends the running incarnation gracefully (SIGTERM), as a service
// manager would, and waits for it to exit.
func (p *Proc) Stop() { p.stop() }

func (p *Proc) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.t.Errorf("%s: still running 15s after SIGTERM; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
	if p.t.Failed() {
		p.t.Logf("%s output:\n%s", p.name, p.out.String())
	}
}

// procOutput keeps a process's output and reports the HTTP URL from its
// "serving" log line.
type procOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	ready   chan string
	served  bool
}

func (o *procOutput) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(b)
	o.partial = append(o.partial, b...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		line := o.partial[:i]
		o.partial = o.partial[i+1:]
		var rec struct {
			Msg  string `json:"msg"`
			HTTP string `json:"http"`
		}
		if !o.served && json.Unmarshal(line, &rec) == nil && rec.Msg == "serving" && rec.HTTP != "" {
			o.served = true
			o.ready <- rec.HTTP
		}
	}
	return len(b), nil
}

func (o *procOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// TerminateBackends ends every connection to the database at dbURL (but
// its own) with pg_terminate_backend, connecting as the test server's
// administrator, and returns how many it ended.
func TerminateBackends(t testing.TB, dbURL string) int {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testdb.ServerURL())
	if err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName).Scan(&n); err != nil {
		t.Fatalf("terminate backends of %s: %v", dbName, err)
	}
	return n
}
