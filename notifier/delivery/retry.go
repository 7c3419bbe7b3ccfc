package delivery

import (
	"math/rand/v2"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// Retry planning is the engine's: it decides when a deferred delivery is
// tried again, and when it is given up, and hands the store the retry jobs
// to write with the outcomes (OutcomeBatch.Retries). The store only writes
// what it is told.

// RetryPolicy schedules the attempts of a deferred delivery: exponential
// backoff with jitter between Min and Max, given up Lifetime after the first
// attempt (RFC 5321 §4.5.4.1: retry for at least 4-5 days, 30 minutes or more
// apart once the first tries have failed).
type RetryPolicy struct {
	Min      time.Duration
	Max      time.Duration
	Lifetime time.Duration
}

// Next returns when to try a delivery again after its attempts-th attempt
// failed temporarily, or false when its lifetime is over and it should fail.
// now and firstAttempt come from the database's clock.
func (p RetryPolicy) Next(attempts int, firstAttempt, now time.Time) (time.Time, bool) {
	deadline := firstAttempt.Add(p.Lifetime)
	if !now.Before(deadline) {
		return time.Time{}, false
	}
	delay := p.Min
	for i := 1; i < attempts && delay < p.Max; i++ {
		delay *= 2
	}
	// Jitter of ±25 % keeps retries of one outage from arriving together.
	delay = time.Duration(float64(delay) * (0.75 + 0.5*rand.Float64()))
	delay = max(p.Min, min(p.Max, delay))
	at := now.Add(delay)
	if at.After(deadline) {
		// One last try at the deadline itself rather than none at all.
		at = deadline
	}
	return at, true
}

// expired reports whether a delivery never attempted has outlived its
// lifetime (held back all along) and is given up without an attempt. One
// already attempted gets the last try its retry job was scheduled for,
// even if that job runs late.
func (p RetryPolicy) expired(del notifier.OutgoingDelivery, now time.Time) bool {
	return del.Attempts == 0 && !now.Before(del.LifetimeStart.Add(p.Lifetime))
}

// deferOrFail settles an attempt that failed temporarily at now: the
// delivery is deferred to its next attempt (out.RetryAt), or failed when
// its lifetime is over.
func (p RetryPolicy) deferOrFail(del notifier.OutgoingDelivery, out *Outcome, now time.Time) {
	start := del.LifetimeStart
	if del.Attempts == 0 {
		start = now // the first attempt starts the lifetime
	}
	if at, ok := p.Next(del.Attempts+1, start, now); ok {
		out.Status, out.RetryAt = notifier.DeliveryDeferred, at
		return
	}
	out.Status = notifier.DeliveryFailed
	out.Reply = "gave up after the retry lifetime; last reply: " + out.Reply
}

// retryJobs are the jobs an outcome needs written with it: for a delivery
// deferred after an attempt, the retry job that works it alone at its
// RetryAt. From then on that job owns the delivery, whatever becomes of
// the chunk that deferred it.
func retryJobs(o Outcome) []ScheduledChunk {
	if o.Status != notifier.DeliveryDeferred || !o.Attempted {
		return nil
	}
	return []ScheduledChunk{{Chunk: Chunk{WaveID: o.WaveID, DeliveryIDs: []int64{o.DeliveryID}, Retry: true}, RunAt: o.RetryAt}}
}
