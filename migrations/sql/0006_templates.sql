-- Message templates managed by admins. A version is immutable and named by
-- its content (templates.VersionOf), so the proof-of-notification report's
-- deliveries.template_version always points at the exact text sent. The
-- shipped defaults are not stored: a (kind, locale) without a current
-- version here uses the default.

CREATE TABLE template_versions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('initial', 'follow_up', 'reminder', 'escalation', 'portal_link')),
    locale     text NOT NULL CHECK (locale ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$'),
    version    text NOT NULL,
    subject    text NOT NULL,
    body_text  text NOT NULL,
    body_html  text NOT NULL,
    created_by bigint REFERENCES api_keys (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, locale, version),
    UNIQUE (id, kind, locale)
);

CREATE FUNCTION template_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'template versions are immutable: % refused; upload a new version instead', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER template_versions_no_change BEFORE UPDATE OR DELETE ON template_versions
    FOR EACH ROW EXECUTE FUNCTION template_versions_immutable();

-- The version in use for each (kind, locale): one row per pair, moved by
-- activation. Every serving process loads these at start and refreshes
-- them in the periodic maintenance job.
CREATE TABLE current_templates (
    kind         text NOT NULL,
    locale       text NOT NULL,
    version_id   bigint NOT NULL,
    activated_by bigint REFERENCES api_keys (id),
    activated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, locale),
    -- the current version of (kind, locale) is one of its own versions
    FOREIGN KEY (version_id, kind, locale) REFERENCES template_versions (id, kind, locale)
);
CREATE INDEX current_templates_version ON current_templates (version_id);
