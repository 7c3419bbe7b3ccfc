-- The audit chain is keyed, and its head is checkpointed (issue 11, finding 8).
--
-- Entries written from now on carry HMAC-SHA256 under a key kept outside the
-- database; the older ones keep their unkeyed SHA-256, so existing chains stay
-- verifiable. Each entry says which it is. The service itself runs as the
-- role breachnotify_service, which `migrate` creates and grants (see
-- migrations/roles.go): on these tables it may only read and insert.

ALTER TABLE audit_log
    ADD COLUMN scheme text NOT NULL DEFAULT 'sha256' CHECK (scheme IN ('sha256', 'hmac-sha256')),
    -- key_id names the audit key of a keyed entry (a fingerprint, not the key).
    ADD COLUMN key_id text NOT NULL DEFAULT '';
-- The default only labelled the rows already there. A writer must name the
-- scheme: a binary from before this migration, whose unkeyed entries after
-- keyed ones would break the chain for good, is refused instead.
ALTER TABLE audit_log ALTER COLUMN scheme DROP DEFAULT;

-- A checkpoint is the chain's head (entry, hash, number of entries) at a
-- time, with a MAC under the audit key; each one is also logged, so that a
-- tail cut off the chain is noticed (`breachnotify audit verify --checkpoint`).
CREATE TABLE audit_checkpoints (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id   bigint NOT NULL,
    entries    bigint NOT NULL,
    hash       bytea NOT NULL,
    at         timestamptz NOT NULL,
    mac        bytea NOT NULL,
    -- taken_by is the periodic job or the key that asked for a verify.
    taken_by   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
