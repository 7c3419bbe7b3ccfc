package apiclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

// Page asks for one page of a list: at most Limit items (0 means the
// server's default) after Cursor (a previous page's next_cursor; empty
// for the first page).
type Page struct {
	Limit  int
	Cursor string
}

// values is the page as query parameters.
func (p Page) values() url.Values {
	q := url.Values{}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	return q
}

// get sends a GET with query parameters and decodes the reply into out.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.Do(ctx, http.MethodGet, path, "", nil, out)
}

// All follows a list from its first page until the server gives no next
// cursor, or until max items (0: no limit), asking for pages as large as
// the server allows.
func All[T any](ctx context.Context, max int, list func(context.Context, Page) (notifier.ListResult[T], error)) ([]T, error) {
	var out []T
	p := Page{Limit: notifier.PageLimitMax}
	for {
		if max > 0 {
			p.Limit = min(notifier.PageLimitMax, max-len(out))
		}
		res, err := list(ctx, p)
		if err != nil {
			return out, err
		}
		out = append(out, res.Items...)
		if res.NextCursor == "" || (max > 0 && len(out) >= max) {
			return out, nil
		}
		// A server that hands back the cursor it was given would keep
		// this loop going forever.
		if res.NextCursor == p.Cursor || len(res.Items) == 0 {
			return out, fmt.Errorf("the server returned next_cursor %q that does not advance the list", res.NextCursor)
		}
		p.Cursor = res.NextCursor
	}
}
