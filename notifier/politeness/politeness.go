// Package politeness decides when a message may go out: a global send rate,
// a rate and a concurrency limit per recipient domain that back off when a
// domain's servers ask us to slow down, and a circuit breaker that stops
// every worker from dialling a relay that is down.
//
// The rates hold for every process sharing a SlotStore together (the
// database, in production): each send takes a slot of the global limit and
// one of its domain's, reserved ahead (GCRA), and waits for the later of
// the two. The concurrency limit, the throttling backoff (a throttled
// domain's pause and its halved rate) and the circuit breaker are per
// process.
package politeness

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults for Config.
const (
	RateDefault              = 1000 // messages per second, all processes together
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
	// Rate caps messages per second, for all processes sharing Slots.
	Rate float64
	// DomainRate caps messages per second to one recipient domain, for
	// all processes sharing Slots.
	DomainRate float64
	// Slots keeps the rates' send slots; nil keeps them in this process
	// (NewMemorySlots on Now).
	Slots SlotStore
	// ReserveAhead is how far ahead a send may reserve its slot and wait
	// for it (ReserveAheadDefault when 0).
	ReserveAhead time.Duration
	// DomainConcurrency caps SMTP transactions in flight to one domain, in
	// this process.
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

// Limiter implements delivery.Politeness (Admit's reasons are the snooze
// reasons in metrics: domain_throttled, domain_concurrency, domain_rate,
// global_rate). It is safe for concurrent use.
type Limiter struct {
	cfg     Config
	global  pacer
	mu      sync.Mutex
	domains map[string]*domain
	breaker breaker
	admits  int
}

// Reasons a send is held back.
const (
	ReasonThrottled   = "domain_throttled"
	ReasonConcurrency = "domain_concurrency"
	ReasonDomainRate  = "domain_rate"
	// ReasonGlobalRate holds back every domain, not only the one asked for.
	ReasonGlobalRate = "global_rate"
)

// GlobalKey is the SlotRequest key of the global rate; a domain's is
// DomainKeyPrefix and the domain.
const (
	GlobalKey       = "global"
	DomainKeyPrefix = "domain:"
)

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
	if cfg.ReserveAhead <= 0 {
		cfg.ReserveAhead = ReserveAheadDefault
	}
	if cfg.Slots == nil {
		cfg.Slots = NewMemorySlots(cfg.Now)
	}
	return &Limiter{cfg: cfg, global: pacer{key: GlobalKey}, domains: map[string]*domain{}}
}

// domain is the state of one recipient domain.
type domain struct {
	pacer pacer
	// rate is the domain's rate now: DomainRate, or less after throttling.
	rate        float64
	inflight    int
	pausedUntil time.Time
	cooldown    time.Duration
	lastUsed    time.Time
}

// Admit admits one send to a recipient domain, or holds it back. An
// admitted send (done is set) has its slots reserved: it waits wait, then
// sends and calls done when the SMTP transaction is over. A held-back one
// has nothing reserved: wait is how long until it may ask again, reason
// why (ReasonGlobalRate holds back every domain). err means the shared
// slots could not be reached.
func (l *Limiter) Admit(ctx context.Context, domainName string) (done func(), wait time.Duration, reason string, err error) {
	l.mu.Lock()
	now := l.cfg.Now()
	d := l.domain(domainName, now)
	switch {
	case now.Before(d.pausedUntil):
		l.mu.Unlock()
		return nil, d.pausedUntil.Sub(now), ReasonThrottled, nil
	case l.cfg.DomainConcurrency > 0 && d.inflight >= l.cfg.DomainConcurrency:
		l.mu.Unlock()
		return nil, concurrencyWait, ReasonConcurrency, nil
	}
	// The send counts as in flight while it reserves and waits: no more
	// of a domain's sends take slots than may go at once.
	d.inflight++
	d.lastUsed = now
	rate := d.rate
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		d.inflight--
		l.mu.Unlock()
	}

	slot := now
	if rate > 0 {
		s, w, ok, err := d.pacer.take(ctx, l, rate)
		if err != nil || !ok {
			release()
			return nil, w, ReasonDomainRate, err
		}
		slot = s
	}
	if l.cfg.Rate > 0 {
		g, w, ok, err := l.global.take(ctx, l, l.cfg.Rate)
		if err != nil || !ok {
			if rate > 0 {
				d.pacer.giveBack(slot)
			}
			release()
			return nil, w, ReasonGlobalRate, err
		}
		slot = later(slot, g)
	}
	var once sync.Once
	return func() { once.Do(release) }, max(0, slot.Sub(l.cfg.Now())), "", nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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
		d = &domain{pacer: pacer{key: DomainKeyPrefix + name}, rate: l.cfg.DomainRate, lastUsed: now}
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
		d.pacer.forget()
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
