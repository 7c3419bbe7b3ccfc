package store

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// upsertOrganizations inserts new organizations and updates changed ones.
// Domains are merged, never dropped: an import lists contacts, not every
// domain. Unchanged rows are not touched, so they count as neither.
const upsertOrganizations = `
INSERT INTO organizations AS o (ref, name, domains, locale)
SELECT u.ref, u.name, CASE WHEN u.domains = '' THEN '{}' ELSE string_to_array(u.domains, ',') END, u.locale
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(ref, name, domains, locale)
ON CONFLICT (ref) DO UPDATE SET
    name       = EXCLUDED.name,
    domains    = (SELECT coalesce(array_agg(DISTINCT d ORDER BY d), '{}') FROM unnest(o.domains || EXCLUDED.domains) AS d),
    locale     = EXCLUDED.locale,
    updated_at = now()
WHERE o.name <> EXCLUDED.name OR o.locale <> EXCLUDED.locale OR NOT (EXCLUDED.domains <@ o.domains)
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
func (s *Store) ImportOrganizations(ctx context.Context, _ notifier.Actor, rows []notifier.ContactRow) (notifier.OrgImportResult, error) {
	var res notifier.OrgImportResult

	type org struct {
		name, locale string
		domains      []string
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
		if r.Domain != "" && !slices.Contains(o.domains, r.Domain) {
			o.domains = append(o.domains, r.Domain)
		}
	}
	var refs, names, domains, locales []string
	for _, ref := range order {
		o := orgs[ref]
		refs, names, locales = append(refs, ref), append(names, o.name), append(locales, o.locale)
		domains = append(domains, strings.Join(o.domains, ","))
	}
	var cRefs, cEmails, cNames, cRoles, cLocales []string
	var cPortal []bool
	for _, r := range rows {
		cRefs, cEmails, cNames = append(cRefs, r.OrgRef), append(cEmails, r.Email), append(cNames, r.Name)
		cRoles, cPortal, cLocales = append(cRoles, r.Role), append(cPortal, r.PortalAccess), append(cLocales, r.Locale)
	}

	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if res.Organizations, err = countUpserts(ctx, tx, upsertOrganizations, refs, names, domains, locales); err != nil {
			return err
		}
		res.Contacts, err = countUpserts(ctx, tx, upsertContacts, cRefs, cEmails, cNames, cRoles, cPortal, cLocales)
		return err
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
