package store

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/templates"
)

// claimDeliveries claims a job's workable deliveries and returns them with
// their contact, and, for anything but an initial notice, the Message-IDs
// of the earlier messages the contact got in the incident (the last ten),
// to thread on. A chunk job works its deliveries until their first
// attempt; after a deferral the delivery's own retry job owns it ($2). A
// delivery listed in another job's claim ($3 is this job, $4 the wave) is
// left alone, so two jobs listing the same delivery never both send it.
// Final deliveries are never selected. (The status is tested with CASE on
// purpose: a plain status IN ('queued', 'deferred') lets the planner AND
// in the partial "pending" index, which holds every pending row of the
// wave, instead of fetching just the listed ids.)
//
// The same statement records the claim (delivery_claims, ids sorted, with
// the lease of the process working it, $8: see delivery.Lease) and
// stores the hash ($5, one per listed id, in $1's order) of each claimed
// delivery's acknowledgement token, so the link works on arrival. It also
// cancels (acked) the reminders and escalations of a notice acknowledged
// since they were queued, or while they waited for a retry: an
// acknowledgement stops the chain, including what is already queued.
//
// Other jobs' claims are read once per statement, not once per delivery:
// an earlier form tested d.id = ANY(cl.delivery_ids) for every delivery
// against every claim of the wave (100 × 40 × 100 comparisons, ~9 ms per
// claim on the 2-core reference machine, under the wave's claim lock).
// Claims hold sorted ids, so a claim whose first and last ids do not
// bracket any listed id ($6 the smallest, $7 the largest) is skipped
// without reading its ids; chunks of one wave are mostly disjoint ranges.
var claimDeliveries = `
WITH taken AS MATERIALIZED (
    SELECT x.id FROM delivery_claims cl CROSS JOIN LATERAL unnest(cl.delivery_ids) AS x(id)
    WHERE cl.wave_id = $4 AND cl.job_id <> $3 AND cl.claimed_at > now() - interval '` + staleClaim + `'
      AND cl.delivery_ids[1] <= $7 AND cl.delivery_ids[cardinality(cl.delivery_ids)] >= $6
      AND x.id = ANY($1)
),
acked AS (
    UPDATE deliveries d SET status = 'cancelled', finished_at = now(), smtp_reply = 'not sent: the notice was acknowledged'
    FROM notices n JOIN notices root ON root.id = n.parent_id
    WHERE EXISTS (SELECT 1 FROM waves w WHERE w.id = $4 AND w.kind IN (` + chaseKinds + `)) -- once, not per row
      AND d.id = ANY($1) AND n.id = d.notice_id AND n.kind IN (` + chaseKinds + `) AND root.acknowledged_at IS NOT NULL
      AND d.status IN (` + pendingStatuses + `) AND d.id <> ALL (ARRAY(SELECT id FROM taken))
    RETURNING d.id
),
cand AS MATERIALIZED (
    SELECT d.id, d.wave_id, d.notice_id, d.recipient, d.message_id, d.reference_code, d.attempts,
           coalesce(d.first_attempt_at, d.queued_at) AS lifetime_start,
           coalesce(d.contact_name, c.name), coalesce(d.contact_role, c.role), coalesce(d.contact_locale, c.locale),
           coalesce(d.portal_access, c.portal_access),
           CASE WHEN n.kind = ` + sqlString(templates.KindInitial) + ` THEN '{}'::text[] ELSE
             (SELECT coalesce(array_agg(r.message_id ORDER BY r.sent_at, r.id), '{}') FROM (
                SELECT d2.message_id, d2.sent_at, d2.id FROM deliveries d2 JOIN notices n2 ON n2.id = d2.notice_id
                WHERE d2.contact_id = d.contact_id AND n2.incident_id = n.incident_id AND d2.sent_at IS NOT NULL AND d2.id <> d.id
                ORDER BY d2.sent_at DESC, d2.id DESC LIMIT 10) AS r) END AS refs
    FROM deliveries d
    JOIN contacts c ON c.id = d.contact_id
    JOIN notices n ON n.id = d.notice_id
    WHERE d.id = ANY($1)
      AND CASE d.status WHEN 'queued' THEN $2 OR d.attempts = 0 WHEN 'deferred' THEN $2 ELSE false END
      AND d.id <> ALL (ARRAY(SELECT id FROM taken))
      AND d.id <> ALL (ARRAY(SELECT id FROM acked))
),
claim AS (
    INSERT INTO delivery_claims (job_id, wave_id, delivery_ids, owner)
    SELECT $3, $4, array_agg(id ORDER BY id), $8 FROM cand HAVING count(*) > 0
    ON CONFLICT (job_id) DO UPDATE SET delivery_ids = EXCLUDED.delivery_ids, claimed_at = now(), owner = EXCLUDED.owner
),
acks AS (
    INSERT INTO ack_tokens (token_hash, delivery_id)
    SELECT u.hash, u.id FROM unnest($1::bigint[], $5::bytea[]) AS u(id, hash)
    WHERE u.id IN (SELECT id FROM cand)
)
SELECT * FROM cand ORDER BY id`

// staleClaim is when a claim no longer counts even though nobody took it
// over: a claim with an owner is taken over when the owner's lease lapses
// (TakeOver); this is the safety net for one without (written before
// leases) whose job died. A live job's claim is renewed each time it runs.
const staleClaim = "2 hours"

// claimLockKey is the advisory lock class under which a wave's chunks are
// claimed (the wave id is the other half), so two claims never race.
const claimLockKey = 0x636c_6169 // "clai"

// lockClaims takes the claim lock of wave $1 until the transaction ends.
var lockClaims = `SELECT pg_advisory_xact_lock(` + strconv.Itoa(claimLockKey) + `, $1)`

// LockClaims takes a wave's claim lock until tx ends: the wave's claims,
// and cancelling it, take turns under it.
func LockClaims(ctx context.Context, tx pgx.Tx, waveID int64) error {
	_, err := tx.Exec(ctx, lockClaims, int32(waveID))
	return err
}

// contentAggregates summarises a set of items (the relation "its",
// filtered by ITEMS_OF) for a message: the count, the counts by kind, the
// secret types, and the first items. ITEMS_OF is replaced by a constant
// condition, never by input.
const contentAggregates = `
       (SELECT count(*) FROM its WHERE ITEMS_OF),
       (SELECT coalesce(json_agg(json_build_object('Kind', k.kind, 'Count', k.c) ORDER BY k.kind), '[]')
          FROM (SELECT its.kind, count(*) AS c FROM its WHERE ITEMS_OF GROUP BY its.kind) AS k),
       (SELECT coalesce(array_agg(DISTINCT st ORDER BY st), '{}') FROM its, unnest(its.secret_types) AS st WHERE ITEMS_OF),
       (SELECT coalesce(json_agg(json_build_object('Ref', x.item_ref, 'Kind', x.kind, 'Subject', x.subject,
                                                   'OccurredAt', x.occurred_at, 'SecretTypes', x.secret_types)), '[]')
          FROM (SELECT its.item_ref, its.kind, its.subject, its.occurred_at, its.secret_types FROM its WHERE ITEMS_OF
                ORDER BY its.occurred_at NULLS LAST, its.id LIMIT $2) AS x)`

var (
	// noticeContents loads, once per notice, what its messages share. The
	// items are read once (materialised) and summarised per notice.
	noticeContents = `
WITH ns AS (SELECT n.id, coalesce(n.parent_id, n.id) AS root FROM notices n WHERE n.id = ANY($1)),
its AS MATERIALIZED (
    SELECT ns.id AS notice_id, i.id, i.kind, i.item_ref, i.subject, i.occurred_at, i.secret_types
    FROM ns JOIN notice_items ni ON ni.notice_id = ns.root JOIN exposure_items i ON i.id = ni.item_id
)
SELECT n.id, n.kind, coalesce(n.incident_title, inc.title), coalesce(n.incident_summary, inc.summary), inc.slug,
       coalesce(n.org_name, o.name), o.ref,` +
		strings.ReplaceAll(contentAggregates, "ITEMS_OF", "its.notice_id = n.id") + `,
       (SELECT min(d.sent_at) FROM deliveries d WHERE d.notice_id = coalesce(n.parent_id, n.id)),
       n.disclosure
FROM notices n
JOIN incidents inc ON inc.id = n.incident_id
JOIN organizations o ON o.id = n.organization_id
WHERE n.id = ANY($1)`

	// previewContent is the same for a notice not written yet: the items of
	// organization $3 in incident $1 that no notice covers.
	previewContent = `
WITH its AS MATERIALIZED (
    SELECT i.id, i.kind, i.item_ref, i.subject, i.occurred_at, i.secret_types
    FROM exposure_items i
    WHERE i.incident_id = $1 AND i.organization_id = $3
      AND NOT EXISTS (SELECT 1 FROM notice_items ni WHERE ni.item_id = i.id)
)
SELECT 0, 'initial', inc.title, inc.summary, inc.slug, o.name, o.ref,` +
		strings.ReplaceAll(contentAggregates, "ITEMS_OF", "true") + `,
       NULL::timestamptz, ''
FROM incidents inc, organizations o
WHERE inc.id = $1 AND o.id = $3`
)

// noticeContentDest lists where a content row scans into.
func noticeContentDest(n *notifier.NoticeContent) []any {
	return []any{&n.ID, &n.Kind, &n.IncidentTitle, &n.IncidentSummary, &n.IncidentSlug, &n.OrgName, &n.OrgRef,
		&n.ItemCount, &n.Kinds, &n.SecretTypes, &n.Items, &n.SentAt, &n.Disclosure}
}

// ClaimDeliveries implements delivery.Store. When the wave is not
// running nothing is claimed; when it was cancelled, the job's deliveries
// that are still pending (and not another job's) are cancelled here, so a
// job that ran late (or a rescued one) leaves nothing hanging.
func (s *Store) ClaimDeliveries(ctx context.Context, chunk delivery.Chunk) (delivery.Claim, error) {
	var claim delivery.Claim
	// The wave's pinned template versions are read with each claim, not
	// cached with its notices: resuming a wave the link firewall stopped
	// pins it again.
	var pinned map[string]string
	if err := s.pool.QueryRow(ctx, `SELECT status, now(), template_versions FROM waves WHERE id = $1`, chunk.WaveID).
		Scan(&claim.WaveStatus, &claim.Now, &pinned); err != nil {
		return claim, wrap("claim deliveries", notFound(err, "no wave %d", chunk.WaveID))
	}
	switch claim.WaveStatus {
	case notifier.WaveCancelled:
		return claim, wrap("cancel deliveries", s.ReleaseClaim(ctx, chunk, chunk.DeliveryIDs))
	case notifier.WaveRunning:
	default:
		return claim, nil
	}

	var noticeIDs []int64
	byNotice := map[int64]*notifier.NoticeContent{}
	// Each attempt carries its own acknowledgement link: a token is made
	// for every listed delivery, and the claim stores the hashes of those
	// it claims.
	ids := chunk.DeliveryIDs
	tokens, hashes := make(map[int64]string, len(ids)), make([][]byte, len(ids))
	for i, id := range ids {
		tokens[id], hashes[i] = notifier.NewAckToken()
	}
	lo, hi := int64(0), int64(-1) // no claim brackets an empty range
	if len(ids) > 0 {
		lo, hi = slices.Min(ids), slices.Max(ids)
	}
	// The claim lock and the claim run as one implicit transaction, sent
	// together: the lock makes claims of one wave take turns, and the claim
	// statement, started after the lock is held, sees every claim committed
	// before it.
	err := func() error {
		var b pgx.Batch
		b.Queue(lockClaims, int32(chunk.WaveID))
		b.Queue(claimDeliveries, ids, chunk.Retry, chunk.JobID, chunk.WaveID, hashes, lo, hi, nullable(chunk.Owner))
		br := s.pool.SendBatch(ctx, &b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var d notifier.OutgoingDelivery
		var noticeID int64
		_, err = pgx.ForEachRow(rows, []any{&d.ID, &d.WaveID, &noticeID, &d.Recipient, &d.MessageID, &d.Reference,
			&d.Attempts, &d.LifetimeStart, &d.ContactName, &d.ContactRole, &d.ContactLocale, &d.PortalAccess, &d.References}, func() error {
			n := byNotice[noticeID]
			if n == nil {
				n = &notifier.NoticeContent{ID: noticeID}
				byNotice[noticeID] = n
				noticeIDs = append(noticeIDs, noticeID)
			}
			d.Notice = n
			d.AckToken = tokens[d.ID]
			claim.Deliveries = append(claim.Deliveries, d)
			return nil
		})
		if err != nil {
			return err
		}
		return br.Close()
	}()
	if err != nil {
		return claim, wrap("claim deliveries", err)
	}
	defer func() {
		for _, n := range byNotice {
			n.TemplateVersions = pinned
		}
	}()
	missing := s.notices.fill(byNotice, noticeIDs)
	if len(missing) == 0 {
		return claim, nil
	}
	rows, err := s.pool.Query(ctx, noticeContents, missing, templates.ItemsShown)
	if err != nil {
		return claim, wrap("load notices", err)
	}
	var n notifier.NoticeContent
	_, err = pgx.ForEachRow(rows, noticeContentDest(&n), func() error {
		*byNotice[n.ID] = n
		s.notices.put(n)
		return nil
	})
	return claim, wrap("load notices", err)
}

// noticeCache keeps the content of recently sent notices: a notice's items
// are fixed at launch, and a notice with many contacts spans many chunks.
type noticeCache struct {
	mu sync.Mutex
	m  map[int64]notifier.NoticeContent
}

// noticeCacheSize bounds the cache (a few KB per notice).
const noticeCacheSize = 4096

// fill copies cached contents into byNotice and returns the ids not cached.
func (c *noticeCache) fill(byNotice map[int64]*notifier.NoticeContent, ids []int64) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing []int64
	for _, id := range ids {
		if n, ok := c.m[id]; ok {
			*byNotice[id] = n
		} else {
			missing = append(missing, id)
		}
	}
	return missing
}

func (c *noticeCache) put(n notifier.NoticeContent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= noticeCacheSize {
		c.m = make(map[int64]notifier.NoticeContent, noticeCacheSize)
	}
	c.m[n.ID] = n
}

// templatesItemsShown is how many items a message lists.
const templatesItemsShown = templates.ItemsShown

// recordOutcomes writes the outcomes of a group commit (any number of
// waves and jobs), their events (one per attempt, with its time, code and
// reply), and drops the claims of the jobs completing ($12), all in one
// statement, and returns the status of every wave involved ($11 gives each
// outcome's wave, and the waves of batches without outcomes). One
// statement is one round trip and, outside a transaction, one implicit
// transaction: the outcome and its event commit together. The status
// guard keeps a late outcome from overwriting a final state (a bounce
// recorded meanwhile).
var recordOutcomes = `
WITH u AS MATERIALIZED (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bool[], $4::int[], $5::text[], $6::bytea[], $7::text[],
                         $8::timestamptz[], $9::text[], $10::text[])
           AS u(id, status, attempted, code, reply, sha, version, retry_at, event, enhanced)
),
outcome AS (
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
        finished_at      = CASE WHEN u.status IN (` + finishingOutcomes + `) THEN now() END
    FROM u
    WHERE d.id = u.id AND d.status NOT IN (` + finalStatuses + `)
),
event AS (
    INSERT INTO delivery_events (delivery_id, type, smtp_code, enhanced_code, detail)
    SELECT u.id, u.event, nullif(u.code, 0), u.enhanced, u.reply FROM u
),
unclaim AS (
    DELETE FROM delivery_claims WHERE job_id = ANY($12)
)
SELECT id, status FROM waves WHERE id = ANY($11)`

// completeWaves marks running waves completed once none of their
// deliveries is pending.
var completeWaves = `
UPDATE waves w SET status = 'completed', completed_at = now()
WHERE w.id = ANY($1) AND w.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.wave_id = w.id AND d.status IN (` + pendingStatuses + `))`

// completeWaveAfterChunk is completeWaves for one wave ($1) after one of
// its chunks completed: while another chunk of the wave holds a claim,
// the wave is not complete (that chunk will settle it when it completes),
// and the pending deliveries are not looked at. Reading the deliveries'
// "pending" index costs milliseconds during a large wave (it holds an
// entry for every delivery sent since the last vacuum, each checked
// against the table), and every chunk completion asked: 1.7 s of
// PostgreSQL's time per 50,000 deliveries. The claims are a small table.
// The last chunk to complete sees every other chunk's claim gone: each
// chunk's claim is deleted in the commit of its last outcomes, before it
// settles. A claim left by a dead process delays completion until its
// takeover (whose new jobs settle), or the periodic SettleWaves. CASE
// fixes the order: the claims first.
var completeWaveAfterChunk = `
UPDATE waves w SET status = 'completed', completed_at = now()
WHERE w.id = $1 AND w.status = 'running'
  AND CASE WHEN EXISTS (SELECT 1 FROM delivery_claims cl WHERE cl.wave_id = w.id) THEN false
           ELSE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.wave_id = w.id AND d.status IN (` + pendingStatuses + `)) END`

// RecordOutcomes implements delivery.OutcomeStore: it writes the outcomes,
// retry jobs and requeued chunks the engine decided on. A group that neither
// completes a job nor schedules anything (most commits while chunks run)
// is one statement outside any explicit transaction.
func (s *Store) RecordOutcomes(ctx context.Context, batches []delivery.OutcomeBatch) (map[int64]notifier.WaveStatus, error) {
	n := 0
	for _, b := range batches {
		n += len(b.Outcomes)
	}
	ids, statuses, replies, versions := make([]int64, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	attempted, codes, shas, enhanced := make([]bool, 0, n), make([]int32, 0, n), make([][]byte, 0, n), make([]string, 0, n)
	events, retryAt := make([]string, 0, n), make([]*time.Time, 0, n)
	var waveIDs, completing, deferred []int64
	var retries []delivery.ScheduledChunk
	var completers []notifier.JobCompleter
	var settle []int64
	for _, b := range batches {
		waveIDs = append(waveIDs, b.WaveID)
		if b.Complete != nil {
			completing = append(completing, b.JobID)
			completers = append(completers, b.Complete)
			settle = append(settle, b.WaveID)
		}
		for _, o := range b.Outcomes {
			ids, statuses, replies, versions = append(ids, o.DeliveryID), append(statuses, string(o.Status)), append(replies, o.Reply), append(versions, o.TemplateVersion)
			attempted, codes, shas, enhanced = append(attempted, o.Attempted), append(codes, int32(o.Code)), append(shas, o.SHA256), append(enhanced, o.Detail)
			events = append(events, cmp.Or(o.Event, string(o.Status)))
			var at *time.Time
			if !o.RetryAt.IsZero() {
				at = &o.RetryAt
			}
			retryAt = append(retryAt, at)
		}
		for _, r := range b.Retries {
			retries = append(retries, r)
			deferred = append(deferred, r.DeliveryIDs...)
		}
		if b.Requeue != nil {
			retries = append(retries, *b.Requeue)
		}
	}
	args := []any{ids, statuses, attempted, codes, replies, shas, versions, retryAt, events, enhanced, waveIDs, completing}
	waves := make(map[int64]notifier.WaveStatus, len(batches))
	scan := func(rows pgx.Rows) error {
		var id int64
		var status notifier.WaveStatus
		_, err := pgx.ForEachRow(rows, []any{&id, &status}, func() error {
			waves[id] = status
			return nil
		})
		return err
	}
	if len(completers) == 0 && len(retries) == 0 {
		rows, err := s.pool.Query(ctx, recordOutcomes, args...)
		if err == nil {
			err = scan(rows)
		}
		return waves, wrap("record outcomes", markTransient(err))
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		clear(waves)
		rows, err := tx.Query(ctx, recordOutcomes, args...)
		if err != nil {
			return err
		}
		if err := scan(rows); err != nil {
			return err
		}
		if len(deferred) > 0 {
			// A deferred delivery now belongs to its retry job (enqueued
			// below): take it out of the claim of the chunk that deferred
			// it. That chunk may work on, or die, long after the retry is
			// due, and its claim would turn the retry job away for good.
			if _, err := tx.Exec(ctx, `UPDATE delivery_claims SET delivery_ids = ARRAY(SELECT x FROM unnest(delivery_ids) AS x WHERE x <> ALL($2) ORDER BY x)
				WHERE wave_id = ANY($1) AND delivery_ids && $2`, waveIDs, deferred); err != nil {
				return err
			}
		}
		if len(retries) > 0 {
			if err := s.jobs.EnqueueChunksTx(ctx, tx, retries); err != nil {
				return err
			}
		}
		for _, complete := range completers {
			if err := complete(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return waves, wrap("record outcomes", markTransient(err))
	}
	// Settle the waves after the commit, not under a lock inside it: of
	// all the chunks finishing together, the last to commit runs this
	// check after every other commit, so it sees them all. A crash (or an
	// error) right here is caught by the periodic sweep (SettleWaves), so
	// an error here is not the outcomes' failure: they are committed.
	for _, id := range settle {
		_ = s.settleWave(ctx, id, waves[id])
	}
	return waves, nil
}

// settleWave completes a running wave with nothing pending, or voids the
// notices of a cancelled one that reached nobody.
func (s *Store) settleWave(ctx context.Context, waveID int64, status notifier.WaveStatus) error {
	switch status {
	case notifier.WaveRunning:
		_, err := s.pool.Exec(ctx, completeWaveAfterChunk, waveID)
		return err
	case notifier.WaveCancelled:
		return s.inTx(ctx, func(tx pgx.Tx) error { return voidUnsentNotices(ctx, tx, waveID) })
	}
	return nil
}

// SettleWaves completes every running wave with nothing left pending. It
// is the periodic safety net for a process that died between committing a
// wave's last outcome and settling the wave.
func (s *Store) SettleWaves(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE waves w SET status = 'completed', completed_at = now()
		WHERE w.status = 'running'
		  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.wave_id = w.id AND d.status IN (`+pendingStatuses+`))`)
	return int(tag.RowsAffected()), wrap("settle waves", err)
}

// ReleaseClaim implements delivery.Store: the chunk's job gives up
// its claim, cancelling the listed deliveries that are still pending (the
// wave was cancelled).
func (s *Store) ReleaseClaim(ctx context.Context, chunk delivery.Chunk, cancel []int64) error {
	return wrap("release claim", s.inTx(ctx, func(tx pgx.Tx) error {
		if len(cancel) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE deliveries d SET status = 'cancelled', finished_at = now(), smtp_reply = 'not sent: wave cancelled'
				WHERE d.id = ANY($1) AND d.status NOT IN (`+finalStatuses+`)
				  AND NOT EXISTS (SELECT 1 FROM delivery_claims cl WHERE cl.wave_id = $2 AND cl.job_id <> $3 AND d.id = ANY(cl.delivery_ids))`,
				cancel, chunk.WaveID, chunk.JobID); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM delivery_claims WHERE job_id = $1`, chunk.JobID)
		return err
	}))
}

// Maintain is the periodic upkeep: it settles waves a dying process left
// unsettled, and forgets idempotency keys older than a day, claims older
// than staleClaim, and portal sign-in links and sessions over for 30 days.
func (s *Store) Maintain(ctx context.Context) error {
	if _, err := s.SettleWaves(ctx); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < now() - interval '1 day'`); err != nil {
		return wrap("expire idempotency keys", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM delivery_claims WHERE claimed_at < now() - interval '`+staleClaim+`'`); err != nil {
		return wrap("expire claims", err)
	}
	// Portal sign-ins are over long before this; the audit trail keeps
	// their history.
	if _, err := s.pool.Exec(ctx, `DELETE FROM portal_sessions WHERE coalesce(ended_at, expires_at) < now() - interval '30 days'`); err != nil {
		return wrap("expire portal sessions", err)
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM portal_links l WHERE l.requested_at < now() - interval '30 days'
		AND NOT EXISTS (SELECT 1 FROM portal_sessions ps WHERE ps.link_id = l.id)`)
	return wrap("expire portal links", err)
}
