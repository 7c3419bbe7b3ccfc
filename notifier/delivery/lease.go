package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// A sending process holds a lease in the database and renews it; its claims
// name it. When a process dies (SIGKILL, a lost machine), its lease lapses
// and any live process takes its claims over within seconds: it gives their
// pending deliveries new jobs and marks the dead process's jobs cancelled
// (River's stuck-job rescue, much later, then only finalises them). A
// process that cannot renew (the database unreachable, a long pause) stops
// sending before its lease can lapse, so what is taken over is never still
// being sent by its owner.

// Lease defaults.
const (
	// LeaseTTLDefault is how long a lease lasts unless renewed; it is
	// renewed every third of it, so two renewals can fail before a live
	// process stops sending.
	LeaseTTLDefault = 30 * time.Second
)

// margin is the safety gap on both sides of a lapse, a sixth of the TTL (5 s
// by default): the owner stops sending this long before its lease ends (by
// its own clock, counted from before the renewal was sent), and a lease is
// taken over only this long after it ended (by the database's clock).
func (l *Lease) margin() time.Duration { return l.cfg.TTL / 6 }

// Process identifies one sending process in the database.
type Process struct {
	// ID is unique per registration: host, pid and a random suffix.
	ID   string
	Host string
	PID  int
}

// NewProcess names this process.
func NewProcess() Process {
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown"
	}
	pid := os.Getpid()
	return Process{ID: fmt.Sprintf("%s-%d-%s", host, pid, randomSuffix()), Host: host, PID: pid}
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Takeover is what one live process took over from a dead one.
type Takeover struct {
	// Owner is the dead lease; Host and PID name its process (empty when
	// only orphaned claims of an already removed lease were found).
	Owner      string
	Host       string
	PID        int
	LeaseUntil time.Time
	// Jobs is how many running delivery jobs were replaced by new ones;
	// Deliveries how many pending deliveries they held.
	Jobs       int
	Deliveries int
	WaveIDs    []int64
}

// LeaseStore keeps leases and takes over dead processes' claims.
type LeaseStore interface {
	// RegisterProcess records p with a lease of ttl from now.
	RegisterProcess(ctx context.Context, p Process, ttl time.Duration) error
	// RenewLease extends p's lease to ttl from now; false when the lease
	// is gone (taken over).
	RenewLease(ctx context.Context, id string, ttl time.Duration) (bool, error)
	// EndProcess removes p's lease (a graceful stop, its claims released).
	EndProcess(ctx context.Context, id string) error
	// TakeOver takes over the claims of every lease that lapsed more than
	// margin ago, and of claims whose lease is gone: it removes them,
	// cancels their running jobs, and gives their pending deliveries new
	// jobs, noting it on their waves, all in one transaction. by names the
	// taker (for the waves' notes).
	TakeOver(ctx context.Context, by string, margin time.Duration) ([]Takeover, error)
}

// LeaseConfig configures a Lease.
type LeaseConfig struct {
	// Store keeps the leases (required).
	Store LeaseStore
	// TTL is the lease's length (LeaseTTLDefault when zero).
	TTL time.Duration
	// OnTakeover is told about every takeover (metrics); may be nil.
	OnTakeover func(Takeover)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger logs renewals that failed and takeovers; nil logs nothing.
	Logger *slog.Logger
}

// Lease is this process's lease: it registers, renews, and takes over dead
// processes. Safe for concurrent use.
type Lease struct {
	cfg  LeaseConfig
	base Process

	mu    sync.Mutex
	id    string
	gen   int
	valid time.Time // by the local clock: stop sending at valid - margin

	stop chan struct{}
	done chan struct{}
}

// NewLease builds the lease of process p; Start registers it.
func NewLease(p Process, cfg LeaseConfig) *Lease {
	if cfg.TTL <= 0 {
		cfg.TTL = LeaseTTLDefault
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Lease{cfg: cfg, base: p, id: p.ID, stop: make(chan struct{}), done: make(chan struct{})}
}

// Start registers the lease; the process must not claim before.
func (l *Lease) Start(ctx context.Context) error {
	l.mu.Lock()
	p := l.base
	p.ID = l.id
	l.mu.Unlock()
	t0 := l.cfg.Now()
	if err := l.cfg.Store.RegisterProcess(ctx, p, l.cfg.TTL); err != nil {
		return fmt.Errorf("register delivery process %s: %w", p.ID, err)
	}
	l.mu.Lock()
	l.valid = t0.Add(l.cfg.TTL)
	l.mu.Unlock()
	return nil
}

// Owner is the lease's current id, which claims carry.
func (l *Lease) Owner() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id
}

// Holds reports whether a claim made by owner may still be worked: owner
// is the current lease, and it is safely within its term.
func (l *Lease) Holds(owner string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return owner == l.id && l.cfg.Now().Before(l.valid.Add(-l.margin()))
}

// Interval is how often Run renews and looks for dead processes.
func (l *Lease) Interval() time.Duration { return l.cfg.TTL / 3 }

// Run renews the lease and takes over dead processes every Interval until
// Stop. It returns when stopped.
func (l *Lease) Run() {
	defer close(l.done)
	t := time.NewTicker(l.Interval())
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.Tick(context.Background())
		}
	}
}

// Tick renews once and takes over once (Run's step; tests call it).
func (l *Lease) Tick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, l.Interval())
	defer cancel()
	l.renew(ctx)
	l.sweep(ctx)
}

func (l *Lease) renew(ctx context.Context) {
	id := l.Owner()
	t0 := l.cfg.Now()
	ok, err := l.cfg.Store.RenewLease(ctx, id, l.cfg.TTL)
	if err != nil {
		l.cfg.Logger.WarnContext(ctx, "delivery lease not renewed; sending stops if it cannot be renewed before it ends",
			"process", id, "error", err, "valid_until", l.validUntil())
		return
	}
	if ok {
		l.mu.Lock()
		l.valid = t0.Add(l.cfg.TTL)
		l.mu.Unlock()
		return
	}
	// Another process found the lease lapsed and took its claims over:
	// work under a new id from now on; chunks claimed under the old one
	// stop (Holds).
	l.mu.Lock()
	l.gen++
	l.id = fmt.Sprintf("%s.%d", l.base.ID, l.gen)
	l.mu.Unlock()
	l.cfg.Logger.WarnContext(ctx, "delivery lease was taken over by another process; continuing under a new id", "old", id, "new", l.Owner())
	if err := l.Start(ctx); err != nil {
		l.cfg.Logger.WarnContext(ctx, "delivery lease not registered", "error", err)
	}
}

func (l *Lease) validUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.valid
}

// sweep takes over the claims of dead processes, logging each takeover.
func (l *Lease) sweep(ctx context.Context) {
	taken, err := l.cfg.Store.TakeOver(ctx, l.Owner(), l.margin())
	if err != nil {
		l.cfg.Logger.WarnContext(ctx, "taking over dead delivery processes failed", "error", err)
		return
	}
	for _, t := range taken {
		l.cfg.Logger.WarnContext(ctx, "took over the deliveries of a dead process: its lease lapsed",
			"dead_process", t.Owner, "host", t.Host, "pid", t.PID, "lease_until", t.LeaseUntil,
			"jobs", t.Jobs, "deliveries", t.Deliveries, "wave_ids", t.WaveIDs, "by", l.Owner())
		if l.cfg.OnTakeover != nil {
			l.cfg.OnTakeover(t)
		}
	}
}

// Stop ends Run and removes the lease: a graceful stop has released its
// claims, and nothing is left to take over.
func (l *Lease) Stop(ctx context.Context) error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	return l.cfg.Store.EndProcess(ctx, l.Owner())
}
