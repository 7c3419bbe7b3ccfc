package notifier

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/templates"
)

// FlushEvery is the most sends whose outcomes are held in memory before they
// are written; a crash can repeat at most this many sends.
const FlushEvery = 10

// JobCompleter completes the queue job that carried a chunk, inside the
// transaction that records the chunk's last outcomes (river.JobCompleteTx),
// so a finished chunk is never worked again and an unfinished one always is.
// It is the one place the domain meets the store's transaction type.
type JobCompleter func(ctx context.Context, tx pgx.Tx) error

// DeliveryStore is the persistence the delivery engine needs.
type DeliveryStore interface {
	// ClaimDeliveries marks as sending, owned by the chunk's job, the listed
	// deliveries the job may work, and returns them with what rendering
	// needs. A chunk job works queued deliveries never attempted; a retry
	// job also works deferred ones; a delivery already sending belongs to the
	// job that claimed it. Nothing is claimed unless the wave is running.
	ClaimDeliveries(ctx context.Context, chunk Chunk) (Claim, error)
	// RecordOutcomes writes outcomes, events and retry jobs in one
	// transaction and returns the wave's status then. When complete is set
	// it also settles the wave (completed when nothing is pending) and
	// completes the job in that same transaction.
	RecordOutcomes(ctx context.Context, waveID int64, outcomes []Outcome, complete JobCompleter) (WaveStatus, error)
	// ReleaseDeliveries puts claimed but unsent deliveries back to what they
	// were, or cancels them with their wave.
	ReleaseDeliveries(ctx context.Context, ids []int64, cancelled bool) error
}

// Claim is the result of ClaimDeliveries.
type Claim struct {
	Deliveries []OutgoingDelivery
	// WaveStatus is the wave's status when the claim was made.
	WaveStatus WaveStatus
	// Now is the database's clock when the claim was made.
	Now time.Time
}

// OutgoingDelivery is a claimed delivery with what is needed to send it.
type OutgoingDelivery struct {
	ID            int64
	WaveID        int64
	Recipient     string
	ContactName   string
	ContactRole   string
	ContactLocale string
	PortalAccess  bool
	MessageID     string
	Reference     string
	Attempts      int
	// LifetimeStart is the first attempt, or the launch for a delivery never
	// attempted: the retry lifetime counts from it.
	LifetimeStart time.Time
	Notice        *NoticeContent
}

// NoticeContent is what all deliveries of one notice share; it is loaded and
// prepared once per notice per chunk.
type NoticeContent struct {
	ID              int64
	Kind            templates.Kind
	IncidentTitle   string
	IncidentSummary string
	IncidentSlug    string
	OrgName         string
	OrgRef          string
	ItemCount       int
	Kinds           []templates.KindCount
	SecretTypes     []string
	Items           []templates.Item
}

// Outcome is the result of working one delivery.
type Outcome struct {
	DeliveryID int64
	WaveID     int64
	Status     DeliveryStatus
	// Attempted is true when an SMTP transaction was made (it counts as an attempt).
	Attempted bool
	Code      int
	Enhanced  string
	Reply     string
	SHA256    []byte
	// TemplateVersion is the version of the template rendered.
	TemplateVersion string
	// RetryAt is set for a deferred delivery: when its retry job runs.
	RetryAt time.Time
}

// DeliveryObserver is told about every send and outcome (metrics).
type DeliveryObserver interface {
	ObserveSend(r SendResult)
	ObserveOutcome(status DeliveryStatus)
}

// SnoozeError asks the queue to run the job again after a while without
// counting an attempt: the relay is unreachable, or the process is stopping.
type SnoozeError struct {
	After  time.Duration
	Reason string
}

func (e *SnoozeError) Error() string { return "snooze " + e.After.String() + ": " + e.Reason }

// Deliverer is the delivery engine: it works one chunk of deliveries over
// one SMTP connection, recording outcomes in bulk.
type Deliverer struct {
	store    DeliveryStore
	sender   Sender
	renderer *Renderer
	retry    RetryPolicy
	observer DeliveryObserver
	logger   *slog.Logger
}

// DelivererConfig configures a Deliverer.
type DelivererConfig struct {
	Store    DeliveryStore
	Sender   Sender
	Renderer *Renderer
	Retry    RetryPolicy
	Observer DeliveryObserver
	Logger   *slog.Logger
}

// NewDeliverer builds a Deliverer.
func NewDeliverer(cfg DelivererConfig) *Deliverer {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	return &Deliverer{
		store: cfg.Store, sender: cfg.Sender, renderer: cfg.Renderer, retry: cfg.Retry,
		observer: cfg.Observer, logger: cfg.Logger,
	}
}

type nopObserver struct{}

func (nopObserver) ObserveSend(SendResult)        {}
func (nopObserver) ObserveOutcome(DeliveryStatus) {}

// Chunk is the work of one delivery job: deliveries of one wave. A retry
// chunk carries a single deferred delivery.
type Chunk struct {
	WaveID      int64
	DeliveryIDs []int64
	Retry       bool
	// JobID is the queue job working the chunk; it owns what it claims.
	JobID int64
}

// Deliver works a chunk: renders each delivery, sends it on one reused
// connection, and records outcomes every FlushEvery sends, the last ones in
// the transaction that runs complete. A delivery already final is skipped,
// so a retried job never re-sends what it recorded. When a flush finds the
// wave paused or cancelled, the chunk stops there: the rest goes back to
// the queue (or is cancelled) and the job is done; resuming a wave gives
// its unsent deliveries new jobs.
func (d *Deliverer) Deliver(ctx context.Context, chunk Chunk, complete JobCompleter) error {
	claim, err := d.store.ClaimDeliveries(ctx, chunk)
	if err != nil {
		return fmt.Errorf("claim deliveries of wave %d: %w", chunk.WaveID, err)
	}
	run := chunkRun{d: d, now: claim.Now}
	defer run.releaseConn()

	last := len(claim.Deliveries) - 1
	for i, del := range claim.Deliveries {
		if err := ctx.Err(); err != nil {
			return d.stop(ctx, chunk.WaveID, run.pending, claim.Deliveries[i:], 0, "interrupted: "+err.Error())
		}
		out, unreachable := run.deliverOne(ctx, del)
		if unreachable != nil {
			d.logger.WarnContext(ctx, "relay unreachable; snoozing chunk", "wave_id", del.WaveID, "delivery_id", del.ID, "error", unreachable)
			return d.stop(ctx, chunk.WaveID, run.pending, claim.Deliveries[i:], d.retry.Min, "relay unreachable: "+unreachable.Error())
		}
		run.pending = append(run.pending, out)
		d.observer.ObserveOutcome(out.Status)
		if len(run.pending) < FlushEvery || i == last {
			continue
		}
		status, err := d.store.RecordOutcomes(ctx, chunk.WaveID, run.pending, nil)
		if err != nil {
			return fmt.Errorf("record outcomes of wave %d: %w", chunk.WaveID, err)
		}
		run.pending = run.pending[:0]
		if status != WaveRunning {
			d.logger.InfoContext(ctx, "wave no longer running; chunk stops", "wave_id", chunk.WaveID, "status", status, "unsent", last-i)
			if err := d.store.ReleaseDeliveries(ctx, idsOf(claim.Deliveries[i+1:]), status == WaveCancelled); err != nil {
				return fmt.Errorf("release deliveries of wave %d: %w", chunk.WaveID, err)
			}
			break
		}
	}
	if _, err := d.store.RecordOutcomes(ctx, chunk.WaveID, run.pending, complete); err != nil {
		return fmt.Errorf("record final outcomes of wave %d: %w", chunk.WaveID, err)
	}
	return nil
}

// Idempotency identifies a request that must have one effect and one
// reply however often it is repeated (the Idempotency-Key header).
type Idempotency struct {
	Key string
	// Request names the request the key was first used for (method and path).
	Request string
}

// ScheduledChunk is a delivery job to enqueue: a chunk and when to run it
// (the zero time means now).
type ScheduledChunk struct {
	Chunk
	RunAt time.Time
}

func idsOf(ds []OutgoingDelivery) []int64 {
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// stop records what was done, releases what was not, and asks for a snooze.
func (d *Deliverer) stop(ctx context.Context, waveID int64, done []Outcome, undone []OutgoingDelivery, after time.Duration, reason string) error {
	// The job's context may be cancelled; the bookkeeping must still happen.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if len(done) > 0 {
		if _, err := d.store.RecordOutcomes(ctx, waveID, done, nil); err != nil {
			return fmt.Errorf("record outcomes: %w", err)
		}
	}
	if err := d.store.ReleaseDeliveries(ctx, idsOf(undone), false); err != nil {
		return fmt.Errorf("release deliveries: %w", err)
	}
	return &SnoozeError{After: after, Reason: reason}
}

// chunkRun is the state of one Deliver call: its connection and the
// outcomes not yet written.
type chunkRun struct {
	d       *Deliverer
	now     time.Time
	conn    SenderConn
	pending []Outcome
}

func (r *chunkRun) releaseConn() {
	if r.conn != nil {
		r.conn.Release(false)
		r.conn = nil
	}
}

// deliverOne renders and sends one delivery. It returns a non-nil error only
// when the relay cannot be reached at all; every other problem is an outcome.
func (r *chunkRun) deliverOne(ctx context.Context, del OutgoingDelivery) (Outcome, error) {
	d := r.d
	// A delivery never attempted within the lifetime (the relay was
	// unreachable all along) is given up here. One already attempted gets
	// the last try its retry job was scheduled for, even if that job runs
	// late; its outcome then decides.
	if del.Attempts == 0 && !r.now.Before(del.LifetimeStart.Add(d.retry.Lifetime)) {
		return Outcome{DeliveryID: del.ID, WaveID: del.WaveID, Status: DeliveryFailed,
			Reply: fmt.Sprintf("gave up: not attempted within %s of launch (relay unreachable)", d.retry.Lifetime)}, nil
	}
	msg, version, err := d.renderer.Message(del)
	if err != nil {
		// A template that cannot render will not render on retry either.
		d.logger.ErrorContext(ctx, "render failed", "wave_id", del.WaveID, "delivery_id", del.ID, "error", err)
		return Outcome{DeliveryID: del.ID, WaveID: del.WaveID, Status: DeliveryFailed, Reply: "render failed: " + err.Error(), TemplateVersion: version}, nil
	}
	res, err := r.send(ctx, msg)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{
		DeliveryID: del.ID, WaveID: del.WaveID, Attempted: true, Code: res.Code, Enhanced: res.Enhanced,
		Reply: res.Reply, SHA256: res.SHA256, TemplateVersion: version,
	}
	switch {
	case res.Accepted:
		out.Status = DeliverySent
	case res.Permanent:
		out.Status = DeliveryFailed
	default:
		start := del.LifetimeStart
		if del.Attempts == 0 {
			start = r.now // the first attempt starts the lifetime
		}
		if at, ok := d.retry.Next(del.Attempts+1, start, r.now); ok {
			out.Status, out.RetryAt = DeliveryDeferred, at
		} else {
			out.Status = DeliveryFailed
			out.Reply = "gave up after the retry lifetime; last reply: " + out.Reply
		}
	}
	return out, nil
}

// send sends msg on the run's connection, dialling one when needed. When a
// reused connection turns out dead before the relay could have taken the
// message, it tries once more on a fresh one instead of deferring.
func (r *chunkRun) send(ctx context.Context, msg *Message) (SendResult, error) {
	for try := 0; ; try++ {
		if r.conn == nil {
			conn, err := r.d.sender.Conn(ctx)
			if err != nil {
				return SendResult{}, err
			}
			r.conn = conn
		}
		res := r.conn.Send(ctx, msg)
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
