package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/breachnotify/breachnotify/notifier"
)

// ListIncidents returns one page of incidents, newest first.
func (c *Client) ListIncidents(ctx context.Context, p Page) (notifier.ListResult[notifier.Incident], error) {
	var out notifier.ListResult[notifier.Incident]
	return out, c.get(ctx, "/api/v1/incidents", p.values(), &out)
}

// Incident returns an incident by id or slug.
func (c *Client) Incident(ctx context.Context, incident string) (notifier.Incident, error) {
	var out notifier.Incident
	return out, c.get(ctx, "/api/v1/incidents/"+url.PathEscape(incident), nil, &out)
}

// PatchPolicy changes the fields of an incident's policy that the patch
// sets (admin only) and returns the updated incident.
func (c *Client) PatchPolicy(ctx context.Context, incident string, patch notifier.PolicyPatch) (notifier.Incident, error) {
	b, err := json.Marshal(map[string]any{"policy": patch})
	if err != nil {
		return notifier.Incident{}, err
	}
	var out notifier.Incident
	return out, c.Do(ctx, http.MethodPatch, "/api/v1/incidents/"+url.PathEscape(incident), "application/json", bytes.NewReader(b), &out)
}

// Report streams an incident's proof-of-notification report ("csv" or
// "json"; empty means the server's default) into w.
func (c *Client) Report(ctx context.Context, incident, format string, w io.Writer) error {
	q := url.Values{}
	if format != "" {
		q.Set("format", format)
	}
	return c.get(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/report", q, w)
}
