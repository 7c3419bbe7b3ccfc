package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/templates"
)

// The delivery engine's component tests: the Engine with its Writer and
// Lease over fake ports (store, sender, lease store), River-style: setup
// returns the engine and a bundle of its fakes; no database, no sleeps.

type options struct {
	maxUnrecorded int
	lease         bool
	polite        delivery.Politeness
}

// bundle is what setup returns: the engine and its fakes.
type bundle struct {
	d        *delivery.Engine
	store    *fakeStore
	sender   *recordingSender
	observer *countingObserver
	writer   *delivery.Writer
	lease    *delivery.Lease
	leases   *fakeLeases
	clock    *fakeClock
}

// deliver works one chunk holding the store's whole claim as job jobID.
func (b *bundle) deliver(ctx context.Context, jobID int64) error {
	ids := make([]int64, len(b.store.claim))
	for i, d := range b.store.claim {
		ids[i] = d.ID
	}
	return b.d.Deliver(ctx, delivery.Chunk{WaveID: 3, DeliveryIDs: ids, JobID: jobID}, func(context.Context, pgx.Tx) error { return nil })
}

func setup(t *testing.T, set *templates.Set, o options) *bundle {
	t.Helper()
	if set == nil {
		set = defaultTemplates(t)
	}
	b := &bundle{store: &fakeStore{}, sender: &recordingSender{}, observer: &countingObserver{}, clock: &fakeClock{now: time.Now()}}
	b.sender.store = b.store
	b.writer = delivery.NewWriter(delivery.WriterConfig{Store: b.store, MaxUnrecorded: o.maxUnrecorded, Window: time.Millisecond})
	go b.writer.Run()
	t.Cleanup(func() { b.writer.Close(context.Background()) })
	cfg := delivery.EngineConfig{Store: b.store, Sender: b.sender, Observer: b.observer, Writer: b.writer, Politeness: o.polite,
		Renderer: notifier.NewRenderer(set, mail.Address{Name: "Security Notices", Address: "security-notice@notify.example"}, "https://notify.example"),
		Retry:    delivery.RetryPolicy{Min: time.Minute, Max: time.Hour, Lifetime: 96 * time.Hour}}
	if o.lease {
		b.leases = &fakeLeases{}
		b.lease = delivery.NewLease(delivery.Process{ID: "p1", Host: "h", PID: 1}, delivery.LeaseConfig{Store: b.leases, Now: b.clock.Now})
		if err := b.lease.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		cfg.Lease = b.lease
	}
	b.d = delivery.NewEngine(cfg)
	return b
}

// defaultTemplates compiles the shipped templates once for the tests that
// do not change them (compiling takes seconds under the race detector).
var defaultTemplates = func() func(t *testing.T) *templates.Set {
	var once sync.Once
	var set *templates.Set
	var err error
	return func(t *testing.T) *templates.Set {
		once.Do(func() { set, err = templates.Defaults() })
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
}()

// fakeStore is the engine's store, in memory: it hands out one
// claim and records what the writer commits. Hooks make commits wait or
// fail.
type fakeStore struct {
	mu       sync.Mutex
	claim    []notifier.OutgoingDelivery
	outcomes []delivery.Outcome
	batches  []delivery.OutcomeBatch
	held     string
	released bool
	// status is the wave's status commits report (running when empty).
	status notifier.WaveStatus
	// committed counts outcomes whose commit returned.
	committed atomic.Int64
	// beforeCommit, when set, runs before each commit and may fail it.
	beforeCommit func(batches []delivery.OutcomeBatch) error
	completed    int
}

func (s *fakeStore) ClaimDeliveries(context.Context, delivery.Chunk) (delivery.Claim, error) {
	return delivery.Claim{Deliveries: s.claim, WaveStatus: notifier.WaveRunning, Now: time.Now()}, nil
}

func (s *fakeStore) RecordOutcomes(_ context.Context, batches []delivery.OutcomeBatch) (map[int64]notifier.WaveStatus, error) {
	if s.beforeCommit != nil {
		if err := s.beforeCommit(batches); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	s.batches = append(s.batches, batches...)
	for _, b := range batches {
		s.outcomes = append(s.outcomes, b.Outcomes...)
		n += len(b.Outcomes)
		if b.Complete != nil {
			s.completed++
		}
	}
	s.committed.Add(int64(n))
	status := notifier.WaveRunning
	if s.held != "" {
		status = notifier.WavePaused
	} else if s.status != "" {
		status = s.status
	}
	return map[int64]notifier.WaveStatus{3: status}, nil
}

func (s *fakeStore) ReleaseClaim(context.Context, delivery.Chunk, []int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released = true
	return nil
}

func (s *fakeStore) HoldWave(_ context.Context, _ int64, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = reason
	return nil
}

// recordingSender accepts every message and keeps it. It checks the
// duplicate bound at every send: messages sent whose outcome is not
// committed, this one included.
type recordingSender struct {
	mu    sync.Mutex
	sent  []*notifier.Message
	store *fakeStore
	// maxUnrecorded is the most sends seen without a committed outcome.
	maxUnrecorded int64
	// onSend runs after each send (outside the lock).
	onSend func(n int)
	// reply, when set, is the relay's answer to every message (250 ok
	// when nil).
	reply *delivery.SendResult
}

func (s *recordingSender) Conn(context.Context) (delivery.SenderConn, error) { return s, nil }
func (s *recordingSender) Release(bool)                                      {}
func (s *recordingSender) Send(ctx context.Context, m *notifier.Message) delivery.SendResult {
	// As a relay does: the gate once the envelope is accepted.
	if m.BeforeContent != nil {
		if err := m.BeforeContent(ctx); err != nil {
			return delivery.SendResult{Broken: true, NothingSent: true, Reply: err.Error()}
		}
	}
	s.mu.Lock()
	s.sent = append(s.sent, m)
	n := len(s.sent)
	if s.store != nil {
		s.maxUnrecorded = max(s.maxUnrecorded, int64(n)-s.store.committed.Load())
	}
	s.mu.Unlock()
	if s.onSend != nil {
		s.onSend(n)
	}
	if s.reply != nil {
		return *s.reply
	}
	return delivery.SendResult{Verdict: delivery.Accepted, Code: 250, Reply: "250 ok"}
}

func (s *recordingSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

type countingObserver struct {
	mu      sync.Mutex
	blocked []string
	snoozes []string
}

func (o *countingObserver) ObserveSend(delivery.SendResult)                 {}
func (o *countingObserver) ObserveOutcome(delivery.Outcome, templates.Kind) {}
func (o *countingObserver) ObserveSnooze(r string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.snoozes = append(o.snoozes, r)
}
func (o *countingObserver) ObserveBlocked(part string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.blocked = append(o.blocked, part)
}

// fakeLeases is the lease store in memory.
type fakeLeases struct {
	mu         sync.Mutex
	registered []string
	// gone makes the next renewal find the lease taken over.
	gone bool
}

func (f *fakeLeases) RegisterProcess(_ context.Context, p delivery.Process, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registered = append(f.registered, p.ID)
	return nil
}

func (f *fakeLeases) RenewLease(context.Context, string, time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ok := !f.gone
	f.gone = false
	return ok, nil
}

func (f *fakeLeases) EndProcess(context.Context, string) error { return nil }
func (f *fakeLeases) TakeOver(context.Context, string, time.Duration) ([]delivery.Takeover, error) {
	return nil, nil
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// transient is a database error worth retrying (a lost connection).
type transient struct{}

func (transient) Error() string   { return "connection reset by peer" }
func (transient) Transient() bool { return true }

// TestUnrecordedSendsStayWithinTheBound runs eight chunks at once against a
// store whose commits are slow: however many workers send, no more than
// MaxUnrecorded messages are ever out without their outcome committed, and
// every outcome is recorded once.
func TestUnrecordedSendsStayWithinTheBound(t *testing.T) {
	t.Parallel()
	const bound, chunks, perChunk = 5, 8, 40
	bb := setup(t, nil, options{maxUnrecorded: bound})
	// Each commit waits for the next tick of a goroutine that lets them
	// through one at a time, so outcomes pile up behind it.
	gate := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case gate <- struct{}{}:
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)
	bb.store.beforeCommit = func([]delivery.OutcomeBatch) error { <-gate; return nil }
	bb.store.claim = testDeliveries(templates.KindInitial, perChunk)
	var wg sync.WaitGroup
	errs := make(chan error, chunks)
	for j := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- bb.deliver(context.Background(), int64(j+1))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := bb.sender.count(); got != chunks*perChunk {
		t.Fatalf("%d sent, want %d", got, chunks*perChunk)
	}
	if len(bb.store.outcomes) != chunks*perChunk || bb.store.completed != chunks {
		t.Errorf("%d outcomes, %d jobs completed; want %d and %d", len(bb.store.outcomes), bb.store.completed, chunks*perChunk, chunks)
	}
	if bb.sender.maxUnrecorded > bound {
		t.Errorf("up to %d sends were out without a committed outcome, want at most %d", bb.sender.maxUnrecorded, bound)
	}
	t.Logf("%d sends by %d chunks; at most %d unrecorded at once (bound %d)", chunks*perChunk, chunks, bb.sender.maxUnrecorded, bound)
}

// TestLostConnectionCostsNoDuplicate fails the first commits as a lost
// database connection does: the writer keeps the outcomes and retries, the
// chunk completes, nothing is sent twice.
func TestLostConnectionCostsNoDuplicate(t *testing.T) {
	t.Parallel()
	bb := setup(t, nil, options{})
	var failures atomic.Int32
	bb.store.beforeCommit = func([]delivery.OutcomeBatch) error {
		if failures.Add(1) <= 3 {
			return fmt.Errorf("record outcomes: %w", transient{})
		}
		return nil
	}
	bb.store.claim = testDeliveries(templates.KindInitial, 20)
	if err := bb.deliver(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if bb.sender.count() != 20 || len(bb.store.outcomes) != 20 || bb.store.completed != 1 {
		t.Errorf("%d sent, %d outcomes, %d completed; want 20, 20, 1", bb.sender.count(), len(bb.store.outcomes), bb.store.completed)
	}
}

// TestRefusedCommitFailsTheJob: a commit the database refuses for good
// fails the chunk's job (it is retried; the bound caps what it re-sends),
// and does not complete it.
func TestRefusedCommitFailsTheJob(t *testing.T) {
	t.Parallel()
	bb := setup(t, nil, options{})
	refused := errors.New("ERROR: value too long (SQLSTATE 22001)")
	bb.store.beforeCommit = func([]delivery.OutcomeBatch) error { return refused }
	bb.store.claim = testDeliveries(templates.KindInitial, 5)
	err := bb.deliver(context.Background(), 1)
	if !errors.Is(err, refused) {
		t.Fatalf("Deliver = %v, want the refusal", err)
	}
	if bb.store.completed != 0 {
		t.Errorf("the job was completed")
	}
}

// TestPauseReachesTheChunkThroughCommits: once a commit reports the wave
// paused, the chunk stops sending, waits for its outcomes, releases its
// claim and snoozes.
func TestPauseReachesTheChunkThroughCommits(t *testing.T) {
	t.Parallel()
	bb := setup(t, nil, options{})
	bb.store.claim = testDeliveries(templates.KindInitial, 30)
	// The fifth send pauses the wave and waits until a commit has seen it
	// (the first four outcomes' commit reports it).
	bb.sender.onSend = func(n int) {
		if n == 5 {
			bb.store.mu.Lock()
			bb.store.status = notifier.WavePaused
			bb.store.mu.Unlock()
			for bb.store.committed.Load() < 4 {
				runtime.Gosched()
			}
		}
	}
	err := bb.deliver(context.Background(), 1)
	var snooze *notifier.SnoozeError
	if !errors.As(err, &snooze) || snooze.Reason != "wave_paused" {
		t.Fatalf("Deliver = %v, want a wave_paused snooze", err)
	}
	sent := bb.sender.count()
	if sent >= 30 || !bb.store.released || len(bb.store.outcomes) != sent {
		t.Errorf("%d sent, %d outcomes, claim released %v: want the chunk stopped with every send recorded", sent, len(bb.store.outcomes), bb.store.released)
	}
	t.Logf("the chunk stopped after %d of 30 sends", sent)
}

// TestChunkStopsWhenTheLeaseLapses: a process that cannot renew its lease
// stops sending before the lease can be taken over; what it sent is
// recorded and its claim released.
func TestChunkStopsWhenTheLeaseLapses(t *testing.T) {
	t.Parallel()
	bb := setup(t, nil, options{lease: true})
	bb.store.claim = testDeliveries(templates.KindInitial, 10)
	bb.sender.onSend = func(n int) {
		if n == 3 {
			bb.clock.Add(delivery.LeaseTTLDefault) // no renewal came
		}
	}
	err := bb.deliver(context.Background(), 1)
	var snooze *notifier.SnoozeError
	if !errors.As(err, &snooze) || snooze.Reason != "lease_lapsed" {
		t.Fatalf("Deliver = %v, want a lease_lapsed snooze", err)
	}
	if bb.sender.count() != 3 || len(bb.store.outcomes) != 3 || !bb.store.released {
		t.Errorf("%d sent, %d outcomes, released %v; want 3, 3, true", bb.sender.count(), len(bb.store.outcomes), bb.store.released)
	}
	// Renewed, it works again.
	bb.lease.Tick(context.Background())
	bb.sender.onSend = nil
	if err := bb.deliver(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseTakenOverContinuesUnderANewID: when another process took the
// lease over (the renewal finds it gone), chunks claimed under it stop
// and the process registers again under a new id.
func TestLeaseTakenOverContinuesUnderANewID(t *testing.T) {
	t.Parallel()
	bb := setup(t, nil, options{lease: true})
	old := bb.lease.Owner()
	if !bb.lease.Holds(old) {
		t.Fatal("a fresh lease does not hold")
	}
	bb.leases.gone = true
	bb.lease.Tick(context.Background())
	if bb.lease.Holds(old) {
		t.Error("a chunk claimed under the taken-over lease may still send")
	}
	if now := bb.lease.Owner(); now == old || !bb.lease.Holds(now) || len(bb.leases.registered) != 2 {
		t.Errorf("owner %q (was %q), registered %v: want a new, held registration", now, old, bb.leases.registered)
	}
}

// TestTemporaryFailurePlansItsRetry: the engine decides what becomes of a
// delivery the relay defers: deferred, with its own retry job in the same
// batch, at a time within the retry policy; or failed, with no job, once
// its lifetime is over. The store only writes what it is told.
func TestTemporaryFailurePlansItsRetry(t *testing.T) {
	t.Parallel()
	greylisted := delivery.SendResult{Code: 451, Detail: "4.7.1", Reply: "451 4.7.1 greylisted"}
	for _, tc := range []struct {
		name     string
		attempts int
		age      time.Duration
		want     notifier.DeliveryStatus
	}{
		{"first attempt", 0, 0, notifier.DeliveryDeferred},
		{"within its lifetime", 3, 24 * time.Hour, notifier.DeliveryDeferred},
		{"lifetime over", 9, 100 * time.Hour, notifier.DeliveryFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, options{})
			b.sender.reply = &greylisted
			b.store.claim = testDeliveries(templates.KindInitial, 1)
			b.store.claim[0].Attempts = tc.attempts
			b.store.claim[0].LifetimeStart = time.Now().Add(-tc.age)
			start := time.Now()
			if err := b.deliver(context.Background(), 1); err != nil {
				t.Fatal(err)
			}
			var out delivery.Outcome
			var retries []delivery.ScheduledChunk
			for _, batch := range b.store.batches {
				if len(batch.Outcomes) > 0 {
					out, retries = batch.Outcomes[0], batch.Retries
				}
			}
			if out.Status != tc.want || !out.Attempted {
				t.Fatalf("outcome %+v, want %s after an attempt", out, tc.want)
			}
			if tc.want == notifier.DeliveryFailed {
				if len(retries) != 0 || !out.RetryAt.IsZero() {
					t.Errorf("a delivery given up has retry jobs %+v (retry at %v)", retries, out.RetryAt)
				}
				return
			}
			// Between the policy's Min (a minute) and Max (an hour) away.
			if out.RetryAt.Before(start.Add(time.Minute)) || out.RetryAt.After(time.Now().Add(time.Hour)) {
				t.Errorf("retry at %v, want between a minute and an hour after %v", out.RetryAt, start)
			}
			want := delivery.ScheduledChunk{Chunk: delivery.Chunk{WaveID: 3, DeliveryIDs: []int64{out.DeliveryID}, Retry: true}, RunAt: out.RetryAt}
			if len(retries) != 1 || !reflect.DeepEqual(retries[0], want) {
				t.Errorf("retry jobs %+v, want %+v", retries, want)
			}
		})
	}
}
