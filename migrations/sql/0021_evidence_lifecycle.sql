-- The end of stolen mail's life (issue 13): purging an incident's
-- evidence, and dismissing the findings IR staff judge false positives.

-- Every purge of an incident's evidence, and every request for one under
-- the four-eyes policy (policy purge_needs_approval): who asked, who
-- decided (approved, cancelled, or carried it out when no approval was
-- needed) and when. A purge is 'done' once the incident's data key is
-- destroyed (incidents.evidence_shredded_at): from then on its evidence
-- cannot be read, whether or not the deletion of the ciphertext rows
-- has finished. Kept after the purge: it is the record of the decision.
CREATE TABLE evidence_purges (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id       bigint NOT NULL REFERENCES incidents (id),
    status            text NOT NULL CHECK (status IN ('requested', 'cancelled', 'done')),
    reason            text NOT NULL DEFAULT '',
    requested_by      bigint REFERENCES api_keys (id),
    requested_by_name text NOT NULL,
    requested_at      timestamptz NOT NULL DEFAULT now(),
    decided_by        bigint REFERENCES api_keys (id),
    decided_by_name   text NOT NULL DEFAULT '',
    decided_at        timestamptz
);
-- At most one request waits per incident.
CREATE UNIQUE INDEX evidence_purges_pending ON evidence_purges (incident_id) WHERE status = 'requested';
CREATE INDEX evidence_purges_incident ON evidence_purges (incident_id, id);

-- A finding IR staff dismissed as a false positive no longer counts: its
-- message's secret_types, and those of the message's exposure items no
-- notice holds yet, are recomputed without it.
ALTER TABLE evidence_findings
    ADD COLUMN dismissed_at      timestamptz,
    ADD COLUMN dismissed_by      bigint REFERENCES api_keys (id),
    ADD COLUMN dismissed_by_name text NOT NULL DEFAULT '',
    ADD COLUMN dismiss_reason    text NOT NULL DEFAULT '';
