package app_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
)

// TestRateLimitHoldsAcrossProcesses sends a wave with
// BREACHNOTIFY_RATE_LIMIT at 2 and at 10, through one and through three
// processes working the same database: the relay receives the limit, not
// a fraction of it (before: 0.40/s at 2) nor a multiple (three processes
// each sending the limit): counted on the relay's receive times over the
// wave, the limit ±10 % (the slope of a line fitted through them: one
// late message does not skew it as it would the span between the first
// and the last). (Receive times carry each SMTP transaction's own
// delay, a dial for some: that no two sends are closer than the limit
// allows is checked on the reserved schedule, in notifier/store.) With -v
// it prints the rates.
func TestRateLimitHoldsAcrossProcesses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate      float64
		processes int
	}{{2, 1}, {2, 3}, {10, 1}, {10, 3}} {
		t.Run(fmt.Sprintf("%v per second, %d processes", tc.rate, tc.processes), func(t *testing.T) {
			t.Parallel()
			const seconds = 8
			orgs := int(tc.rate * seconds / 4)
			sink := &capture.Memory{}
			relay := apptest.StartRelay(t, capture.Options{Sink: sink})
			dbURL := testdb.URL(t)
			cfg := func() *config.Config {
				cfg := apptest.TestConfig(dbURL)
				cfg.SMTP = mustSMTP(t, relay.URL())
				cfg.RateLimit = tc.rate
				// 16 jobs, so one process (8 workers) cannot take them all.
				cfg.ChunkSize = int(tc.rate / 2)
				cfg.DBStaffPoolSize, cfg.DBPublicPoolSize = 2, 2
				return cfg
			}
			e := apptest.StartApp(t, cfg(), app.Options{})
			for range tc.processes - 1 {
				apptest.StartApp(t, cfg(), app.Options{})
			}
			orgCSV, items, recipients := directory("r", orgs, 4)
			loadDirectory(t, e, "paced", orgCSV, items)
			id := planAndLaunch(t, e, "paced")
			w := waitWave(t, e, id, 4*seconds*time.Second)
			if w.Deliveries[notifier.DeliverySent] != len(recipients) {
				t.Fatalf("wave = %s %v, want %d sent", w.Status, w.Deliveries, len(recipients))
			}
			var at []time.Time
			for _, m := range sink.Messages() {
				at = append(at, m.ReceivedAt)
			}
			slices.SortFunc(at, time.Time.Compare)
			span := at[len(at)-1].Sub(at[0]).Seconds()
			// The first second's messages are left out: they carry the
			// processes' first dials, which bunch them behind their slots.
			got := sendRate(at[int(tc.rate):])
			if got < 0.9*tc.rate || got > 1.1*tc.rate {
				t.Errorf("%d messages over %.2f s: %.3f/s, want %v/s ±10 %%", len(at), span, got, tc.rate)
			}
			var workedBy int
			if err := e.App.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT attempted_by[1]) FROM river_job WHERE kind = 'deliver'`).Scan(&workedBy); err != nil {
				t.Fatal(err)
			}
			if tc.processes > 1 && workedBy < 2 {
				t.Errorf("deliver jobs were worked by %d process(es), want the work shared", workedBy)
			}
			t.Logf("limit %v/s, %d process(es), jobs worked by %d: %d messages in %.2f s: %.3f/s", tc.rate, tc.processes, workedBy, len(at), span, got)
		})
	}
}

func mustSMTP(t *testing.T, raw string) *config.SMTP {
	t.Helper()
	s, err := config.ParseSMTPURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sendRate is the slope, in messages per second, of the least-squares line
// through the messages' (time, index) points.
func sendRate(at []time.Time) float64 {
	n := float64(len(at))
	var st, si, stt, sti float64
	for i, a := range at {
		x := a.Sub(at[0]).Seconds()
		st, si, stt, sti = st+x, si+float64(i), stt+x*x, sti+x*float64(i)
	}
	return (n*sti - st*si) / (n*stt - st*st)
}
