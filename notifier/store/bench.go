package store

import (
	"context"
)

// WaveTimings are a wave's delivery latencies, measured on the database's
// clock from launch to the relay's acceptance.
type WaveTimings struct {
	Delivered   int
	P50, P99    float64 // seconds
	LastSentSec float64 // seconds from launch to the last acceptance
}

// WaveTimings measures a launched wave's sent deliveries.
func (s *Store) WaveTimings(ctx context.Context, waveID int64) (WaveTimings, error) {
	var t WaveTimings
	err := s.pool.QueryRow(ctx, `
SELECT count(*),
       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.sent_at - w.launched_at)), 0),
       coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM d.sent_at - w.launched_at)), 0),
       coalesce(max(extract(epoch FROM d.sent_at - w.launched_at)), 0)
FROM notices n JOIN deliveries d ON d.notice_id = n.id JOIN waves w ON w.id = n.wave_id
WHERE n.wave_id = $1 AND d.status = 'sent'`, waveID).Scan(&t.Delivered, &t.P50, &t.P99, &t.LastSentSec)
	return t, wrap("wave timings", err)
}

// WaveRows counts the rows a wave wrote, by table.
func (s *Store) WaveRows(ctx context.Context, waveID int64) (map[string]int64, error) {
	var notices, items, deliveries, events int64
	err := s.pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM notices WHERE wave_id = $1),
       (SELECT count(*) FROM notice_items ni JOIN notices n ON n.id = ni.notice_id WHERE n.wave_id = $1),
       (SELECT count(*) FROM notices n JOIN deliveries d ON d.notice_id = n.id WHERE n.wave_id = $1),
       (SELECT count(*) FROM notices n JOIN deliveries d ON d.notice_id = n.id JOIN delivery_events e ON e.delivery_id = d.id
         WHERE n.wave_id = $1)`, waveID).
		Scan(&notices, &items, &deliveries, &events)
	return map[string]int64{"notices": notices, "notice_items": items, "deliveries": deliveries, "delivery_events": events}, wrap("wave rows", err)
}

// WaveStatus returns a wave's status alone, cheaply (for polling).
func (s *Store) WaveStatus(ctx context.Context, waveID int64) (string, error) {
	var st string
	err := s.pool.QueryRow(ctx, `SELECT status FROM waves WHERE id = $1`, waveID).Scan(&st)
	return st, wrap("wave status", notFound(err, "no wave %d", waveID))
}
