-- Sessions a member controls. A session gets a number the member's
-- device list and forms name it by (never the hash of its cookie), and
-- records who ended it (the member, another of their devices, IR staff).
ALTER TABLE portal_sessions ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    ADD COLUMN ended_by text NOT NULL DEFAULT '';

-- The device list and the organization-wide end look up live sessions.
CREATE INDEX portal_sessions_org_live ON portal_sessions (organization_id) WHERE ended_at IS NULL;
