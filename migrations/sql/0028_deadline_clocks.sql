-- Deadline clocks. An incident records when the breach became known and,
-- where it matters (SEC Form 8-K), when it was determined material; which
-- obligation profiles it is under; and targets replacing the default hours
-- of "without undue delay" obligations. An organization may carry its
-- jurisdiction (ISO 3166) and a contractual notice period in hours.
ALTER TABLE incidents
    ADD COLUMN aware_at timestamptz,
    ADD COLUMN materiality_determined_at timestamptz,
    ADD COLUMN obligations text[] NOT NULL DEFAULT '{}',
    ADD COLUMN deadline_targets jsonb NOT NULL DEFAULT '{}';

ALTER TABLE organizations
    ADD COLUMN jurisdiction text NOT NULL DEFAULT '' CHECK (jurisdiction ~ '^([A-Z]{2}(-[A-Z0-9]{1,3})?)?$'),
    ADD COLUMN notify_within_hours integer CHECK (notify_within_hours BETWEEN 1 AND 8760);

-- The deadline board finds each organization's first sent delivery of an
-- incident through its notices.
CREATE INDEX notices_incident_org ON notices (incident_id, organization_id);
