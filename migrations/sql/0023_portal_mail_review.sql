-- The portal's mail list (issue 13): an organization's members page
-- through the stolen messages attributed to it, newest first, and see
-- who in their organization looked at what.
--
-- The list is one organization's rows of evidence_exposures in date
-- order. The date is the message's (evidence_messages.sent_at), so a
-- page would otherwise join every message of the organization and sort
-- them all: 100k rows for each page of 25. The exposure row carries a
-- copy of its message's date instead, and an index in list order makes a
-- page an index range scan that stops after 26 rows, whatever the
-- organization's size (keyset pagination: WHERE (sort key) < cursor).
-- A trigger fills the copy, so every writer of evidence_exposures (the
-- import, re-attribution) keeps it without knowing of it; a message's
-- date never changes once stored.
ALTER TABLE evidence_exposures ADD COLUMN sent_at timestamptz;

UPDATE evidence_exposures x SET sent_at = m.sent_at
FROM evidence_messages m WHERE m.incident_id = x.incident_id AND m.sha256 = x.sha256 AND m.sent_at IS NOT NULL;

CREATE FUNCTION evidence_exposures_sent_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT m.sent_at INTO NEW.sent_at FROM evidence_messages m
     WHERE m.incident_id = NEW.incident_id AND m.sha256 = NEW.sha256;
    RETURN NEW;
END $$;

CREATE TRIGGER evidence_exposures_sent_at BEFORE INSERT ON evidence_exposures
    FOR EACH ROW EXECUTE FUNCTION evidence_exposures_sent_at();

-- Undated messages sort last, as of year 1: the key is never NULL, so
-- one row comparison pages through all of them.
CREATE INDEX evidence_exposures_mail_list ON evidence_exposures
    (organization_id, (coalesce(sent_at, '0001-01-01 00:00:00+00'::timestamptz)) DESC, incident_id DESC, sha256 DESC);

-- "Who in my organization looked at what": the portal's views, reveals
-- and downloads of stolen mail are audited against the organization
-- (target_type 'organization'); this index reads one organization's,
-- newest first, a page at a time.
CREATE INDEX audit_log_evidence_access ON audit_log (target_id, id DESC)
    WHERE target_type = 'organization' AND action IN ('evidence.view', 'evidence.reveal', 'evidence.download');

-- An exposure item's page links to the stolen messages it was made from.
CREATE INDEX evidence_exposures_item ON evidence_exposures (item_id) WHERE item_id IS NOT NULL;
