package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RegisterProcess implements delivery.LeaseStore.
func (s *Store) RegisterProcess(ctx context.Context, p delivery.Process, ttl time.Duration) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO delivery_processes (id, host, pid, lease_until)
		VALUES ($1, $2, $3, now() + $4::interval)
		ON CONFLICT (id) DO UPDATE SET lease_until = EXCLUDED.lease_until`, p.ID, p.Host, p.PID, ttl)
	return wrap("register delivery process", markTransient(err))
}

// RenewLease implements delivery.LeaseStore.
func (s *Store) RenewLease(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE delivery_processes SET lease_until = now() + $2::interval WHERE id = $1`, id, ttl)
	if err != nil {
		return false, wrap("renew delivery lease", markTransient(err))
	}
	return tag.RowsAffected() == 1, nil
}

// EndProcess implements delivery.LeaseStore. Claims the process still
// holds (none after a graceful stop) are left for TakeOver, which takes
// over claims whose lease is gone.
func (s *Store) EndProcess(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM delivery_processes WHERE id = $1`, id)
	return wrap("end delivery process", err)
}

// takeOverClaims removes the leases that lapsed more than $1 ago and the
// claims they held, with any claim whose lease no longer exists (a claim
// committed just after its lease was taken over). Two processes sweeping at
// once each take what they deleted: a row is deleted once.
var takeOverClaims = `
WITH dead AS (
    DELETE FROM delivery_processes WHERE lease_until < now() - $1::interval
    RETURNING id, host, pid, lease_until
),
gone AS (
    DELETE FROM delivery_claims cl
    WHERE cl.owner IS NOT NULL
      AND (cl.owner IN (SELECT id FROM dead) OR NOT EXISTS (SELECT 1 FROM delivery_processes p WHERE p.id = cl.owner))
    RETURNING cl.owner, cl.job_id, cl.wave_id, cl.delivery_ids
)
SELECT o.owner, coalesce(d.host, ''), coalesce(d.pid, 0), coalesce(d.lease_until, now()),
       coalesce((SELECT array_agg(g.job_id ORDER BY g.job_id) FROM gone g WHERE g.owner = o.owner), '{}'),
       coalesce((SELECT array_agg(DISTINCT g.wave_id) FROM gone g WHERE g.owner = o.owner), '{}'),
       (SELECT count(*) FROM deliveries x
        WHERE x.id IN (SELECT unnest(g.delivery_ids) FROM gone g WHERE g.owner = o.owner) AND x.status IN (` + pendingStatuses + `))
FROM (SELECT id AS owner FROM dead UNION SELECT owner FROM gone) AS o
LEFT JOIN dead d ON d.id = o.owner`

// TakeOver implements delivery.LeaseStore.
func (s *Store) TakeOver(ctx context.Context, by string, margin time.Duration) ([]delivery.Takeover, error) {
	var taken []delivery.Takeover
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		taken = taken[:0]
		rows, err := tx.Query(ctx, takeOverClaims, margin)
		if err != nil {
			return err
		}
		var jobsOf [][]int64
		var t delivery.Takeover
		var jobIDs []int64
		_, err = pgx.ForEachRow(rows, []any{&t.Owner, &t.Host, &t.PID, &t.LeaseUntil, &jobIDs, &t.WaveIDs, &t.Deliveries}, func() error {
			taken = append(taken, t)
			jobsOf = append(jobsOf, jobIDs)
			return nil
		})
		if err != nil {
			return err
		}
		for i := range taken {
			// The dead process's jobs are cancelled (River finalises
			// them when it rescues them) and their chunks get new jobs:
			// the claim finds what is still pending.
			chunks, err := s.jobs.TakeOverJobsTx(ctx, tx, jobsOf[i], taken[i].Owner)
			if err != nil {
				return err
			}
			taken[i].Jobs = len(chunks)
			for _, c := range chunks {
				if !slices.Contains(taken[i].WaveIDs, c.WaveID) {
					taken[i].WaveIDs = append(taken[i].WaveIDs, c.WaveID)
				}
			}
			if err := s.jobs.EnqueueChunksTx(ctx, tx, chunks); err != nil {
				return err
			}
			if len(taken[i].WaveIDs) == 0 {
				continue
			}
			why := "its lease lapsed at " + taken[i].LeaseUntil.UTC().Format(time.RFC3339)
			if taken[i].Host == "" {
				why = "its lease no longer existed" // a claim committed after its lease was taken over
			}
			note := fmt.Sprintf("%d pending deliveries of process %s taken over by %s: %s", taken[i].Deliveries, taken[i].Owner, by, why)
			if _, err := tx.Exec(ctx, `UPDATE waves SET taken_over_at = now(), takeover_note = $2 WHERE id = ANY($1)`,
				taken[i].WaveIDs, note); err != nil {
				return err
			}
		}
		return nil
	})
	return taken, wrap("take over dead delivery processes", markTransient(err))
}

// transientError marks a database error worth retrying as is: the
// connection or the server went away, or a serialisation conflict.
type transientError struct{ error }

func (e transientError) Unwrap() error   { return e.error }
func (e transientError) Transient() bool { return true }

// markTransient marks err transient when retrying the same statement may
// succeed: connection failures (class 08), transaction rollbacks for
// conflicts (40), insufficient resources (53), operator intervention such
// as a terminated backend (57), network errors, and pgx's own verdicts.
func markTransient(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if len(pgErr.Code) < 2 {
			return err
		}
		switch pgErr.Code[:2] {
		case "08", "40", "53", "57":
			return transientError{err}
		}
		return err
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err) || errors.Is(err, net.ErrClosed) {
		return transientError{err}
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return transientError{err}
	}
	return err
}
