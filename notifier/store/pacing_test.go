package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier/politeness"
	"github.com/breachnotify/breachnotify/notifier/store"
)

// pacingSetup is a database and n stores on it, each with its own pool:
// n processes sharing the database.
func pacingSetup(t *testing.T, n int) []*store.Store {
	t.Helper()
	url := testdb.URL(t)
	var stores []*store.Store
	for range n {
		pool, err := pgxpool.New(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		stores = append(stores, store.New(pool, store.Config{}))
	}
	return stores
}

// recordingSlots keeps every slot a store granted, by key, on the
// database's clock.
type recordingSlots struct {
	politeness.SlotStore
	mu    *sync.Mutex
	slots map[string][]time.Time
}

func (r recordingSlots) ReserveSlots(ctx context.Context, req politeness.SlotRequest) (politeness.SlotGrant, error) {
	g, err := r.SlotStore.ReserveSlots(ctx, req)
	if err == nil && g.Granted {
		r.mu.Lock()
		for i := range req.Count {
			r.slots[req.Key] = append(r.slots[req.Key], g.Start.Add(time.Duration(i)*req.Interval))
		}
		r.mu.Unlock()
	}
	return g, err
}

// TestReserveSlotsTwoProcesses: two processes reserving slots of one key
// at once get one schedule between them, each slot once: the key's
// reservations line up one after the other, an interval apart. Slots a
// minute apart make the check immune to how long the statements take.
func TestReserveSlotsTwoProcesses(t *testing.T) {
	t.Parallel()
	stores := pacingSetup(t, 2)
	ctx := context.Background()
	const perProcess = 40
	req := politeness.SlotRequest{Key: "global", Count: 1, Interval: time.Minute, Ahead: 24 * time.Hour}
	var (
		mu    sync.Mutex
		slots []time.Time
		wg    sync.WaitGroup
	)
	for _, s := range stores {
		wg.Go(func() {
			for range perProcess {
				g, err := s.ReserveSlots(ctx, req)
				if err != nil || !g.Granted {
					t.Errorf("reserve: %+v, %v", g, err)
					return
				}
				mu.Lock()
				slots = append(slots, time.Now().Add(g.First))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(slots, time.Time.Compare)
	for i := 1; i < len(slots); i++ {
		if gap := slots[i].Sub(slots[i-1]); gap < 59*time.Second || gap > 61*time.Second {
			t.Fatalf("slots %d and %d are %v apart, want a minute", i-1, i, gap)
		}
	}

	// The key is booked 80 minutes ahead: an hour's horizon reserves nothing
	// and says how far ahead the next free slot is.
	g, err := stores[1].ReserveSlots(ctx, politeness.SlotRequest{Key: "global", Count: 1, Interval: time.Minute, Ahead: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if g.Granted || g.First < 79*time.Minute || g.First > 80*time.Minute {
		t.Errorf("beyond the horizon: %+v, want nothing granted, next slot in 79-80 min", g)
	}
	// Other keys are limits of their own.
	if g, err := stores[0].ReserveSlots(ctx, politeness.SlotRequest{Key: "domain:example.org", Count: 5, Interval: time.Minute, Ahead: 0}); err != nil || !g.Granted || g.First != 0 {
		t.Errorf("a fresh key: %+v, %v; want granted now", g, err)
	}
	if err := stores[0].ForgetIdlePacing(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPacingMeetsTheLimit sends as fast as the limiters let it, at 2/s and
// 10/s, globally and for one domain, with one and with three processes
// (limiters, each on its own pool) sharing one database, four workers
// each. Every send waits for its reserved slot, as the delivery engine
// does. It checks the schedule the processes reserved together: no more
// than a second's worth of sends within any second (never over the limit),
// and the sends spread over the time the limit allows them (the limit met,
// ±10 %).
// With -v it prints the rate measured on the wall clock.
// BREACHNOTIFY_PACING_SECONDS makes each run last longer (default 5).
func TestPacingMeetsTheLimit(t *testing.T) {
	t.Parallel()
	seconds := 5.0
	if v := os.Getenv("BREACHNOTIFY_PACING_SECONDS"); v != "" {
		var err error
		if seconds, err = strconv.ParseFloat(v, 64); err != nil {
			t.Fatalf("BREACHNOTIFY_PACING_SECONDS: %v", err)
		}
	}
	for _, tc := range []struct {
		rate, domainRate float64
		processes        int
	}{
		{rate: 2, processes: 1},
		{rate: 2, processes: 3},
		{rate: 10, processes: 1},
		{rate: 10, processes: 3},
		{rate: 1000, domainRate: 2, processes: 3},
		{rate: 1000, domainRate: 10, processes: 3},
	} {
		limit := tc.rate
		if tc.domainRate > 0 {
			limit = tc.domainRate
		}
		t.Run(fmt.Sprintf("rate %v domain %v processes %d", tc.rate, tc.domainRate, tc.processes), func(t *testing.T) {
			t.Parallel()
			stores := pacingSetup(t, tc.processes)
			sends := int(limit*seconds) + 1
			var (
				mu          sync.Mutex
				slots, sent []time.Time
				reserved    = map[string][]time.Time{}
				wg          sync.WaitGroup
			)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for _, s := range stores {
				rec := recordingSlots{SlotStore: s, mu: &mu, slots: reserved}
				l := politeness.New(politeness.Config{Rate: tc.rate, DomainRate: tc.domainRate, Slots: rec})
				for range 4 {
					wg.Go(func() {
						for ctx.Err() == nil {
							done, wait, reason, err := l.Admit(ctx, "example.org")
							if err != nil {
								if ctx.Err() == nil {
									t.Error(err)
								}
								return
							}
							if done == nil {
								if reason == politeness.ReasonConcurrency {
									t.Errorf("held back by %s", reason)
								}
								select {
								case <-ctx.Done():
								case <-time.After(wait):
								}
								continue
							}
							slot := time.Now().Add(wait)
							select {
							case <-ctx.Done():
								done()
								return
							case <-time.After(wait):
							}
							mu.Lock()
							if len(sent) < sends {
								slots, sent = append(slots, slot), append(sent, time.Now())
							}
							if len(sent) == sends {
								cancel()
							}
							mu.Unlock()
							done()
						}
					})
				}
			}
			wg.Wait()
			slices.SortFunc(slots, time.Time.Compare)
			slices.SortFunc(sent, time.Time.Compare)
			// The schedule all processes reserved, on the database's
			// clock: never two slots of the limit closer than its interval
			// (make_interval keeps microseconds).
			interval := time.Duration(float64(time.Second) / limit)
			key := politeness.GlobalKey
			if tc.domainRate > 0 {
				key = politeness.DomainKeyPrefix + "example.org"
			}
			keySlots := reserved[key]
			slices.SortFunc(keySlots, time.Time.Compare)
			for i := 1; i < len(keySlots); i++ {
				if gap := keySlots[i].Sub(keySlots[i-1]); gap < interval-time.Microsecond {
					t.Errorf("reserved slots %d and %d are %v apart, under the limit's %v", i-1, i, gap, interval)
				}
			}
			// The sends, at the slots as each process saw them: the limit
			// met over the run.
			span := slots[len(slots)-1].Sub(slots[0]).Seconds()
			scheduled := float64(len(slots)-1) / span
			if scheduled < 0.9*limit || scheduled > 1.1*limit {
				t.Errorf("%d slots over %.2f s: %.3f/s, want %v/s ±10 %%", len(slots), span, scheduled, limit)
			}
			wall := sent[len(sent)-1].Sub(sent[0]).Seconds()
			t.Logf("%s limit %v/s, %d process(es): %d sends, reserved %.3f/s, sent %.3f/s over %.2f s (wall clock)",
				key, limit, tc.processes, len(sent), scheduled, float64(len(sent)-1)/wall, wall)
		})
	}
}

// BenchmarkReserveSlots measures one reservation statement: the cost per
// message is this divided by the batch (100 at 1000/s, 5 at a 50/s
// domain). It alternates 1000 keys, as a wave over many domains does.
// With PostgreSQL on this machine it also reports the server's CPU per
// statement (pg-cpu-µs/op), read from the backend's /proc entry.
func BenchmarkReserveSlots(b *testing.B) {
	pc, err := pgxpool.ParseConfig(testdb.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	pc.MaxConns = 1 // one backend, to read its CPU time
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	s := store.New(pool, store.Config{})
	ctx := context.Background()
	var pid int
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		b.Fatal(err)
	}
	cpu0, cpuOK := backendCPU(pid)
	i := 0
	for b.Loop() {
		i++
		req := politeness.SlotRequest{Key: fmt.Sprintf("domain:d%d.example", i%1000), Count: 5, Interval: 20 * time.Millisecond, Ahead: time.Hour}
		if _, err := s.ReserveSlots(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, ok := backendCPU(pid); ok && cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "pg-cpu-µs/op")
	}
}

// backendCPU reads a local process's user and system time from /proc.
func backendCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The fields after the command (in parentheses): utime and stime are
	// the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * 10 * time.Millisecond, true
}
