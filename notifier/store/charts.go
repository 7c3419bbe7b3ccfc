package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// sentPerMinute counts a wave's sends in each of the last minutes, a zero
// row for a quiet one. It reads the deliveries_wave_sent index: only the
// rows sent in the window, however large the wave.
var sentPerMinute = `
WITH sent AS (
    SELECT date_trunc('minute', sent_at) AS at, count(*) AS n
    FROM deliveries
    WHERE wave_id = $1 AND sent_at IS NOT NULL AND sent_at >= date_trunc('minute', now()) - make_interval(mins => $2 - 1)
    GROUP BY 1
)
SELECT m.at, coalesce(sent.n, 0)
FROM generate_series(date_trunc('minute', now()) - make_interval(mins => $2 - 1), date_trunc('minute', now()), interval '1 minute') AS m(at)
LEFT JOIN sent USING (at)
ORDER BY m.at`

// outcomesOverTime buckets a wave's deliveries that left queued/sending by
// the time of their end (or last attempt, for a deferred one), per status:
// at most ChartBucketsMax × statuses rows.
var outcomesOverTime = `
SELECT date_bin(make_interval(secs => $2), coalesce(finished_at, last_attempt_at, queued_at), $3) AS at, status, count(*)
FROM deliveries
WHERE wave_id = $1 AND status NOT IN ('` + string(notifier.DeliveryQueued) + `', '` + string(notifier.DeliverySending) + `')
GROUP BY 1, 2
ORDER BY 1, 2`

// acknowledgedOverTime is the running total of a wave's acknowledged
// notices per bucket (index notices_wave).
var acknowledgedOverTime = `
SELECT at, sum(n) OVER (ORDER BY at)::int
FROM (
    SELECT date_bin(make_interval(secs => $2), acknowledged_at, $3) AS at, count(*) AS n
    FROM notices
    WHERE wave_id = $1 AND acknowledged_at IS NOT NULL
    GROUP BY 1
) a
ORDER BY at`

// failureGroups counts an incident's failures by recipient domain and
// reply class. The class is the enhanced status code of the last reply
// with its last part dropped ("5.7.x"), else the SMTP code.
var failureGroups = `
SELECT lower(split_part(d.recipient, '@', 2)) AS domain,
       coalesce(substring(d.smtp_reply from '\m([245]\.[0-9]{1,3})\.[0-9]{1,3}\M') || '.x', d.smtp_code::text, 'no reply') AS class,
       count(*) AS n
FROM deliveries d
WHERE d.wave_id IN (SELECT id FROM waves WHERE incident_id = $1) AND d.status IN (` + failedStatuses + `)
GROUP BY 1, 2
ORDER BY n DESC, domain, class
LIMIT $2`

// WaveCharts implements notifier.ChartStore.
func (s *Store) WaveCharts(ctx context.Context, waveID int64) (notifier.WaveCharts, error) {
	var c notifier.WaveCharts
	var launched *time.Time
	var ended time.Time
	err := s.pool.QueryRow(ctx, `SELECT launched_at, coalesce(completed_at, cancelled_at, now()), now() FROM waves WHERE id = $1`, waveID).
		Scan(&launched, &ended, &c.Now)
	if err != nil {
		return c, wrap("wave charts", notFound(err, "no wave %d", waveID))
	}
	if launched == nil {
		return c, nil
	}
	rows, err := s.pool.Query(ctx, sentPerMinute, waveID, notifier.SendRateMinutes)
	if err != nil {
		return c, wrap("wave send rate", err)
	}
	if c.SentPerMinute, err = pgx.CollectRows(rows, pgx.RowToStructByPos[notifier.TimeCount]); err != nil {
		return c, wrap("wave send rate", err)
	}

	c.Bucket = notifier.ChartBucketWidth(ended.Sub(*launched))
	rows, err = s.pool.Query(ctx, outcomesOverTime, waveID, c.Bucket.Seconds(), *launched)
	if err != nil {
		return c, wrap("wave outcomes", err)
	}
	if c.Outcomes, err = pgx.CollectRows(rows, pgx.RowToStructByPos[notifier.OutcomeCount]); err != nil {
		return c, wrap("wave outcomes", err)
	}

	// Acknowledgements go on after the wave ends: their buckets span the
	// time from launch to now.
	c.AckBucket = notifier.ChartBucketWidth(c.Now.Sub(*launched))
	rows, err = s.pool.Query(ctx, acknowledgedOverTime, waveID, c.AckBucket.Seconds(), *launched)
	if err != nil {
		return c, wrap("wave acknowledgements", err)
	}
	c.Acknowledged, err = pgx.CollectRows(rows, pgx.RowToStructByPos[notifier.TimeCount])
	return c, wrap("wave acknowledgements", err)
}

// FailureGroups implements notifier.ChartStore.
func (s *Store) FailureGroups(ctx context.Context, incidentID int64, limit int) ([]notifier.FailureGroup, error) {
	rows, err := s.pool.Query(ctx, failureGroups, incidentID, limit)
	if err != nil {
		return nil, wrap("failure groups", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[notifier.FailureGroup])
	return list, wrap("failure groups", err)
}
