package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier/politeness"
)

// reserveSlots is one GCRA step for every process at once: when the key's
// theoretical arrival time (tat) is at most $3 seconds ahead, it moves on by
// $2 seconds (the reserved slots) from tat or now, whichever is later, and
// the answer is where the reservation ends; otherwise nothing changes and
// the answer is the key's tat. Concurrent reservations of one key queue on
// its row, so each gets slots of its own. Times are relative to the
// database's now(), so the processes' clocks need not agree.
const reserveSlots = `
WITH reserved AS (
	INSERT INTO pacing_slots AS p (key, tat) VALUES ($1, now() + make_interval(secs => $2))
	ON CONFLICT (key) DO UPDATE SET tat = greatest(p.tat, now()) + make_interval(secs => $2)
		WHERE p.tat <= now() + make_interval(secs => $3)
	RETURNING p.tat
)
SELECT true, tat, extract(epoch FROM tat - now())::float8 FROM reserved
UNION ALL
SELECT false, tat, extract(epoch FROM tat - now())::float8 FROM pacing_slots
	WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM reserved)`

// ReserveSlots implements politeness.SlotStore: the send rates hold for
// all the processes sharing the database.
func (s *Store) ReserveSlots(ctx context.Context, req politeness.SlotRequest) (politeness.SlotGrant, error) {
	span := time.Duration(req.Count) * req.Interval
	var (
		granted bool
		tat     time.Time
		at      float64
	)
	err := s.pool.QueryRow(ctx, reserveSlots, req.Key, span.Seconds(), req.Ahead.Seconds()).Scan(&granted, &tat, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		// The row was deleted between the upsert's check and the read
		// (ForgetIdlePacing): the key is free now.
		return politeness.SlotGrant{}, nil
	}
	if err != nil {
		return politeness.SlotGrant{}, fmt.Errorf("reserve send slots of %s: %w", req.Key, err)
	}
	d := time.Duration(at * float64(time.Second))
	if granted {
		return politeness.SlotGrant{Granted: true, First: max(0, d-span), Start: tat.Add(-span)}, nil
	}
	return politeness.SlotGrant{First: d}, nil
}

// ForgetIdlePacing deletes the pacing rows of limits unused for an hour
// (the domains of past waves). A row whose tat has passed says nothing
// more than no row: the next reservation starts from now either way.
func (s *Store) ForgetIdlePacing(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM pacing_slots WHERE tat < now() - interval '1 hour'`); err != nil {
		return fmt.Errorf("forget idle pacing: %w", err)
	}
	return nil
}
