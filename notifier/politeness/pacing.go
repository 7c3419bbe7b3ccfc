package politeness

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// SlotStore keeps the send slots of every rate limit for all the processes
// that share it (notifier/store implements it on PostgreSQL; MemorySlots
// is the one-process version). A limit is a GCRA: per key, the time its
// next slot is free.
type SlotStore interface {
	// ReserveSlots reserves req.Count consecutive slots of req.Key when
	// its next free slot is at most req.Ahead away, and otherwise
	// reserves nothing.
	ReserveSlots(ctx context.Context, req SlotRequest) (SlotGrant, error)
}

// SlotRequest asks for send slots of one rate limit.
type SlotRequest struct {
	// Key names the limit: "global" or "domain:" and the recipient domain.
	Key string
	// Count is how many slots to reserve, Interval the time between two
	// (the inverse of the rate).
	Count    int
	Interval time.Duration
	// Ahead is how far ahead of now the first slot may lie.
	Ahead time.Duration
}

// SlotGrant is the answer to a SlotRequest.
type SlotGrant struct {
	// Granted is true when the slots were reserved.
	Granted bool
	// First is how long from now the first reserved slot is; when nothing
	// was granted, how long until the key's next free slot.
	First time.Duration
	// Start is the first reserved slot on the store's own clock (the
	// database's): the same for every process, for tests and logs.
	Start time.Time
}

// MemorySlots is a SlotStore for one process, on a clock of its own.
type MemorySlots struct {
	now func() time.Time
	mu  sync.Mutex
	tat map[string]time.Time
}

// NewMemorySlots returns a MemorySlots on the clock now (time.Now when nil).
func NewMemorySlots(now func() time.Time) *MemorySlots {
	if now == nil {
		now = time.Now
	}
	return &MemorySlots{now: now, tat: map[string]time.Time{}}
}

// ReserveSlots implements SlotStore.
func (m *MemorySlots) ReserveSlots(_ context.Context, req SlotRequest) (SlotGrant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	start := m.tat[req.Key]
	if start.Before(now) {
		start = now
	}
	if start.Sub(now) > req.Ahead {
		return SlotGrant{First: start.Sub(now)}, nil
	}
	m.tat[req.Key] = start.Add(time.Duration(req.Count) * req.Interval)
	return SlotGrant{Granted: true, First: start.Sub(now), Start: start}, nil
}

// Pacing defaults.
const (
	// ReserveAheadDefault is how far ahead a send may reserve its slot and
	// wait for it in place. A send whose slot is further away is held back
	// until its slot comes that near. It covers River's scheduler interval
	// (5 s), which may bring a held-back job back that much late, so the
	// sends already waiting keep the rate while it comes.
	ReserveAheadDefault = 5 * time.Second
	// batchWindow is how much of a rate one reservation takes at once:
	// 1000/s reserves 100 slots per statement, 50/s five, 10/s or less one.
	// A slot is never used before its time but may be used late (a cold
	// domain's, say), so each process may send up to one batch more in
	// a short while than the rate allows; never more over the run.
	batchWindow = 100 * time.Millisecond
	maxBatch    = 100
)

// pacer holds one process's share of a limit's reserved slots.
type pacer struct {
	key string
	// mu is held across a reservation: one caller reserves for the others.
	mu    sync.Mutex
	slots []time.Time // ascending, on the limiter's clock
}

// take returns the next usable slot, reserving new ones when none is left.
// ok is false when the limit is booked more than ahead: wait is then how
// long until a slot can be had.
func (p *pacer) take(ctx context.Context, l *Limiter, rate float64) (slot time.Time, wait time.Duration, ok bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.slots) == 0 {
		interval := time.Duration(float64(time.Second) / rate)
		count := min(max(1, int(rate*batchWindow.Seconds())), maxBatch)
		g, err := l.cfg.Slots.ReserveSlots(ctx, SlotRequest{Key: p.key, Count: count, Interval: interval, Ahead: l.cfg.ReserveAhead})
		if err != nil {
			return time.Time{}, 0, false, fmt.Errorf("reserve send slots of %s: %w", p.key, err)
		}
		now := l.cfg.Now()
		if !g.Granted {
			return time.Time{}, max(g.First-l.cfg.ReserveAhead, minHold), false, nil
		}
		first := now.Add(g.First)
		for i := range count {
			p.slots = append(p.slots, first.Add(time.Duration(i)*interval))
		}
	}
	slot = p.slots[0]
	p.slots = p.slots[1:]
	return slot, 0, true, nil
}

// forget gives up the slots held (a throttled domain's: they are not to
// be sent at once when its pause ends).
func (p *pacer) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slots = nil
}

// giveBack returns an unused slot taken by take.
func (p *pacer) giveBack(slot time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slots = append([]time.Time{slot}, p.slots...)
}

// minHold is the shortest a held-back send waits before asking again.
const minHold = 10 * time.Millisecond
