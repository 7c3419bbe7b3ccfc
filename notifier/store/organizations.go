package store

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// An organizations file is copied as it is read into a temporary table,
// which goes with the transaction; the checks across rows and the upserts
// then run in the database, so neither the file nor its rows are ever held
// in memory. contact_key is notifier.ContactRow.ContactKey, made in Go so
// that the rule of what makes one contact lives in one place.
const createContactImportTable = `
CREATE TEMPORARY TABLE import_contacts (
    line          int NOT NULL,
    org_ref       text NOT NULL,
    org_name      text NOT NULL,
    domains       text[] NOT NULL,
    email         text NOT NULL,
    email_ascii   text NOT NULL,
    contact_key   text NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL,
    portal_access bool NOT NULL,
    locale        text NOT NULL,
    jurisdiction  text NOT NULL,
    notify_within int NOT NULL
) ON COMMIT DROP`

// importWorkMem bounds the memory of each sort an import runs, for its
// transaction only.
const importWorkMem = `SET LOCAL work_mem = '32MB'`

var contactImportColumns = []string{"line", "org_ref", "org_name", "domains", "email", "email_ascii", "contact_key", "name", "role",
	"portal_access", "locale", "jurisdiction", "notify_within"}

// conflictingContactRows lists the rows that contradict an earlier row,
// the first $1 of them in line order, with how many there are in all. It
// makes, over the whole file, the checks notifier.ParseOrganizations
// makes row after row, in the same order, so that a row is refused for
// the first check it fails and an earlier row counts only if it passed
// the checks before: (1) a jurisdiction or notify_within other than the
// first given for the organization; (2) among the rows that pass (1), an
// org_name other than the first row's; (3) among the rows that pass (2),
// a contact (org_ref, contact_key) given again with other details. A row
// repeated word for word is no conflict; the upserts take it once.
const conflictingContactRows = `
WITH terms AS (
    SELECT s.*,
           first_value(jurisdiction) OVER wj AS first_jurisdiction, first_value(line) OVER wj AS jurisdiction_line,
           first_value(notify_within) OVER wn AS first_notify_within, first_value(line) OVER wn AS notify_within_line
    FROM import_contacts s
    WINDOW wj AS (PARTITION BY org_ref, jurisdiction = '' ORDER BY line),
           wn AS (PARTITION BY org_ref, notify_within = 0 ORDER BY line)
), names AS (
    SELECT t.*, first_value(org_name) OVER w AS first_name, first_value(line) OVER w AS name_line
    FROM terms t
    WHERE jurisdiction IN ('', first_jurisdiction) AND notify_within IN (0, first_notify_within)
    WINDOW w AS (PARTITION BY org_ref ORDER BY line)
), contacts AS (
    SELECT n.line, n.org_ref, n.email, first_value(line) OVER w AS contact_line,
           (domains, email, name, role, portal_access, locale) IS DISTINCT FROM
           (first_value(domains) OVER w, first_value(email) OVER w, first_value(name) OVER w,
            first_value(role) OVER w, first_value(portal_access) OVER w, first_value(locale) OVER w) AS differs
    FROM names n
    WHERE org_name = first_name
    WINDOW w AS (PARTITION BY org_ref, contact_key ORDER BY line)
), conflicts (line, field, org_ref, value, earlier_value, earlier_line) AS (
    SELECT line, 'jurisdiction', org_ref, jurisdiction, first_jurisdiction, jurisdiction_line
    FROM terms WHERE jurisdiction NOT IN ('', first_jurisdiction)
    UNION ALL
    SELECT line, 'notify_within', org_ref, notify_within::text, first_notify_within::text, notify_within_line
    FROM terms WHERE notify_within NOT IN (0, first_notify_within)
    UNION ALL
    SELECT line, 'org_name', org_ref, org_name, first_name, name_line
    FROM names WHERE org_name <> first_name
    UNION ALL
    SELECT line, 'contact_email', org_ref, email, '', contact_line
    FROM contacts WHERE differs
)
SELECT line, field, org_ref, value, earlier_value, earlier_line, count(*) OVER ()
FROM conflicts
ORDER BY line, array_position(ARRAY['jurisdiction', 'notify_within', 'org_name', 'contact_email'], field)
LIMIT $1`

// importedContacts are the rows the import takes once the file passed the
// checks: the first row of each contact, the others being repeats of it.
const importedContacts = `
SELECT DISTINCT ON (org_ref, contact_key) * FROM import_contacts ORDER BY org_ref, contact_key, line`

// upsertOrganizations inserts new organizations and updates changed ones,
// in the order the file first names them, and counts them. Domains are
// merged, never dropped: an import lists contacts, not every domain; a new
// organization's are in the order the file gives them. Unchanged rows are
// not touched, so they count as neither. The file has no organization
// locale, only contacts' ones: a new organization takes its first
// contact's, and a re-import keeps it (the same contacts in another order
// must not flip it). A jurisdiction or notify_within the file does not
// give keeps the stored one, as domains do; the checks let through only
// one of each per organization, so max takes the one given.
const upsertOrganizations = `
WITH taken AS (` + importedContacts + `
), orgs AS (
    SELECT DISTINCT ON (org_ref) org_ref, line, org_name AS name, locale,
           max(jurisdiction) OVER w AS jurisdiction, max(notify_within) OVER w AS notify_within
    FROM taken
    WINDOW w AS (PARTITION BY org_ref)
    ORDER BY org_ref, line
), org_domains AS (
    SELECT org_ref, array_agg(domain ORDER BY first_seen) AS domains
    FROM (SELECT t.org_ref, d.domain, min(t.line::bigint * 1000 + d.n) AS first_seen
          FROM taken t, unnest(t.domains) WITH ORDINALITY AS d(domain, n)
          GROUP BY t.org_ref, d.domain) AS firsts
    GROUP BY org_ref
), written AS (
    INSERT INTO organizations AS o (ref, name, domains, locale, jurisdiction, notify_within_hours)
    SELECT g.org_ref, g.name, coalesce(d.domains, '{}'), g.locale, g.jurisdiction, nullif(g.notify_within, 0)
    FROM orgs g LEFT JOIN org_domains d ON d.org_ref = g.org_ref
    ORDER BY g.line
    ON CONFLICT (ref) DO UPDATE SET
        name                = EXCLUDED.name,
        domains             = (SELECT coalesce(array_agg(DISTINCT d ORDER BY d), '{}') FROM unnest(o.domains || EXCLUDED.domains) AS d),
        jurisdiction        = coalesce(nullif(EXCLUDED.jurisdiction, ''), o.jurisdiction),
        notify_within_hours = coalesce(EXCLUDED.notify_within_hours, o.notify_within_hours),
        updated_at          = now()
    WHERE o.name <> EXCLUDED.name OR NOT (EXCLUDED.domains <@ o.domains)
       OR EXCLUDED.jurisdiction NOT IN ('', o.jurisdiction)
       OR (EXCLUDED.notify_within_hours IS NOT NULL AND EXCLUDED.notify_within_hours IS DISTINCT FROM o.notify_within_hours)
    RETURNING (xmax = 0) AS created
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM written`

// upsertContacts matches contacts by organization and the case-insensitive
// ASCII form of the address (its domain in punycode), so an address
// written with a Unicode domain and again in punycode is one contact. A
// contact's status (bounced, suppressed) survives re-imports. It counts
// the contacts created and updated, and the rows taken.
const upsertContacts = `
WITH taken AS (` + importedContacts + `
), written AS (
    INSERT INTO contacts AS c (organization_id, email, email_ascii, name, role, portal_access, locale)
    SELECT o.id, t.email, t.email_ascii, t.name, t.role, t.portal_access, t.locale
    FROM taken t JOIN organizations o ON o.ref = t.org_ref
    ORDER BY t.line
    ON CONFLICT (organization_id, lower(email_ascii)) DO UPDATE SET
        email         = EXCLUDED.email,
        email_ascii   = EXCLUDED.email_ascii,
        name          = EXCLUDED.name,
        role          = EXCLUDED.role,
        portal_access = EXCLUDED.portal_access,
        locale        = EXCLUDED.locale,
        updated_at    = now()
    WHERE (c.email, c.name, c.role, c.portal_access, c.locale)
          IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.name, EXCLUDED.role, EXCLUDED.portal_access, EXCLUDED.locale)
    RETURNING (xmax = 0) AS created
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created), (SELECT count(*) FROM taken) FROM written`

// ImportOrganizations upserts the organizations and contacts of an
// organizations file in one transaction, reading the file as it goes. Any
// problem of the file, its rows' fields or rows contradicting each other,
// rejects the whole file, all listed in one reply.
func (s *Store) ImportOrganizations(ctx context.Context, by notifier.Actor, file *notifier.OrganizationFile) (notifier.OrgImportResult, error) {
	var res notifier.OrgImportResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := stageOrganizations(ctx, tx, file); err != nil {
			return err
		}
		o, c := &res.Organizations, &res.Contacts
		if err := tx.QueryRow(ctx, upsertOrganizations).Scan(&o.Created, &o.Updated); err != nil {
			return err
		}
		var rows int
		if err := tx.QueryRow(ctx, upsertContacts).Scan(&c.Created, &c.Updated, &rows); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"organizations.import", "organizations", "", map[string]any{"rows": rows, "result": res}})
	})
	return res, wrap("import organizations", err)
}

// CheckOrganizations reads an organizations file as ImportOrganizations
// would and makes the same checks, then rolls back: it writes nothing. It
// returns how many contact rows the import would take.
func (s *Store) CheckOrganizations(ctx context.Context, file *notifier.OrganizationFile) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, wrap("check organizations", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := stageOrganizations(ctx, tx, file); err != nil {
		return 0, wrap("check organizations", err)
	}
	var rows int
	err = tx.QueryRow(ctx, `SELECT count(*) FROM (`+importedContacts+`) AS taken`).Scan(&rows)
	return rows, wrap("check organizations", err)
}

// stageOrganizations copies the valid rows of file into import_contacts as
// they are read, finds the rows that contradict others, and returns the
// file's verdict: nil when the file may be imported.
func stageOrganizations(ctx context.Context, tx pgx.Tx, file *notifier.OrganizationFile) error {
	if _, err := tx.Exec(ctx, createContactImportTable); err != nil {
		return err
	}
	// The checks and upserts sort the staged rows several times; at the
	// default work_mem (4 MB) even a 50,000-row file sorts on disk, a
	// third slower. Each sort may take up to this much of the database's
	// memory before it spills, whatever the file's size.
	if _, err := tx.Exec(ctx, importWorkMem); err != nil {
		return err
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"import_contacts"}, contactImportColumns, pgx.CopyFromFunc(func() ([]any, error) {
		r, ok := file.Next()
		if !ok {
			return nil, file.Err()
		}
		domains := r.Domains
		if domains == nil {
			domains = []string{}
		}
		return []any{r.Line, r.OrgRef, r.OrgName, domains, r.Email, r.EmailASCII, r.ContactKey(), r.Name, r.Role,
			r.PortalAccess, r.Locale, r.Jurisdiction, r.NotifyWithinHours}, nil
	}))
	if file.Err() != nil {
		return file.Err() // the file's own error (too large, unreadable), not the COPY's wrapping of it
	}
	if err != nil {
		return err
	}
	found, unlisted, err := contactConflicts(ctx, tx)
	if err != nil {
		return err
	}
	return file.Verdict(found, unlisted)
}

// contactConflicts lists the rows of a copied organizations file that
// contradict an earlier row (at most maxListedProblems), and how many more
// there are.
func contactConflicts(ctx context.Context, tx pgx.Tx) ([]notifier.RowError, int, error) {
	var found []notifier.RowError
	var c notifier.RowConflict
	all := 0
	rows, err := tx.Query(ctx, conflictingContactRows, maxListedProblems)
	if err != nil {
		return nil, 0, err
	}
	if _, err := pgx.ForEachRow(rows, []any{&c.Line, &c.Field, &c.OrgRef, &c.Value, &c.FirstValue, &c.FirstLine, &all}, func() error {
		found = append(found, c.RowError())
		return nil
	}); err != nil {
		return nil, 0, err
	}
	return found, all - len(found), nil
}

const organizationColumns = `o.id, o.ref, o.name, o.domains, o.locale, o.jurisdiction, o.notify_within_hours, o.created_at, o.updated_at,
	(SELECT count(*) FROM contacts c WHERE c.organization_id = o.id)`

func scanOrganization(r pgx.CollectableRow) (notifier.Organization, error) {
	var o notifier.Organization
	err := r.Scan(&o.ID, &o.Ref, &o.Name, &o.Domains, &o.Locale, &o.Jurisdiction, &o.NotifyWithinHours, &o.CreatedAt, &o.UpdatedAt, &o.Contacts)
	return o, err
}

// Organizations lists organizations by id.
func (s *Store) Organizations(ctx context.Context, f notifier.OrganizationFilter, p notifier.Page) ([]notifier.Organization, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+organizationColumns+` FROM organizations o
		WHERE o.id > $1 AND ($2 = '' OR o.ref = $2) ORDER BY o.id LIMIT $3`, p.After, f.Ref, p.Limit+1)
	if err != nil {
		return nil, wrap("list organizations", err)
	}
	list, err := pgx.CollectRows(rows, scanOrganization)
	return list, wrap("list organizations", err)
}

// Organization finds an organization by numeric id or ref.
func (s *Store) Organization(ctx context.Context, idOrRef string) (notifier.Organization, error) {
	id, _ := notifier.ParseInt(idOrRef)
	rows, err := s.pool.Query(ctx, `SELECT `+organizationColumns+` FROM organizations o WHERE o.id = $1 OR o.ref = $2
		ORDER BY (o.ref = $2) DESC LIMIT 1`, id, idOrRef)
	if err != nil {
		return notifier.Organization{}, wrap("get organization", err)
	}
	o, err := pgx.CollectExactlyOneRow(rows, scanOrganization)
	return o, wrap("get organization", notFound(err, "no organization %q", idOrRef))
}

const contactColumns = `c.id, c.organization_id, o.ref, c.email, c.email_ascii, c.name, c.role, c.portal_access, c.locale, c.status,
	c.status_reason, c.status_changed_at, c.created_at, c.updated_at`

func scanContact(r pgx.CollectableRow) (notifier.Contact, error) {
	var c notifier.Contact
	err := r.Scan(&c.ID, &c.OrganizationID, &c.OrgRef, &c.Email, &c.EmailASCII, &c.Name, &c.Role, &c.PortalAccess, &c.Locale, &c.Status,
		&c.StatusReason, &c.StatusChanged, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// Contacts lists contacts by id.
func (s *Store) Contacts(ctx context.Context, f notifier.ContactFilter, p notifier.Page) ([]notifier.Contact, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+contactColumns+` FROM contacts c JOIN organizations o ON o.id = c.organization_id
		WHERE c.id > $1 AND ($2 = 0 OR c.organization_id = $2) AND ($3 = '' OR c.status = $3) AND ($4 = '' OR c.role = $4)
		ORDER BY c.id LIMIT $5`, p.After, f.OrganizationID, f.Status, f.Role, p.Limit+1)
	if err != nil {
		return nil, wrap("list contacts", err)
	}
	list, err := pgx.CollectRows(rows, scanContact)
	return list, wrap("list contacts", err)
}

// Contact returns one contact.
func (s *Store) Contact(ctx context.Context, id int64) (notifier.Contact, error) {
	return s.contact(ctx, s.pool, id, false)
}

func (s *Store) contact(ctx context.Context, q querier, id int64, lock bool) (notifier.Contact, error) {
	sql := `SELECT ` + contactColumns + ` FROM contacts c JOIN organizations o ON o.id = c.organization_id WHERE c.id = $1`
	if lock {
		sql += ` FOR UPDATE OF c`
	}
	rows, err := q.Query(ctx, sql, id)
	if err != nil {
		return notifier.Contact{}, wrap("get contact", err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanContact)
	return c, wrap("get contact", notFound(err, "no contact %d", id))
}

// UpdateContact applies a validated patch to a contact.
func (s *Store) UpdateContact(ctx context.Context, by notifier.Actor, id int64, patch notifier.ContactPatch) (notifier.Contact, error) {
	var out notifier.Contact
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		before, err := s.contact(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE contacts SET
			name = coalesce($2, name), role = coalesce($3, role), portal_access = coalesce($4, portal_access),
			locale = coalesce($5, locale), updated_at = now() WHERE id = $1`,
			id, patch.Name, patch.Role, patch.PortalAccess, patch.Locale); err != nil {
			return err
		}
		if out, err = s.contact(ctx, tx, id, false); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"contact.update", "contact", strconv.FormatInt(id, 10),
			map[string]any{"org_ref": before.OrgRef, "patch": patch}})
	})
	return out, wrap("update contact", err)
}

// SetContactStatus suppresses or reactivates a contact, with a reason.
func (s *Store) SetContactStatus(ctx context.Context, by notifier.Actor, id int64, status, reason string) (notifier.Contact, error) {
	var out notifier.Contact
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		before, err := s.contact(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE contacts SET status = $2, status_reason = $3, status_changed_at = now(), updated_at = now()
			WHERE id = $1`, id, status, reason); err != nil {
			return err
		}
		if out, err = s.contact(ctx, tx, id, false); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"contact." + status, "contact", strconv.FormatInt(id, 10),
			map[string]any{"org_ref": before.OrgRef, "from": before.Status, "reason": reason}})
	})
	return out, wrap("set contact status", err)
}
