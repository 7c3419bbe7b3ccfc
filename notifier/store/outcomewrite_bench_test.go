package store_test

// Benchmarks of the durable write of delivery outcomes (issue 12): the
// group commit's UPDATE ... FROM unnest (Store.RecordOutcomes) against a
// COPY into an append-only log that is folded into deliveries later.
//
// Run them with
//
//	go test -run '^$' -bench Outcome ./notifier/store/
//
// and, on a shared machine, compile once and alternate the runs, with a
// fixed count that folds the log a few times even for groups of 10:
//
//	go test -c -o /tmp/store.test ./notifier/store/
//	for i in 1 2 3 4 5; do /tmp/store.test -test.run '^$' -test.bench Outcome -test.benchtime 1000x; done
//
// taking the median of each figure (3-4 minutes a run on 2 busy cores).
// One op is one group of outcomes; the figures to compare are per outcome:
//
//	ns/outcome              wall time (for the log: COPY plus fold)
//	copy-ns/outcome         the log: the COPY alone
//	fold-ns/outcome         the log: the fold, per row it folds
//	pg-cpu-ns/outcome       CPU of the PostgreSQL backend doing the writes
//	                        (read from /proc; absent when the server is
//	                        not on this machine)
//	copy-pg-cpu-ns/outcome  the log: that CPU for the COPY alone
//
// Each benchmark has a fresh database with foldEvery×4 queued deliveries of
// one running wave; when they are all written they are queued again (the
// timer stopped), so any -benchtime works.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/store"
)

// foldEvery is how many logged outcomes the log variant folds at once.
const foldEvery = 5000

// benchDeliveries is how many queued deliveries a benchmark works through
// before queueing them again; a multiple of foldEvery, so a fold always
// runs before they are queued again.
const benchDeliveries = 4 * foldEvery

// createOutcomeLog is the append-only log of the COPY variant: durable (a
// normal, logged table), without index or key, so an append touches the
// heap and the WAL only.
const createOutcomeLog = `
CREATE TABLE delivery_outcomes_log (
    delivery_id bigint NOT NULL,
    status      text NOT NULL,
    code        int NOT NULL,
    reply       text NOT NULL,
    sha         bytea,
    at          timestamptz NOT NULL DEFAULT now()
)`

// foldOutcomeLog moves every logged outcome into deliveries and
// delivery_events, as recordOutcomes writes them, and empties the log of
// what it folded (rows appended meanwhile are not in its snapshot, so they
// stay for the next fold). It keeps the time each outcome was logged.
const foldOutcomeLog = `
WITH l AS MATERIALIZED (
    DELETE FROM delivery_outcomes_log RETURNING delivery_id, status, code, reply, sha, at
),
outcome AS (
    UPDATE deliveries d SET
        status           = l.status,
        attempts         = d.attempts + 1,
        smtp_code        = nullif(l.code, 0),
        smtp_reply       = l.reply,
        message_sha256   = coalesce(l.sha, d.message_sha256),
        first_attempt_at = coalesce(d.first_attempt_at, l.at),
        last_attempt_at  = l.at,
        next_attempt_at  = NULL,
        sent_at          = CASE WHEN l.status = 'sent' THEN l.at ELSE d.sent_at END,
        finished_at      = CASE WHEN l.status IN ('sent', 'failed') THEN l.at END
    FROM l
    WHERE d.id = l.delivery_id AND d.status NOT IN ('sent', 'failed', 'bounced', 'suppressed', 'cancelled')
),
event AS (
    INSERT INTO delivery_events (delivery_id, type, smtp_code, detail, at)
    SELECT l.delivery_id, l.status, nullif(l.code, 0), l.reply, l.at FROM l
)
SELECT count(*) FROM l`

// requeue puts the benchmark's deliveries back as launch left them.
const requeue = `
UPDATE deliveries SET status = 'queued', attempts = 0, smtp_code = NULL, smtp_reply = '', message_sha256 = NULL,
    first_attempt_at = NULL, last_attempt_at = NULL, next_attempt_at = NULL, sent_at = NULL, finished_at = NULL
WHERE wave_id = $1`

// outcomeBench is one benchmark's database: the service's pool (one
// connection, so one backend does every write and its CPU can be read),
// the owner's pool for arranging, and the queued deliveries.
type outcomeBench struct {
	b      *testing.B
	st     *store.Store
	pool   *pgxpool.Pool
	owner  *pgxpool.Pool
	waveID int64
	ids    []int64
	next   int
	pid    int
}

func newOutcomeBench(b *testing.B) *outcomeBench {
	b.Helper()
	ctx := context.Background()
	url := testdb.URL(b)
	owner, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(owner.Close)
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	pc.MaxConns, pc.MinConns = 1, 1
	pc.AfterConnect = migrations.AssumeServiceRole
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	ob := &outcomeBench{b: b, st: store.New(pool, store.Config{MessageIDDomain: "notify.example"}), pool: pool, owner: owner}

	// Deliveries need no contacts or notices behind them (their foreign
	// keys were dropped, 0004), only one running wave.
	var incidentID, orgID, noticeID int64
	ob.scan(`INSERT INTO incidents (slug, title) VALUES ('bench', 'Bench') RETURNING id`, nil, &incidentID)
	ob.scan(`INSERT INTO organizations (ref, name) VALUES ('bench', 'Bench') RETURNING id`, nil, &orgID)
	ob.scan(`INSERT INTO waves (incident_id, kind, status, launched_at) VALUES ($1, 'initial', 'running', now()) RETURNING id`,
		[]any{incidentID}, &ob.waveID)
	ob.scan(`INSERT INTO notices (wave_id, incident_id, organization_id, kind) VALUES ($1, $2, $3, 'initial') RETURNING id`,
		[]any{ob.waveID, incidentID, orgID}, &noticeID)
	ob.exec(`INSERT INTO deliveries (notice_id, wave_id, contact_id, recipient, message_id, reference_code)
		SELECT $1, $2, g, 'contact' || g || '@example.org', g || '.bench@notify.example', 'B' || g
		FROM generate_series(1, $3::int) AS g`, noticeID, ob.waveID, benchDeliveries)
	ob.exec(createOutcomeLog)
	ob.exec(`GRANT SELECT, INSERT, DELETE ON delivery_outcomes_log TO ` + migrations.ServiceRole)
	ob.exec(`VACUUM ANALYZE deliveries, delivery_events, delivery_outcomes_log`)

	rows, err := owner.Query(ctx, `SELECT id FROM deliveries WHERE wave_id = $1 ORDER BY id`, ob.waveID)
	if err != nil {
		b.Fatal(err)
	}
	if ob.ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		b.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&ob.pid); err != nil {
		b.Fatal(err)
	}
	return ob
}

func (ob *outcomeBench) exec(sql string, args ...any) {
	ob.b.Helper()
	if _, err := ob.owner.Exec(context.Background(), sql, args...); err != nil {
		ob.b.Fatalf("%s: %v", sql, err)
	}
}

func (ob *outcomeBench) scan(sql string, args []any, dest ...any) {
	ob.b.Helper()
	if err := ob.owner.QueryRow(context.Background(), sql, args...).Scan(dest...); err != nil {
		ob.b.Fatalf("%s: %v", sql, err)
	}
}

// take returns the next n queued deliveries, queueing them all again (the
// timer stopped) once every one was written.
func (ob *outcomeBench) take(n int) []int64 {
	if ob.next+n > len(ob.ids) {
		ob.b.StopTimer()
		ob.exec(requeue, ob.waveID)
		ob.exec(`VACUUM deliveries`)
		ob.next = 0
		ob.b.StartTimer()
	}
	ids := ob.ids[ob.next : ob.next+n]
	ob.next += n
	return ids
}

// cpu is the CPU time the service pool's backend has used, or -1 when it
// cannot be read (a server on another machine).
func (ob *outcomeBench) cpu() time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(ob.pid) + "/stat")
	if err != nil {
		return -1
	}
	// The fields after the command name, which is in parentheses:
	// utime and stime are the 14th and 15th fields, in clock ticks (100 Hz
	// on Linux).
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// outcomeSHA stands for a message's SHA-256.
var outcomeSHA = make([]byte, 32)

// outcomeReply is a typical relay reply.
const outcomeReply = "250 2.0.0 Ok: queued as 4XqTZb1Lm9z3"

// sent is the batch of a group of sent outcomes, as the delivery engine
// submits it (no job completes, nothing is retried).
func (ob *outcomeBench) sent(ids []int64) []delivery.OutcomeBatch {
	outs := make([]delivery.Outcome, len(ids))
	for i, id := range ids {
		outs[i] = delivery.Outcome{DeliveryID: id, WaveID: ob.waveID, Status: notifier.DeliverySent, Attempted: true,
			Code: 250, Reply: outcomeReply, SHA256: outcomeSHA}
	}
	return []delivery.OutcomeBatch{{WaveID: ob.waveID, Outcomes: outs}}
}

// report adds the per-outcome figures.
func report(b *testing.B, outcomes int, wall, cpu time.Duration) {
	if outcomes == 0 {
		return
	}
	b.ReportMetric(float64(wall.Nanoseconds())/float64(outcomes), "ns/outcome")
	if cpu >= 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(outcomes), "pg-cpu-ns/outcome")
	}
}

// BenchmarkOutcomeUpdate is the group commit as the service runs it: one
// recordOutcomes statement (UPDATE deliveries FROM unnest, INSERT
// delivery_events, DELETE claims) per group.
func BenchmarkOutcomeUpdate(b *testing.B) {
	for _, group := range []int{10, 50, 200} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			ob := newOutcomeBench(b)
			ctx := context.Background()
			outcomes, cpu0 := 0, ob.cpu()
			var wall time.Duration
			for b.Loop() {
				batches := ob.sent(ob.take(group))
				t := time.Now()
				if _, err := ob.st.RecordOutcomes(ctx, batches); err != nil {
					b.Fatal(err)
				}
				wall += time.Since(t)
				outcomes += group
			}
			cpu := ob.cpu()
			if cpu >= 0 && cpu0 >= 0 {
				cpu -= cpu0
			}
			report(b, outcomes, wall, cpu)
		})
	}
}

// BenchmarkOutcomeCopyLog appends each group to delivery_outcomes_log with
// one COPY and folds the log into deliveries every foldEvery rows. ns/op
// includes the folds run in the loop; ns/outcome is copy-ns/outcome plus
// fold-ns/outcome (the fold per folded row, every row folded).
func BenchmarkOutcomeCopyLog(b *testing.B) {
	for _, group := range []int{10, 50, 200} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			ob := newOutcomeBench(b)
			ctx := context.Background()
			cols := []string{"delivery_id", "status", "code", "reply", "sha"}
			rows := make([][]any, group)
			var copyWall, foldWall, foldCPU time.Duration
			copied, folded, logged := 0, 0, 0
			fold := func() {
				c0, t0 := ob.cpu(), time.Now()
				var got int
				if err := ob.pool.QueryRow(ctx, foldOutcomeLog).Scan(&got); err != nil {
					b.Fatalf("fold: %v", err)
				}
				foldWall += time.Since(t0)
				foldCPU += ob.cpu() - c0
				folded += got
				logged = 0
			}
			cpu0 := ob.cpu()
			for b.Loop() {
				ids := ob.take(group)
				for i, id := range ids {
					rows[i] = []any{id, string(notifier.DeliverySent), int32(250), outcomeReply, outcomeSHA}
				}
				t := time.Now()
				n, err := ob.pool.CopyFrom(ctx, pgx.Identifier{"delivery_outcomes_log"}, cols, pgx.CopyFromRows(rows))
				if err != nil || n != int64(group) {
					b.Fatalf("copy %d outcomes: %d, %v", group, n, err)
				}
				copyWall += time.Since(t)
				copied += group
				if logged += group; logged >= foldEvery {
					fold()
				}
			}
			// What is left in the log is folded too, outside the loop's
			// time, so every outcome copied is also folded (a smaller fold
			// costs more per row: use a -benchtime that folds a few times).
			if logged > 0 {
				fold()
			}
			cpu := ob.cpu()
			if copied == 0 {
				return
			}
			b.ReportMetric(float64(copyWall.Nanoseconds())/float64(copied), "copy-ns/outcome")
			total := float64(copyWall.Nanoseconds()) / float64(copied)
			if folded > 0 {
				f := float64(foldWall.Nanoseconds()) / float64(folded)
				b.ReportMetric(f, "fold-ns/outcome")
				total += f
			}
			b.ReportMetric(total, "ns/outcome")
			if cpu >= 0 && cpu0 >= 0 {
				copyCPU := float64((cpu - cpu0 - foldCPU).Nanoseconds()) / float64(copied)
				b.ReportMetric(copyCPU, "copy-pg-cpu-ns/outcome")
				if folded > 0 {
					copyCPU += float64(foldCPU.Nanoseconds()) / float64(folded)
				}
				b.ReportMetric(copyCPU, "pg-cpu-ns/outcome")
			}
		})
	}
}
