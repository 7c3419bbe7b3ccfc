-- What an approval approves is what is sent (issue 11, finding 5).
--
-- A plan records, besides planned_digest (now over the content too: names,
-- locales, items), planned_content: the template version of each locale,
-- the sender and the public URL. A launch refuses when either changed,
-- approved or not, and pins the template versions in template_versions;
-- the wave renders with those to the end, whatever is activated later.
-- automatic marks a wave the service planned itself (a follow-up waiting
-- for approval).
ALTER TABLE waves
    ADD COLUMN planned_content   jsonb,
    ADD COLUMN template_versions jsonb,
    ADD COLUMN automatic         boolean NOT NULL DEFAULT false;

-- Notices and deliveries keep the names, locale and access they were
-- launched with, so a re-import during a wave changes nothing it sends.
-- NULL in rows written before this migration: those read the live values.
ALTER TABLE notices
    ADD COLUMN org_name         text,
    ADD COLUMN incident_title   text,
    ADD COLUMN incident_summary text;
ALTER TABLE deliveries
    ADD COLUMN contact_name   text,
    ADD COLUMN contact_role   text,
    ADD COLUMN contact_locale text,
    ADD COLUMN portal_access  boolean;
