package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/breachnotify/breachnotify/notifier"
)

// PatchClock replaces an incident's deadline clock (admin only) and
// returns the updated incident.
func (c *Client) PatchClock(ctx context.Context, incident string, clock notifier.IncidentClock) (notifier.Incident, error) {
	b, err := json.Marshal(map[string]any{"clock": clock})
	if err != nil {
		return notifier.Incident{}, err
	}
	var out notifier.Incident
	return out, c.Do(ctx, http.MethodPatch, "/api/v1/incidents/"+url.PathEscape(incident), "application/json", bytes.NewReader(b), &out)
}

// Deadlines returns one page of an incident's deadline board.
func (c *Client) Deadlines(ctx context.Context, incident string, p Page) (notifier.DeadlineBoard, error) {
	var out notifier.DeadlineBoard
	return out, c.get(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/deadlines", p.values(), &out)
}

// AllDeadlines reads the whole board: the first page's header, every
// page's organizations.
func (c *Client) AllDeadlines(ctx context.Context, incident string) (notifier.DeadlineBoard, error) {
	p := Page{Limit: notifier.PageLimitMax}
	var board notifier.DeadlineBoard
	for {
		page, err := c.Deadlines(ctx, incident, p)
		if err != nil {
			return board, err
		}
		if p.Cursor == "" {
			board = page
		} else {
			board.Items = append(board.Items, page.Items...)
		}
		if page.NextCursor == "" {
			board.NextCursor = ""
			return board, nil
		}
		if page.NextCursor == p.Cursor || len(page.Items) == 0 {
			return board, fmt.Errorf("the server returned next_cursor %q that does not advance the board", page.NextCursor)
		}
		p.Cursor = page.NextCursor
	}
}
