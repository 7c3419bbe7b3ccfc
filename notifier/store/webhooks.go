package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/vault"
	"github.com/breachnotify/breachnotify/notifier/webhook"
)

// WebhookEnqueuer inserts webhook delivery jobs inside the store's
// transaction. The queue's Inserter implements it beside JobEnqueuer.
type WebhookEnqueuer interface {
	EnqueueWebhooksTx(ctx context.Context, tx pgx.Tx, deliveryIDs []int64) error
}

func (s *Store) webhookJobs() (WebhookEnqueuer, error) {
	q, ok := s.jobs.(WebhookEnqueuer)
	if !ok {
		return nil, fmt.Errorf("the store's job enqueuer cannot enqueue webhook jobs")
	}
	return q, nil
}

const webhookEndpointColumns = `e.id, coalesce(i.slug, ''), e.url, e.description, e.events, e.enabled, e.created_at, e.updated_at,
	coalesce((SELECT json_agg(json_build_object('id', s.id, 'created_at', s.created_at, 'expires_at', s.expires_at) ORDER BY s.id)
	            FROM webhook_secrets s WHERE s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > now())), '[]')`

const webhookEndpointFrom = ` FROM webhook_endpoints e LEFT JOIN incidents i ON i.id = e.incident_id `

func scanWebhookEndpoint(r pgx.Row) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var events []string
	var secrets []byte
	err := r.Scan(&e.ID, &e.Incident, &e.URL, &e.Description, &events, &e.Enabled, &e.CreatedAt, &e.UpdatedAt, &secrets)
	if err != nil {
		return e, err
	}
	e.Events = make([]webhook.EventType, len(events))
	for i, t := range events {
		e.Events[i] = webhook.EventType(t)
	}
	if err := json.Unmarshal(secrets, &e.Secrets); err != nil {
		return e, fmt.Errorf("webhook secrets: %w", err)
	}
	return e, nil
}

func (s *Store) webhookEndpoint(ctx context.Context, q querier, id int64) (webhook.Endpoint, error) {
	e, err := scanWebhookEndpoint(q.QueryRow(ctx, `SELECT `+webhookEndpointColumns+webhookEndpointFrom+`WHERE e.id = $1`, id))
	return e, notFound(err, "webhook endpoint %d not found", id)
}

// WebhookEndpoint implements webhook.Store.
func (s *Store) WebhookEndpoint(ctx context.Context, id int64) (webhook.Endpoint, error) {
	e, err := s.webhookEndpoint(ctx, s.pool, id)
	return e, wrap("webhook endpoint", err)
}

// WebhookEndpoints implements webhook.Store.
func (s *Store) WebhookEndpoints(ctx context.Context, p notifier.Page) ([]webhook.Endpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+webhookEndpointColumns+webhookEndpointFrom+`WHERE e.id > $1 ORDER BY e.id LIMIT $2`, p.After, p.Limit+1)
	if err != nil {
		return nil, wrap("webhook endpoints", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhook.Endpoint, error) { return scanWebhookEndpoint(r) })
	return list, wrap("webhook endpoints", err)
}

func eventNames(events []webhook.EventType) []string {
	out := make([]string, len(events))
	for i, t := range events {
		out[i] = string(t)
	}
	return out
}

// CreateWebhookEndpoint implements webhook.Store.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, by notifier.Actor, p webhook.CreateParams) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var incident *int64
		if p.Incident != "" {
			var id int64
			// An incident is named by its slug or its id, as in the API's paths.
			if err := tx.QueryRow(ctx, `SELECT id FROM incidents WHERE slug = $1 OR id::text = $1`, p.Incident).Scan(&id); err != nil {
				return notFound(err, "incident %q not found", p.Incident)
			}
			incident = &id
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO webhook_endpoints (incident_id, url, description, events, enabled, created_by)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			incident, p.URL, p.Description, eventNames(p.Events), p.Enabled, nullableKey(by)).Scan(&id); err != nil {
			return err
		}
		if err := insertWebhookSecret(ctx, tx, id, p.Secret); err != nil {
			return err
		}
		var err error
		if e, err = s.webhookEndpoint(ctx, tx, id); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{action: "webhook.create", targetType: "webhook_endpoint", targetID: strconv.FormatInt(id, 10),
			details: map[string]any{"url": e.URL, "incident": e.Incident, "events": e.Events, "enabled": e.Enabled}})
	})
	return e, wrap("create webhook endpoint", err)
}

func insertWebhookSecret(ctx context.Context, tx pgx.Tx, endpointID int64, sec webhook.SealedSecret) error {
	_, err := tx.Exec(ctx, `INSERT INTO webhook_secrets (endpoint_id, master_id, wrapped_key, sealed) VALUES ($1, $2, $3, $4)`,
		endpointID, sec.Key.MasterID, sec.Key.Sealed, sec.Sealed)
	return err
}

// UpdateWebhookEndpoint implements webhook.Store.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, by notifier.Actor, id int64, set webhook.EndpointInput) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var events []string
	if set.Events != nil {
		events = eventNames(*set.Events)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET url = coalesce($2, url), description = coalesce($3, description),
			events = coalesce($4, events), enabled = coalesce($5, enabled), updated_at = now() WHERE id = $1`,
			id, set.URL, set.Description, events, set.Enabled)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notifier.Errorf(notifier.CodeNotFound, "webhook endpoint %d not found", id)
		}
		if e, err = s.webhookEndpoint(ctx, tx, id); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{action: "webhook.update", targetType: "webhook_endpoint", targetID: strconv.FormatInt(id, 10),
			details: map[string]any{"url": e.URL, "events": e.Events, "enabled": e.Enabled}})
	})
	return e, wrap("update webhook endpoint", err)
}

// DeleteWebhookEndpoint implements webhook.Store.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, by notifier.Actor, id int64) error {
	return wrap("delete webhook endpoint", s.inTx(ctx, func(tx pgx.Tx) error {
		var url string
		if err := tx.QueryRow(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 RETURNING url`, id).Scan(&url); err != nil {
			return notFound(err, "webhook endpoint %d not found", id)
		}
		return s.appendAudit(ctx, tx, by, auditEvent{action: "webhook.delete", targetType: "webhook_endpoint", targetID: strconv.FormatInt(id, 10),
			details: map[string]any{"url": url}})
	}))
}

// RotateWebhookSecret implements webhook.Store.
func (s *Store) RotateWebhookSecret(ctx context.Context, by notifier.Actor, id int64, sec webhook.SealedSecret, overlap time.Duration) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := s.webhookEndpoint(ctx, tx, id); err != nil {
			return err
		}
		// Secrets already expiring keep their earlier expiry.
		if _, err := tx.Exec(ctx, `UPDATE webhook_secrets SET expires_at = least(coalesce(expires_at, 'infinity'), now() + $2::interval)
			WHERE endpoint_id = $1`, id, overlap); err != nil {
			return err
		}
		if err := insertWebhookSecret(ctx, tx, id, sec); err != nil {
			return err
		}
		var err error
		if e, err = s.webhookEndpoint(ctx, tx, id); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{action: "webhook.rotate_secret", targetType: "webhook_endpoint", targetID: strconv.FormatInt(id, 10),
			details: map[string]any{"overlap_seconds": int64(overlap.Seconds())}})
	})
	return e, wrap("rotate webhook secret", err)
}

const webhookDeliveryColumns = `d.id, d.endpoint_id, ev.msg_id, ev.type, d.status, d.next_attempt_at, d.created_at,
	coalesce((SELECT json_agg(json_build_object('at', a.attempted_at, 'status_code', coalesce(a.status_code, 0), 'latency_ms', a.latency_ms,
	           'error', a.error, 'next_retry_at', a.next_retry_at) ORDER BY a.id) FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]')`

const webhookDeliveryFrom = ` FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id `

func scanWebhookDelivery(r pgx.Row) (webhook.Delivery, error) {
	var d webhook.Delivery
	var attempts []byte
	if err := r.Scan(&d.ID, &d.EndpointID, &d.MessageID, &d.Type, &d.Status, &d.NextAttemptAt, &d.CreatedAt, &attempts); err != nil {
		return d, err
	}
	if err := json.Unmarshal(attempts, &d.Attempts); err != nil {
		return d, fmt.Errorf("webhook attempts: %w", err)
	}
	return d, nil
}

// WebhookDeliveries implements webhook.Store: newest first, so a page
// continues below the cursor's id.
func (s *Store) WebhookDeliveries(ctx context.Context, endpointID int64, p notifier.Page) ([]webhook.Delivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+webhookDeliveryColumns+webhookDeliveryFrom+`
		WHERE d.endpoint_id = $1 AND ($2 = 0 OR d.id < $2) ORDER BY d.id DESC LIMIT $3`, endpointID, p.After, p.Limit+1)
	if err != nil {
		return nil, wrap("webhook deliveries", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhook.Delivery, error) { return scanWebhookDelivery(r) })
	return list, wrap("webhook deliveries", err)
}

func (s *Store) webhookDelivery(ctx context.Context, q querier, endpointID, id int64) (webhook.Delivery, error) {
	d, err := scanWebhookDelivery(q.QueryRow(ctx, `SELECT `+webhookDeliveryColumns+webhookDeliveryFrom+`WHERE d.id = $1 AND d.endpoint_id = $2`, id, endpointID))
	return d, notFound(err, "webhook delivery %d of endpoint %d not found", id, endpointID)
}

// RedeliverWebhook implements webhook.Store. The attempts logged so far
// stay; the retry lifetime starts again with the next attempt.
func (s *Store) RedeliverWebhook(ctx context.Context, by notifier.Actor, endpointID, deliveryID int64) (webhook.Delivery, error) {
	jobs, err := s.webhookJobs()
	if err != nil {
		return webhook.Delivery{}, err
	}
	var d webhook.Delivery
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, first_attempt_at = NULL, next_attempt_at = now()
			WHERE id = $1 AND endpoint_id = $2`, deliveryID, endpointID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notifier.Errorf(notifier.CodeNotFound, "webhook delivery %d of endpoint %d not found", deliveryID, endpointID)
		}
		if err := jobs.EnqueueWebhooksTx(ctx, tx, []int64{deliveryID}); err != nil {
			return err
		}
		if d, err = s.webhookDelivery(ctx, tx, endpointID, deliveryID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{action: "webhook.redeliver", targetType: "webhook_endpoint", targetID: strconv.FormatInt(endpointID, 10),
			details: map[string]any{"delivery_id": deliveryID, "message_id": d.MessageID, "type": d.Type}})
	})
	return d, wrap("redeliver webhook", err)
}

// SendWebhookTest implements webhook.Store.
func (s *Store) SendWebhookTest(ctx context.Context, by notifier.Actor, endpointID int64, data json.RawMessage) (webhook.Delivery, error) {
	jobs, err := s.webhookJobs()
	if err != nil {
		return webhook.Delivery{}, err
	}
	var d webhook.Delivery
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := s.webhookEndpoint(ctx, tx, endpointID); err != nil {
			return err
		}
		var id int64
		// The event is written dispatched: it is for this endpoint only.
		if err := tx.QueryRow(ctx, `WITH ev AS (
				INSERT INTO webhook_events (type, data, endpoint_id, dispatched_at) VALUES ($1, $2, $3, now()) RETURNING id)
			INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_at) SELECT id, $3, now() FROM ev RETURNING id`,
			string(webhook.Test), data, endpointID).Scan(&id); err != nil {
			return err
		}
		if err := jobs.EnqueueWebhooksTx(ctx, tx, []int64{id}); err != nil {
			return err
		}
		var err error
		if d, err = s.webhookDelivery(ctx, tx, endpointID, id); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{action: "webhook.test", targetType: "webhook_endpoint", targetID: strconv.FormatInt(endpointID, 10),
			details: map[string]any{"delivery_id": id, "message_id": d.MessageID}})
	})
	return d, wrap("send webhook test", err)
}

// dispatchWebhookEvents fans out the oldest undispatched events to the
// enabled endpoints that want them: global ones, and those of the event's
// incident, registered before the event. Concurrent dispatchers skip
// each other's events.
const dispatchWebhookEvents = `
WITH ev AS (
    SELECT id, type, incident_id, created_at FROM webhook_events
    WHERE dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
), done AS (
    UPDATE webhook_events w SET dispatched_at = now() FROM ev WHERE w.id = ev.id RETURNING w.id
), fan AS (
    INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_at)
    SELECT ev.id, e.id, now() FROM ev JOIN webhook_endpoints e
      ON e.enabled AND e.created_at <= ev.created_at
     AND (e.incident_id IS NULL OR e.incident_id = ev.incident_id)
     AND (cardinality(e.events) = 0 OR ev.type = ANY (e.events))
    ON CONFLICT DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM done), coalesce((SELECT array_agg(id ORDER BY id) FROM fan), '{}')`

// DispatchWebhookEvents implements webhook.Store: the deliveries and
// their jobs commit with the events' dispatch.
func (s *Store) DispatchWebhookEvents(ctx context.Context, limit int) (int, error) {
	jobs, err := s.webhookJobs()
	if err != nil {
		return 0, err
	}
	var n int
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var ids []int64
		if err := tx.QueryRow(ctx, dispatchWebhookEvents, limit).Scan(&n, &ids); err != nil {
			return err
		}
		return jobs.EnqueueWebhooksTx(ctx, tx, ids)
	})
	return n, wrap("dispatch webhook events", err)
}

// WebhookOutgoing implements webhook.Store.
func (s *Store) WebhookOutgoing(ctx context.Context, deliveryID int64) (webhook.Outgoing, error) {
	var o webhook.Outgoing
	var first, next *time.Time
	var masters []string
	var keys, sealed [][]byte
	err := s.pool.QueryRow(ctx, `
SELECT d.id, d.status, d.attempts, d.first_attempt_at, d.next_attempt_at, ev.msg_id, ev.type, ev.created_at, ev.data, e.url, e.enabled, now(),
       coalesce(array_agg(s.master_id ORDER BY s.id) FILTER (WHERE s.id IS NOT NULL), '{}'),
       coalesce(array_agg(s.wrapped_key ORDER BY s.id) FILTER (WHERE s.id IS NOT NULL), '{}'),
       coalesce(array_agg(s.sealed ORDER BY s.id) FILTER (WHERE s.id IS NOT NULL), '{}')
FROM webhook_deliveries d
JOIN webhook_events ev ON ev.id = d.event_id
JOIN webhook_endpoints e ON e.id = d.endpoint_id
LEFT JOIN webhook_secrets s ON s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > now())
WHERE d.id = $1
GROUP BY d.id, ev.id, e.id`, deliveryID).Scan(&o.DeliveryID, &o.Status, &o.Attempts, &first, &next, &o.MsgID, &o.Type, &o.EventAt, &o.Data,
		&o.URL, &o.Enabled, &o.Now, &masters, &keys, &sealed)
	if err != nil {
		return o, wrap("webhook outgoing", notFound(err, "webhook delivery %d not found", deliveryID))
	}
	if first != nil {
		o.FirstAttemptAt = *first
	}
	if next != nil {
		o.NextAttemptAt = *next
	}
	for i := range masters {
		o.Secrets = append(o.Secrets, webhook.SealedSecret{Key: vault.WrappedKey{MasterID: masters[i], Sealed: keys[i]}, Sealed: sealed[i]})
	}
	return o, nil
}

// RecordWebhookAttempt implements webhook.Store.
func (s *Store) RecordWebhookAttempt(ctx context.Context, r webhook.AttemptRecord) error {
	var next *time.Time
	if !r.NextRetryAt.IsZero() {
		next = &r.NextRetryAt
	}
	var code *int
	if r.StatusCode != 0 {
		code = &r.StatusCode
	}
	return wrap("record webhook attempt", s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, status_code, latency_ms, error, next_retry_at) VALUES ($1, $2, $3, $4, $5)`,
			r.DeliveryID, code, r.Latency.Milliseconds(), r.Error, next); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1,
			first_attempt_at = coalesce(first_attempt_at, now()), next_attempt_at = $3 WHERE id = $1`, r.DeliveryID, string(r.Status), next)
		return err
	}))
}

// RecordApproachingDeadlines writes a deadline.approaching event per
// approaching deadline, in one statement. The subject names the incident,
// obligation and due time, and a unique index (migration 0033) keeps one
// event each however often the watch runs.
func (s *Store) RecordApproachingDeadlines(ctx context.Context, near []notifier.ApproachingDeadline) (int, error) {
	subjects, data := make([]string, len(near)), make([]string, len(near))
	incidents := make([]int64, len(near))
	for i, d := range near {
		b, err := json.Marshal(d)
		if err != nil {
			return 0, err
		}
		incidents[i], data[i] = d.IncidentID, string(b)
		subjects[i] = fmt.Sprintf("%d/%s@%s", d.IncidentID, d.Obligation, d.DueAt.UTC().Format(time.RFC3339))
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO webhook_events (type, incident_id, subject, data)
SELECT $1, i, s, d::jsonb FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u(i, s, d)
ON CONFLICT DO NOTHING`, string(webhook.DeadlineApproaching), incidents, subjects, data)
	if err != nil {
		return 0, wrap("record approaching deadlines", err)
	}
	return int(tag.RowsAffected()), nil
}

// RewrapWebhookSecrets wraps the data key of every webhook secret again
// with the keyring's current master key (a master key rotation), so the
// old master key can go; the secrets themselves do not change. Each is
// swapped only if it is still the one read. Audited with the count.
func (s *Store) RewrapWebhookSecrets(ctx context.Context, by notifier.Actor, ring *vault.Keyring, scope string) (int, error) {
	return s.rewrapKeys(ctx, by, ring, wrappedKeys{
		what:  "webhook secrets",
		one:   "webhook secret %d",
		old:   `SELECT id, master_id, wrapped_key FROM webhook_secrets WHERE master_id <> $1 ORDER BY id`,
		swap:  `UPDATE webhook_secrets SET master_id = $2, wrapped_key = $3 WHERE id = $1 AND master_id = $4 AND wrapped_key = $5`,
		scope: func(int64) string { return scope }, action: "webhook.secrets.rewrap",
	})
}

// WebhookLogRetention is how long a dispatched event and its delivery log
// are kept once nothing of it is pending.
const WebhookLogRetention = 30 * 24 * time.Hour

// ForgetOldWebhookEvents deletes events (with their deliveries and
// attempts) dispatched more than WebhookLogRetention ago with no delivery
// still pending, a bounded batch per call (the periodic upkeep).
func (s *Store) ForgetOldWebhookEvents(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM webhook_events WHERE id IN (
		SELECT ev.id FROM webhook_events ev
		WHERE ev.dispatched_at < now() - $1::interval
		  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id AND d.status = 'pending')
		ORDER BY ev.id LIMIT 10000)`, WebhookLogRetention)
	return wrap("forget old webhook events", err)
}
