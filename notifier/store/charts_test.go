package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/store"
)

// The dashboard's chart series, read from deliveries and notices arranged
// by hand: what each chart would show.

func TestWaveCharts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, b := setup(t)
	wave, other := b.waves[0], b.waves[1]
	ids := b.deliveries[wave]
	if len(ids) < 6 {
		t.Fatalf("the wave has %d deliveries, the test needs 6", len(ids))
	}
	// Two sent three minutes ago, one this minute, one failed, one
	// deferred; the rest still queued. The other wave's sends must not count.
	b.exec(t, `UPDATE deliveries SET status = 'sent', sent_at = now() - interval '3 minutes', finished_at = now() - interval '3 minutes' WHERE id = ANY($1)`, ids[:2])
	b.exec(t, `UPDATE deliveries SET status = 'sent', sent_at = now(), finished_at = now() WHERE id = $1`, ids[2])
	b.exec(t, `UPDATE deliveries SET status = 'failed', smtp_code = 550, smtp_reply = '550 5.7.1 refused', finished_at = now() WHERE id = $1`, ids[3])
	b.exec(t, `UPDATE deliveries SET status = 'deferred', last_attempt_at = now() WHERE id = $1`, ids[4])
	b.exec(t, `UPDATE deliveries SET status = 'sent', sent_at = now(), finished_at = now() WHERE id = $1`, b.deliveries[other][0])
	b.exec(t, `UPDATE notices SET acknowledged_at = now() WHERE id IN (SELECT notice_id FROM deliveries WHERE id = $1)`, ids[0])

	c, err := st.WaveCharts(ctx, wave)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SentPerMinute) != notifier.SendRateMinutes {
		t.Fatalf("%d minutes of send rate, want %d", len(c.SentPerMinute), notifier.SendRateMinutes)
	}
	var counts []int
	for i, m := range c.SentPerMinute {
		counts = append(counts, m.Count)
		if i > 0 && m.At.Sub(c.SentPerMinute[i-1].At) != time.Minute {
			t.Errorf("minute %d at %v follows %v", i, m.At, c.SentPerMinute[i-1].At)
		}
	}
	// Minutes may turn between the updates and the read: the two minutes
	// with sends are compared by their order and distance only.
	var busy []int
	for i, n := range counts {
		if n > 0 {
			busy = append(busy, i)
		}
	}
	if len(busy) != 2 || counts[busy[0]] != 2 || counts[busy[1]] != 1 || busy[1]-busy[0] != 3 {
		t.Errorf("sent per minute %v, want 2 sends three minutes before 1", counts)
	}
	if c.Bucket != time.Minute {
		t.Errorf("outcome buckets of %v for a wave launched just now, want a minute", c.Bucket)
	}
	byStatus := map[notifier.DeliveryStatus]int{}
	for _, o := range c.Outcomes {
		byStatus[o.Status] += o.Count
	}
	wantStatus := map[notifier.DeliveryStatus]int{notifier.DeliverySent: 3, notifier.DeliveryFailed: 1, notifier.DeliveryDeferred: 1}
	if len(byStatus) != len(wantStatus) || byStatus[notifier.DeliverySent] != 3 || byStatus[notifier.DeliveryFailed] != 1 || byStatus[notifier.DeliveryDeferred] != 1 {
		t.Errorf("outcomes %v, want %v", byStatus, wantStatus)
	}
	if n := len(c.Acknowledged); n == 0 || c.Acknowledged[n-1].Count != 1 {
		t.Errorf("acknowledged %+v, want a running total ending at 1", c.Acknowledged)
	}

	if _, err := st.WaveCharts(ctx, 999999); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Errorf("an unknown wave: %v, want not_found", err)
	}
}

func TestFailureGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, b := setup(t)
	wave, other := b.waves[0], b.waves[1]
	ids := b.deliveries[wave]
	fail := func(id int64, recipient, reply string, code int) {
		b.exec(t, `UPDATE deliveries SET status = 'failed', recipient = $2, smtp_reply = $3, smtp_code = nullif($4, 0), finished_at = now() WHERE id = $1`,
			id, recipient, reply, code)
	}
	fail(ids[0], "a@BigMail.example", "550 5.7.1 Message refused by policy", 550)
	fail(ids[1], "b@bigmail.example", "554 5.7.26 unauthenticated", 554)
	fail(ids[2], "c@bigmail.example", "550 5.1.1 no such user", 550)
	fail(ids[3], "d@small.example", "421 try later", 421)
	fail(ids[4], "e@small.example", "", 0)
	b.exec(t, `UPDATE deliveries SET status = 'bounced', recipient = 'f@bigmail.example', smtp_reply = '5.7.1 bounced' WHERE id = $1`, ids[5])
	// Another incident's failure stays out.
	fail(b.deliveries[other][0], "x@bigmail.example", "550 5.7.1 refused", 550)

	got, err := st.FailureGroups(ctx, incidentOf(t, b, wave), notifier.FailureGroupsMax)
	if err != nil {
		t.Fatal(err)
	}
	want := []notifier.FailureGroup{
		{Domain: "bigmail.example", Class: "5.7.x", Count: 3},
		{Domain: "bigmail.example", Class: "5.1.x", Count: 1},
		{Domain: "small.example", Class: "421", Count: 1},
		{Domain: "small.example", Class: "no reply", Count: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("failure groups\n%+v\nwant\n%+v", got, want)
	}
	if got, err := st.FailureGroups(ctx, incidentOf(t, b, wave), 1); err != nil || len(got) != 1 {
		t.Errorf("limit 1: %v, %v", got, err)
	}
}

// TestChartQueryPlans checks that the queries the dashboard repeats every
// few seconds read indexes, not the whole deliveries table. The planner
// is told to avoid sequential scans, since with a test's few rows a scan
// is cheapest; what matters is that a fitting index exists.
func TestChartQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, b := setup(t)
	for _, q := range []struct {
		name, sql, index string
		args             []any
	}{
		{"send rate", store.SentPerMinuteSQL, "deliveries_wave_sent", []any{b.waves[0], notifier.SendRateMinutes}},
		{"failure groups", store.FailureGroupsSQL, "", []any{incidentOf(t, b, b.waves[0]), notifier.FailureGroupsMax}},
	} {
		tx, err := b.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+q.sql, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		_ = tx.Rollback(ctx)
		// Failures may come through deliveries_failures or
		// deliveries_wave_status, as the planner sees fit; either is bounded.
		if strings.Contains(plan.String(), "Seq Scan on deliveries") || !strings.Contains(plan.String(), q.index) {
			t.Errorf("%s scans deliveries or does not use %q:\n%s", q.name, q.index, plan.String())
		}
	}
}

func incidentOf(t *testing.T, b *bundle, wave int64) int64 {
	t.Helper()
	var id int64
	if err := b.pool.QueryRow(context.Background(), `SELECT incident_id FROM waves WHERE id = $1`, wave).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
