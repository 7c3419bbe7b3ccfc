-- The IR control plane: approvals, pause/resume/cancel, job ownership of
-- deliveries, idempotent launches and the append-only, hash-chained audit trail.

ALTER TABLE waves
    ADD COLUMN approved_by  bigint REFERENCES api_keys (id),
    ADD COLUMN approved_at  timestamptz,
    ADD COLUMN cancelled_by bigint REFERENCES api_keys (id),
    ADD COLUMN cancelled_at timestamptz,
    ADD COLUMN paused_at    timestamptz;
CREATE INDEX waves_status ON waves (status);

-- A delivery not sent when its wave is cancelled ends "cancelled".
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'bounced', 'suppressed', 'cancelled'));
-- claimed_by is the River job that marked the delivery "sending"; only that
-- job (or its rescue, which keeps the id) may work it while it is sending,
-- so two jobs listing one delivery can never both send it.
ALTER TABLE deliveries ADD COLUMN claimed_by bigint;

-- A notice of a cancelled wave that reached nobody is void: its items are
-- released and its organization counts as not notified.
ALTER TABLE notices ADD COLUMN voided_at timestamptz;
DROP INDEX notices_one_initial;
CREATE UNIQUE INDEX notices_one_initial ON notices (incident_id, organization_id)
    WHERE kind = 'initial' AND voided_at IS NULL;

-- Contact suppression is recorded with who and why.
ALTER TABLE contacts
    ADD COLUMN status_reason text NOT NULL DEFAULT '',
    ADD COLUMN status_changed_at timestamptz;

-- An Idempotency-Key's first reply, replayed to every repeat of the request.
CREATE TABLE idempotency_keys (
    api_key_id  bigint NOT NULL REFERENCES api_keys (id),
    key         text NOT NULL,
    request     text NOT NULL,
    status      integer,
    response    bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, key)
);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_key   bigint,
    actor_name  text NOT NULL,
    action      text NOT NULL,
    target_type text NOT NULL DEFAULT '',
    target_id   text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT '',
    -- details is JSON kept as the exact text that was hashed.
    details     text NOT NULL DEFAULT '{}',
    -- hash = SHA-256(prev_hash || canonical entry): changing or removing any
    -- entry breaks every hash after it (`breachnotify audit verify`).
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL UNIQUE
);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- When a deferred delivery's retry is due; resuming a paused wave re-queues
-- retries for then, not earlier.
ALTER TABLE deliveries ADD COLUMN next_attempt_at timestamptz;

-- Acknowledgement of a notice by one of its contacts (recorded by the
-- acknowledgement page; shown in the proof-of-notification report).
ALTER TABLE notices
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by bigint REFERENCES contacts (id),
    ADD COLUMN ack_ip          text NOT NULL DEFAULT '',
    ADD COLUMN ack_user_agent  text NOT NULL DEFAULT '';
