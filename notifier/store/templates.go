package store

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

// A version is current when current_templates points at it; the table's
// key is (kind, locale), so at most one version per pair is.
const (
	templateFrom = ` FROM template_versions t LEFT JOIN current_templates c ON c.version_id = t.id`
	// templateColumns has the text; templateListColumns leaves it out.
	templateColumns     = `t.id, t.kind, t.locale, t.version, t.subject, t.body_text, t.body_html, t.created_by, t.created_at, c.version_id IS NOT NULL, c.activated_at`
	templateListColumns = `t.id, t.kind, t.locale, t.version, t.subject, '', '', t.created_by, t.created_at, c.version_id IS NOT NULL, c.activated_at`
)

func scanTemplate(row pgx.Row) (notifier.TemplateVersion, error) {
	var v notifier.TemplateVersion
	err := row.Scan(&v.ID, &v.Kind, &v.Locale, &v.Version, &v.Subject, &v.Text, &v.HTML, &v.CreatedBy, &v.CreatedAt, &v.Current, &v.ActivatedAt)
	return v, err
}

func (s *Store) templateVersion(ctx context.Context, q querier, id int64) (notifier.TemplateVersion, error) {
	v, err := scanTemplate(q.QueryRow(ctx, `SELECT `+templateColumns+templateFrom+` WHERE t.id = $1`, id))
	return v, notFound(err, "no template %d", id)
}

// CreateTemplateVersion implements notifier.TemplateStore. Uploading and
// activating commit with their audit entry; uploading content already
// stored writes nothing unless it makes that version current.
func (s *Store) CreateTemplateVersion(ctx context.Context, by notifier.Actor, in notifier.TemplateVersion, activate bool) (notifier.TemplateVersion, bool, error) {
	const insert = `INSERT INTO template_versions (kind, locale, version, subject, body_text, body_html, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, locale, version) DO NOTHING RETURNING id`
	var out notifier.TemplateVersion
	var created bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, insert, in.Kind, in.Locale, in.Version, in.Subject, in.Text, in.HTML, nullableKey(by)).Scan(&id)
		switch {
		case err == nil:
			created = true
		case errors.Is(err, pgx.ErrNoRows):
			if err := tx.QueryRow(ctx, `SELECT id FROM template_versions WHERE kind = $1 AND locale = $2 AND version = $3`,
				in.Kind, in.Locale, in.Version).Scan(&id); err != nil {
				return err
			}
		default:
			return err
		}
		previous, changed := "", false
		if activate {
			if previous, changed, err = activateTemplate(ctx, tx, by, id, in.Kind, in.Locale); err != nil {
				return err
			}
		}
		if out, err = s.templateVersion(ctx, tx, id); err != nil {
			return err
		}
		// The version names the content; different content under the same
		// name (a hash prefix collision) must not pass for it.
		if !created && out.Source() != in.Source() {
			return notifier.Errorf(notifier.CodeConflict, "template %d has the same version %s but other content; change the text slightly and upload again", id, in.Version)
		}
		details := map[string]any{"kind": out.Kind, "locale": out.Locale, "version": out.Version, "activated": changed}
		if changed {
			details["previous_version"] = previous
		}
		switch {
		case created:
			return s.appendAudit(ctx, tx, by, auditEvent{"template.upload", "template", strconv.FormatInt(id, 10), details})
		case changed:
			return s.appendAudit(ctx, tx, by, auditEvent{"template.activate", "template", strconv.FormatInt(id, 10), details})
		}
		return nil
	})
	return out, created, wrap("create template", err)
}

// activateTemplate points (kind, locale) at version id and reports the
// version it pointed at before ("" for the shipped default) and whether
// anything changed. The row lock serialises concurrent activations.
func activateTemplate(ctx context.Context, tx pgx.Tx, by notifier.Actor, id int64, kind templates.Kind, locale string) (string, bool, error) {
	var prevID int64
	var previous string
	err := tx.QueryRow(ctx, `SELECT c.version_id, t.version FROM current_templates c JOIN template_versions t ON t.id = c.version_id
		WHERE c.kind = $1 AND c.locale = $2 FOR UPDATE OF c`, kind, locale).Scan(&prevID, &previous)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", false, err
	}
	if prevID == id {
		return previous, false, nil
	}
	_, err = tx.Exec(ctx, `INSERT INTO current_templates (kind, locale, version_id, activated_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kind, locale) DO UPDATE SET version_id = EXCLUDED.version_id, activated_by = EXCLUDED.activated_by, activated_at = now()`,
		kind, locale, id, nullableKey(by))
	return previous, err == nil, err
}

// ActivateTemplateVersion implements notifier.TemplateStore.
func (s *Store) ActivateTemplateVersion(ctx context.Context, by notifier.Actor, id int64) (notifier.TemplateVersion, error) {
	var out notifier.TemplateVersion
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		v, err := s.templateVersion(ctx, tx, id)
		if err != nil {
			return err
		}
		previous, changed, err := activateTemplate(ctx, tx, by, id, v.Kind, v.Locale)
		if err != nil {
			return err
		}
		if out, err = s.templateVersion(ctx, tx, id); err != nil || !changed {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"template.activate", "template", strconv.FormatInt(id, 10),
			map[string]any{"kind": v.Kind, "locale": v.Locale, "version": v.Version, "previous_version": previous}})
	})
	return out, wrap("activate template", err)
}

// TemplateVersion implements notifier.TemplateStore.
func (s *Store) TemplateVersion(ctx context.Context, id int64) (notifier.TemplateVersion, error) {
	v, err := s.templateVersion(ctx, s.pool, id)
	return v, wrap("get template", err)
}

// TemplateSource implements notifier.TemplateStore.
func (s *Store) TemplateSource(ctx context.Context, kind templates.Kind, locale, version string) (templates.Source, error) {
	var src templates.Source
	err := s.pool.QueryRow(ctx, `SELECT subject, body_text, body_html FROM template_versions WHERE kind = $1 AND locale = $2 AND version = $3`,
		kind, locale, version).Scan(&src.Subject, &src.Text, &src.HTML)
	return src, wrap("template source", notFound(err, "no %s template version %s for %s", kind, version, locale))
}

// TemplateVersions implements notifier.TemplateStore: newest first,
// without the text.
func (s *Store) TemplateVersions(ctx context.Context, f notifier.TemplateFilter, p notifier.Page) ([]notifier.TemplateVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+templateListColumns+templateFrom+`
		WHERE ($1 = 0 OR t.id < $1) AND ($2 = '' OR t.kind = $2) AND ($3 = '' OR t.locale = $3) AND (NOT $4 OR c.version_id IS NOT NULL)
		ORDER BY t.id DESC LIMIT $5`, p.After, string(f.Kind), f.Locale, f.Current, p.Limit+1)
	if err != nil {
		return nil, wrap("list templates", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.TemplateVersion, error) { return scanTemplate(r) })
	return list, wrap("list templates", err)
}

// CurrentTemplateVersions implements notifier.TemplateStore.
func (s *Store) CurrentTemplateVersions(ctx context.Context) ([]notifier.TemplateVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+templateColumns+` FROM current_templates c JOIN template_versions t ON t.id = c.version_id
		ORDER BY c.kind, c.locale`)
	if err != nil {
		return nil, wrap("current templates", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.TemplateVersion, error) { return scanTemplate(r) })
	return list, wrap("current templates", err)
}

// orgContent is what a preview tells an organization about an incident:
// every item of it ($3) in the incident ($1), whether a notice covers it
// yet or not (a void notice's items are released, so these are the
// uncovered and the notified ones), and when it was first sent anything
// in the incident (now when never), with the incident's disclosure policy
// now (a minimal one previews as a minimal notice).
var orgContent = `
WITH its AS MATERIALIZED (
    SELECT i.id, i.kind, i.item_ref, i.subject, i.occurred_at, i.secret_types
    FROM exposure_items i
    WHERE i.incident_id = $1 AND i.organization_id = $3
)
SELECT 0, 'initial', inc.title, inc.summary, inc.slug, o.name, o.ref,` +
	strings.ReplaceAll(contentAggregates, "ITEMS_OF", "true") + `,
       coalesce((SELECT min(d.sent_at) FROM deliveries d JOIN notices n ON n.id = d.notice_id
                 WHERE n.incident_id = $1 AND n.organization_id = $3), now()),
       coalesce(inc.policy->>'disclosure', '')
FROM incidents inc, organizations o
WHERE inc.id = $1 AND o.id = $3`

// TemplatePreviewDelivery implements notifier.TemplateStore.
func (s *Store) TemplatePreviewDelivery(ctx context.Context, incidentID, orgID int64) (*notifier.OutgoingDelivery, error) {
	d := &notifier.OutgoingDelivery{Notice: &notifier.NoticeContent{}}
	err := s.pool.QueryRow(ctx, `SELECT c.email, c.name, c.role, c.locale, c.portal_access FROM contacts c
		WHERE c.organization_id = $1 AND c.status = 'active' ORDER BY (c.role = 'security') DESC, c.id LIMIT 1`, orgID).
		Scan(&d.Recipient, &d.ContactName, &d.ContactRole, &d.ContactLocale, &d.PortalAccess)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("preview contact", err)
	}
	err = s.pool.QueryRow(ctx, orgContent, incidentID, templates.ItemsShown, orgID).Scan(noticeContentDest(d.Notice)...)
	return d, wrap("preview content", notFound(err, "no organization %d or incident %d", orgID, incidentID))
}
