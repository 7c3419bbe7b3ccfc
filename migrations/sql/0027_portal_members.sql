-- Organization approvers and members (issue 14). The organization, not
-- the IR team's import, decides who reads its stolen mail.
--
-- A member is a contact with portal access: imported with portal_access,
-- or invited (or let in on request) in the portal, which sets invited_at.
-- The import never writes the columns below, so a re-import neither
-- undoes an approver's decision nor restores a revoked member.
ALTER TABLE contacts DROP CONSTRAINT contacts_role_check,
    -- 'member': a portal member only, never a notice recipient; an import
    -- of the same address gives it a recipient's role.
    ADD CONSTRAINT contacts_role_check CHECK (role IN ('security', 'technical', 'legal', 'executive', 'member')),
    -- NULL: the default rule (a security contact with portal access);
    -- IR staff's explicit choice overrides it either way.
    ADD COLUMN approver boolean,
    -- What a member who is not an approver may read: 'notices' (notices,
    -- items) or 'mail' (stolen mail too, behind the second factor).
    -- Approvers always read mail.
    ADD COLUMN access_level text NOT NULL DEFAULT 'notices' CHECK (access_level IN ('notices', 'mail')),
    ADD COLUMN invited_at timestamptz,
    ADD COLUMN invited_by text NOT NULL DEFAULT '',
    -- A revoked member cannot sign in, whatever the import says.
    ADD COLUMN revoked_at timestamptz,
    ADD COLUMN revoked_by text NOT NULL DEFAULT '';

-- Access requests from the public page: anyone at one of the
-- organization's domains; one pending request per address.
CREATE TABLE portal_access_requests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id),
    email           text NOT NULL,
    locale          text NOT NULL DEFAULT 'en',
    requested_at    timestamptz NOT NULL DEFAULT now(),
    decision        text CHECK (decision IN ('approved', 'refused')),
    access_level    text CHECK (access_level IN ('notices', 'mail')),
    decided_at      timestamptz,
    decided_by      text NOT NULL DEFAULT '',
    CHECK ((decision IS NULL) = (decided_at IS NULL))
);
CREATE UNIQUE INDEX portal_access_requests_pending ON portal_access_requests (organization_id, lower(email))
    WHERE decided_at IS NULL;

-- Domains outside the organization's own at which its approvers may
-- invite (a contractor's), added by IR staff.
CREATE TABLE portal_invite_domains (
    organization_id bigint NOT NULL REFERENCES organizations (id),
    domain          text NOT NULL,
    added_by        text NOT NULL,
    added_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, domain)
);

-- Mails about membership (an invitation, a request to the approvers, the
-- answer to the requester), sent by the portal_member_mail job. They carry
-- no credential: an invitee signs in on the sign-in page like anyone.
CREATE TABLE portal_member_mails (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id),
    kind            text NOT NULL CHECK (kind IN ('invite', 'request', 'approved', 'refused')),
    recipient       text NOT NULL,
    locale          text NOT NULL,
    -- about is the address the mail is about (the requester, for the
    -- approvers' mail), else empty.
    about           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
