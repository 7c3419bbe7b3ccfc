-- Stolen mail imported as evidence (issue 13): what each message says
-- about itself, which organizations it exposes, and the import runs.
--
-- An import streams its input and commits messages in groups
-- (evidence_messages, their ciphertext in evidence_blobs, their
-- attribution in evidence_exposures); at its end, one transaction turns
-- every attribution not yet itemized into the exposure items of a new
-- exposure batch, so follow-ups fire exactly as for a CSV batch. An
-- interrupted import is resumed by running it again: messages already
-- stored are recognised by their SHA-256 and skipped, and the closing
-- transaction itemizes what the interrupted run stored too.

CREATE TABLE evidence_imports (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    -- what was imported (file names as given), for people
    name         text NOT NULL,
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    error        text NOT NULL DEFAULT '',
    created_by   bigint REFERENCES api_keys (id),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    -- progress, updated with every committed group
    messages     bigint NOT NULL DEFAULT 0,
    bytes        bigint NOT NULL DEFAULT 0,
    stored       bigint NOT NULL DEFAULT 0,
    known        bigint NOT NULL DEFAULT 0,
    unparseable  bigint NOT NULL DEFAULT 0,
    unattributed bigint NOT NULL DEFAULT 0,
    batch_id     bigint REFERENCES exposure_batches (id)
);
CREATE INDEX evidence_imports_incident ON evidence_imports (incident_id);

CREATE TABLE evidence_messages (
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    sha256       bytea NOT NULL CHECK (length(sha256) = 32),
    import_id    bigint NOT NULL REFERENCES evidence_imports (id),
    -- where it was found: a path, an archive member, an mbox position
    source       text NOT NULL,
    size         bigint NOT NULL,
    message_id   text NOT NULL DEFAULT '',
    in_reply_to  text NOT NULL DEFAULT '',
    subject      text NOT NULL DEFAULT '',
    sent_at      timestamptz,
    from_address text NOT NULL DEFAULT '',
    -- every participant ({header, depth, name, address, domain}) and
    -- attachment ({name, content_type, size, depth}), as parsed
    participants jsonb NOT NULL DEFAULT '[]',
    attachments  jsonb NOT NULL DEFAULT '[]',
    problems     text[] NOT NULL DEFAULT '{}',
    -- why the MIME structure could not be read; '' when it could
    unparseable  text NOT NULL DEFAULT '',
    -- the types of the secrets found in it (evidence_findings), which its
    -- exposure items carry to the notices
    secret_types text[] NOT NULL DEFAULT '{}',
    -- the domains of a message no organization was found for, counted in
    -- the unattributed report
    unattributed boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, sha256)
);
CREATE INDEX evidence_messages_thread ON evidence_messages (incident_id, message_id) WHERE message_id <> '';
CREATE INDEX evidence_messages_unattributed ON evidence_messages (incident_id) WHERE unattributed;

-- Which organizations a message exposes, and the participants of each
-- found in it; item_id is set when the closing transaction of an import
-- made the exposure item.
CREATE TABLE evidence_exposures (
    incident_id     bigint NOT NULL,
    sha256          bytea NOT NULL,
    organization_id bigint NOT NULL REFERENCES organizations (id),
    participants    text[] NOT NULL DEFAULT '{}',
    item_id         bigint REFERENCES exposure_items (id),
    PRIMARY KEY (incident_id, sha256, organization_id),
    FOREIGN KEY (incident_id, sha256) REFERENCES evidence_messages (incident_id, sha256)
);
CREATE INDEX evidence_exposures_pending ON evidence_exposures (incident_id) WHERE item_id IS NULL;
CREATE INDEX evidence_exposures_org ON evidence_exposures (organization_id, incident_id);

-- The secrets found in a message (notifier/secrets): what, where and a
-- keyed fingerprint, never the secret itself, which stays only in the
-- encrypted message.
CREATE TABLE evidence_findings (
    incident_id  bigint NOT NULL,
    sha256       bytea NOT NULL,
    seq          integer NOT NULL,
    type         text NOT NULL,
    rule_id      text NOT NULL,
    part         text NOT NULL,
    line         integer NOT NULL,
    col          integer NOT NULL,
    -- HMAC-SHA256 under a key derived from the installation secret: the
    -- same secret in two messages matches, a guess cannot be tested
    fingerprint  text NOT NULL,
    masked       text NOT NULL,
    live         boolean NOT NULL,
    PRIMARY KEY (incident_id, sha256, seq),
    FOREIGN KEY (incident_id, sha256) REFERENCES evidence_messages (incident_id, sha256)
);
CREATE INDEX evidence_findings_fingerprint ON evidence_findings (incident_id, fingerprint);
