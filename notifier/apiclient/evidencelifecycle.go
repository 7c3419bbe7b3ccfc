package apiclient

import (
	"context"
	"net/url"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

// EvidencePurge tells where an incident's evidence stands: kept, a purge
// requested, purging or purged.
func (c *Client) EvidencePurge(ctx context.Context, incident string) (notifier.EvidencePurge, error) {
	var out notifier.EvidencePurge
	return out, c.get(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/purge", nil, &out)
}

// PurgeEvidence purges an incident's evidence (admin), or only requests
// the purge when the incident's policy wants a second admin to approve it
// (the reply's state is then "requested").
func (c *Client) PurgeEvidence(ctx context.Context, incident, reason string) (notifier.EvidencePurge, error) {
	return c.purgeAction(ctx, incident, "", reason)
}

// ApprovePurge approves an incident's waiting purge request (admin, not
// the requester) and carries it out.
func (c *Client) ApprovePurge(ctx context.Context, incident, reason string) (notifier.EvidencePurge, error) {
	return c.purgeAction(ctx, incident, "/approve", reason)
}

// CancelPurge cancels an incident's waiting purge request (admin).
func (c *Client) CancelPurge(ctx context.Context, incident, reason string) (notifier.EvidencePurge, error) {
	return c.purgeAction(ctx, incident, "/cancel", reason)
}

func (c *Client) purgeAction(ctx context.Context, incident, action, reason string) (notifier.EvidencePurge, error) {
	var out notifier.EvidencePurge
	return out, c.postJSON(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/purge"+action, notifier.PurgeRequest{Reason: reason}, &out)
}

// FindingQuery narrows a list of findings; empty fields do not.
type FindingQuery struct {
	Type            string
	Dismissed, Live *bool
}

// Findings returns one page of an incident's findings (operator).
func (c *Client) Findings(ctx context.Context, incident string, f FindingQuery, p Page) (notifier.ListResult[notifier.Finding], error) {
	q := p.values()
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	if f.Dismissed != nil {
		q.Set("dismissed", strconv.FormatBool(*f.Dismissed))
	}
	if f.Live != nil {
		q.Set("live", strconv.FormatBool(*f.Live))
	}
	var out notifier.ListResult[notifier.Finding]
	return out, c.get(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/evidence/findings", q, &out)
}

// DismissFinding marks a finding a false positive, with a reason.
func (c *Client) DismissFinding(ctx context.Context, incident, finding, reason string) (notifier.Finding, error) {
	return c.findingAction(ctx, incident, finding, "dismiss", reason)
}

// UndismissFinding restores a dismissed finding, with a reason.
func (c *Client) UndismissFinding(ctx context.Context, incident, finding, reason string) (notifier.Finding, error) {
	return c.findingAction(ctx, incident, finding, "undismiss", reason)
}

func (c *Client) findingAction(ctx context.Context, incident, finding, action, reason string) (notifier.Finding, error) {
	var out notifier.Finding
	return out, c.postJSON(ctx, "/api/v1/incidents/"+url.PathEscape(incident)+"/evidence/findings/"+url.PathEscape(finding)+"/"+action,
		notifier.DismissRequest{Reason: reason}, &out)
}
