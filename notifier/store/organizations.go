package store

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// upsertOrganizations inserts new organizations and updates changed ones.
// Domains are merged, never dropped: an import lists contacts, not every
// domain. Unchanged rows are not touched, so they count as neither. The
// file has no organization locale, only contacts' ones: a new
// organization takes its first contact's, and a re-import keeps it (the
// same contacts in another order must not flip it). A jurisdiction or
// notify_within the file does not give keeps the stored one, as domains do.
const upsertOrganizations = `
INSERT INTO organizations AS o (ref, name, domains, locale, jurisdiction, notify_within_hours)
SELECT u.ref, u.name, CASE WHEN u.domains = '' THEN '{}' ELSE string_to_array(u.domains, ',') END, u.locale,
       u.jurisdiction, nullif(u.notify_within, 0)
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[]) AS u(ref, name, domains, locale, jurisdiction, notify_within)
ON CONFLICT (ref) DO UPDATE SET
    name                = EXCLUDED.name,
    domains             = (SELECT coalesce(array_agg(DISTINCT d ORDER BY d), '{}') FROM unnest(o.domains || EXCLUDED.domains) AS d),
    jurisdiction        = coalesce(nullif(EXCLUDED.jurisdiction, ''), o.jurisdiction),
    notify_within_hours = coalesce(EXCLUDED.notify_within_hours, o.notify_within_hours),
    updated_at          = now()
WHERE o.name <> EXCLUDED.name OR NOT (EXCLUDED.domains <@ o.domains)
   OR EXCLUDED.jurisdiction NOT IN ('', o.jurisdiction)
   OR (EXCLUDED.notify_within_hours IS NOT NULL AND EXCLUDED.notify_within_hours IS DISTINCT FROM o.notify_within_hours)
RETURNING (xmax = 0) AS created`

// upsertContacts matches contacts by organization and case-insensitive
// email. A contact's status (bounced, suppressed) survives re-imports.
const upsertContacts = `
INSERT INTO contacts AS c (organization_id, email, name, role, portal_access, locale)
SELECT o.id, u.email, u.name, u.role, u.portal, u.locale
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[]) AS u(ref, email, name, role, portal, locale)
JOIN organizations o ON o.ref = u.ref
ON CONFLICT (organization_id, lower(email)) DO UPDATE SET
    email         = EXCLUDED.email,
    name          = EXCLUDED.name,
    role          = EXCLUDED.role,
    portal_access = EXCLUDED.portal_access,
    locale        = EXCLUDED.locale,
    updated_at    = now()
WHERE (c.email, c.name, c.role, c.portal_access, c.locale)
      IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.name, EXCLUDED.role, EXCLUDED.portal_access, EXCLUDED.locale)
RETURNING (xmax = 0) AS created`

// ImportOrganizations upserts the organizations and contacts of rows in one
// transaction.
func (s *Store) ImportOrganizations(ctx context.Context, by notifier.Actor, rows []notifier.ContactRow) (notifier.OrgImportResult, error) {
	var res notifier.OrgImportResult

	type org struct {
		name, locale, jurisdiction string
		notifyWithin               int
		domains                    []string
	}
	orgs := map[string]*org{}
	var order []string
	for _, r := range rows {
		o := orgs[r.OrgRef]
		if o == nil {
			o = &org{name: r.OrgName, locale: r.Locale}
			orgs[r.OrgRef] = o
			order = append(order, r.OrgRef)
		}
		// ParseOrganizations refused rows that disagree: take any given.
		if r.Jurisdiction != "" {
			o.jurisdiction = r.Jurisdiction
		}
		if r.NotifyWithinHours > 0 {
			o.notifyWithin = r.NotifyWithinHours
		}
		for _, d := range r.Domains {
			if !slices.Contains(o.domains, d) {
				o.domains = append(o.domains, d)
			}
		}
	}
	var refs, names, domains, locales, jurisdictions []string
	var notifyWithin []int32
	for _, ref := range order {
		o := orgs[ref]
		refs, names, locales = append(refs, ref), append(names, o.name), append(locales, o.locale)
		domains = append(domains, strings.Join(o.domains, ","))
		jurisdictions, notifyWithin = append(jurisdictions, o.jurisdiction), append(notifyWithin, int32(o.notifyWithin))
	}
	var cRefs, cEmails, cNames, cRoles, cLocales []string
	var cPortal []bool
	for _, r := range rows {
		cRefs, cEmails, cNames = append(cRefs, r.OrgRef), append(cEmails, r.Email), append(cNames, r.Name)
		cRoles, cPortal, cLocales = append(cRoles, r.Role), append(cPortal, r.PortalAccess), append(cLocales, r.Locale)
	}

	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if res.Organizations, err = countUpserts(ctx, tx, upsertOrganizations, refs, names, domains, locales, jurisdictions, notifyWithin); err != nil {
			return err
		}
		if res.Contacts, err = countUpserts(ctx, tx, upsertContacts, cRefs, cEmails, cNames, cRoles, cPortal, cLocales); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"organizations.import", "organizations", "", map[string]any{"rows": len(rows), "result": res}})
	})
	return res, wrap("import organizations", err)
}

// countUpserts runs an upsert that returns one "created" boolean per row
// written and counts them.
func countUpserts(ctx context.Context, tx pgx.Tx, q string, args ...any) (notifier.UpsertCounts, error) {
	var c notifier.UpsertCounts
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return c, err
	}
	created, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	for _, ok := range created {
		if ok {
			c.Created++
		} else {
			c.Updated++
		}
	}
	return c, err
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

const contactColumns = `c.id, c.organization_id, o.ref, c.email, c.name, c.role, c.portal_access, c.locale, c.status,
	c.status_reason, c.status_changed_at, c.created_at, c.updated_at`

func scanContact(r pgx.CollectableRow) (notifier.Contact, error) {
	var c notifier.Contact
	err := r.Scan(&c.ID, &c.OrganizationID, &c.OrgRef, &c.Email, &c.Name, &c.Role, &c.PortalAccess, &c.Locale, &c.Status,
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
