-- Minimal-disclosure notices (issue 14). An incident's policy may say
-- "disclosure": "minimal": its notices' mail then tells only that there is
-- a security notice, its reference, how to verify it and where to sign in.
-- Each notice records the disclosure it was launched with, so the
-- proof-of-notification report says which was sent, whatever the policy
-- says later; reminders and escalations copy their parent's. Notices
-- written before this migration were all full.
ALTER TABLE notices
    ADD COLUMN disclosure text NOT NULL DEFAULT 'full'
        CONSTRAINT notices_disclosure_check CHECK (disclosure IN ('full', 'minimal'));
