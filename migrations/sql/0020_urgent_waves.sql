-- Urgent first (issue 13): a wave may be planned for the organizations
-- with a live secret among their new items only, so that they are told
-- before the rest; its launch targets the same organizations.
ALTER TABLE waves ADD COLUMN urgent_only boolean NOT NULL DEFAULT false;
