package apiclient

import (
	"context"
	"fmt"
	"net/url"
	"slices"

	"github.com/breachnotify/breachnotify/notifier"
)

// AuditQuery asks for one page of the audit trail, optionally only the
// entries with an action or about one target.
type AuditQuery struct {
	Page
	Action     string
	TargetType string
	TargetID   string
}

// AuditList returns one page of the audit trail, newest first.
func (c *Client) AuditList(ctx context.Context, q AuditQuery) (notifier.ListResult[notifier.AuditEntry], error) {
	v := q.values()
	for name, val := range map[string]string{"action": q.Action, "target_type": q.TargetType, "target_id": q.TargetID} {
		if val != "" {
			v.Set(name, val)
		}
	}
	var out notifier.ListResult[notifier.AuditEntry]
	return out, c.get(ctx, "/api/v1/audit", v, &out)
}

// AuditChain downloads the whole audit trail and returns it oldest first,
// the order notifier.ChainVerifier checks it in. Entries appended while it
// runs are not included.
func (c *Client) AuditChain(ctx context.Context) ([]notifier.AuditEntry, error) {
	list, err := All(ctx, 0, func(ctx context.Context, p Page) (notifier.ListResult[notifier.AuditEntry], error) {
		return c.AuditList(ctx, AuditQuery{Page: p})
	})
	if err != nil {
		return nil, err
	}
	// The pages are newest first; an id out of order means the pages
	// overlap or skip, and the chain check would blame the wrong entry.
	for i := 1; i < len(list); i++ {
		if list[i].ID >= list[i-1].ID {
			return nil, fmt.Errorf("the audit list is not in descending id order at entry %d", list[i].ID)
		}
	}
	slices.Reverse(list)
	return list, nil
}

// AuditVerify asks the server to check the whole audit chain, held to
// checkpoint (as printed by an earlier verify; empty: the newest one the
// server stored).
func (c *Client) AuditVerify(ctx context.Context, checkpoint string) (notifier.AuditVerification, error) {
	var v url.Values
	if checkpoint != "" {
		v = url.Values{"checkpoint": {checkpoint}}
	}
	var out notifier.AuditVerification
	return out, c.get(ctx, "/api/v1/audit/verify", v, &out)
}
