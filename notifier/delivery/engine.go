package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

// Engine is the delivery engine: it works one chunk of deliveries over
// one connection of its channel (Sender), within the politeness limits, handing each outcome
// to the process's Writer (group commit) as soon as the relay answers.
// It keeps the package's guarantees (see the package comment).
type Engine struct {
	store    Store
	sender   Sender
	renderer *notifier.Renderer
	retry    RetryPolicy
	polite   Politeness
	writer   *Writer
	lease    *Lease
	// sendTimeout is the longest one transaction with the relay may take:
	// a send is not started when the job has less time left (timeToSend).
	sendTimeout time.Duration
	observer    Observer
	logger      *slog.Logger
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	// Store claims deliveries and pauses waves (required).
	Store Store
	// Sender is the channel messages leave by (required).
	Sender Sender
	// Renderer renders each delivery's message (required).
	Renderer *notifier.Renderer
	// Retry plans the attempts of deferred deliveries.
	Retry RetryPolicy
	// Politeness holds sends back; nil means no limits.
	Politeness Politeness
	// Writer commits outcomes (required; its Run must be running).
	Writer *Writer
	// Lease is the process's lease; nil means no leases (tests).
	Lease *Lease
	// SendTimeout is the sender's timeout for one transaction (for the
	// SMTP channel, config.Config.SMTPTimeout).
	SendTimeout time.Duration
	// Observer is told about sends, outcomes and snoozes; nil counts
	// nothing.
	Observer Observer
	// Logger logs outcomes and holds; nil logs nothing.
	Logger *slog.Logger
}

// NewEngine builds an Engine.
func NewEngine(cfg EngineConfig) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Politeness == nil {
		cfg.Politeness = unlimited{}
	}
	return &Engine{
		store: cfg.Store, sender: cfg.Sender, renderer: cfg.Renderer, retry: cfg.Retry, polite: cfg.Politeness,
		writer: cfg.Writer, lease: cfg.Lease, sendTimeout: cfg.SendTimeout, observer: cfg.Observer, logger: cfg.Logger,
	}
}

type nopObserver struct{}

func (nopObserver) ObserveSend(SendResult)                 {}
func (nopObserver) ObserveOutcome(Outcome, templates.Kind) {}
func (nopObserver) ObserveSnooze(string)                   {}
func (nopObserver) ObserveBlocked(string)                  {}

type unlimited struct{}

func (unlimited) Admit(context.Context, string) (func(), time.Duration, string, error) {
	return func() {}, 0, "", nil
}
func (unlimited) Throttled(string) time.Duration { return 0 }
func (unlimited) Delivered(string)               {}
func (unlimited) RelayWait() time.Duration       { return 0 }
func (unlimited) RelayFailed() time.Duration     { return time.Minute }
func (unlimited) RelayOK()                       {}

// maxInlineWait is the longest a chunk waits in place for a limit that
// reserved nothing (a domain's concurrency); longer waits hold the domain
// back, or the whole chunk for the global rate, freeing the worker. A send
// admitted with a reserved slot always waits for its slot: Politeness
// reserves only slots a few seconds ahead at most.
const maxInlineWait = 200 * time.Millisecond

// leaseRecheck is when a chunk stopped by a lapsed lease comes back: by
// then the lease is renewed, or its claim taken over.
const leaseRecheck = 10 * time.Second

// HoldGlobalRate is the hold reason of the global rate: it holds back
// every domain, so the chunk snoozes until a slot is near.
const HoldGlobalRate = "global_rate"

// pacingRetry is how long a chunk waits when the limits could not be
// consulted (their shared state is in the database).
const pacingRetry = 5 * time.Second

// owner is the lease claims are made under now ("" without leases).
func (d *Engine) owner() string {
	if d.lease == nil {
		return ""
	}
	return d.lease.Owner()
}

// holdsLease reports whether a claim made under owner may still be worked.
func (d *Engine) holdsLease(owner string) bool {
	return d.lease == nil || d.lease.Holds(owner)
}

// Deliver works a chunk: renders each delivery, sends it on one reused
// connection, and hands each outcome to the writer, whose commits it
// follows: when a commit finds the wave paused or cancelled, the chunk
// stops there (the rest goes back to the queue, or is cancelled) and the
// job is done; resuming a wave gives its unsent deliveries new jobs. A
// delivery already final is skipped, so a retried job never re-sends what
// was recorded. When a limit or the relay's circuit holds it back, or its
// lease is no longer safe, the chunk waits for its outcomes' commit,
// releases its claim and snoozes. Once every outcome it handed over is
// recorded, its job completes in one of the writer's commits, with the
// deliveries it requeues.
func (d *Engine) Deliver(ctx context.Context, chunk Chunk, complete notifier.JobCompleter) error {
	if wait := d.polite.RelayWait(); wait > 0 {
		d.observer.ObserveSnooze("relay_circuit_open")
		return &notifier.SnoozeError{After: wait, Reason: "relay circuit open"}
	}
	chunk.Owner = d.owner()
	if !d.holdsLease(chunk.Owner) {
		d.observer.ObserveSnooze("lease_lapsed")
		return &notifier.SnoozeError{After: jitter(leaseRecheck), Reason: "lease not renewed"}
	}
	claim, err := d.store.ClaimDeliveries(ctx, chunk)
	if err != nil {
		return fmt.Errorf("claim deliveries of wave %d: %w", chunk.WaveID, err)
	}
	run := chunkRun{d: d, chunk: chunk, dbNow: claim.Now, started: time.Now(), held: map[string]time.Duration{}, status: claim.WaveStatus}
	defer run.releaseConn()
	switch claim.WaveStatus {
	case notifier.WaveRunning:
	case notifier.WavePaused:
		d.observer.ObserveSnooze("wave_paused")
		return &notifier.SnoozeError{After: jitter(PauseRecheck), Reason: "wave paused"}
	default: // cancelled (the claim cancelled the chunk's deliveries) or finished
		return run.finish(OutcomeBatch{WaveID: chunk.WaveID, JobID: chunk.JobID, Complete: complete})
	}

	for i, del := range claim.Deliveries {
		if err := ctx.Err(); err != nil {
			return run.stop(ctx, &hold{reason: "interrupted"})
		}
		if !d.holdsLease(chunk.Owner) {
			d.logger.WarnContext(ctx, "delivery lease not renewed in time; chunk stops sending", "wave_id", chunk.WaveID, "job_id", chunk.JobID, "owner", chunk.Owner)
			return run.stop(ctx, &hold{wait: jitter(leaseRecheck), reason: "lease_lapsed"})
		}
		// The commits so far say whether the wave still runs.
		status, err := run.poll()
		if err != nil {
			return fmt.Errorf("record outcomes of wave %d: %w", chunk.WaveID, err)
		}
		if status != notifier.WaveRunning {
			return run.waveStopped(ctx, status, claim.Deliveries[i:], complete)
		}
		domain := notifier.RecipientDomain(del.Recipient)
		if _, ok := run.held[domain]; ok {
			run.heldBack = append(run.heldBack, del)
			continue
		}
		out, h := run.deliverOne(ctx, del, domain)
		switch {
		case h != nil && h.wholeChunk:
			level := slog.LevelWarn
			if h.reason == HoldGlobalRate {
				level = slog.LevelDebug // the normal course of a rate limit
			}
			d.logger.Log(ctx, level, "chunk held back; snoozing", "wave_id", del.WaveID, "notice_id", del.Notice.ID, "delivery_id", del.ID,
				"reason", h.reason, "wait", h.wait.String())
			return run.stop(ctx, h)
		case h != nil:
			// This domain waits; the chunk goes on with the others.
			d.observer.ObserveSnooze(h.reason)
			run.held[domain] = h.wait
			if h.outcome != nil {
				run.submit(*h.outcome)
				run.throttled = append(run.throttled, del.ID)
			} else {
				run.heldBack = append(run.heldBack, del)
			}
			continue
		}
		run.submit(out)
		d.observer.ObserveOutcome(out, del.Notice.Kind)
		logOutcome(ctx, d.logger, del, out)
		if run.blocked != nil {
			// The wave stops at once: nothing more is sent until someone
			// looks; the chunk comes back when the wave is resumed. The
			// blocked delivery's failure is committed first, so a paused
			// wave always shows why.
			if _, err := run.sync(); err != nil {
				return fmt.Errorf("record outcomes of wave %d: %w", chunk.WaveID, err)
			}
			if err := d.store.HoldWave(ctx, chunk.WaveID, run.blocked.Error()); err != nil {
				return fmt.Errorf("pause wave %d after a blocked message: %w", chunk.WaveID, err)
			}
			return run.stop(ctx, &hold{wait: jitter(PauseRecheck), reason: "wave_paused"})
		}
	}
	batch := OutcomeBatch{WaveID: chunk.WaveID, JobID: chunk.JobID, Complete: complete}
	if len(run.heldBack) > 0 || len(run.held) > 0 {
		// Deliveries of held-back domains (the throttled one included) go
		// to a new job for when their domains may be tried again.
		var wait time.Duration
		for _, w := range run.held {
			wait = max(wait, w)
		}
		ids := append(idsOfDeliveries(run.heldBack), run.throttled...)
		batch.Requeue = &ScheduledChunk{Chunk: Chunk{WaveID: chunk.WaveID, DeliveryIDs: ids, Retry: chunk.Retry}, RunAt: run.now().Add(wait)}
	}
	return run.finish(batch)
}

// PauseRecheck is how often a delivery job of a paused wave looks again.
const PauseRecheck = 5 * time.Second

// bookkeepingTimeout bounds releasing a claim after the job's context ended.
const bookkeepingTimeout = 30 * time.Second

func idsOfDeliveries(ds []notifier.OutgoingDelivery) []int64 {
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// jitter spreads d by ±20 % so that jobs held back together come back apart.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// hold is why a delivery is not sent now, without failing it.
type hold struct {
	wait   time.Duration
	reason string
	// wholeChunk stops the whole chunk (relay down, interrupted); otherwise
	// only the delivery's domain waits.
	wholeChunk bool
	// outcome records what happened to the delivery in hand, if anything.
	outcome *Outcome
}

// chunkRun is the state of one Deliver call: its connection, its outcomes
// not yet committed, and what it holds back.
type chunkRun struct {
	d       *Engine
	chunk   Chunk
	dbNow   time.Time
	started time.Time
	conn    SenderConn
	// tickets are the submitted outcomes not yet seen committed, oldest
	// first; status is the wave's status at the latest commit seen.
	tickets []*Ticket
	status  notifier.WaveStatus
	// slot is true while the run holds a writer slot for the send in
	// hand; slotErr is why none could be taken.
	slot    bool
	slotErr error
	// held maps domains held back by a limit to how long they wait;
	// heldBack are their deliveries not attempted in this run.
	held     map[string]time.Duration
	heldBack []notifier.OutgoingDelivery
	// throttled are the deliveries a throttling reply held back: their
	// outcomes are recorded, but they go to the requeued job with the
	// held-back ones.
	throttled []int64
	// sends counts the messages this run tried to send.
	sends int
	// blocked is set when the link firewall stopped the message in hand.
	blocked *notifier.BlockedError
}

// takeSlot is the message's BeforeContent: it takes one of the writer's
// slots, waiting while the process's unrecorded sends are at the bound.
func (r *chunkRun) takeSlot(ctx context.Context) error {
	if err := r.d.writer.Acquire(ctx); err != nil {
		r.slotErr = err
		return err
	}
	r.slot = true
	return nil
}

// submit hands an outcome to the writer, with the send's slot if it took
// one, and the retry job of a deferred delivery.
func (r *chunkRun) submit(out Outcome) {
	slots := 0
	if r.slot {
		slots, r.slot = 1, false
	}
	b := OutcomeBatch{WaveID: r.chunk.WaveID, Outcomes: []Outcome{out}, Retries: retryJobs(out)}
	r.tickets = append(r.tickets, r.d.writer.Submit(b, slots))
}

// poll takes in the commits done so far, without waiting, and returns the
// wave's status at the latest one.
func (r *chunkRun) poll() (notifier.WaveStatus, error) {
	n := 0
	for ; n < len(r.tickets); n++ {
		select {
		case <-r.tickets[n].Done():
		default:
			return r.seen(n)
		}
	}
	return r.seen(n)
}

// sync waits for every submitted outcome's commit.
func (r *chunkRun) sync() (notifier.WaveStatus, error) {
	for _, t := range r.tickets {
		<-t.Done()
	}
	return r.seen(len(r.tickets))
}

// seen consumes the first n (resolved) tickets.
func (r *chunkRun) seen(n int) (notifier.WaveStatus, error) {
	var err error
	for _, t := range r.tickets[:n] {
		status, terr := t.Wait()
		if terr != nil {
			err = cmp.Or(err, terr)
			continue
		}
		if status != "" {
			r.status = status
		}
	}
	r.tickets = append(r.tickets[:0], r.tickets[n:]...)
	return r.status, err
}

// finish waits for the chunk's outcomes, then commits its last batch (the
// requeued deliveries, the job's completion) and waits for that too: a
// job completes only once everything it sent is recorded.
func (r *chunkRun) finish(b OutcomeBatch) error {
	if _, err := r.sync(); err != nil {
		return fmt.Errorf("record outcomes of wave %d: %w", b.WaveID, err)
	}
	if _, err := r.d.writer.Submit(b, 0).Wait(); err != nil {
		return fmt.Errorf("record final outcomes of wave %d: %w", b.WaveID, err)
	}
	return nil
}

// waveStopped ends a chunk whose wave a commit found no longer running: a
// paused wave's chunk snoozes; otherwise the rest is given up (cancelled
// with the wave) and the job completes.
func (r *chunkRun) waveStopped(ctx context.Context, status notifier.WaveStatus, rest []notifier.OutgoingDelivery, complete notifier.JobCompleter) error {
	d, chunk := r.d, r.chunk
	if status == notifier.WavePaused {
		d.logger.InfoContext(ctx, "wave paused; chunk waits", "wave_id", chunk.WaveID, "unsent", len(rest))
		return r.stop(ctx, &hold{wait: jitter(PauseRecheck), reason: "wave_paused"})
	}
	d.logger.InfoContext(ctx, "wave no longer running; chunk stops", "wave_id", chunk.WaveID, "status", status, "unsent", len(rest))
	if _, err := r.sync(); err != nil {
		return fmt.Errorf("record outcomes of wave %d: %w", chunk.WaveID, err)
	}
	var undone []int64
	if status == notifier.WaveCancelled {
		undone = append(idsOfDeliveries(append(r.heldBack, rest...)), r.throttled...)
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if err := d.store.ReleaseClaim(bctx, chunk, undone); err != nil {
		return fmt.Errorf("release deliveries of wave %d: %w", chunk.WaveID, err)
	}
	return r.finish(OutcomeBatch{WaveID: chunk.WaveID, JobID: chunk.JobID, Complete: complete})
}

// stop waits for what was sent to be recorded, gives up the claim on the
// rest (the job will claim it again when it runs next) and asks for a
// snooze.
func (r *chunkRun) stop(ctx context.Context, h *hold) error {
	if _, err := r.sync(); err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	// The job's context may be cancelled; the claim must still be released.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if err := r.d.store.ReleaseClaim(ctx, r.chunk, nil); err != nil {
		return fmt.Errorf("release claim: %w", err)
	}
	r.d.observer.ObserveSnooze(h.reason)
	return &notifier.SnoozeError{After: h.wait, Reason: h.reason}
}

// now is the database's clock, advanced by the time the chunk has taken.
func (r *chunkRun) now() time.Time { return r.dbNow.Add(time.Since(r.started)) }

func (r *chunkRun) releaseConn() {
	if r.conn != nil {
		r.conn.Release(false)
		r.conn = nil
	}
}

// deliverOne renders and sends one delivery. A non-nil hold means the chunk
// must stop here (a limit, a throttling reply, the relay down); every other
// result is an outcome.
func (r *chunkRun) deliverOne(ctx context.Context, del notifier.OutgoingDelivery, domain string) (Outcome, *hold) {
	d := r.d
	now := r.now()
	if d.retry.expired(del, now) {
		return Outcome{DeliveryID: del.ID, WaveID: del.WaveID, Status: notifier.DeliveryFailed,
			Reply: fmt.Sprintf("gave up: not attempted within %s of launch (relay unreachable or throttled)", d.retry.Lifetime)}, nil
	}
	msg, version, err := d.renderer.Message(del)
	var be *notifier.BlockedError
	if errors.As(err, &be) {
		// The message links or loads what it may not: it is never sent,
		// and the wave stops until someone looks (see Deliver).
		d.logger.ErrorContext(ctx, "message blocked by the link firewall; the wave pauses", "wave_id", del.WaveID, "notice_id", del.Notice.ID,
			"delivery_id", del.ID, "template_version", version, "reason", be.Error())
		d.observer.ObserveBlocked(be.Violation.Part)
		r.blocked = be
		return Outcome{DeliveryID: del.ID, WaveID: del.WaveID, Status: notifier.DeliveryFailed, Reply: be.Error(), TemplateVersion: version, Event: EventBlocked}, nil
	}
	if err != nil {
		// A template that cannot render will not render on retry either.
		d.logger.ErrorContext(ctx, "render failed", "wave_id", del.WaveID, "notice_id", del.Notice.ID, "delivery_id", del.ID, "error", err)
		return Outcome{DeliveryID: del.ID, WaveID: del.WaveID, Status: notifier.DeliveryFailed, Reply: "render failed: " + err.Error(), TemplateVersion: version}, nil
	}
	done, h := r.admit(ctx, domain)
	if h != nil {
		return Outcome{}, h
	}
	// A slot of the writer before the message's content goes out (after
	// the relay's go-ahead, SMTP's 354): from then on the relay may take
	// it, and its outcome counts against the process's bound until it is
	// committed. Building it, and the envelope, hold no slot.
	msg.BeforeContent = r.takeSlot
	res, err := r.send(ctx, msg)
	done()
	if errors.Is(err, errNoTimeLeft) || (err != nil && ctx.Err() != nil) {
		// The job is about to run out of time, or the process is
		// stopping: the chunk snoozes and goes on with a new deadline.
		// That says nothing about the relay: the circuit stays as it is.
		return Outcome{}, &hold{reason: "interrupted", wholeChunk: true}
	}
	if err != nil {
		wait := d.polite.RelayFailed()
		if errors.Is(err, ErrRelayAuth) {
			// Reached, but refused the login: a setting to fix, which
			// waiting alone will not (the error says what to change).
			// The snooze reason stays relay_unreachable, so the relay
			// alert fires for it too.
			d.logger.ErrorContext(ctx, "relay authentication failed; circuit open", "wave_id", del.WaveID, "notice_id", del.Notice.ID, "delivery_id", del.ID,
				"error", err, "wait", wait.String())
		} else {
			d.logger.WarnContext(ctx, "relay unreachable; circuit open", "wave_id", del.WaveID, "notice_id", del.Notice.ID, "delivery_id", del.ID,
				"error", err, "wait", wait.String())
		}
		return Outcome{}, &hold{wait: wait, reason: "relay_unreachable", wholeChunk: true}
	}
	out := Outcome{
		DeliveryID: del.ID, WaveID: del.WaveID, Attempted: true, Code: res.Code, Detail: res.Detail,
		Reply: res.Reply, SHA256: res.SHA256, TemplateVersion: version,
	}
	switch res.Verdict {
	case Accepted:
		d.polite.Delivered(domain)
		out.Status = notifier.DeliverySent
	case Rejected:
		out.Status = notifier.DeliveryFailed
	case Throttled:
		// The domain asked us to slow down: no attempt is spent; the
		// delivery waits with the rest of the chunk.
		wait := d.polite.Throttled(domain)
		out.Attempted, out.Status, out.Event, out.SHA256 = false, notifier.DeliveryQueued, "throttled", nil
		if del.Attempts > 0 {
			out.Status = notifier.DeliveryDeferred
		}
		return Outcome{}, &hold{wait: wait, reason: "throttled", outcome: &out}
	default:
		d.retry.deferOrFail(del, &out, now)
	}
	return out, nil
}

// logOutcome logs one delivery's outcome: a sent message at debug level (a
// wave logs one line per contact), a deferral at info, a failure at warn.
// The reply text is left out: it may quote the recipient's address; the
// reply code and its detail say what happened, and the delivery's events
// (API, report) keep the whole reply. The keys keep their SMTP names
// (smtp_code, enhanced_code), which log queries use, while email is the
// only channel.
func logOutcome(ctx context.Context, logger *slog.Logger, del notifier.OutgoingDelivery, out Outcome) {
	level := slog.LevelDebug
	switch out.Status {
	case notifier.DeliveryDeferred:
		level = slog.LevelInfo
	case notifier.DeliveryFailed:
		level = slog.LevelWarn
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	attempts := del.Attempts
	if out.Attempted {
		attempts++
	}
	logger.Log(ctx, level, "delivery "+string(out.Status), "wave_id", del.WaveID, "notice_id", del.Notice.ID, "delivery_id", del.ID,
		"attempts", attempts, "smtp_code", out.Code, "enhanced_code", out.Detail)
}

// admit waits for the send's reserved slot, or briefly for a limit that
// reserved nothing, or returns the hold that holds the domain (or the
// chunk) back until a slot is near.
func (r *chunkRun) admit(ctx context.Context, domain string) (func(), *hold) {
	interrupted := &hold{reason: "interrupted", wholeChunk: true}
	for {
		done, wait, reason, err := r.d.polite.Admit(ctx, domain)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, interrupted
		case err != nil:
			r.d.logger.WarnContext(ctx, "send limits unavailable; chunk waits", "error", err, "wait", pacingRetry.String())
			return nil, &hold{wait: jitter(pacingRetry), reason: "pacing_unavailable", wholeChunk: true}
		case done != nil:
			if !sleep(ctx, wait) {
				done()
				return nil, interrupted
			}
			return done, nil
		case wait > maxInlineWait:
			return nil, &hold{wait: wait, reason: reason, wholeChunk: reason == HoldGlobalRate}
		}
		if !sleep(ctx, wait) {
			return nil, interrupted
		}
	}
}

// sleep waits d, or less when ctx is done first (then it reports false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// errNoTimeLeft is chunkRun.send's answer when the job has too little
// time left for another transaction.
var errNoTimeLeft = errors.New("too little time left in the job for a send")

// timeToSend reports whether the job has time for one more transaction
// (and a dial, without a connection). A transaction cut by the job's
// deadline might have been taken by the relay before its 250 was read,
// and would be sent again. Each run makes one send whatever the time, so a
// job timeout configured below the send timeout still makes progress.
func (r *chunkRun) timeToSend(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	if !ok || r.sends == 0 {
		return true
	}
	need := r.d.sendTimeout
	if r.conn == nil {
		need += r.d.sendTimeout
	}
	return time.Until(deadline) >= need
}

// send sends msg on the run's connection, dialling one when needed. When a
// reused connection turns out dead before the relay could have taken the
// message, it tries once more on a fresh one instead of deferring. An
// error means the relay could not be reached, or errNoTimeLeft.
func (r *chunkRun) send(ctx context.Context, msg *notifier.Message) (SendResult, error) {
	for try := 0; ; try++ {
		if !r.timeToSend(ctx) {
			return SendResult{}, errNoTimeLeft
		}
		r.sends++
		if r.conn == nil {
			conn, err := r.d.sender.Conn(ctx)
			if err != nil {
				return SendResult{}, err
			}
			r.d.polite.RelayOK()
			r.conn = conn
		}
		res := r.conn.Send(ctx, msg)
		if r.slotErr != nil {
			// No slot came before the job's context ended: the
			// connection was left in DATA and is closed, nothing sent.
			err := r.slotErr
			r.slotErr = nil
			r.conn.Release(true)
			r.conn = nil
			return SendResult{}, err
		}
		r.d.observer.ObserveSend(res)
		if res.Broken {
			r.conn.Release(true)
			r.conn = nil
		}
		if !res.NothingSent || try > 0 {
			return res, nil
		}
	}
}
