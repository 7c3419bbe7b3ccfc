package store

import (
	"cmp"
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

// claimDeliveries marks a job's workable deliveries as sending, owned by the
// job ($4), and returns them with their contact. A chunk job works its
// deliveries until their first attempt; after a deferral the delivery's own
// retry job owns it ($3). A delivery already sending belongs to the job that
// claimed it (a rescued job keeps its id), so two jobs listing the same
// delivery never both send it. Final deliveries are never claimed.
const claimDeliveries = `
WITH claimed AS (
    UPDATE deliveries d SET status = 'sending', claimed_by = $4
    WHERE d.id = ANY($1) AND d.wave_id = $2
      AND (   (d.status = 'queued' AND ($3 OR d.attempts = 0))
           OR (d.status = 'deferred' AND $3)
           OR (d.status = 'sending' AND d.claimed_by = $4))
    RETURNING d.id, d.wave_id, d.notice_id, d.contact_id, d.recipient, d.message_id, d.reference_code,
              d.attempts, coalesce(d.first_attempt_at, d.queued_at) AS lifetime_start
)
SELECT cl.id, cl.wave_id, cl.notice_id, cl.recipient, cl.message_id, cl.reference_code, cl.attempts,
       cl.lifetime_start, c.name, c.role, c.locale, c.portal_access
FROM claimed cl
JOIN contacts c ON c.id = cl.contact_id
ORDER BY cl.id`

// contentAggregates summarises a set of items (the relation "its") for a
// message: the count, the counts by kind, the secret types, and the first
// items. ITEMS is replaced by a constant subquery, never by input.
const contentAggregates = `
       (SELECT count(*) FROM (ITEMS) AS its),
       (SELECT coalesce(json_agg(json_build_object('Kind', k.kind, 'Count', k.c) ORDER BY k.kind), '[]')
          FROM (SELECT its.kind, count(*) AS c FROM (ITEMS) AS its GROUP BY its.kind) AS k),
       (SELECT coalesce(array_agg(DISTINCT st ORDER BY st), '{}') FROM (ITEMS) AS its, unnest(its.secret_types) AS st),
       (SELECT coalesce(json_agg(json_build_object('Ref', x.item_ref, 'Kind', x.kind, 'Subject', x.subject,
                                                   'OccurredAt', x.occurred_at, 'SecretTypes', x.secret_types)), '[]')
          FROM (SELECT its.item_ref, its.kind, its.subject, its.occurred_at, its.secret_types FROM (ITEMS) AS its
                ORDER BY its.occurred_at NULLS LAST, its.id LIMIT $2) AS x)`

// noticeItems are the items a notice covers.
const noticeItems = `SELECT i.* FROM notice_items ni JOIN exposure_items i ON i.id = ni.item_id WHERE ni.notice_id = n.id`

// uncoveredItems are the items of organization $3 in incident $1 no notice covers yet.
const uncoveredItems = `SELECT i.* FROM exposure_items i WHERE i.incident_id = $1 AND i.organization_id = $3
	AND NOT EXISTS (SELECT 1 FROM notice_items ni WHERE ni.item_id = i.id)`

var (
	// noticeContents loads, once per notice, what its messages share.
	noticeContents = `
SELECT n.id, n.kind, inc.title, inc.summary, inc.slug, o.name, o.ref,` +
		strings.ReplaceAll(contentAggregates, "ITEMS", noticeItems) + `
FROM notices n
JOIN incidents inc ON inc.id = n.incident_id
JOIN organizations o ON o.id = n.organization_id
WHERE n.id = ANY($1)`

	// previewContent is the same for a notice not written yet.
	previewContent = `
SELECT 0, 'initial', inc.title, inc.summary, inc.slug, o.name, o.ref,` +
		strings.ReplaceAll(contentAggregates, "ITEMS", uncoveredItems) + `
FROM incidents inc, organizations o
WHERE inc.id = $1 AND o.id = $3`
)

// noticeContentDest lists where a content row scans into.
func noticeContentDest(n *notifier.NoticeContent) []any {
	return []any{&n.ID, &n.Kind, &n.IncidentTitle, &n.IncidentSummary, &n.IncidentSlug, &n.OrgName, &n.OrgRef,
		&n.ItemCount, &n.Kinds, &n.SecretTypes, &n.Items}
}

// ClaimDeliveries implements notifier.DeliveryStore. When the wave is not
// running nothing is claimed; when it was cancelled, the job's deliveries
// that are still pending are cancelled here, so a job that ran late (or a
// rescued one) leaves nothing hanging.
func (s *Store) ClaimDeliveries(ctx context.Context, chunk notifier.Chunk) (notifier.Claim, error) {
	var claim notifier.Claim
	if err := s.pool.QueryRow(ctx, `SELECT status, now() FROM waves WHERE id = $1`, chunk.WaveID).Scan(&claim.WaveStatus, &claim.Now); err != nil {
		return claim, wrap("claim deliveries", notFound(err, "no wave %d", chunk.WaveID))
	}
	switch claim.WaveStatus {
	case notifier.WaveCancelled:
		return claim, wrap("cancel deliveries", s.inTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'cancelled', finished_at = now(), smtp_reply = 'not sent: wave cancelled'
				WHERE id = ANY($1) AND (status IN ('queued', 'deferred') OR (status = 'sending' AND claimed_by = $2))`,
				chunk.DeliveryIDs, chunk.JobID); err != nil {
				return err
			}
			return voidUnsentNotices(ctx, tx, chunk.WaveID)
		}))
	case notifier.WaveRunning:
	default:
		return claim, nil
	}

	rows, err := s.pool.Query(ctx, claimDeliveries, chunk.DeliveryIDs, chunk.WaveID, chunk.Retry, chunk.JobID)
	if err != nil {
		return claim, wrap("claim deliveries", err)
	}
	var d notifier.OutgoingDelivery
	var noticeID int64
	noticeIDs := []int64{}
	byNotice := map[int64]*notifier.NoticeContent{}
	_, err = pgx.ForEachRow(rows, []any{&d.ID, &d.WaveID, &noticeID, &d.Recipient, &d.MessageID, &d.Reference,
		&d.Attempts, &d.LifetimeStart, &d.ContactName, &d.ContactRole, &d.ContactLocale, &d.PortalAccess}, func() error {
		n := byNotice[noticeID]
		if n == nil {
			n = &notifier.NoticeContent{ID: noticeID}
			byNotice[noticeID] = n
			noticeIDs = append(noticeIDs, noticeID)
		}
		d.Notice = n
		claim.Deliveries = append(claim.Deliveries, d)
		return nil
	})
	if err != nil {
		return claim, wrap("claim deliveries", err)
	}
	if len(noticeIDs) == 0 {
		return claim, nil
	}
	rows, err = s.pool.Query(ctx, noticeContents, noticeIDs, templates.ItemsShown)
	if err != nil {
		return claim, wrap("load notices", err)
	}
	var n notifier.NoticeContent
	_, err = pgx.ForEachRow(rows, noticeContentDest(&n), func() error {
		*byNotice[n.ID] = n
		return nil
	})
	return claim, wrap("load notices", err)
}

// templatesItemsShown is how many items a message lists.
const templatesItemsShown = templates.ItemsShown

// recordOutcomes writes a batch of outcomes in one statement. The status
// guard keeps a late outcome from overwriting a final state (a bounce
// recorded meanwhile).
const recordOutcomes = `
UPDATE deliveries d SET
    status           = u.status,
    attempts         = d.attempts + u.attempted::int,
    smtp_code        = CASE WHEN u.attempted THEN nullif(u.code, 0) ELSE d.smtp_code END,
    smtp_reply       = u.reply,
    message_sha256   = coalesce(u.sha, d.message_sha256),
    template_version = CASE WHEN u.version <> '' THEN u.version ELSE d.template_version END,
    first_attempt_at = CASE WHEN u.attempted THEN coalesce(d.first_attempt_at, now()) ELSE d.first_attempt_at END,
    last_attempt_at  = CASE WHEN u.attempted THEN now() ELSE d.last_attempt_at END,
    next_attempt_at  = u.retry_at,
    sent_at          = CASE WHEN u.status = 'sent' THEN now() ELSE d.sent_at END,
    finished_at      = CASE WHEN u.status IN ('sent', 'failed') THEN now() END
FROM unnest($1::bigint[], $2::text[], $3::bool[], $4::int[], $5::text[], $6::bytea[], $7::text[], $8::timestamptz[])
     AS u(id, status, attempted, code, reply, sha, version, retry_at)
WHERE d.id = u.id AND d.status NOT IN ('sent', 'failed', 'bounced', 'suppressed', 'cancelled')`

const insertOutcomeEvents = `
INSERT INTO delivery_events (delivery_id, type, smtp_code, enhanced_code, detail)
SELECT u.id, u.type, nullif(u.code, 0), u.enhanced, u.detail
FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[]) AS u(id, type, code, enhanced, detail)`

// completeWaves marks running waves completed once none of their
// deliveries is pending. The caller holds the waves' row locks, which
// serialises concurrent checks: the last job to finish always sees every
// other job's committed outcomes.
const completeWaves = `
UPDATE waves w SET status = 'completed', completed_at = now()
WHERE w.id = ANY($1) AND w.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.wave_id = w.id AND d.status IN ('queued', 'sending', 'deferred'))`

// RecordOutcomes implements notifier.DeliveryStore.
func (s *Store) RecordOutcomes(ctx context.Context, b notifier.OutcomeBatch) (notifier.WaveStatus, error) {
	outcomes, waveID, complete := b.Outcomes, b.WaveID, b.Complete
	n := len(outcomes)
	ids, statuses, replies, versions := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
	attempted, codes, shas, enhanced := make([]bool, n), make([]int32, n), make([][]byte, n), make([]string, n)
	events := make([]string, n)
	retryAt := make([]*time.Time, n)
	var retries []notifier.ScheduledChunk
	for i, o := range outcomes {
		ids[i], statuses[i], replies[i], versions[i] = o.DeliveryID, string(o.Status), o.Reply, o.TemplateVersion
		attempted[i], codes[i], shas[i], enhanced[i] = o.Attempted, int32(o.Code), o.SHA256, o.Enhanced
		events[i] = cmp.Or(o.Event, string(o.Status))
		if o.Status == notifier.DeliveryDeferred && o.Attempted {
			at := o.RetryAt
			retryAt[i] = &at
			retries = append(retries, notifier.ScheduledChunk{
				Chunk: notifier.Chunk{WaveID: o.WaveID, DeliveryIDs: []int64{o.DeliveryID}, Retry: true},
				RunAt: o.RetryAt,
			})
		}
	}
	var status notifier.WaveStatus
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if n > 0 {
			if _, err := tx.Exec(ctx, recordOutcomes, ids, statuses, attempted, codes, replies, shas, versions, retryAt); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, insertOutcomeEvents, ids, events, codes, enhanced, replies); err != nil {
				return err
			}
		}
		if b.Requeue != nil {
			if _, err := tx.Exec(ctx, releaseDeliveries, b.Requeue.DeliveryIDs, false); err != nil {
				return err
			}
			retries = append(retries, *b.Requeue)
		}
		if len(retries) > 0 {
			if err := s.jobs.EnqueueChunksTx(ctx, tx, retries); err != nil {
				return err
			}
		}
		if complete == nil {
			return tx.QueryRow(ctx, `SELECT status FROM waves WHERE id = $1`, waveID).Scan(&status)
		}
		if err := tx.QueryRow(ctx, `SELECT status FROM waves WHERE id = $1 FOR UPDATE`, waveID).Scan(&status); err != nil {
			return err
		}
		switch status {
		case notifier.WaveRunning:
			if _, err := tx.Exec(ctx, completeWaves, []int64{waveID}); err != nil {
				return err
			}
		case notifier.WaveCancelled:
			if err := voidUnsentNotices(ctx, tx, waveID); err != nil {
				return err
			}
		}
		return complete(ctx, tx)
	})
	return status, wrap("record outcomes", err)
}

// ReleaseDeliveries implements notifier.DeliveryStore: claimed deliveries
// that were not sent go back to what they were before the claim, or are
// cancelled with their wave.
func (s *Store) ReleaseDeliveries(ctx context.Context, ids []int64, cancelled bool) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, releaseDeliveries, ids, cancelled)
	return wrap("release deliveries", err)
}

const releaseDeliveries = `UPDATE deliveries SET
	status = CASE WHEN $2 THEN 'cancelled' WHEN attempts > 0 THEN 'deferred' ELSE 'queued' END,
	finished_at = CASE WHEN $2 THEN now() END,
	smtp_reply = CASE WHEN $2 THEN 'not sent: wave cancelled' ELSE smtp_reply END
	WHERE id = ANY($1) AND status IN ('sending', 'queued', 'deferred')`
