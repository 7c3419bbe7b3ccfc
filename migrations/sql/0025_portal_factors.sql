-- Second factor before stolen mail (issue 14). A portal member (a
-- contact) proves it is them with an authenticator app (TOTP) before
-- reading messages, revealing secrets or downloading. The TOTP secret is
-- sealed (AES-GCM under a key derived from the installation secret) and
-- never stored in clear; recovery codes are stored as SHA-256 hashes and
-- each works once. A session records when it last verified a factor.
CREATE TABLE portal_totp (
    contact_id    bigint PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    secret_sealed bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- NULL while enrolment waits for the first code.
    confirmed_at  timestamptz,
    -- The last 30-second step accepted: a code is not accepted twice.
    last_step     bigint NOT NULL DEFAULT 0,
    last_used_at  timestamptz
);

CREATE TABLE portal_recovery_codes (
    id         bigserial PRIMARY KEY,
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz,
    UNIQUE (contact_id, code_hash)
);

-- Passkeys (WebAuthn), preferred where the member's device has one. The
-- columns are what an operator may look at; credential is the library's
-- whole record (flags, transports) that the next login is checked against.
CREATE TABLE portal_webauthn_credentials (
    id            bigserial PRIMARY KEY,
    contact_id    bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    credential_id bytea NOT NULL UNIQUE,
    public_key    bytea NOT NULL,
    sign_count    bigint NOT NULL DEFAULT 0,
    aaguid        bytea NOT NULL DEFAULT '\x'::bytea,
    credential    jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX portal_webauthn_credentials_contact ON portal_webauthn_credentials (contact_id);

-- A session records when it last verified a factor, and the passkey
-- ceremony under way (its challenge), which a finish takes once.
ALTER TABLE portal_sessions ADD COLUMN factor_verified_at timestamptz,
    ADD COLUMN webauthn_ceremony jsonb;
