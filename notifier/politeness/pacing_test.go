package politeness

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingSlots counts the reservations that reach the store.
type countingSlots struct {
	SlotStore
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingSlots) ReserveSlots(ctx context.Context, req SlotRequest) (SlotGrant, error) {
	c.mu.Lock()
	c.calls[req.Key]++
	c.mu.Unlock()
	return c.SlotStore.ReserveSlots(ctx, req)
}

// admission is what one Admit said, in a form a table can state.
type admission struct {
	wait   time.Duration // until the slot (admitted) or until asking again
	reason string        // empty when admitted
}

const ms = time.Millisecond

// TestAdmitPacesToTheSlot: sends asked for at once get consecutive slots
// of the rate, each told to wait exactly until its own; once the limit is
// booked ReserveAhead ahead, a send is held back exactly until its slot
// comes within ReserveAhead, with nothing reserved.
func TestAdmitPacesToTheSlot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		cfg          Config
		domains      []string      // one Admit per entry, all at the same instant
		advance      time.Duration // then the clock moves on ...
		then         []string      // ... and these ask
		want, wantTh []admission
	}{{
		name:    "global 2/s",
		cfg:     Config{Rate: 2, ReserveAhead: time.Second},
		domains: []string{"a", "b", "c", "d"},
		want:    []admission{{0, ""}, {500 * ms, ""}, {1000 * ms, ""}, {500 * ms, ReasonGlobalRate}},
		advance: 600 * ms,
		then:    []string{"e", "f"},
		// booked until 1.5 s: e's slot is 0.9 s away; f's (2 s) is 1.4 s
		// away, 0.4 s beyond the horizon.
		wantTh: []admission{{900 * ms, ""}, {400 * ms, ReasonGlobalRate}},
	}, {
		name:    "global 10/s",
		cfg:     Config{Rate: 10, ReserveAhead: 250 * ms},
		domains: []string{"a", "a", "a", "a", "a"},
		want:    []admission{{0, ""}, {100 * ms, ""}, {200 * ms, ""}, {50 * ms, ReasonGlobalRate}, {50 * ms, ReasonGlobalRate}},
		advance: 2 * time.Second, // idle: no credit for the time unused
		then:    []string{"a", "a"},
		wantTh:  []admission{{0, ""}, {100 * ms, ""}},
	}, {
		name:    "domain 2/s, each domain its own",
		cfg:     Config{DomainRate: 2, ReserveAhead: time.Second},
		domains: []string{"a", "b", "a", "b", "a", "a"},
		want:    []admission{{0, ""}, {0, ""}, {500 * ms, ""}, {500 * ms, ""}, {1000 * ms, ""}, {500 * ms, ReasonDomainRate}},
	}, {
		name:    "domain and global: the later slot",
		cfg:     Config{Rate: 4, DomainRate: 1, ReserveAhead: time.Second},
		domains: []string{"a", "b", "a", "c", "d", "e"},
		// global slots 0, 250, 500, 750, 1000 ms; a's 0 and 1000 ms.
		want: []admission{{0, ""}, {250 * ms, ""}, {1000 * ms, ""}, {750 * ms, ""}, {1000 * ms, ""}, {250 * ms, ReasonGlobalRate}},
	}, {
		name:    "a domain slot is given back when the global rate holds",
		cfg:     Config{Rate: 1, DomainRate: 1, ReserveAhead: 500 * ms},
		domains: []string{"a", "b"},
		want:    []admission{{0, ""}, {500 * ms, ReasonGlobalRate}},
		advance: time.Second,
		// b's slot, taken at 0 and given back, is used now, late: no
		// second domain slot was reserved for it.
		then:   []string{"b"},
		wantTh: []admission{{0, ""}},
	}, {
		name:    "no limits",
		cfg:     Config{},
		domains: []string{"a", "a", "a"},
		want:    []admission{{0, ""}, {0, ""}, {0, ""}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			cfg := tc.cfg
			cfg.Now = clock.Now
			l := New(cfg)
			admit := func(domains []string, want []admission) {
				t.Helper()
				for i, d := range domains {
					done, wait, reason, err := l.Admit(context.Background(), d)
					if err != nil {
						t.Fatal(err)
					}
					if got := (admission{wait, reason}); got != want[i] {
						t.Errorf("send %d to %s: wait %v reason %q, want %v %q", i, d, wait, reason, want[i].wait, want[i].reason)
					}
					if (done != nil) != (reason == "") {
						t.Errorf("send %d to %s: done set %v with reason %q", i, d, done != nil, reason)
					}
					if done != nil {
						done()
					}
				}
			}
			admit(tc.domains, tc.want)
			clock.Advance(tc.advance)
			admit(tc.then, tc.wantTh)
		})
	}
}

// TestAdmitReservesInBatches: a high rate reserves its slots a batch at a
// time, so the shared store is not asked per message; the slots are still
// the rate's, one after the other.
func TestAdmitReservesInBatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate      float64
		sends     int
		wantCalls int
	}{
		{rate: 1000, sends: 1000, wantCalls: 10}, // 100 slots a reservation
		{rate: 50, sends: 100, wantCalls: 20},    // 5
		{rate: 10, sends: 10, wantCalls: 10},     // 1
		{rate: 5000, sends: 5000, wantCalls: 50}, // at most maxBatch
	} {
		clock := newFakeClock()
		slots := &countingSlots{SlotStore: NewMemorySlots(clock.Now), calls: map[string]int{}}
		l := New(Config{Rate: tc.rate, Slots: slots, ReserveAhead: 10 * time.Second, Now: clock.Now})
		interval := time.Duration(float64(time.Second) / tc.rate)
		for i := range tc.sends {
			done, wait, reason, err := l.Admit(context.Background(), "example.org")
			if err != nil || done == nil {
				t.Fatalf("rate %v, send %d: held back (%q, %v)", tc.rate, i, reason, err)
			}
			if want := time.Duration(i) * interval; wait != want {
				t.Fatalf("rate %v, send %d: slot in %v, want %v", tc.rate, i, wait, want)
			}
			done()
		}
		if got := slots.calls[GlobalKey]; got != tc.wantCalls {
			t.Errorf("rate %v: %d reservations for %d sends, want %d", tc.rate, got, tc.sends, tc.wantCalls)
		}
	}
}

// TestAdmitTwoLimitersShareTheRate: two limiters on one SlotStore (two
// processes on one database) take turns in one schedule, not one each.
func TestAdmitTwoLimitersShareTheRate(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	slots := NewMemorySlots(clock.Now)
	a := New(Config{Rate: 2, DomainRate: 1, Slots: slots, Now: clock.Now})
	b := New(Config{Rate: 2, DomainRate: 1, Slots: slots, Now: clock.Now})
	var waits []time.Duration
	for _, l := range []*Limiter{a, b, a, b} {
		done, wait, _, err := l.Admit(context.Background(), "example.org")
		if err != nil || done == nil {
			t.Fatalf("held back: %v", err)
		}
		waits = append(waits, wait)
	}
	// The domain's 1/s is the tighter limit, across both.
	want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("slots %v, want %v", waits, want)
		}
	}
}

// TestAdmitKeepsTheOtherLimits: the domain concurrency limit and a
// throttled domain's pause hold a send back before any slot is reserved;
// a send waiting for its slot counts as in flight.
func TestAdmitKeepsTheOtherLimits(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	slots := &countingSlots{SlotStore: NewMemorySlots(clock.Now), calls: map[string]int{}}
	l := New(Config{Rate: 10, DomainRate: 10, DomainConcurrency: 1, ThrottleCooldown: time.Minute, Slots: slots, Now: clock.Now})
	done, _, _, _ := l.Admit(context.Background(), "a")
	if _, wait, reason, _ := l.Admit(context.Background(), "a"); reason != ReasonConcurrency || wait != concurrencyWait {
		t.Errorf("second send while one is out: %q %v, want %q", reason, wait, ReasonConcurrency)
	}
	done()
	done() // twice is harmless
	pause := l.Throttled("a")
	if _, wait, reason, _ := l.Admit(context.Background(), "a"); reason != ReasonThrottled || wait != pause {
		t.Errorf("throttled domain: %q %v, want %q %v", reason, wait, ReasonThrottled, pause)
	}
	if got := slots.calls[DomainKeyPrefix+"a"]; got != 1 {
		t.Errorf("%d domain reservations, want 1 (none for held-back sends)", got)
	}
	clock.Advance(pause)
	// Throttling halved the domain's rate: its slots are 200 ms apart now.
	d1, w1, _, _ := l.Admit(context.Background(), "a")
	d1()
	_, w2, _, _ := l.Admit(context.Background(), "a")
	if w2-w1 != 200*ms {
		t.Errorf("after throttling: slots %v and %v apart, want 200ms", w1, w2)
	}
}

type failingSlots struct{}

func (failingSlots) ReserveSlots(context.Context, SlotRequest) (SlotGrant, error) {
	return SlotGrant{}, errors.New("connection refused")
}

// TestAdmitStoreDown: when the shared slots cannot be reached nothing is
// admitted, and the error says so.
func TestAdmitStoreDown(t *testing.T) {
	t.Parallel()
	l := New(Config{Rate: 10, DomainConcurrency: 1, Slots: failingSlots{}})
	for range 2 { // the failed send does not stay in flight
		done, _, _, err := l.Admit(context.Background(), "a")
		if done != nil || err == nil {
			t.Fatalf("admitted without slots: err %v", err)
		}
	}
}
