-- An approval approves what the plan showed. planned_digest fingerprints
-- a planned wave's targets when it was planned (the organizations, their
-- active contacts and addresses, the exposure items it would cover); an
-- approved wave launches only while they are unchanged, so nothing
-- imported after the plan goes out on an approval that did not see it.
-- Waves made without a plan (follow-ups, resends, reminders) have none.
ALTER TABLE waves ADD COLUMN planned_digest text;
