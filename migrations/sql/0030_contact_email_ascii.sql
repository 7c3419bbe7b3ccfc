-- Internationalized addresses (RFC 6531): a contact keeps its address as
-- given (sécurité@exämple.de) and in ASCII form, the domain as punycode
-- (sécurité@xn--exmple-cua.de), which a relay without SMTPUTF8 can take
-- when the local part is ASCII. Contacts are matched by the ASCII form, so
-- one address written with a Unicode or a punycode domain is one contact.
-- Addresses stored so far had ASCII domains: their ASCII form is the
-- address with the domain lower-cased.
ALTER TABLE contacts ADD COLUMN email_ascii text;
UPDATE contacts SET email_ascii = regexp_replace(email, '@[^@]*$', '') || '@' || lower(substring(email FROM '@([^@]*)$'));
ALTER TABLE contacts ALTER COLUMN email_ascii SET NOT NULL;

DROP INDEX contacts_org_email;
CREATE UNIQUE INDEX contacts_org_email ON contacts (organization_id, lower(email_ascii));

-- A sign-in request looks contacts up by address alone, now its ASCII form.
DROP INDEX contacts_email;
CREATE INDEX contacts_email ON contacts (lower(email_ascii));
