-- Bounces that come in by themselves (issue 16): from a polled bounce
-- mailbox (imap) and from the sending providers' webhooks. A report carries
-- the key it has at its source (the bounce message's Message-ID, a
-- provider's event id): a mailbox read twice or a webhook retried records
-- it once. Feedback reports (ARF, a provider's spam complaint) are kept as
-- complaints: recorded against their delivery, never changing it.
ALTER TABLE bounces DROP CONSTRAINT bounces_source_check;
ALTER TABLE bounces ADD CONSTRAINT bounces_source_check
    CHECK (source IN ('dsn', 'json', 'imap', 'ses', 'sendgrid', 'postmark', 'mailgun'));
ALTER TABLE bounces DROP CONSTRAINT bounces_kind_check;
ALTER TABLE bounces ADD CONSTRAINT bounces_kind_check
    CHECK (kind IN ('permanent', 'delayed', 'delivered', 'complaint', 'unknown'));
ALTER TABLE bounces ADD COLUMN source_key text;
CREATE UNIQUE INDEX bounces_source_key ON bounces (source, source_key) WHERE source_key IS NOT NULL;
