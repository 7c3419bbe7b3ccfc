-- Delivery throughput, from measurements on 2 cores (docs/performance.md).
-- Claiming a chunk by updating each of its deliveries cost ~66 ms: every
-- status change inserted an index entry under the same key ((wave_id,
-- status)) from 40 workers at once, a hot index page. Now:
--  * claims are per chunk (delivery_claims: one row per delivery job at
--    work); a delivery row changes only when its outcome is written;
--  * the (wave_id, status) index and the notice_id index (the (notice_id,
--    contact_id) unique index serves it) are gone; wave counts go through
--    the wave's notices; the partial "pending" index stays for completion
--    checks and cancellations;
--  * the wave_id foreign key is implied by notice_id's (a notice belongs to
--    one wave, and launch writes both), so it is not checked per row.
DROP INDEX deliveries_wave_status;
DROP INDEX deliveries_notice;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_wave_id_fkey;
UPDATE deliveries SET status = 'queued' WHERE status = 'sending' AND attempts = 0;
UPDATE deliveries SET status = 'deferred' WHERE status = 'sending' AND attempts > 0;
ALTER TABLE deliveries DROP COLUMN claimed_by;

-- A delivery listed in another job's claim is never worked (no double
-- send); a cancellation leaves claimed deliveries to the job sending them;
-- "sending" counts pending deliveries under a claim.
CREATE TABLE delivery_claims (
    job_id       bigint PRIMARY KEY,
    wave_id      bigint NOT NULL REFERENCES waves (id),
    delivery_ids bigint[] NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_claims_wave ON delivery_claims (wave_id);

-- Fan-out of 100,000 deliveries took 7 s: 3.3 s in per-row foreign key
-- checks and most of the rest inserting random Message-IDs and reference
-- codes into their unique indexes. Launch builds every delivery from a join
-- of its notice and the notice's organization's contacts, so both keys
-- hold by construction; notices and contacts are never deleted (the
-- triggers below refuse it: contacts are suppressed, waves cancelled), so
-- they cannot dangle later either. Message-IDs and reference codes now
-- start with the delivery id, so their index entries append in order.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_notice_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_contact_id_fkey;

CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted (suppress a contact, cancel a wave)', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER notices_no_delete BEFORE DELETE ON notices FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER contacts_no_delete BEFORE DELETE ON contacts FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER notices_no_truncate BEFORE TRUNCATE ON notices FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER contacts_no_truncate BEFORE TRUNCATE ON contacts FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
