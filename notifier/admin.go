package notifier

import (
	"context"
	"fmt"
)

// AuditEntries lists the audit trail, newest first.
func (s *Service) AuditEntries(ctx context.Context, by Actor, f AuditFilter, p Page) (ListResult[AuditEntry], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[AuditEntry]{}, err
	}
	p = p.normalized()
	list, err := s.store.AuditEntries(ctx, f, p)
	return pageOf(list, p.Limit, func(e AuditEntry) int64 { return e.ID }), err
}

// APIKeys lists every key (admin only).
func (s *Service) APIKeys(ctx context.Context, by Actor) ([]APIKey, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return nil, err
	}
	return s.store.APIKeys(ctx)
}

// RevokeAPIKey revokes a key (admin only); it stops working at once.
func (s *Service) RevokeAPIKey(ctx context.Context, by Actor, id int64) (APIKey, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return APIKey{}, err
	}
	if by.KeyID == id {
		return APIKey{}, Errorf(CodeConflict, "a key cannot revoke itself; use another admin key")
	}
	return s.store.RevokeAPIKey(ctx, by, id)
}

// LocalActor is the caller of commands run on the server with database
// access (`breachnotify apikey ...`): it has every right, and the audit
// trail names it with the operating system user.
func LocalActor(osUser string) Actor {
	return Actor{Name: fmt.Sprintf("local command line (%s)", osUser), Role: RoleAdmin}
}
