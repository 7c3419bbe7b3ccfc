package apiclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

// ImportEvidence streams stolen mail (an mbox, one message, or a tar or
// tar.gz archive) into an incident as one import named name and returns
// the import once the server has stored it all. size is the body's length
// when known, else -1. The upload may take hours: only ctx bounds it, not
// the client's usual request timeout.
func (c *Client) ImportEvidence(ctx context.Context, incident, name string, body io.Reader, size int64) (notifier.EvidenceImport, error) {
	var out notifier.EvidenceImport
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		c.base+"/api/v1/incidents/"+url.PathEscape(incident)+"/evidence?name="+url.QueryEscape(name), body)
	if err != nil {
		return out, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	return out, c.doLong(req, &out)
}

// doLong sends req, authenticated, with no timeout but its context's (an
// upload or a run that takes hours), and decodes the JSON reply into out.
func (c *Client) doLong(req *http.Request, out any) error {
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	unbounded := *c.http
	unbounded.Timeout = 0
	resp, err := unbounded.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return decodeError(resp)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// EvidenceImport returns an import with its progress.
func (c *Client) EvidenceImport(ctx context.Context, id int64) (notifier.EvidenceImport, error) {
	var out notifier.EvidenceImport
	return out, c.Do(ctx, http.MethodGet, "/api/v1/evidence-imports/"+strconv.FormatInt(id, 10), "", nil, &out)
}

// EvidenceImports lists an incident's last imports, newest first.
func (c *Client) EvidenceImports(ctx context.Context, incident string) ([]notifier.EvidenceImport, error) {
	var out []notifier.EvidenceImport
	return out, c.Do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(incident)+"/evidence-imports", "", nil, &out)
}

// UnattributedEvidence returns the incident's messages that expose no
// known organization and one page of their participants' domains, the
// most frequent first; p.Cursor is a previous page's next_cursor.
func (c *Client) UnattributedEvidence(ctx context.Context, incident string, p Page) (notifier.UnattributedReport, error) {
	var out notifier.UnattributedReport
	return out, c.get(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/evidence/unattributed", p.values(), &out)
}

// ReattributeEvidence attributes the incident's stored messages again
// against the organizations as they are now, and returns the run once
// done. It may take minutes for millions of messages: only ctx bounds it.
func (c *Client) ReattributeEvidence(ctx context.Context, incident string) (notifier.EvidenceImport, error) {
	var out notifier.EvidenceImport
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/incidents/"+url.PathEscape(incident)+"/evidence/reattribute", nil)
	if err != nil {
		return out, err
	}
	return out, c.doLong(req, &out)
}
