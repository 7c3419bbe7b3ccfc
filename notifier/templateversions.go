package notifier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/breachnotify/breachnotify/templates"
)

// TemplateVersion is one stored, immutable version of a message template
// for a kind and locale. Version is its content hash (templates.VersionOf),
// the value deliveries record as template_version.
type TemplateVersion struct {
	ID      int64          `json:"id"`
	Kind    templates.Kind `json:"kind"`
	Locale  string         `json:"locale"`
	Version string         `json:"version"`
	Subject string         `json:"subject"`
	// Text and HTML are left out of lists.
	Text string `json:"text,omitempty"`
	HTML string `json:"html,omitempty"`
	// Current is true for the version in use for its kind and locale.
	Current   bool      `json:"current"`
	CreatedBy *int64    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// ActivatedAt is when the current version became current.
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
}

// Source is the version's text, as the templates package compiles it.
func (v TemplateVersion) Source() templates.Source {
	return templates.Source{Subject: v.Subject, Text: v.Text, HTML: v.HTML}
}

// TemplateUpload is what uploading a template version takes.
type TemplateUpload struct {
	Kind    templates.Kind `json:"kind"`
	Locale  string         `json:"locale"`
	Subject string         `json:"subject"`
	Text    string         `json:"text"`
	HTML    string         `json:"html"`
	// Activate makes the version the current one for its kind and locale;
	// absent means true.
	Activate *bool `json:"activate,omitempty"`
}

// TemplateFilter filters template versions. Zero values mean "any".
type TemplateFilter struct {
	Kind   templates.Kind
	Locale string
	// Current lists only the versions in use.
	Current bool
}

// TemplatePreviewRequest names the real data a preview renders: an
// organization (id or ref) and an incident (id or slug). Both empty
// renders the sample data.
type TemplatePreviewRequest struct {
	Organization string `json:"organization"`
	Incident     string `json:"incident"`
}

// TemplatePreview is a template version rendered for one recipient.
type TemplatePreview struct {
	TemplateID int64          `json:"template_id"`
	Kind       templates.Kind `json:"kind"`
	Locale     string         `json:"locale"`
	Version    string         `json:"version"`
	// To is the contact rendered for; SampleContact is true when the
	// organization has no active contact and a sample one stood in.
	To            string `json:"to"`
	SampleContact bool   `json:"sample_contact"`
	// SampleData is true when the whole preview is the sample data.
	SampleData bool   `json:"sample_data"`
	Subject    string `json:"subject"`
	Text       string `json:"text"`
	HTML       string `json:"html"`
}

// TemplateStore is the persistence of template versions. Writes are audited
// in their own transaction.
type TemplateStore interface {
	// CreateTemplateVersion stores v, or finds the version with the same
	// content (created is then false); with activate it also becomes the
	// current version of its kind and locale.
	CreateTemplateVersion(ctx context.Context, by Actor, v TemplateVersion, activate bool) (out TemplateVersion, created bool, err error)
	// TemplateVersions lists versions newest first, without their text.
	TemplateVersions(ctx context.Context, f TemplateFilter, p Page) ([]TemplateVersion, error)
	// TemplateVersion returns one version with its text.
	TemplateVersion(ctx context.Context, id int64) (TemplateVersion, error)
	// ActivateTemplateVersion makes a version the current one of its kind
	// and locale; activating the current version changes nothing.
	ActivateTemplateVersion(ctx context.Context, by Actor, id int64) (TemplateVersion, error)
	// CurrentTemplateVersions lists the version in use for every kind and
	// locale that has one, with its text.
	CurrentTemplateVersions(ctx context.Context) ([]TemplateVersion, error)
	// TemplateSource returns the text of a stored version by its name (a
	// wave pinned to it renders with it).
	TemplateSource(ctx context.Context, kind templates.Kind, locale, version string) (templates.Source, error)
	// TemplatePreviewDelivery builds the delivery an organization's first
	// active contact (security contacts first) would get about all of its
	// items in the incident. Recipient is empty when it has no active contact.
	TemplatePreviewDelivery(ctx context.Context, incidentID, orgID int64) (*OutgoingDelivery, error)
}

// Bounds of an uploaded template's parts.
const (
	maxTemplateSubject = 1000
	maxTemplateBody    = 256 << 10
)

// UploadTemplate checks and stores a template version (admin only). A
// version that does not compile, refers to a field templates.Data lacks, or
// links to anything but the notice's own links is refused with the part and
// the problem. The same content uploaded again gives back the stored
// version (created false). Unless in.Activate is false the version becomes
// current, here at once and in other processes within the maintenance
// interval (see RefreshTemplates).
func (s *Service) UploadTemplate(ctx context.Context, by Actor, in TemplateUpload) (TemplateVersion, bool, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return TemplateVersion{}, false, err
	}
	locale, problems := validateUpload(&in)
	if len(problems) > 0 {
		return TemplateVersion{}, false, &Error{Code: CodeInvalid, Message: "the template is not valid", Details: problems}
	}
	src := templates.Source{Subject: in.Subject, Text: in.Text, HTML: in.HTML}
	t, err := templates.Compile(in.Kind, locale, src)
	if err == nil {
		// Any incident may send minimal-disclosure notices with it.
		err = t.MinimalError()
	}
	if err != nil {
		return TemplateVersion{}, false, templateRefused(err)
	}
	activate := in.Activate == nil || *in.Activate
	v, created, err := s.store.CreateTemplateVersion(ctx, by, TemplateVersion{
		Kind: in.Kind, Locale: locale, Version: t.Version, Subject: in.Subject, Text: in.Text, HTML: in.HTML,
	}, activate)
	if err != nil {
		return v, created, err
	}
	if activate {
		s.useTemplate(t)
	}
	s.logger.InfoContext(ctx, "template uploaded", "template_id", v.ID, "kind", v.Kind, "locale", v.Locale,
		"version", v.Version, "created", created, "current", v.Current, "key_id", by.KeyID)
	return v, created, nil
}

// validateUpload checks the upload's fields and returns its locale in
// canonical case with every problem found.
func validateUpload(in *TemplateUpload) (string, []RowError) {
	var problems []RowError
	if !in.Kind.Valid() {
		problems = append(problems, RowError{Field: "kind", Message: fmt.Sprintf("must be one of %v", templates.Kinds)})
	}
	locale, ok := templates.NormalizeLocale(strings.TrimSpace(in.Locale))
	if !ok {
		problems = append(problems, RowError{Field: "locale", Message: "must be a language tag such as en, de or fr-CA"})
	}
	for _, part := range []struct {
		name, text string
		max        int
	}{{"subject", in.Subject, maxTemplateSubject}, {"text", in.Text, maxTemplateBody}, {"html", in.HTML, maxTemplateBody}} {
		switch {
		case strings.TrimSpace(part.text) == "":
			problems = append(problems, RowError{Field: part.name, Message: "is required"})
		case len(part.text) > part.max || !utf8.ValidString(part.text):
			problems = append(problems, RowError{Field: part.name, Message: fmt.Sprintf("must be UTF-8 text of at most %d bytes", part.max)})
		}
	}
	return locale, problems
}

// templateRefused turns a compile error into the invalid error naming the
// part and the problem: "unknown field Name" for a field Data lacks.
func templateRefused(err error) error {
	var uf *templates.UnknownFieldError
	var pe *templates.PartError
	var be *BlockedError
	var row RowError
	switch {
	case errors.As(err, &be):
		return &Error{Code: CodeInvalid, Message: "the link firewall would stop this message; it would not be sent",
			Details: []RowError{{Field: be.Violation.Part, Message: be.Violation.Reason}}, Err: err}
	case errors.As(err, &uf):
		row = RowError{Field: uf.Part, Message: "unknown field " + uf.Field}
	case errors.As(err, &pe):
		row = RowError{Field: pe.Part, Message: pe.Err.Error()}
	default:
		row = RowError{Message: err.Error()}
	}
	return &Error{Code: CodeInvalid, Message: "the template does not render against the sample data; nothing was stored", Details: []RowError{row}, Err: err}
}

// Templates lists template versions, newest first.
func (s *Service) Templates(ctx context.Context, by Actor, f TemplateFilter, p Page) (ListResult[TemplateVersion], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[TemplateVersion]{}, err
	}
	p = p.normalized()
	list, err := s.store.TemplateVersions(ctx, f, p)
	return pageOf(list, p.Limit, func(v TemplateVersion) int64 { return v.ID }), err
}

// Template returns one template version with its text.
func (s *Service) Template(ctx context.Context, by Actor, id int64) (TemplateVersion, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return TemplateVersion{}, err
	}
	return s.store.TemplateVersion(ctx, id)
}

// ActivateTemplate makes a stored version the current one for its kind and
// locale (admin only). It is compiled first, so a version this binary can
// no longer render is never made current.
func (s *Service) ActivateTemplate(ctx context.Context, by Actor, id int64) (TemplateVersion, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return TemplateVersion{}, err
	}
	v, err := s.store.TemplateVersion(ctx, id)
	if err != nil {
		return v, err
	}
	t, err := templates.Compile(v.Kind, v.Locale, v.Source())
	if err != nil {
		return v, &Error{Code: CodeConflict, Message: fmt.Sprintf("template %d no longer renders with this version of breachnotify: %v", id, err), Err: err}
	}
	if v, err = s.store.ActivateTemplateVersion(ctx, by, id); err != nil {
		return v, err
	}
	s.useTemplate(t)
	s.logger.InfoContext(ctx, "template activated", "template_id", v.ID, "kind", v.Kind, "locale", v.Locale, "version", v.Version, "key_id", by.KeyID)
	return v, nil
}

// previewReference stands for a delivery's reference code in previews.
const previewReference = "BN-0000-0000-PREV-IEW0"

// PreviewTemplate renders a version for an organization's first active
// contact with what the organization has exposed in the incident (all its
// items), or with the sample data when neither is named.
func (s *Service) PreviewTemplate(ctx context.Context, by Actor, id int64, req TemplatePreviewRequest) (TemplatePreview, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return TemplatePreview{}, err
	}
	if s.renderer == nil {
		return TemplatePreview{}, errors.New("preview: no renderer")
	}
	req.Organization, req.Incident = strings.TrimSpace(req.Organization), strings.TrimSpace(req.Incident)
	if (req.Organization == "") != (req.Incident == "") {
		field := "incident"
		if req.Organization == "" {
			field = "organization"
		}
		return TemplatePreview{}, &Error{Code: CodeInvalid, Message: "name both an organization and an incident, or neither for the sample data",
			Details: []RowError{{Field: field, Message: "is required when the other is given"}}}
	}
	v, err := s.store.TemplateVersion(ctx, id)
	if err != nil {
		return TemplatePreview{}, err
	}
	t, err := templates.Compile(v.Kind, v.Locale, v.Source())
	if err != nil {
		return TemplatePreview{}, templateRefused(err)
	}
	out := TemplatePreview{TemplateID: v.ID, Kind: v.Kind, Locale: v.Locale, Version: v.Version}
	var del *OutgoingDelivery
	if req.Organization == "" {
		out.SampleData = true
	} else {
		if del, out.SampleContact, err = s.previewDelivery(ctx, req, v.Kind); err != nil {
			return TemplatePreview{}, err
		}
		out.To = del.Recipient
	}
	r, err := s.renderer.Preview(t, del)
	if err != nil {
		return TemplatePreview{}, templateRefused(err)
	}
	out.Subject, out.Text, out.HTML = r.Subject, r.Text, r.HTML
	return out, nil
}

// previewDelivery is the delivery a preview renders: the organization's
// first active contact, or the sample contact (sample true) when it has none.
func (s *Service) previewDelivery(ctx context.Context, req TemplatePreviewRequest, kind templates.Kind) (del *OutgoingDelivery, sample bool, err error) {
	inc, err := s.store.Incident(ctx, req.Incident)
	if err != nil {
		return nil, false, err
	}
	org, err := s.store.Organization(ctx, req.Organization)
	if err != nil {
		return nil, false, err
	}
	if del, err = s.store.TemplatePreviewDelivery(ctx, inc.ID, org.ID); err != nil {
		return nil, false, err
	}
	if sample = del.Recipient == ""; sample {
		c := templates.SampleData().Contact
		del.Recipient, del.ContactName, del.ContactRole = c.Email, c.Name, c.Role
		del.PortalAccess = true
	}
	del.Reference, del.AckToken, del.MessageID = previewReference, PreviewAckToken, "preview@breachnotify.invalid"
	del.Notice.Kind = kind
	if kind == templates.KindPortalLink {
		del.PortalAccess = true // only contacts with portal access get a sign-in link
	}
	return del, sample, nil
}

// RefreshTemplates loads the current template versions from the database
// into this process's set, compiling only those not already in use. It
// runs at start and in the periodic maintenance job. A stored version this
// binary cannot compile is logged and skipped: the set keeps what it had
// (the shipped default, or the version current before).
func (s *Service) RefreshTemplates(ctx context.Context) error {
	if s.renderer == nil {
		return nil
	}
	list, err := s.store.CurrentTemplateVersions(ctx)
	if err != nil {
		return fmt.Errorf("refresh templates: %w", err)
	}
	set := s.renderer.Templates()
	for _, v := range list {
		if cur, ok := set.Get(v.Kind, v.Locale); ok && cur.Version == v.Version {
			continue
		}
		t, err := templates.Compile(v.Kind, v.Locale, v.Source())
		if err != nil {
			s.logger.ErrorContext(ctx, "stored template does not compile; keeping the one in use", "template_id", v.ID,
				"kind", v.Kind, "locale", v.Locale, "version", v.Version, "error", err)
			continue
		}
		set.Put(t)
		s.logger.InfoContext(ctx, "template in use", "template_id", v.ID, "kind", v.Kind, "locale", v.Locale, "version", v.Version)
	}
	return nil
}

// useTemplate makes t the template this process renders with.
func (s *Service) useTemplate(t *templates.Template) {
	if s.renderer != nil {
		s.renderer.Templates().Put(t)
	}
}
