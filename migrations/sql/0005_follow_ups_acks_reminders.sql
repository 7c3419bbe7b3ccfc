-- Follow-ups, acknowledgements, reminders and escalation.

-- Reminder and escalation notices chase an unacknowledged notice (their
-- parent); they are notices of their own so each (notice, contact) pair
-- still has exactly one delivery, and the report lists them like any other.
ALTER TABLE waves DROP CONSTRAINT waves_kind_check;
ALTER TABLE waves ADD CONSTRAINT waves_kind_check CHECK (kind IN ('initial', 'follow_up', 'reminder', 'escalation'));
ALTER TABLE notices DROP CONSTRAINT notices_kind_check;
ALTER TABLE notices ADD CONSTRAINT notices_kind_check CHECK (kind IN ('initial', 'follow_up', 'reminder', 'escalation'));
ALTER TABLE notices
    ADD COLUMN parent_id        bigint REFERENCES notices (id),
    ADD COLUMN reminders_sent   integer NOT NULL DEFAULT 0,
    ADD COLUMN last_reminded_at timestamptz,
    ADD COLUMN escalated_at     timestamptz;
CREATE INDEX notices_parent ON notices (parent_id);
-- The reminder job's worklist: notices nobody has acknowledged yet.
CREATE INDEX notices_unacknowledged ON notices (incident_id)
    WHERE acknowledged_at IS NULL AND parent_id IS NULL AND voided_at IS NULL;

-- Acknowledgement links. A token is 128+ random bits, made when its
-- message is sent; only its SHA-256 is kept. A delivery may have several
-- (one per attempt): each link it was ever sent with keeps working.
CREATE TABLE ack_tokens (
    token_hash  bytea PRIMARY KEY,
    delivery_id bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ack_tokens_delivery ON ack_tokens (delivery_id);
