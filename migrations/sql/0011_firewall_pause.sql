-- The link firewall pauses a wave whose message it stopped, and says why:
-- pause_reason is shown with the wave until someone resumes it (empty when
-- a person paused it).
ALTER TABLE waves ADD COLUMN pause_reason text NOT NULL DEFAULT '';
