package store

import (
	"context"
	"encoding/json"

	"github.com/breachnotify/breachnotify/notifier"
)

// metricsSnapshot reads every gauge in one round trip. It reads River's
// job table (state counts only): River has no counting API, and its own
// documentation gives this query.
var metricsSnapshot = `
SELECT
  (SELECT coalesce(json_agg(json_build_object('queue', queue, 'state', state, 'count', n)), '[]')
     FROM (SELECT queue, state, count(*) AS n FROM river_job GROUP BY 1, 2) AS q),
  (SELECT coalesce(json_object_agg(queue, age), '{}')
     FROM (SELECT queue, extract(epoch FROM now() - min(scheduled_at)) AS age
           FROM river_job WHERE state = 'available' AND scheduled_at <= now() GROUP BY queue) AS a),
  (SELECT count(*) FROM notices n WHERE n.parent_id IS NULL AND n.voided_at IS NULL AND n.acknowledged_at IS NOT NULL),
  (SELECT count(*) FROM notices n WHERE n.parent_id IS NULL AND n.voided_at IS NULL AND n.acknowledged_at IS NULL
     AND EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id AND d.sent_at IS NOT NULL)),
  (SELECT coalesce(extract(epoch FROM now() - min(f.first_sent)), 0)
     FROM notices n CROSS JOIN LATERAL (SELECT min(d.sent_at) AS first_sent FROM deliveries d WHERE d.notice_id = n.id) AS f
     WHERE n.parent_id IS NULL AND n.voided_at IS NULL AND n.acknowledged_at IS NULL),
  (SELECT count(DISTINCT n.organization_id) FROM notices n
     WHERE n.voided_at IS NULL AND n.parent_id IS NULL
       AND EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id)
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id AND d.status IN (` + reachingStatuses + `))),
  (SELECT coalesce(json_object_agg(kind, n), '{}') FROM (SELECT kind, count(*) AS n FROM bounces GROUP BY kind) AS b),
  (SELECT coalesce(json_agg(json_build_object('wave_id', w.id, 'counts',
           (SELECT coalesce(json_object_agg(s.status, s.n), '{}') FROM
              (SELECT d.status, count(*) AS n FROM notices n JOIN deliveries d ON d.notice_id = n.id
               WHERE n.wave_id = w.id GROUP BY d.status) AS s))), '[]')
     FROM waves w WHERE w.status IN (` + activeWaveStatuses + `)),
  (SELECT coalesce(json_agg(json_build_object('automatic', a.automatic, 'count', a.n, 'oldest_seconds', a.age)), '[]')
     FROM (SELECT w.automatic, count(*) AS n, extract(epoch FROM now() - min(w.created_at)) AS age
           FROM waves w JOIN incidents i ON i.id = w.incident_id
           WHERE w.status = 'planned' AND (i.policy->>'require_approval')::boolean
           GROUP BY w.automatic) AS a)`

// StateSnapshot reads the gauges of metrics and the dashboard.
func (s *Store) StateSnapshot(ctx context.Context) (notifier.StateSnapshot, error) {
	var snap notifier.StateSnapshot
	var jobs, oldest, bounces, waves, awaiting []byte
	err := s.pool.QueryRow(ctx, metricsSnapshot).Scan(&jobs, &oldest, &snap.NoticesAcknowledged, &snap.NoticesUnacknowledged,
		&snap.OldestUnacknowledged, &snap.UnreachableOrganizations, &bounces, &waves, &awaiting)
	if err != nil {
		return snap, wrap("metrics snapshot", err)
	}
	for _, p := range []struct {
		raw []byte
		dst any
	}{{jobs, &snap.Jobs}, {oldest, &snap.OldestAvailable}, {bounces, &snap.Bounces}, {waves, &snap.Waves}, {awaiting, &snap.AwaitingApproval}} {
		if err := json.Unmarshal(p.raw, p.dst); err != nil {
			return snap, wrap("metrics snapshot", err)
		}
	}
	return snap, nil
}
