package store

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// initialTargets selects the organizations an initial wave of incident $1
// notifies: those with items no notice covers yet, no initial notice so
// far, and at least one active contact to tell.
const initialTargets = `
SELECT DISTINCT i.organization_id AS id
FROM exposure_items i
WHERE i.incident_id = $1
  AND NOT EXISTS (SELECT 1 FROM notice_items ni WHERE ni.item_id = i.id)
  AND NOT EXISTS (SELECT 1 FROM notices n
                  WHERE n.incident_id = $1 AND n.organization_id = i.organization_id AND n.kind = 'initial')
  AND EXISTS (SELECT 1 FROM contacts c WHERE c.organization_id = i.organization_id AND c.status = 'active')`

// PlanWave records a planned wave with the counts it would send now.
func (s *Store) PlanWave(ctx context.Context, by notifier.Actor, incidentID int64, kind notifier.WaveKind) (notifier.WavePlan, error) {
	q := `
WITH targets AS (` + initialTargets + `)
INSERT INTO waves (incident_id, kind, planned_notices, planned_deliveries, planned_by)
SELECT $1, $2,
       (SELECT count(*) FROM targets),
       (SELECT count(*) FROM contacts c WHERE c.status = 'active' AND c.organization_id IN (SELECT id FROM targets)),
       $3
RETURNING id, incident_id, kind, status, planned_notices, planned_deliveries`
	var p notifier.WavePlan
	err := s.pool.QueryRow(ctx, q, incidentID, kind, nullableKey(by)).
		Scan(&p.ID, &p.IncidentID, &p.Kind, &p.Status, &p.Notices, &p.Deliveries)
	return p, wrap("plan wave", err)
}

// Launch statements, in the order LaunchWave runs them.
const (
	launchNotices = `
INSERT INTO notices (wave_id, incident_id, organization_id, kind)
SELECT $2, $1, t.id, 'initial' FROM (` + initialTargets + `) AS t
ORDER BY t.id`

	launchNoticeItems = `
INSERT INTO notice_items (notice_id, item_id)
SELECT n.id, i.id
FROM notices n
JOIN exposure_items i ON i.incident_id = n.incident_id AND i.organization_id = n.organization_id
WHERE n.wave_id = $1
  AND NOT EXISTS (SELECT 1 FROM notice_items ni WHERE ni.item_id = i.id)`

	// launchDeliveries writes one delivery per contact of each notice's
	// organization. Contacts that bounced or were suppressed get a final
	// "suppressed" row, so the report shows who was deliberately skipped.
	// Deliveries are ordered by recipient domain so a chunk mostly talks to
	// one destination.
	launchDeliveries = `
INSERT INTO deliveries (notice_id, wave_id, contact_id, status, recipient, message_id, reference_code, finished_at)
SELECT n.id, $1, c.id,
       CASE WHEN c.status = 'active' THEN 'queued' ELSE 'suppressed' END,
       c.email,
       gen_random_uuid()::text || '@' || $2,
       bn_reference_code(),
       CASE WHEN c.status = 'active' THEN NULL ELSE now() END
FROM notices n
JOIN contacts c ON c.organization_id = n.organization_id
WHERE n.wave_id = $1
ORDER BY lower(split_part(c.email, '@', 2)), n.id, c.id
RETURNING id, status`
)

// LaunchWave writes a planned wave's notices, their item snapshots, the
// deliveries and one delivery job per chunk in one transaction. The wave
// row lock makes concurrent launches of one wave queue up; the incident row
// lock keeps two waves of one incident from choosing the same targets. A
// wave already launched is returned unchanged.
func (s *Store) LaunchWave(ctx context.Context, by notifier.Actor, waveID int64, chunkSize int) (notifier.Wave, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var incidentID int64
		var status notifier.WaveStatus
		err := tx.QueryRow(ctx, `SELECT incident_id, status FROM waves WHERE id = $1 FOR UPDATE`, waveID).Scan(&incidentID, &status)
		if err != nil {
			return notFound(err, "no wave %d", waveID)
		}
		if status != notifier.WavePlanned && status != notifier.WaveApproved {
			return nil // launched before: the launch is a no-op
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE`, incidentID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, launchNotices, incidentID, waveID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, launchNoticeItems, waveID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, launchDeliveries, waveID, s.messageIDDomain)
		if err != nil {
			return err
		}
		var queued []int64
		var id int64
		var st string
		if _, err := pgx.ForEachRow(rows, []any{&id, &st}, func() error {
			if st == string(notifier.DeliveryQueued) {
				queued = append(queued, id)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := s.jobs.EnqueueChunksTx(ctx, tx, chunkDeliveries(waveID, queued, chunkSize)); err != nil {
			return err
		}
		next := notifier.WaveRunning
		if len(queued) == 0 {
			next = notifier.WaveCompleted
		}
		_, err = tx.Exec(ctx, `UPDATE waves SET status = $2, launched_at = now(), launched_by = $3,
			completed_at = CASE WHEN $2 = 'completed' THEN now() END WHERE id = $1`, waveID, next, nullableKey(by))
		return err
	})
	if err != nil {
		return notifier.Wave{}, wrap("launch wave", err)
	}
	return s.Wave(ctx, waveID)
}

// chunkDeliveries splits ids (in launch order) into delivery jobs.
func chunkDeliveries(waveID int64, ids []int64, size int) []notifier.ScheduledChunk {
	chunks := make([]notifier.ScheduledChunk, 0, (len(ids)+size-1)/size)
	for part := range slices.Chunk(ids, size) {
		chunks = append(chunks, notifier.ScheduledChunk{Chunk: notifier.Chunk{WaveID: waveID, DeliveryIDs: part}})
	}
	return chunks
}

// Wave returns a wave with its delivery counts by status.
func (s *Store) Wave(ctx context.Context, waveID int64) (notifier.Wave, error) {
	const q = `
SELECT w.id, w.incident_id, w.kind, w.status, w.created_at, w.launched_at, w.completed_at,
       (SELECT count(*) FROM notices n WHERE n.wave_id = w.id)
FROM waves w WHERE w.id = $1`
	w := notifier.Wave{Deliveries: map[notifier.DeliveryStatus]int{}}
	for _, st := range notifier.DeliveryStatuses {
		w.Deliveries[st] = 0
	}
	err := s.pool.QueryRow(ctx, q, waveID).Scan(&w.ID, &w.IncidentID, &w.Kind, &w.Status,
		&w.CreatedAt, &w.LaunchedAt, &w.CompletedAt, &w.Notices.Total)
	if err != nil {
		return w, wrap("get wave", notFound(err, "no wave %d", waveID))
	}
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM deliveries WHERE wave_id = $1 GROUP BY status`, waveID)
	if err != nil {
		return w, wrap("count deliveries", err)
	}
	var st notifier.DeliveryStatus
	var n int
	_, err = pgx.ForEachRow(rows, []any{&st, &n}, func() error {
		w.Deliveries[st] = n
		return nil
	})
	return w, wrap("count deliveries", err)
}
