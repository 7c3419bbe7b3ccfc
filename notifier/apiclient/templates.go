package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

// TemplateFilter narrows ListTemplates; zero values mean "any".
type TemplateFilter struct {
	Kind   string
	Locale string
	// Current lists only the versions in use.
	Current bool
}

// ListTemplates returns one page of template versions, newest first,
// without their text.
func (c *Client) ListTemplates(ctx context.Context, f TemplateFilter, p Page) (notifier.ListResult[notifier.TemplateVersion], error) {
	q := p.values()
	if f.Kind != "" {
		q.Set("kind", f.Kind)
	}
	if f.Locale != "" {
		q.Set("locale", f.Locale)
	}
	if f.Current {
		q.Set("current", "true")
	}
	var out notifier.ListResult[notifier.TemplateVersion]
	return out, c.get(ctx, "/api/v1/templates", q, &out)
}

// Template returns one template version with its text.
func (c *Client) Template(ctx context.Context, id int64) (notifier.TemplateVersion, error) {
	var out notifier.TemplateVersion
	return out, c.get(ctx, "/api/v1/templates/"+strconv.FormatInt(id, 10), nil, &out)
}

// UploadTemplate stores a template version (admin). created is false when
// the server already had this content (it answered 200, not 201). A
// template the server refuses comes back as an *Error whose Rows name the
// part (subject, text, html) and the problem.
func (c *Client) UploadTemplate(ctx context.Context, in notifier.TemplateUpload) (v notifier.TemplateVersion, created bool, err error) {
	b, err := json.Marshal(in)
	if err != nil {
		return v, false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/templates", bytes.NewReader(b))
	if err != nil {
		return v, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return v, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return v, false, decodeError(resp)
	}
	return v, resp.StatusCode == http.StatusCreated, json.NewDecoder(resp.Body).Decode(&v)
}

// ActivateTemplate makes a version the current one for its kind and
// locale (admin).
func (c *Client) ActivateTemplate(ctx context.Context, id int64) (notifier.TemplateVersion, error) {
	var out notifier.TemplateVersion
	return out, c.Do(ctx, http.MethodPost, "/api/v1/templates/"+strconv.FormatInt(id, 10)+"/activate", "", nil, &out)
}

// PreviewTemplate renders a version for an organization (id or ref) in an
// incident (id or slug), or for the sample data when both are empty.
func (c *Client) PreviewTemplate(ctx context.Context, id int64, organization, incident string) (notifier.TemplatePreview, error) {
	var out notifier.TemplatePreview
	return out, c.postJSON(ctx, "/api/v1/templates/"+strconv.FormatInt(id, 10)+"/preview",
		notifier.TemplatePreviewRequest{Organization: organization, Incident: incident}, &out)
}
