package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

// claimDeliveries marks a job's workable deliveries as sending and returns
// them with their contact. Ownership follows attempts: a chunk job owns its
// deliveries until their first attempt; after a deferral, the delivery's
// own retry job owns it ($2 = true). Final deliveries are never claimed,
// and nothing is claimed from a wave that is not running.
const claimDeliveries = `
WITH claimed AS (
    UPDATE deliveries d SET status = 'sending'
    FROM waves w
    WHERE d.id = ANY($1)
      AND w.id = d.wave_id AND w.status = 'running'
      AND (CASE WHEN $2 THEN d.status IN ('queued', 'sending', 'deferred')
                ELSE d.status IN ('queued', 'sending') AND d.attempts = 0 END)
    RETURNING d.id, d.wave_id, d.notice_id, d.contact_id, d.recipient, d.message_id, d.reference_code,
              d.attempts, coalesce(d.first_attempt_at, d.queued_at) AS lifetime_start
)
SELECT cl.id, cl.wave_id, cl.notice_id, cl.recipient, cl.message_id, cl.reference_code, cl.attempts,
       cl.lifetime_start, c.name, c.role, c.locale, c.portal_access, now()
FROM claimed cl
JOIN contacts c ON c.id = cl.contact_id
ORDER BY cl.id`

// noticeContents loads, once per notice, what its messages share: the
// incident, the organization, and a summary of the items covered.
const noticeContents = `
SELECT n.id, n.kind, inc.title, inc.summary, inc.slug, o.name, o.ref,
       (SELECT count(*) FROM notice_items ni WHERE ni.notice_id = n.id),
       (SELECT coalesce(json_agg(json_build_object('Kind', k.kind, 'Count', k.c) ORDER BY k.kind), '[]')
          FROM (SELECT i.kind, count(*) AS c FROM notice_items ni JOIN exposure_items i ON i.id = ni.item_id
                WHERE ni.notice_id = n.id GROUP BY i.kind) AS k),
       (SELECT coalesce(array_agg(DISTINCT st ORDER BY st), '{}')
          FROM notice_items ni JOIN exposure_items i ON i.id = ni.item_id, unnest(i.secret_types) AS st
          WHERE ni.notice_id = n.id),
       (SELECT coalesce(json_agg(json_build_object('Ref', x.item_ref, 'Kind', x.kind, 'Subject', x.subject,
                                                   'OccurredAt', x.occurred_at, 'SecretTypes', x.secret_types)), '[]')
          FROM (SELECT i.item_ref, i.kind, i.subject, i.occurred_at, i.secret_types
                FROM notice_items ni JOIN exposure_items i ON i.id = ni.item_id
                WHERE ni.notice_id = n.id
                ORDER BY i.occurred_at NULLS LAST, i.id
                LIMIT $2) AS x)
FROM notices n
JOIN incidents inc ON inc.id = n.incident_id
JOIN organizations o ON o.id = n.organization_id
WHERE n.id = ANY($1)`

// ClaimDeliveries implements notifier.DeliveryStore.
func (s *Store) ClaimDeliveries(ctx context.Context, ids []int64, retry bool) (notifier.Claim, error) {
	var claim notifier.Claim
	rows, err := s.pool.Query(ctx, claimDeliveries, ids, retry)
	if err != nil {
		return claim, wrap("claim deliveries", err)
	}
	var d notifier.OutgoingDelivery
	var noticeID int64
	noticeIDs := []int64{}
	byNotice := map[int64]*notifier.NoticeContent{}
	_, err = pgx.ForEachRow(rows, []any{&d.ID, &d.WaveID, &noticeID, &d.Recipient, &d.MessageID, &d.Reference,
		&d.Attempts, &d.LifetimeStart, &d.ContactName, &d.ContactRole, &d.ContactLocale, &d.PortalAccess, &claim.Now}, func() error {
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
	var id int64
	var n notifier.NoticeContent
	_, err = pgx.ForEachRow(rows, []any{&id, &n.Kind, &n.IncidentTitle, &n.IncidentSummary, &n.IncidentSlug,
		&n.OrgName, &n.OrgRef, &n.ItemCount, &n.Kinds, &n.SecretTypes, &n.Items}, func() error {
		n.ID = id
		*byNotice[id] = n
		return nil
	})
	return claim, wrap("load notices", err)
}

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
    sent_at          = CASE WHEN u.status = 'sent' THEN now() ELSE d.sent_at END,
    finished_at      = CASE WHEN u.status IN ('sent', 'failed') THEN now() END
FROM unnest($1::bigint[], $2::text[], $3::bool[], $4::int[], $5::text[], $6::bytea[], $7::text[])
     AS u(id, status, attempted, code, reply, sha, version)
WHERE d.id = u.id AND d.status NOT IN ('sent', 'failed', 'bounced', 'suppressed')`

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
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []notifier.Outcome, waveIDs []int64, complete notifier.JobCompleter) error {
	n := len(outcomes)
	ids, statuses, replies, versions := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
	attempted, codes, shas := make([]bool, n), make([]int32, n), make([][]byte, n)
	enhanced := make([]string, n)
	var retries []notifier.ScheduledChunk
	for i, o := range outcomes {
		ids[i], statuses[i], replies[i], versions[i] = o.DeliveryID, string(o.Status), o.Reply, o.TemplateVersion
		attempted[i], codes[i], shas[i], enhanced[i] = o.Attempted, int32(o.Code), o.SHA256, o.Enhanced
		if o.Status == notifier.DeliveryDeferred {
			retries = append(retries, notifier.ScheduledChunk{
				Chunk: notifier.Chunk{WaveID: o.WaveID, DeliveryIDs: []int64{o.DeliveryID}, Retry: true},
				RunAt: o.RetryAt,
			})
		}
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if n > 0 {
			if _, err := tx.Exec(ctx, recordOutcomes, ids, statuses, attempted, codes, replies, shas, versions); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, insertOutcomeEvents, ids, statuses, codes, enhanced, replies); err != nil {
				return err
			}
		}
		if len(retries) > 0 {
			if err := s.jobs.EnqueueChunksTx(ctx, tx, retries); err != nil {
				return err
			}
		}
		if complete == nil {
			return nil
		}
		if len(waveIDs) > 0 {
			if _, err := tx.Exec(ctx, `SELECT 1 FROM waves WHERE id = ANY($1) ORDER BY id FOR UPDATE`, waveIDs); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, completeWaves, waveIDs); err != nil {
				return err
			}
		}
		return complete(ctx, tx)
	})
	return wrap("record outcomes", err)
}

// ReleaseDeliveries implements notifier.DeliveryStore: claimed deliveries
// that were not sent go back to what they were before the claim.
func (s *Store) ReleaseDeliveries(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = CASE WHEN attempts > 0 THEN 'deferred' ELSE 'queued' END
		WHERE id = ANY($1) AND status = 'sending'`, ids)
	return wrap("release deliveries", err)
}
