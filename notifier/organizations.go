package notifier

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"
)

// Organizations lists organizations.
func (s *Service) Organizations(ctx context.Context, by Actor, f OrganizationFilter, p Page) (ListResult[Organization], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[Organization]{}, err
	}
	p = p.normalized()
	list, err := s.store.Organizations(ctx, f, p)
	return pageOf(list, p.Limit, func(o Organization) int64 { return o.ID }), err
}

// Organization returns an organization by id or ref.
func (s *Service) Organization(ctx context.Context, by Actor, idOrRef string) (Organization, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return Organization{}, err
	}
	return s.store.Organization(ctx, idOrRef)
}

// Contacts lists contacts, optionally of one organization (id or ref).
func (s *Service) Contacts(ctx context.Context, by Actor, org string, f ContactFilter, p Page) (ListResult[Contact], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[Contact]{}, err
	}
	if org != "" {
		o, err := s.store.Organization(ctx, org)
		if err != nil {
			return ListResult[Contact]{}, err
		}
		f.OrganizationID = o.ID
	}
	p = p.normalized()
	list, err := s.store.Contacts(ctx, f, p)
	return pageOf(list, p.Limit, func(c Contact) int64 { return c.ID }), err
}

// Contact returns one contact.
func (s *Service) Contact(ctx context.Context, by Actor, id int64) (Contact, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return Contact{}, err
	}
	return s.store.Contact(ctx, id)
}

// UpdateContact edits a contact's name, role, portal access or locale. The
// email is its identity: to change it, import the new address and suppress
// the old one, so the history of who was told stays true.
func (s *Service) UpdateContact(ctx context.Context, by Actor, id int64, patch ContactPatch) (Contact, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Contact{}, err
	}
	var problems []RowError
	if patch.Name != nil {
		*patch.Name = strings.TrimSpace(*patch.Name)
		if utf8.RuneCountInString(*patch.Name) > maxNameLen || strings.IndexFunc(*patch.Name, forbiddenRune) >= 0 {
			problems = append(problems, RowError{Field: "name", Message: "must be one line of at most 200 characters"})
		}
	}
	if patch.Role != nil && !slices.Contains(contactRoles, *patch.Role) {
		problems = append(problems, RowError{Field: "role", Message: "must be one of " + strings.Join(contactRoles, ", ")})
	}
	if patch.Locale != nil && !localePattern.MatchString(*patch.Locale) {
		problems = append(problems, RowError{Field: "locale", Message: "must be a language tag such as en, de or fr-CA"})
	}
	if len(problems) > 0 {
		return Contact{}, &Error{Code: CodeInvalid, Message: "the contact change is not valid", Details: problems}
	}
	return s.store.UpdateContact(ctx, by, id, patch)
}

// SuppressContact stops all sending to a contact (later waves give it a
// "suppressed" delivery); the reason is kept and audited.
func (s *Service) SuppressContact(ctx context.Context, by Actor, id int64, reason string) (Contact, error) {
	return s.setContactStatus(ctx, by, id, ContactSuppressed, reason)
}

// ReactivateContact makes a suppressed or bounced contact active again.
func (s *Service) ReactivateContact(ctx context.Context, by Actor, id int64, reason string) (Contact, error) {
	return s.setContactStatus(ctx, by, id, ContactActive, reason)
}

func (s *Service) setContactStatus(ctx context.Context, by Actor, id int64, status, reason string) (Contact, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Contact{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 || strings.IndexFunc(reason, forbiddenRune) >= 0 {
		return Contact{}, &Error{Code: CodeInvalid, Message: "a reason is required",
			Details: []RowError{{Field: "reason", Message: "is required: one line of at most 500 characters"}}}
	}
	return s.store.SetContactStatus(ctx, by, id, status, reason)
}
