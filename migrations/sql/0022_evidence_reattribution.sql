-- Re-attribution of stored evidence (issue 13): after IR staff add an
-- organization, a domain or a contact, the incident's messages are
-- attributed again from their stored participants, without re-importing
-- (and without decrypting) them. A run is recorded beside the imports,
-- as an evidence_imports row of kind 'reattribution': it has the same
-- life (running, done, failed), progress and exposure batch, and its
-- closing transaction is the import's own.

ALTER TABLE evidence_imports
    ADD COLUMN kind text NOT NULL DEFAULT 'import' CHECK (kind IN ('import', 'reattribution')),
    -- messages that gained an organization in this run (a re-attribution's
    -- result; an import counts its messages in stored and unattributed)
    ADD COLUMN attributed bigint NOT NULL DEFAULT 0;
