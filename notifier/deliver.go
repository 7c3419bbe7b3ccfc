package notifier

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
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
	// ClaimDeliveries marks as sending the listed deliveries this job may
	// work and returns them with what rendering needs. A chunk job (retry
	// false) works queued and sending deliveries; a retry job also works
	// deferred ones. Final ones are never returned.
	ClaimDeliveries(ctx context.Context, ids []int64, retry bool) (Claim, error)
	// RecordOutcomes writes outcomes, events and retry jobs in one
	// transaction. When complete is set it also marks finished waves
	// completed and completes the job in that same transaction.
	RecordOutcomes(ctx context.Context, outcomes []Outcome, waveIDs []int64, complete JobCompleter) error
	// ReleaseDeliveries puts claimed but unsent deliveries back to queued.
	ReleaseDeliveries(ctx context.Context, ids []int64) error
}

// Claim is the result of ClaimDeliveries.
type Claim struct {
	Deliveries []OutgoingDelivery
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
	store     DeliveryStore
	sender    Sender
	templates *templates.Set
	retry     RetryPolicy
	from      mail.Address
	publicURL string
	observer  DeliveryObserver
	logger    *slog.Logger
}

// DelivererConfig configures a Deliverer.
type DelivererConfig struct {
	Store     DeliveryStore
	Sender    Sender
	Templates *templates.Set
	Retry     RetryPolicy
	From      mail.Address
	PublicURL string
	Observer  DeliveryObserver
	Logger    *slog.Logger
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
		store: cfg.Store, sender: cfg.Sender, templates: cfg.Templates, retry: cfg.Retry,
		from: cfg.From, publicURL: strings.TrimRight(cfg.PublicURL, "/"), observer: cfg.Observer, logger: cfg.Logger,
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
}

// ScheduledChunk is a delivery job to enqueue: a chunk and when to run it
// (the zero time means now).
type ScheduledChunk struct {
	Chunk
	RunAt time.Time
}

// Deliver works a chunk: renders each delivery, sends it on one reused
// connection, and records outcomes every FlushEvery sends, the last ones in
// the transaction that runs complete. A delivery already final is skipped,
// so a retried job never re-sends what it recorded.
func (d *Deliverer) Deliver(ctx context.Context, chunk Chunk, complete JobCompleter) error {
	claim, err := d.store.ClaimDeliveries(ctx, chunk.DeliveryIDs, chunk.Retry)
	if err != nil {
		return fmt.Errorf("claim deliveries of wave %d: %w", chunk.WaveID, err)
	}
	waveIDs := []int64{chunk.WaveID}
	run := chunkRun{d: d, now: claim.Now}
	defer run.releaseConn()

	for i, del := range claim.Deliveries {
		if err := ctx.Err(); err != nil {
			return d.stop(ctx, run.pending, claim.Deliveries[i:], 0, "interrupted: "+err.Error())
		}
		out, unreachable := run.deliverOne(ctx, del)
		if unreachable != nil {
			d.logger.WarnContext(ctx, "relay unreachable; snoozing chunk", "wave_id", del.WaveID, "delivery_id", del.ID, "error", unreachable)
			return d.stop(ctx, run.pending, claim.Deliveries[i:], d.retry.Min, "relay unreachable: "+unreachable.Error())
		}
		run.pending = append(run.pending, out)
		d.observer.ObserveOutcome(out.Status)
		if len(run.pending) >= FlushEvery && i < len(claim.Deliveries)-1 {
			if err := d.store.RecordOutcomes(ctx, run.pending, nil, nil); err != nil {
				return fmt.Errorf("record outcomes: %w", err)
			}
			run.pending = run.pending[:0]
		}
	}
	if err := d.store.RecordOutcomes(ctx, run.pending, waveIDs, complete); err != nil {
		return fmt.Errorf("record final outcomes: %w", err)
	}
	return nil
}

// stop records what was done, releases what was not, and asks for a snooze.
func (d *Deliverer) stop(ctx context.Context, done []Outcome, undone []OutgoingDelivery, after time.Duration, reason string) error {
	// The job's context may be cancelled; the bookkeeping must still happen.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if len(done) > 0 {
		if err := d.store.RecordOutcomes(ctx, done, nil, nil); err != nil {
			return fmt.Errorf("record outcomes: %w", err)
		}
	}
	ids := make([]int64, len(undone))
	for i, u := range undone {
		ids[i] = u.ID
	}
	if err := d.store.ReleaseDeliveries(ctx, ids); err != nil {
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
	msg, version, err := d.render(del)
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

// render builds the message for one delivery.
func (d *Deliverer) render(del OutgoingDelivery) (*Message, string, error) {
	n := del.Notice
	t, err := d.templates.Lookup(n.Kind, del.ContactLocale)
	if err != nil {
		return nil, "", err
	}
	data := &templates.Data{
		Incident:     templates.Incident{Title: n.IncidentTitle, Summary: n.IncidentSummary, Slug: n.IncidentSlug},
		Organization: templates.Organization{Name: n.OrgName, Ref: n.OrgRef},
		Contact:      templates.Contact{Name: del.ContactName, Email: del.Recipient, Role: del.ContactRole},
		Notice: templates.Notice{
			Kind: string(n.Kind), Reference: del.Reference, ItemCount: n.ItemCount, Kinds: n.Kinds,
			SecretTypes: n.SecretTypes, Items: n.Items, MoreItems: max(0, n.ItemCount-len(n.Items)),
		},
		Sender: templates.Sender{Name: d.from.Name, Address: d.from.Address},
		Links:  templates.Links{Verify: d.publicURL + "/verify"},
	}
	if del.PortalAccess {
		data.Links.Portal = d.publicURL + "/portal"
	}
	out, err := t.Render(data)
	if err != nil {
		return nil, t.Version, err
	}
	return &Message{
		MessageID: del.MessageID,
		From:      d.from,
		To:        mail.Address{Name: del.ContactName, Address: del.Recipient},
		Subject:   out.Subject,
		Text:      out.Text,
		HTML:      out.HTML,
		Headers:   map[string]string{"X-Breachnotify-Reference": del.Reference},
	}, t.Version, nil
}
