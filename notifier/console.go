package notifier

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/breachnotify/breachnotify/templates"
)

// importPreviewRows is how many parsed rows a dry run shows: enough to
// see that the columns landed where they should.
const importPreviewRows = 10

// ImportPreview is a dry run of an import file: what the parser made of
// its first rows and every problem it found, by line and field. Nothing
// is written. For an exposure file, the checks only the database can make
// (does an org_ref exist, is an item_ref repeated with other content) run
// at the import; an organizations file gets all of its checks.
type ImportPreview struct {
	Columns []string
	// Rows are the first valid rows as parsed, in Columns' order.
	Rows [][]string
	// Valid counts the valid rows of the whole file.
	Valid    int
	Problems []RowError
}

// OK reports whether the file may be imported as far as the parser knows.
func (p ImportPreview) OK() bool { return len(p.Problems) == 0 && p.Valid > 0 }

// PreviewOrganizationImport reads an organizations file as
// ImportOrganizations would, with the same limits and checks, streaming
// it through the store's checks in a transaction rolled back, and writes
// nothing.
func (s *Service) PreviewOrganizationImport(ctx context.Context, by Actor, r io.Reader, format Format) (ImportPreview, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return ImportPreview{}, err
	}
	p := ImportPreview{Columns: []string{"line", "org_ref", "org_name", "contact_email", "role", "locale", "jurisdiction", "notify_within"}}
	file, err := NewOrganizationFile(r, format, s.imports)
	if err != nil {
		return p, previewProblems(&p, err)
	}
	if p.Valid, err = s.store.CheckOrganizations(ctx, file); err != nil {
		return p, previewProblems(&p, err)
	}
	for _, c := range file.FirstRows() {
		within := ""
		if c.NotifyWithinHours > 0 {
			within = strconv.Itoa(c.NotifyWithinHours) + " h"
		}
		p.Rows = append(p.Rows, []string{strconv.Itoa(c.Line), c.OrgRef, c.OrgName, c.Email, c.Role, c.Locale, c.Jurisdiction, within})
	}
	return p, nil
}

// PreviewExposureImport parses an exposure file for an incident as
// ImportExposures would, with the same limits, streaming it, and writes
// nothing.
func (s *Service) PreviewExposureImport(ctx context.Context, by Actor, incident string, r io.Reader, format Format) (ImportPreview, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return ImportPreview{}, err
	}
	if _, err := s.store.Incident(ctx, incident); err != nil {
		return ImportPreview{}, err
	}
	p := ImportPreview{Columns: []string{"line", "org_ref", "item_ref", "kind", "subject", "secret_types"}}
	file, err := NewExposureFile(r, format, s.imports)
	if err != nil {
		return p, previewProblems(&p, err)
	}
	for {
		row, ok := file.Next()
		if !ok {
			break
		}
		p.Valid++
		if len(p.Rows) < importPreviewRows {
			p.Rows = append(p.Rows, []string{strconv.Itoa(row.Line), row.OrgRef, row.ItemRef, row.Kind, row.Subject, strings.Join(row.SecretTypes, ", ")})
		}
	}
	return p, previewProblems(&p, file.Verdict(nil, 0))
}

// previewProblems moves a parser's verdict into the preview: problems with
// rows are what a preview is for, anything else (an I/O error, a limit)
// is returned.
func previewProblems(p *ImportPreview, err error) error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e) && e.Code == CodeInvalid:
		p.Problems, _ = e.Details.([]RowError)
		if len(p.Problems) == 0 {
			p.Problems = []RowError{{Message: e.Message}}
		}
		p.Rows, p.Valid = nil, 0
		return nil
	}
	return err
}

// MessagePreview names the message a preview renders: an incident's
// notice of kind to an organization's first active contact, in locale.
type MessagePreview struct {
	Incident     string
	Organization string
	Kind         templates.Kind
	Locale       string
}

// PreviewMessage renders the message an organization would get about an
// incident, with the template of kind and locale in use now, exactly as
// a wave would send it (to its first active contact, or a sample contact
// when it has none). Nothing is stored.
func (s *Service) PreviewMessage(ctx context.Context, by Actor, m MessagePreview) (TemplatePreview, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return TemplatePreview{}, err
	}
	if s.renderer == nil {
		return TemplatePreview{}, errors.New("preview: no renderer")
	}
	t, ok := s.renderer.Templates().Get(m.Kind, m.Locale)
	if !ok {
		return TemplatePreview{}, &Error{Code: CodeInvalid, Message: "there is no template for this message and locale",
			Details: []RowError{{Field: "locale", Message: "must be one of " + strings.Join(s.PreviewLocales(m.Kind), ", ")}}}
	}
	req := TemplatePreviewRequest{Organization: strings.TrimSpace(m.Organization), Incident: m.Incident}
	if req.Organization == "" {
		return TemplatePreview{}, &Error{Code: CodeInvalid, Message: "name the organization to preview for",
			Details: []RowError{{Field: "organization", Message: "is required"}}}
	}
	del, sample, err := s.previewDelivery(ctx, req, m.Kind)
	if err != nil {
		return TemplatePreview{}, err
	}
	r, err := s.renderer.Preview(t, del)
	if err != nil {
		return TemplatePreview{}, templateRefused(err)
	}
	return TemplatePreview{Kind: t.Kind, Locale: t.Locale, Version: t.Version, To: del.Recipient, SampleContact: sample,
		Subject: r.Subject, Text: r.Text, HTML: r.HTML}, nil
}

// PreviewLocales lists the locales a message of kind can be previewed in:
// those with a template in use.
func (s *Service) PreviewLocales(kind templates.Kind) []string {
	if s.renderer == nil {
		return nil
	}
	var out []string
	for l := range s.renderer.Templates().Current(kind) {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// Obligations lists the obligation profiles an incident may select.
func (s *Service) Obligations() []string { return s.deadlines.Selectable() }
