-- Outbound webhooks (issue 16): endpoints, their signing secrets, the
-- outbox of events, and one delivery row per (event, endpoint) with its
-- log of attempts.

-- An endpoint receives events of one incident, or of all (incident_id
-- NULL). events lists the event types it wants; empty means all.
CREATE TABLE webhook_endpoints (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint REFERENCES incidents (id),
    url         text NOT NULL,
    description text NOT NULL DEFAULT '',
    events      text[] NOT NULL DEFAULT '{}',
    enabled     boolean NOT NULL DEFAULT true,
    created_by  bigint REFERENCES api_keys (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A signing secret, sealed by the vault under a data key of its own
-- (wrapped by the master key): the database alone does not sign. Every
-- secret not expired signs; a rotation adds one and sets the old one's
-- expiry, so both sign during the overlap.
CREATE TABLE webhook_secrets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id bigint NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    master_id   text NOT NULL,
    wrapped_key bytea NOT NULL,
    sealed      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz
);
CREATE INDEX webhook_secrets_endpoint ON webhook_secrets (endpoint_id);

-- The outbox: an event is written in the transaction of the change it
-- reports (by the triggers below), so a rolled-back change emits nothing
-- and a committed one cannot lose its event. The dispatcher fans events
-- out to endpoints (dispatched_at). msg_id is the webhook-id receivers
-- deduplicate by. data holds ids, refs, counts and times only.
CREATE TABLE webhook_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msg_id        text NOT NULL UNIQUE DEFAULT 'msg_' || replace(gen_random_uuid()::text, '-', ''),
    type          text NOT NULL,
    incident_id   bigint,
    -- subject names what the event is about, for the one-per-subject
    -- events (a notice becomes unreachable once).
    subject       text NOT NULL DEFAULT '',
    data          jsonb NOT NULL,
    -- endpoint_id is set for an event meant for one endpoint only (a test
    -- event).
    endpoint_id   bigint REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz
);
CREATE INDEX webhook_events_undispatched ON webhook_events (id) WHERE dispatched_at IS NULL;
CREATE UNIQUE INDEX webhook_events_once ON webhook_events (type, subject) WHERE type = 'notice.unreachable';

CREATE TABLE webhook_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        bigint NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id     bigint NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    first_attempt_at timestamptz,
    next_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

CREATE TABLE webhook_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status_code  integer,
    latency_ms   integer NOT NULL,
    error        text NOT NULL DEFAULT '',
    next_retry_at timestamptz
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- The emitters. Triggers rather than calls in each write path: a wave
-- completes in six statements, a delivery fails in the engine's bulk
-- writer, the resend and the bounce paths; a trigger emits for every one
-- of them, in its transaction, and a new write path cannot forget to.
-- The type names are notifier/webhook's constants (a test compares).

CREATE FUNCTION webhook_emit(ev_type text, incident bigint, subject text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO webhook_events (type, incident_id, subject, data)
    VALUES (ev_type, incident, subject, payload)
    ON CONFLICT DO NOTHING;
$$;

-- delivery.failed, delivery.bounced, and notice.unreachable when the last
-- delivery of a notice that could reach someone stops reaching. The
-- status lists are notifier/store's (rules.go): reaching, undelivered,
-- failed; a test holds them equal. One
-- statement-level trigger: the engine's writer fails many deliveries in
-- one UPDATE, and the notices are locked in id order, all at once, so two
-- writers never wait on each other in a cycle. The lock serialises the
-- check per notice: two transactions failing its last two deliveries
-- would otherwise each see the other's as pending, and neither emit.
CREATE FUNCTION webhook_deliveries_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stopped bigint[];
BEGIN
    INSERT INTO webhook_events (type, incident_id, subject, data)
    SELECT 'delivery.' || n.status, no.incident_id, n.id::text, jsonb_build_object(
               'delivery_id', n.id, 'notice_id', n.notice_id, 'wave_id', n.wave_id, 'incident_id', no.incident_id,
               'organization_id', no.organization_id, 'organization_ref', org.ref, 'contact_id', n.contact_id,
               'attempts', n.attempts, 'smtp_code', n.smtp_code)
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id
    JOIN notices no ON no.id = n.notice_id
    JOIN organizations org ON org.id = no.organization_id
    WHERE n.status IN ('failed', 'bounced') AND o.status IS DISTINCT FROM n.status
    ORDER BY n.id;

    SELECT array_agg(DISTINCT n.notice_id ORDER BY n.notice_id) INTO stopped
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status IN ('failed', 'bounced', 'suppressed') AND o.status IS DISTINCT FROM n.status;
    IF stopped IS NULL THEN
        RETURN NULL;
    END IF;
    -- The check below is a statement of its own: it sees what the
    -- transactions this lock waited for committed.
    PERFORM 1 FROM notices WHERE id = ANY (stopped) ORDER BY id FOR NO KEY UPDATE;
    INSERT INTO webhook_events (type, incident_id, subject, data)
    SELECT 'notice.unreachable', no.incident_id, no.id::text, jsonb_build_object(
               'notice_id', no.id, 'wave_id', no.wave_id, 'incident_id', no.incident_id,
               'organization_id', no.organization_id, 'organization_ref', org.ref,
               'deliveries', (SELECT count(*) FROM deliveries d WHERE d.notice_id = no.id))
    FROM notices no JOIN organizations org ON org.id = no.organization_id
    WHERE no.id = ANY (stopped)
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = no.id
                      AND d.status IN ('sent', 'queued', 'deferred'))
    ORDER BY no.id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER webhook_deliveries_changed AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_changed();

CREATE FUNCTION webhook_notice_acknowledged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM webhook_emit('notice.acknowledged', NEW.incident_id, NEW.id::text, jsonb_build_object(
        'notice_id', NEW.id, 'wave_id', NEW.wave_id, 'incident_id', NEW.incident_id,
        'organization_id', NEW.organization_id,
        'organization_ref', (SELECT ref FROM organizations WHERE id = NEW.organization_id),
        'acknowledged_at', NEW.acknowledged_at));
    RETURN NULL;
END;
$$;
CREATE TRIGGER webhook_notice_acknowledged AFTER UPDATE OF acknowledged_at ON notices
    FOR EACH ROW WHEN (OLD.acknowledged_at IS NULL AND NEW.acknowledged_at IS NOT NULL)
    EXECUTE FUNCTION webhook_notice_acknowledged();

CREATE FUNCTION webhook_wave_completed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM webhook_emit('wave.completed', NEW.incident_id, NEW.id::text, jsonb_build_object(
        'wave_id', NEW.id, 'incident_id', NEW.incident_id, 'kind', NEW.kind, 'completed_at', NEW.completed_at,
        'deliveries', (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
                         FROM (SELECT status, count(*) AS n FROM deliveries WHERE wave_id = NEW.id GROUP BY status) c)));
    RETURN NULL;
END;
$$;
CREATE TRIGGER webhook_wave_completed AFTER UPDATE OF status ON waves
    FOR EACH ROW WHEN (NEW.status = 'completed' AND OLD.status IS DISTINCT FROM 'completed')
    EXECUTE FUNCTION webhook_wave_completed();

-- A follow-up wave is written in several statements (the wave, then its
-- notices and counts): the event is built at commit, from what was written.
CREATE FUNCTION webhook_followup_planned() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w record;
BEGIN
    SELECT * INTO w FROM waves WHERE id = NEW.id;
    PERFORM webhook_emit('followup.planned', w.incident_id, w.id::text, jsonb_build_object(
        'wave_id', w.id, 'incident_id', w.incident_id, 'status', w.status,
        'notices', w.planned_notices, 'deliveries', w.planned_deliveries, 'created_at', w.created_at));
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER webhook_followup_planned AFTER INSERT ON waves
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind = 'follow_up')
    EXECUTE FUNCTION webhook_followup_planned();

-- evidence.viewed: a contact viewed, revealed or downloaded stolen mail
-- (its audit entry). Who and which message are ids; nothing of the mail.
CREATE FUNCTION webhook_evidence_viewed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d jsonb := NEW.details::jsonb;
    -- The message ref is "<incident id>-<sha256>" (notifier.MessageRef).
    -- Nothing here may fail: the view it reports would fail with it.
    incident bigint := CASE WHEN d->>'message' ~ '^[0-9]{1,18}-' THEN split_part(d->>'message', '-', 1)::bigint END;
    org bigint := CASE WHEN NEW.target_type = 'organization' AND NEW.target_id ~ '^[0-9]{1,18}$' THEN NEW.target_id::bigint END;
BEGIN
    PERFORM webhook_emit('evidence.viewed', incident, NEW.id::text, jsonb_build_object(
        'audit_id', NEW.id, 'action', NEW.action, 'incident_id', incident,
        'organization_id', org, 'contact_id', d->'contact_id',
        'message', d->'message', 'part', d->'page', 'viewed_at', NEW.at));
    RETURN NULL;
END;
$$;
CREATE TRIGGER webhook_evidence_viewed AFTER INSERT ON audit_log
    FOR EACH ROW WHEN (NEW.action IN ('evidence.view', 'evidence.reveal', 'evidence.download'))
    EXECUTE FUNCTION webhook_evidence_viewed();
