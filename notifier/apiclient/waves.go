package apiclient

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

// ListWaves returns one page of waves, newest first: those of one incident
// (id or slug), or of every incident when incident is empty.
func (c *Client) ListWaves(ctx context.Context, incident string, p Page) (notifier.ListResult[notifier.Wave], error) {
	path := "/api/v1/waves"
	if incident != "" {
		path = "/api/v1/incidents/" + url.PathEscape(incident) + "/waves"
	}
	var out notifier.ListResult[notifier.Wave]
	return out, c.get(ctx, path, p.values(), &out)
}

// waveAction posts to one of a wave's action routes.
func (c *Client) waveAction(ctx context.Context, id int64, action string, header http.Header) (notifier.Wave, error) {
	var out notifier.Wave
	return out, c.do(ctx, http.MethodPost, "/api/v1/waves/"+strconv.FormatInt(id, 10)+"/"+action, header, "", nil, &out)
}

// ApproveWave approves a planned wave; the server refuses the key that
// planned it.
func (c *Client) ApproveWave(ctx context.Context, id int64) (notifier.Wave, error) {
	return c.waveAction(ctx, id, "approve", nil)
}

// LaunchWaveIdempotent launches a planned wave with an Idempotency-Key:
// the server answers every repeat of the key with the first launch's
// reply. That makes a repeat harmless, so when the request gets no reply
// at all (a transport error, not an error reply) it is sent once more
// with the same key. An empty key sends no header and is never retried.
func (c *Client) LaunchWaveIdempotent(ctx context.Context, id int64, key string) (notifier.Wave, error) {
	if key == "" {
		return c.LaunchWave(ctx, id)
	}
	header := http.Header{"Idempotency-Key": {key}}
	w, err := c.waveAction(ctx, id, "launch", header)
	if err != nil && retryable(ctx, err) {
		w, err = c.waveAction(ctx, id, "launch", header)
	}
	return w, err
}

// retryable reports whether err means the server may never have answered:
// not an error reply, and not the caller giving up.
func retryable(ctx context.Context, err error) bool {
	var apiErr *Error
	return !errors.As(err, &apiErr) && ctx.Err() == nil
}

// PauseWave stops a running wave's new sends; sends in flight finish.
func (c *Client) PauseWave(ctx context.Context, id int64) (notifier.Wave, error) {
	return c.waveAction(ctx, id, "pause", nil)
}

// ResumeWave continues a paused wave.
func (c *Client) ResumeWave(ctx context.Context, id int64) (notifier.Wave, error) {
	return c.waveAction(ctx, id, "resume", nil)
}

// CancelWave stops a wave for good; what was already sent stays sent.
func (c *Client) CancelWave(ctx context.Context, id int64) (notifier.Wave, error) {
	return c.waveAction(ctx, id, "cancel", nil)
}
