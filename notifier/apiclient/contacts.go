package apiclient

import (
	"context"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

// Contact returns one contact, with its status and why it has it.
func (c *Client) Contact(ctx context.Context, id int64) (notifier.Contact, error) {
	var out notifier.Contact
	return out, c.get(ctx, "/api/v1/contacts/"+strconv.FormatInt(id, 10), nil, &out)
}

// ReactivateContact makes a bounced or suppressed contact active again;
// the reason is recorded in the audit trail.
func (c *Client) ReactivateContact(ctx context.Context, id int64, reason string) (notifier.Contact, error) {
	var out notifier.Contact
	return out, c.postJSON(ctx, "/api/v1/contacts/"+strconv.FormatInt(id, 10)+"/reactivate", map[string]string{"reason": reason}, &out)
}
