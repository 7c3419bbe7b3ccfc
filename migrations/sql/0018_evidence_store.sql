-- Evidence at rest (issue 13): stolen mail is kept encrypted in PostgreSQL,
-- so backups stay one system, under keys PostgreSQL never sees in clear.
--
-- incident_keys holds each incident's data key wrapped by a master key
-- that lives outside the database (notifier/vault). Deleting the row
-- shreds the incident's evidence: without it no byte of evidence_blobs
-- can be decrypted, in this database or in any backup of it.
CREATE TABLE incident_keys (
    incident_id  bigint PRIMARY KEY REFERENCES incidents (id),
    -- which master key wrapped it (a fingerprint, not the key)
    master_id    text NOT NULL,
    sealed       bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    rewrapped_at timestamptz
);

-- The ciphertext of each evidence object (a raw message, named by the
-- SHA-256 of its plaintext), in segments of at most 256 KiB so that a
-- reader fetches one at a time without holding a connection in between.
CREATE TABLE evidence_blobs (
    incident_id bigint NOT NULL REFERENCES incidents (id),
    object      bytea NOT NULL,
    seq         integer NOT NULL CHECK (seq >= 0),
    data        bytea NOT NULL,
    PRIMARY KEY (incident_id, object, seq)
);
-- Ciphertext does not compress: store it out of line without trying.
ALTER TABLE evidence_blobs ALTER COLUMN data SET STORAGE EXTERNAL;

ALTER TABLE incidents ADD COLUMN evidence_shredded_at timestamptz;
