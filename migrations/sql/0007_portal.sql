-- The customer portal: one-time sign-in links and server-side sessions.

-- A sign-in link. The row is written when a contact asks for a link; the
-- job that sends it makes the token and stores only its SHA-256 (with the
-- expiry) in the transaction that sends the email, so no token exists in
-- clear anywhere: not here, not in the job's arguments, not in a log.
CREATE TABLE portal_links (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id      bigint NOT NULL REFERENCES contacts (id),
    -- organization_id is the contact's: a session started from this link
    -- sees this organization and no other.
    organization_id bigint NOT NULL REFERENCES organizations (id),
    request_ip      text NOT NULL DEFAULT '',
    requested_at    timestamptz NOT NULL DEFAULT now(),
    token_hash      bytea UNIQUE,
    issued_at       timestamptz,
    expires_at      timestamptz,
    used_at         timestamptz,
    CHECK ((token_hash IS NULL) = (issued_at IS NULL) AND (issued_at IS NULL) = (expires_at IS NULL)),
    CHECK (expires_at IS NULL OR expires_at <= issued_at + interval '15 minutes')
);
CREATE INDEX portal_links_contact ON portal_links (contact_id);

-- A signed-in contact. id_hash is the SHA-256 of the random session id in
-- the browser's cookie. A session ends when it is signed out (ended_at),
-- idle too long (last_seen_at) or past its absolute expiry (expires_at).
CREATE TABLE portal_sessions (
    id_hash         bytea PRIMARY KEY,
    contact_id      bigint NOT NULL REFERENCES contacts (id),
    organization_id bigint NOT NULL REFERENCES organizations (id),
    link_id         bigint NOT NULL REFERENCES portal_links (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    ip              text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT ''
);
CREATE INDEX portal_sessions_contact ON portal_sessions (contact_id);

-- Sign-in looks contacts up by address across organizations.
CREATE INDEX contacts_email ON contacts (lower(email));
