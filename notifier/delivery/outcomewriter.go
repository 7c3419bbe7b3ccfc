package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// The outcome writer is the delivery engine's group commit: every worker of
// a process hands it each outcome as soon as the relay has answered, and it
// writes whatever has gathered in one statement every CommitWindow (or at
// once when MaxGroup outcomes wait, or when a worker waits for a slot).
// Workers go on sending meanwhile; a chunk waits for its outcomes' commit
// only before its job completes.
//
// The duplicate bound comes from the slots: a worker takes one before each
// send and the writer gives it back when the outcome has committed, so at
// most MaxUnrecorded messages of the whole process can have left without
// their outcome being durable. A process killed at any instant (SIGKILL, a
// lost machine) re-sends at most that many when its deliveries are taken
// over. A lost database connection costs nothing: the writer retries the
// commit until the database answers, holding the outcomes meanwhile.

// Writer defaults.
const (
	// MaxUnrecordedDefault bounds the messages a process may have sent
	// without their outcome committed: what a crash can send twice.
	MaxUnrecordedDefault = 50
	// CommitWindowDefault is how long the writer gathers outcomes before
	// a commit.
	CommitWindowDefault = 2 * time.Millisecond
	// MaxGroupDefault commits at once when this many outcomes wait.
	MaxGroupDefault = 500
	// commitTimeout bounds one commit attempt.
	commitTimeout = 30 * time.Second
	// maxCommitBackoff caps the wait between retries of a failed commit.
	maxCommitBackoff = 2 * time.Second
)

// OutcomeStore writes outcomes; the Writer calls it with the batches of
// one group commit.
type OutcomeStore interface {
	// RecordOutcomes writes the batches in one transaction (their
	// outcomes, retry jobs, requeued chunks and job completions) and
	// returns the status of each of their waves then. An error with a
	// Transient() bool method returning true may succeed if retried as is.
	RecordOutcomes(ctx context.Context, batches []OutcomeBatch) (map[int64]notifier.WaveStatus, error)
}

// CommitObserver is told about every group commit (metrics).
type CommitObserver interface {
	ObserveCommit(outcomes int, took time.Duration)
}

// WriterConfig configures a Writer.
type WriterConfig struct {
	// Store writes each group commit (required).
	Store OutcomeStore
	// MaxUnrecorded bounds the sends without a committed outcome
	// (MaxUnrecordedDefault when zero).
	MaxUnrecorded int
	// Window is how long outcomes gather before a commit
	// (CommitWindowDefault when zero).
	Window time.Duration
	// MaxGroup commits at once when this many outcomes wait
	// (MaxGroupDefault when zero).
	MaxGroup int
	// Observer is told about every commit; may be nil.
	Observer CommitObserver
	// Logger logs failed and retried commits; nil logs nothing.
	Logger *slog.Logger
}

// Writer commits outcomes in groups. Run must be running for Submit's
// tickets to be resolved.
type Writer struct {
	cfg   WriterConfig
	slots chan struct{}

	mu                     sync.Mutex
	queue                  []pending
	queued                 int
	urgent                 bool
	wake                   chan struct{}
	closing                chan struct{}
	abandon                chan struct{}
	done                   chan struct{}
	closeOnce, abandonOnce sync.Once
}

type pending struct {
	batch  OutcomeBatch
	slots  int
	ticket *Ticket
}

// Ticket is the promise of one submitted batch's commit.
type Ticket struct {
	done   chan struct{}
	status notifier.WaveStatus
	err    error
}

// Done is closed when the batch has committed or failed.
func (t *Ticket) Done() <-chan struct{} { return t.done }

// Wait returns the batch's wave status after its commit, or why it failed.
func (t *Ticket) Wait() (notifier.WaveStatus, error) {
	<-t.done
	return t.status, t.err
}

// NewWriter builds a Writer.
func NewWriter(cfg WriterConfig) *Writer {
	if cfg.MaxUnrecorded <= 0 {
		cfg.MaxUnrecorded = MaxUnrecordedDefault
	}
	if cfg.Window <= 0 {
		cfg.Window = CommitWindowDefault
	}
	if cfg.MaxGroup <= 0 {
		cfg.MaxGroup = MaxGroupDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Writer{
		cfg: cfg, slots: make(chan struct{}, cfg.MaxUnrecorded),
		wake: make(chan struct{}, 1), closing: make(chan struct{}), abandon: make(chan struct{}), done: make(chan struct{}),
	}
}

// MaxUnrecorded is the writer's bound on sends without a durable outcome.
func (w *Writer) MaxUnrecorded() int { return w.cfg.MaxUnrecorded }

// Acquire takes one slot before a send; it waits while MaxUnrecorded sends
// await their commit (and asks for that commit now).
func (w *Writer) Acquire(ctx context.Context) error {
	select {
	case w.slots <- struct{}{}:
		return nil
	default:
	}
	w.mu.Lock()
	w.urgent = true
	w.mu.Unlock()
	w.signal()
	select {
	case w.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Submit queues a batch for the next commit; slots is how many slots its
// outcomes hold (given back when it has committed or failed).
func (w *Writer) Submit(b OutcomeBatch, slots int) *Ticket {
	t := &Ticket{done: make(chan struct{})}
	w.mu.Lock()
	w.queue = append(w.queue, pending{batch: b, slots: slots, ticket: t})
	w.queued += len(b.Outcomes)
	if b.Complete != nil || b.Requeue != nil {
		// A chunk waits for this one to finish its job: no point in
		// gathering more.
		w.urgent = true
	}
	w.mu.Unlock()
	w.signal()
	return t
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run commits until Close. Start it before any Deliver.
func (w *Writer) Run() {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
		case <-w.closing:
			w.commitAll()
			return
		}
		w.gather()
		w.commitAll()
	}
}

// gather waits up to the window for more outcomes, unless the group is
// already full or someone waits for it.
func (w *Writer) gather() {
	t := time.NewTimer(w.cfg.Window)
	defer t.Stop()
	for {
		w.mu.Lock()
		enough := w.urgent || w.queued >= w.cfg.MaxGroup
		w.mu.Unlock()
		if enough {
			return
		}
		select {
		case <-t.C:
			return
		case <-w.closing:
			return
		case <-w.wake:
		}
	}
}

// commitAll commits everything queued, MaxGroup outcomes at a time.
func (w *Writer) commitAll() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.urgent = false
			w.mu.Unlock()
			return
		}
		n, outcomes := 0, 0
		for n < len(w.queue) && (n == 0 || outcomes+len(w.queue[n].batch.Outcomes) <= w.cfg.MaxGroup) {
			outcomes += len(w.queue[n].batch.Outcomes)
			n++
		}
		group := make([]pending, n)
		copy(group, w.queue)
		w.queue = append(w.queue[:0], w.queue[n:]...)
		w.queued -= outcomes
		w.urgent = false
		w.mu.Unlock()
		w.commit(group, outcomes)
	}
}

// commit writes one group, retrying while the failure is transient; a group
// that fails otherwise is written batch by batch, so one bad batch fails
// alone.
func (w *Writer) commit(group []pending, outcomes int) {
	batches := make([]OutcomeBatch, len(group))
	for i, p := range group {
		batches[i] = p.batch
	}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		statuses, err := w.cfg.Store.RecordOutcomes(ctx, batches)
		cancel()
		if err == nil {
			if w.cfg.Observer != nil {
				w.cfg.Observer.ObserveCommit(outcomes, time.Since(start))
			}
			if attempt > 1 {
				w.cfg.Logger.Info("outcomes recorded after the database came back", "outcomes", outcomes, "attempts", attempt)
			}
			for _, p := range group {
				w.resolve(p, statuses[p.batch.WaveID], nil)
			}
			return
		}
		if isTransient(err) && !w.abandoned() {
			if attempt == 1 || attempt%10 == 0 {
				w.cfg.Logger.Warn("recording outcomes failed; retrying (the messages are sent, their outcomes are kept in memory)",
					"outcomes", outcomes, "attempt", attempt, "error", err)
			}
			select {
			case <-time.After(backoff):
			case <-w.abandon:
			}
			backoff = min(2*backoff, maxCommitBackoff)
			continue
		}
		if len(group) > 1 {
			for _, p := range group {
				w.commit([]pending{p}, len(p.batch.Outcomes))
			}
			return
		}
		w.cfg.Logger.Error("recording outcomes failed", "wave_id", group[0].batch.WaveID, "job_id", group[0].batch.JobID,
			"outcomes", outcomes, "error", err)
		w.resolve(group[0], "", err)
		return
	}
}

func (w *Writer) resolve(p pending, status notifier.WaveStatus, err error) {
	for range p.slots {
		<-w.slots
	}
	p.ticket.status, p.ticket.err = status, err
	close(p.ticket.done)
}

func (w *Writer) abandoned() bool {
	select {
	case <-w.abandon:
		return true
	default:
		return false
	}
}

// Close commits what is queued and stops Run. When ctx ends first, a
// commit still failing is given up (its chunks fail, their jobs retry).
func (w *Writer) Close(ctx context.Context) {
	w.closeOnce.Do(func() { close(w.closing) })
	select {
	case <-w.done:
	case <-ctx.Done():
		w.abandonOnce.Do(func() { close(w.abandon) })
		<-w.done
	}
}

// isTransient reports whether err says that trying again as is may work (a
// lost connection, a terminated backend, a serialisation conflict).
func isTransient(err error) bool {
	var t interface{ Transient() bool }
	return errors.As(err, &t) && t.Transient()
}
