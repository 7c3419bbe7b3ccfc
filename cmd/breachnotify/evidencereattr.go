package main

import (
	"context"
	"fmt"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
)

const evidenceUnattributedUse = `usage:
  breachnotify evidence unattributed INCIDENT [--limit N] [--json]`

// cmdEvidenceUnattributed prints the incident's messages that expose no
// known organization and their participants' domains, the most frequent
// first: which organizations or contacts IR staff may add before
// `evidence reattribute`.
func cmdEvidenceUnattributed(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "evidence unattributed")
	limit := fs.Int("limit", notifier.PageLimitDefault, "how many domains, the most frequent first")
	pos, err := parseArgs(fs, args, 1, evidenceUnattributedUse)
	if err != nil {
		return err
	}
	if *limit < 1 {
		return usageError{"--limit must be at least 1\n" + evidenceUnattributedUse}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	var rep notifier.UnattributedReport
	var domains []notifier.UnattributedDomain
	for p := (apiclient.Page{}); ; {
		p.Limit = min(*limit-len(domains), notifier.PageLimitMax)
		if rep, err = c.UnattributedEvidence(ctx, pos[0], p); err != nil {
			return err
		}
		domains = append(domains, rep.Domains...)
		if rep.NextCursor == "" || len(domains) >= *limit || rep.NextCursor == p.Cursor {
			break
		}
		p.Cursor = rep.NextCursor
	}
	rep.Domains = nonNil(domains)
	if *asJSON {
		return printJSON(e.stdout, rep)
	}
	fmt.Fprintf(e.stdout, "%d unattributed messages\n", rep.Messages)
	if len(domains) == 0 {
		return nil
	}
	t := newTable(e.stdout, "DOMAIN", "MESSAGES", "FREE-MAIL", "ATTRIBUTABLE")
	for _, d := range domains {
		t.row(terminalText(d.Domain), d.Messages, yesNo(d.FreeMail), yesNo(d.Attributable))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if rep.NextCursor != "" {
		fmt.Fprintf(e.stdout, "more domains: --limit %d shows more\n", *limit*2)
	}
	fmt.Fprintln(e.stdout, "free-mail: addresses there count only as known contacts (add the contact, not a domain); attributable: an organization owns it now, run `breachnotify evidence reattribute`")
	return nil
}

const evidenceReattributeUse = `usage:
  breachnotify evidence reattribute INCIDENT [--json]`

// cmdEvidenceReattribute attributes the incident's stored messages again
// against the organizations as they are now, and prints the run and the
// organizations its batch concerns.
func cmdEvidenceReattribute(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "evidence reattribute")
	pos, err := parseArgs(fs, args, 1, evidenceReattributeUse)
	if err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	run, err := c.ReattributeEvidence(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, run)
	}
	t := newTable(e.stdout, "RUN", "MESSAGES", "ATTRIBUTED", "UNATTRIBUTED", "BATCH", "NEW ITEMS")
	batch, items := any(nil), 0
	if run.Batch != nil {
		batch, items = run.Batch.BatchID, run.Batch.ItemsNew
	}
	t.row(run.ID, run.Messages, run.Attributed, run.Unattributed, batch, items)
	if err := t.flush(); err != nil {
		return err
	}
	if run.Batch != nil {
		printOrgs(e.stdout, "follow-ups scheduled", run.Batch.FollowUps)
		printOrgs(e.stdout, "awaiting their initial notice", run.Batch.AwaitingInitial)
	}
	return nil
}
