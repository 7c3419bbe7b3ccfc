// Package politeness decides when a message may go out: a global send rate,
// a rate and a concurrency limit per recipient domain that back off when a
// domain's servers ask us to slow down, and a circuit breaker that stops
// every worker from dialling a relay that is down. All of it is per
// process; the configured rates divide across processes (see README).
package politeness

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults for Config.
const (
	RateDefault              = 1000 // messages per second, per process
	DomainRateDefault        = 50   // messages per second per recipient domain
	DomainConcurrencyDefault = 10   // SMTP transactions at once per recipient domain
	ThrottleCooldownDefault  = 30 * time.Second
	BreakerCooldownDefault   = 5 * time.Second
	BreakerMaxCooldown       = 2 * time.Minute
	maxThrottleCooldown      = 10 * time.Minute
	// concurrencyWait is how long to come back after when a domain has
	// DomainConcurrency transactions in flight.
	concurrencyWait = 250 * time.Millisecond
	// idleForget is how long an unused domain's state is kept.
	idleForget = 15 * time.Minute
)

// Config sets the limits. Zero rates mean no limit.
type Config struct {
	// Rate caps messages per second for the whole process.
	Rate float64
	// DomainRate caps messages per second to one recipient domain.
	DomainRate float64
	// DomainConcurrency caps SMTP transactions in flight to one domain.
	DomainConcurrency int
	// ThrottleCooldown is how long a domain is paused after its first
	// throttling reply; it doubles with each further one.
	ThrottleCooldown time.Duration
	// BreakerCooldown is how long workers stop dialling after the relay
	// could not be reached; it doubles up to BreakerMaxCooldown.
	BreakerCooldown time.Duration
	// ProbeTimeout is the longest a probe may take to dial and report
	// (the SMTP timeout, twice: the dial, then the session's setup); a
	// probe's lease is at least this long, so a relay that lets dials
	// hang does not get a new probe every cooldown.
	ProbeTimeout time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Limiter implements notifier.Politeness (Admit's reasons are the snooze
// reasons in metrics: domain_throttled, domain_concurrency, domain_rate,
// global_rate). It is safe for concurrent use.
type Limiter struct {
	cfg     Config
	mu      sync.Mutex
	global  bucket
	domains map[string]*domain
	breaker breaker
	admits  int
}

// New returns a Limiter with cfg's limits.
func New(cfg Config) *Limiter {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ThrottleCooldown <= 0 {
		cfg.ThrottleCooldown = ThrottleCooldownDefault
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = BreakerCooldownDefault
	}
	now := cfg.Now()
	return &Limiter{cfg: cfg, global: newBucket(cfg.Rate, now), domains: map[string]*domain{}}
}

// bucket is a token bucket holding at most one second of tokens.
type bucket struct {
	rate   float64
	tokens float64
	at     time.Time
}

func newBucket(rate float64, now time.Time) bucket {
	return bucket{rate: rate, tokens: max(1, rate), at: now}
}

func (b *bucket) refill(now time.Time) {
	if b.rate <= 0 {
		return
	}
	b.tokens = min(max(1, b.rate), b.tokens+now.Sub(b.at).Seconds()*b.rate)
	b.at = now
}

// wait is how long until a token is there (0: now).
func (b *bucket) wait(now time.Time) time.Duration {
	if b.rate <= 0 {
		return 0
	}
	b.refill(now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

func (b *bucket) take() {
	if b.rate > 0 {
		b.tokens--
	}
}

// domain is the state of one recipient domain.
type domain struct {
	bucket
	inflight    int
	pausedUntil time.Time
	cooldown    time.Duration
	lastUsed    time.Time
}

// Admit reserves one send to a recipient domain now. When a limit holds it
// back, it reserves nothing and returns how long to wait; otherwise it
// returns done, to call when the SMTP transaction is over.
func (l *Limiter) Admit(domainName string) (done func(), wait time.Duration, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	d := l.domain(domainName, now)
	switch {
	case now.Before(d.pausedUntil):
		return nil, d.pausedUntil.Sub(now), "domain_throttled"
	case l.cfg.DomainConcurrency > 0 && d.inflight >= l.cfg.DomainConcurrency:
		return nil, concurrencyWait, "domain_concurrency"
	}
	if w := d.wait(now); w > 0 {
		return nil, w, "domain_rate"
	}
	if w := l.global.wait(now); w > 0 {
		return nil, w, "global_rate"
	}
	d.take()
	l.global.take()
	d.inflight++
	d.lastUsed = now
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			d.inflight--
			l.mu.Unlock()
		})
	}, 0, ""
}

func (l *Limiter) domain(name string, now time.Time) *domain {
	if l.admits++; l.admits%4096 == 0 {
		for k, d := range l.domains {
			if d.inflight == 0 && now.Sub(d.lastUsed) > idleForget && !now.Before(d.pausedUntil) {
				delete(l.domains, k)
			}
		}
	}
	d := l.domains[name]
	if d == nil {
		d = &domain{bucket: newBucket(l.cfg.DomainRate, now), lastUsed: now}
		l.domains[name] = d
	}
	return d
}

// Throttled slows a domain down after its servers said so (421, or a 4xx
// that speaks of rates): the domain pauses for a cooldown that doubles with
// each throttling reply, and its rate is halved.
func (l *Limiter) Throttled(domainName string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	d := l.domain(domainName, now)
	if d.cooldown == 0 {
		d.cooldown = l.cfg.ThrottleCooldown
	} else {
		d.cooldown = min(2*d.cooldown, maxThrottleCooldown)
	}
	d.pausedUntil = now.Add(jitter(d.cooldown))
	if l.cfg.DomainRate > 0 {
		d.rate = max(d.rate/2, 0.1)
		d.tokens = min(d.tokens, 1)
	}
	return d.pausedUntil.Sub(now)
}

// Delivered tells that a domain accepted a message: its rate recovers by
// a tenth of the configured rate, and a clean success resets its cooldown.
func (l *Limiter) Delivered(domainName string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.domains[domainName]
	if d == nil {
		return
	}
	if l.cfg.DomainRate > 0 && d.rate < l.cfg.DomainRate {
		d.rate = math.Min(l.cfg.DomainRate, d.rate+l.cfg.DomainRate/10)
	}
	if !l.cfg.Now().Before(d.pausedUntil) {
		d.cooldown = 0
	}
}

// breaker is the relay's circuit breaker.
type breaker struct {
	openUntil time.Time
	cooldown  time.Duration
	// probeUntil is set while a probe is out: after the cooldown one job
	// is let through to dial, and it reports with RelayFailed or RelayOK.
	// A probe may never dial (its wave was paused, nothing was left to
	// send, a render failed), so the probe is a lease: once it runs out, the
	// next caller becomes the probe. Without that, one silent probe would
	// hold every job of the process back for good.
	probeUntil time.Time
}

// RelayWait returns how long workers should keep off the relay: 0 when it
// may be dialled. After a cooldown one caller is let through as a probe;
// the others keep waiting until the probe reports or its lease (a
// cooldown, at least ProbeTimeout) runs out.
func (l *Limiter) RelayWait() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	b := &l.breaker
	switch {
	case b.cooldown == 0:
		return 0
	case now.Before(b.openUntil):
		return b.openUntil.Sub(now)
	case now.Before(b.probeUntil):
		return min(time.Second, b.probeUntil.Sub(now))
	}
	b.probeUntil = now.Add(max(b.cooldown, l.cfg.ProbeTimeout))
	return 0
}

// RelayFailed opens (or keeps open, longer) the circuit after the relay
// could not be reached.
func (l *Limiter) RelayFailed() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &l.breaker
	if b.cooldown == 0 {
		b.cooldown = l.cfg.BreakerCooldown
	} else if !b.probeUntil.IsZero() || !l.cfg.Now().Before(b.openUntil) {
		b.cooldown = min(2*b.cooldown, BreakerMaxCooldown)
	}
	b.probeUntil = time.Time{}
	b.openUntil = l.cfg.Now().Add(jitter(b.cooldown))
	return b.openUntil.Sub(l.cfg.Now())
}

// RelayOK closes the circuit.
func (l *Limiter) RelayOK() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.breaker = breaker{}
}

// jitter spreads d by ±20 % so that held-back jobs do not return together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
