package apiclient

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

// NoticeQuery filters a notice list.
type NoticeQuery struct {
	Page
	// Acknowledged is "true", "false" or "" (all).
	Acknowledged string
	Kind         string
}

// ListNotices lists an incident's notices.
func (c *Client) ListNotices(ctx context.Context, incident string, q NoticeQuery) (notifier.ListResult[notifier.Notice], error) {
	v := q.values()
	if q.Acknowledged != "" {
		v.Set("acknowledged", q.Acknowledged)
	}
	if q.Kind != "" {
		v.Set("kind", q.Kind)
	}
	var out notifier.ListResult[notifier.Notice]
	return out, c.get(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/notices", v, &out)
}

// Notice returns a notice with its items, deliveries and chases.
func (c *Client) Notice(ctx context.Context, id int64) (notifier.NoticeDetail, error) {
	var out notifier.NoticeDetail
	return out, c.get(ctx, "/api/v1/notices/"+strconv.FormatInt(id, 10), nil, &out)
}

// ResendNotice queues a notice again for the contacts it has not reached.
func (c *Client) ResendNotice(ctx context.Context, id int64) (notifier.Resend, error) {
	var out notifier.Resend
	return out, c.Do(ctx, http.MethodPost, "/api/v1/notices/"+strconv.FormatInt(id, 10)+"/resend", "", nil, &out)
}

// Unreachable lists an incident's notices that reached nobody.
func (c *Client) Unreachable(ctx context.Context, incident string, p Page) (notifier.ListResult[notifier.UnreachableNotice], error) {
	var out notifier.ListResult[notifier.UnreachableNotice]
	return out, c.get(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/unreachable", p.values(), &out)
}

// RecordBounce uploads a bounce report: an RFC 3464 message (contentType
// message/rfc822) or the JSON form.
func (c *Client) RecordBounce(ctx context.Context, raw []byte, contentType string) (notifier.ListResult[notifier.Bounce], error) {
	var out notifier.ListResult[notifier.Bounce]
	return out, c.Do(ctx, http.MethodPost, "/api/v1/bounces", contentType, bytes.NewReader(raw), &out)
}
