package delivery

import (
	"math/rand/v2"
	"time"
)

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
