// Package apiclient is a Go client for breachnotify's HTTP API, used by the
// CLI verbs, the demo and end-to-end tests.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

// Client calls one breachnotify server with one API key.
type Client struct {
	base string
	key  string
	http *http.Client
}

// New returns a client for the server at baseURL.
func New(baseURL, apiKey string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), key: apiKey, http: &http.Client{Timeout: 5 * time.Minute}}
}

// Error is an error reply from the API.
type Error struct {
	Status  int
	Code    string
	Message string
	Rows    []notifier.RowError
	Details json.RawMessage
}

// Error formats the reply for people: the code, status and message, then
// each bad row on its own line.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (HTTP %d): %s", e.Code, e.Status, e.Message)
	for _, r := range e.Rows {
		b.WriteString("\n  ")
		// A problem may lack a line (a whole-request field, or the count
		// of problems left unlisted) or a field (a row's shape).
		switch {
		case r.Line > 0 && r.Field != "":
			b.WriteString(r.String())
		case r.Line > 0:
			fmt.Fprintf(&b, "line %d: %s", r.Line, r.Message)
		case r.Field != "":
			fmt.Fprintf(&b, "field %s: %s", r.Field, r.Message)
		default:
			b.WriteString(r.Message)
		}
	}
	return b.String()
}

// Do sends a request and decodes a JSON reply into out (when not nil); an
// io.Writer out receives the reply body as it is.
func (c *Client) Do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	return c.do(ctx, method, path, nil, contentType, body, out)
}

// do is Do with extra request headers.
func (c *Client) do(ctx context.Context, method, path string, header http.Header, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return decodeError(resp)
	}
	if out == nil {
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func decodeError(resp *http.Response) error {
	var body struct {
		Error struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(raw, &body) != nil || body.Error.Code == "" {
		e.Code, e.Message = "http_error", strings.TrimSpace(string(raw))
		return e
	}
	e.Code, e.Message, e.Details = body.Error.Code, body.Error.Message, body.Error.Details
	_ = json.Unmarshal(body.Error.Details, &e.Rows)
	return e
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPost, path, "application/json", bytes.NewReader(b), out)
}

// CreateIncident creates an incident.
func (c *Client) CreateIncident(ctx context.Context, in notifier.NewIncident) (notifier.Incident, error) {
	var out notifier.Incident
	return out, c.postJSON(ctx, "/api/v1/incidents", in, &out)
}

// ImportOrganizations uploads an organizations+contacts file.
func (c *Client) ImportOrganizations(ctx context.Context, body io.Reader, format notifier.Format) (notifier.OrgImportResult, error) {
	var out notifier.OrgImportResult
	return out, c.upload(ctx, "/api/v1/organizations/import", format, body, &out)
}

// ImportExposures uploads an exposure batch for an incident (id or slug).
func (c *Client) ImportExposures(ctx context.Context, incident string, body io.Reader, format notifier.Format) (notifier.ExposureImportResult, error) {
	var out notifier.ExposureImportResult
	return out, c.upload(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/exposures", format, body, &out)
}

// upload posts an import file with no timeout but the context's: a
// million-row file takes longer than the client's usual five minutes may
// allow on a slow link.
func (c *Client) upload(ctx context.Context, path string, format notifier.Format, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", format.ContentType())
	return c.doLong(req, out)
}

// PlanWave plans a wave of the given kind.
func (c *Client) PlanWave(ctx context.Context, incident string, kind templates.Kind) (notifier.WavePlan, error) {
	return c.PlanWaveWith(ctx, incident, kind, notifier.WaveOptions{})
}

// PlanWaveWith plans a wave of the given kind narrowed by opts.
func (c *Client) PlanWaveWith(ctx context.Context, incident string, kind templates.Kind, opts notifier.WaveOptions) (notifier.WavePlan, error) {
	var out notifier.WavePlan
	return out, c.postJSON(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/waves", map[string]any{"kind": kind, "urgent_only": opts.UrgentOnly}, &out)
}

// LaunchWave launches a planned wave.
func (c *Client) LaunchWave(ctx context.Context, id int64) (notifier.Wave, error) {
	var out notifier.Wave
	return out, c.Do(ctx, http.MethodPost, "/api/v1/waves/"+strconv.FormatInt(id, 10)+"/launch", "", nil, &out)
}

// Wave returns a wave's status.
func (c *Client) Wave(ctx context.Context, id int64) (notifier.Wave, error) {
	var out notifier.Wave
	return out, c.Do(ctx, http.MethodGet, "/api/v1/waves/"+strconv.FormatInt(id, 10), "", nil, &out)
}

// WaitWave polls a wave until it is completed or cancelled, or ctx ends.
func (c *Client) WaitWave(ctx context.Context, id int64, every time.Duration, progress func(notifier.Wave)) (notifier.Wave, error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w, err := c.Wave(ctx, id)
		if err != nil {
			return w, err
		}
		if progress != nil {
			progress(w)
		}
		if w.Status == notifier.WaveCompleted || w.Status == notifier.WaveCancelled {
			return w, nil
		}
		select {
		case <-ctx.Done():
			return w, ctx.Err()
		case <-t.C:
		}
	}
}

// Mailbox lists the embedded capture mailbox, newest first.
func (c *Client) Mailbox(ctx context.Context, limit int) ([]notifier.CapturedMessage, error) {
	var out struct {
		Items []notifier.CapturedMessage `json:"items"`
	}
	return out.Items, c.Do(ctx, http.MethodGet, "/api/v1/mailbox?limit="+strconv.Itoa(limit), "", nil, &out)
}

// MailboxMessage returns one captured message's raw bytes.
func (c *Client) MailboxMessage(ctx context.Context, id int64) ([]byte, error) {
	var buf bytes.Buffer
	err := c.Do(ctx, http.MethodGet, "/api/v1/mailbox/"+strconv.FormatInt(id, 10), "", nil, &buf)
	return buf.Bytes(), err
}
