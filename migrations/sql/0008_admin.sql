-- The staff dashboard (/admin): server-side sessions of API keys, and an
-- index for its list of recent failures.

-- A staff member signed in with an API key. id_hash is the SHA-256 of the
-- random session id in the browser's cookie; the key itself is never kept.
-- A session acts with the key's role, and ends when it is signed out
-- (ended_at), idle too long (last_seen_at), past its absolute expiry
-- (expires_at), or its key is revoked or changes role (checked on every
-- request against api_keys).
CREATE TABLE admin_sessions (
    id_hash      bytea PRIMARY KEY,
    api_key_id   bigint NOT NULL REFERENCES api_keys (id),
    role         text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX admin_sessions_key ON admin_sessions (api_key_id);

-- Recent failures, newest first: a few rows among possibly millions of
-- deliveries, found without scanning the rest.
CREATE INDEX deliveries_failures ON deliveries (finished_at DESC, id DESC) WHERE status IN ('failed', 'bounced');
