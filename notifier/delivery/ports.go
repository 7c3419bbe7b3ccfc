package delivery

import (
	"context"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

// Store is the persistence the Engine needs: claims, and pausing a wave.
// Outcomes go through the Writer (OutcomeStore).
type Store interface {
	// ClaimDeliveries claims for the chunk's job the listed deliveries it
	// may work and returns them with what rendering needs. A chunk job works
	// queued deliveries never attempted; a retry job also works deferred
	// ones; a delivery in another job's claim is not returned. Nothing is
	// claimed unless the wave is running.
	//
	// The claim names chunk.Owner, the process's lease: when the lease
	// lapses, another process takes the claim over (LeaseStore.TakeOver).
	ClaimDeliveries(ctx context.Context, chunk Chunk) (Claim, error)
	// ReleaseClaim gives up the chunk's claim, and cancels the deliveries
	// listed in cancel (those of a cancelled wave) that are still pending
	// and in no other job's claim.
	ReleaseClaim(ctx context.Context, chunk Chunk, cancel []int64) error
	// HoldWave pauses a running wave on the service's own decision, with
	// the reason (shown with the wave, and audited). A wave already
	// paused, or no longer running, is left as it is.
	HoldWave(ctx context.Context, waveID int64, reason string) error
}

// Claim is the result of ClaimDeliveries.
type Claim struct {
	Deliveries []notifier.OutgoingDelivery
	// WaveStatus is the wave's status when the claim was made.
	WaveStatus notifier.WaveStatus
	// Now is the database's clock when the claim was made.
	Now time.Time
}

// Outcome is the result of working one delivery.
type Outcome struct {
	DeliveryID int64
	WaveID     int64
	Status     notifier.DeliveryStatus
	// Attempted is true when a transaction with the relay was made (it
	// counts as an attempt).
	Attempted bool
	// Code, Detail and Reply are the relay's reply (SendResult), or for a
	// delivery not sent, Reply says why.
	Code   int
	Detail string
	Reply  string
	SHA256 []byte
	// TemplateVersion is the version of the template rendered.
	TemplateVersion string
	// RetryAt is set for a delivery deferred after an attempt: when its
	// retry job runs (the store records it as the next attempt).
	RetryAt time.Time
	// Event names the timeline event when it is not the status (throttled).
	Event string
}

// Observer is told about every send, outcome and snooze (metrics).
type Observer interface {
	ObserveSend(r SendResult)
	// ObserveOutcome counts an outcome by status and the notice's kind
	// (initial, follow_up, reminder, escalation).
	ObserveOutcome(o Outcome, kind templates.Kind)
	// ObserveSnooze counts a job held back without spending an attempt.
	ObserveSnooze(reason string)
	// ObserveBlocked counts a message the link firewall stopped, by the
	// part that failed (subject, text, html).
	ObserveBlocked(part string)
}

// EventBlocked is the timeline event of a delivery whose message the link
// firewall stopped.
const EventBlocked = "blocked"

// Politeness decides when a message may go out (notifier/politeness).
type Politeness interface {
	// Admit admits one send to a recipient domain or holds it back. An
	// admitted send (done is set) has a slot reserved wait from now: it
	// waits that long, sends, and calls done when the transaction is
	// over. A held-back one has nothing reserved: wait is how long until
	// it may ask again, reason why (HoldGlobalRate holds back every
	// domain). err means the limits could not be consulted.
	Admit(ctx context.Context, domain string) (done func(), wait time.Duration, reason string, err error)
	// Throttled slows a domain down after a throttling reply and returns
	// how long it is paused.
	Throttled(domain string) time.Duration
	// Delivered tells that a domain accepted a message.
	Delivered(domain string)
	// RelayWait is how long to keep off the relay (circuit open); 0 to go.
	RelayWait() time.Duration
	// RelayFailed opens the circuit and returns how long it stays open.
	RelayFailed() time.Duration
	// RelayOK closes it.
	RelayOK()
}

// OutcomeBatch is what one chunk hands the Writer: outcomes, and at the
// chunk's end what completes its job. A group commit writes many.
type OutcomeBatch struct {
	WaveID int64
	// JobID is the job whose claim a completing batch releases.
	JobID    int64
	Outcomes []Outcome
	// Retries are the retry jobs of the batch's deferred deliveries, one
	// per delivery (planned by the engine, see retry.go): the store
	// enqueues them and takes their deliveries out of every claim.
	Retries []ScheduledChunk
	// Requeue gives deliveries held back by a limit back to the queue and
	// a new job that works them at RunAt.
	Requeue *ScheduledChunk
	// Complete, when set, also releases the job's claim and completes the
	// job in the same transaction, then settles the wave.
	Complete notifier.JobCompleter
}

// Chunk is the work of one delivery job: deliveries of one wave. A retry
// chunk carries a single deferred delivery.
type Chunk struct {
	WaveID      int64
	DeliveryIDs []int64
	Retry       bool
	// JobID is the queue job working the chunk; it owns what it claims.
	JobID int64
	// Owner is the lease of the process working the chunk (empty without
	// leases, in tests).
	Owner string
}

// ScheduledChunk is a delivery job to enqueue: a chunk and when to run it
// (the zero time means now).
type ScheduledChunk struct {
	Chunk
	RunAt time.Time
}
