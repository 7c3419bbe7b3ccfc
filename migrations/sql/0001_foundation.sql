-- The foundation: incidents, organizations and contacts, exposure batches and
-- items, waves, notices, deliveries and their events, API keys and the
-- embedded capture mailbox. Enumerations are text with CHECK constraints so
-- COPY needs no type registration.

-- bn_reference_code makes the code printed in every notice and checked on the
-- verify page: 64 bits from the CSPRNG behind gen_random_uuid, as
-- BN-XXXX-XXXX-XXXX-XXXX.
CREATE FUNCTION bn_reference_code() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT 'BN-' || upper(substr(h, 1, 4) || '-' || substr(h, 5, 4) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4))
    FROM (SELECT encode(sha256(uuid_send(gen_random_uuid())), 'hex') AS h) AS r
$$;

CREATE TABLE settings (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role         text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    -- prefix is the public lookup part of the key; secret_hash the SHA-256 of
    -- the whole key. The key itself is never stored.
    prefix       text NOT NULL UNIQUE,
    secret_hash  bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE TABLE incidents (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    summary    text NOT NULL DEFAULT '',
    policy     jsonb NOT NULL DEFAULT '{}',
    created_by bigint REFERENCES api_keys (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organizations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref        text NOT NULL UNIQUE,
    name       text NOT NULL,
    domains    text[] NOT NULL DEFAULT '{}',
    locale     text NOT NULL DEFAULT 'en',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id),
    email           text NOT NULL,
    name            text NOT NULL DEFAULT '',
    role            text NOT NULL CHECK (role IN ('security', 'technical', 'legal', 'executive')),
    portal_access   boolean NOT NULL DEFAULT false,
    locale          text NOT NULL DEFAULT 'en',
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'bounced', 'suppressed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contacts_org_email ON contacts (organization_id, lower(email));

CREATE TABLE exposure_batches (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id     bigint NOT NULL REFERENCES incidents (id),
    items_new       integer NOT NULL,
    items_duplicate integer NOT NULL,
    created_by      bigint REFERENCES api_keys (id),
    discovered_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX exposure_batches_incident ON exposure_batches (incident_id);

CREATE TABLE exposure_items (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id     bigint NOT NULL REFERENCES incidents (id),
    organization_id bigint NOT NULL REFERENCES organizations (id),
    batch_id        bigint NOT NULL REFERENCES exposure_batches (id),
    item_ref        text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('email', 'file', 'credential', 'other')),
    occurred_at     timestamptz,
    subject         text NOT NULL DEFAULT '',
    summary         text NOT NULL DEFAULT '',
    secret_types    text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (incident_id, organization_id, item_ref)
);
CREATE INDEX exposure_items_batch ON exposure_items (batch_id);

CREATE TABLE waves (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id        bigint NOT NULL REFERENCES incidents (id),
    kind               text NOT NULL CHECK (kind IN ('initial', 'follow_up')),
    status             text NOT NULL DEFAULT 'planned'
                       CHECK (status IN ('planned', 'approved', 'running', 'paused', 'completed', 'cancelled')),
    planned_notices    integer NOT NULL DEFAULT 0,
    planned_deliveries integer NOT NULL DEFAULT 0,
    planned_by         bigint REFERENCES api_keys (id),
    launched_by        bigint REFERENCES api_keys (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    launched_at        timestamptz,
    completed_at       timestamptz
);
CREATE INDEX waves_incident ON waves (incident_id);

CREATE TABLE notices (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wave_id         bigint NOT NULL REFERENCES waves (id),
    incident_id     bigint NOT NULL REFERENCES incidents (id),
    organization_id bigint NOT NULL REFERENCES organizations (id),
    kind            text NOT NULL CHECK (kind IN ('initial', 'follow_up')),
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- An organization gets at most one initial notice per incident, whatever
-- races between two launches.
CREATE UNIQUE INDEX notices_one_initial ON notices (incident_id, organization_id) WHERE kind = 'initial';
CREATE INDEX notices_wave ON notices (wave_id);

-- Each exposure item is covered by exactly one notice.
CREATE TABLE notice_items (
    notice_id bigint NOT NULL REFERENCES notices (id),
    item_id   bigint NOT NULL UNIQUE REFERENCES exposure_items (id),
    PRIMARY KEY (notice_id, item_id)
);

CREATE TABLE deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notice_id        bigint NOT NULL REFERENCES notices (id),
    wave_id          bigint NOT NULL REFERENCES waves (id),
    contact_id       bigint NOT NULL REFERENCES contacts (id),
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'bounced', 'suppressed')),
    -- recipient is the address at launch, kept even if the contact changes.
    recipient        text NOT NULL,
    -- message_id (without angle brackets) is fixed at launch and reused on
    -- every attempt, so a rare duplicate is recognisable.
    message_id       text NOT NULL UNIQUE,
    reference_code   text NOT NULL UNIQUE,
    template_version text NOT NULL DEFAULT '',
    message_sha256   bytea,
    attempts         integer NOT NULL DEFAULT 0,
    smtp_code        integer,
    smtp_reply       text NOT NULL DEFAULT '',
    queued_at        timestamptz NOT NULL DEFAULT now(),
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    sent_at          timestamptz,
    finished_at      timestamptz,
    UNIQUE (notice_id, contact_id)
);
-- Pending deliveries of a wave: what "is the wave complete?" looks for.
CREATE INDEX deliveries_pending ON deliveries (wave_id) WHERE status IN ('queued', 'sending', 'deferred');
CREATE INDEX deliveries_wave_status ON deliveries (wave_id, status);
CREATE INDEX deliveries_contact ON deliveries (contact_id);

CREATE TABLE delivery_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   bigint NOT NULL REFERENCES deliveries (id),
    type          text NOT NULL,
    smtp_code     integer,
    enhanced_code text NOT NULL DEFAULT '',
    detail        text NOT NULL DEFAULT '',
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id, id);

CREATE TABLE mailbox_messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mail_from   text NOT NULL,
    recipients  text[] NOT NULL,
    subject     text NOT NULL DEFAULT '',
    message_id  text NOT NULL DEFAULT '',
    raw         bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
