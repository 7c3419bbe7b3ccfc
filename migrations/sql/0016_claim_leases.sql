-- A dead process costs seconds, not River's stuck-job rescue (issue 12).
--
-- Every process that sends registers in delivery_processes and renews its
-- lease every few seconds. Its claims name it (delivery_claims.owner).
-- When a lease has lapsed, any live process takes the dead one's claims
-- over: it deletes them, gives their pending deliveries new jobs, and
-- notes it on the wave (taken_over_at, takeover_note), so the wave shows
-- what happened and why. Claims without an owner (written before this
-- migration) keep the old rule: they count for two hours.
CREATE TABLE delivery_processes (
    id          text PRIMARY KEY,
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz NOT NULL
);

ALTER TABLE delivery_claims ADD COLUMN owner text;
CREATE INDEX delivery_claims_owner ON delivery_claims (owner) WHERE owner IS NOT NULL;

ALTER TABLE waves
    ADD COLUMN taken_over_at timestamptz,
    ADD COLUMN takeover_note text;
