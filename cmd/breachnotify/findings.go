package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
)

// evidenceFindings lists an incident's findings: what IR staff review to
// dismiss the false positives. Never the secret, only its masked form.
func evidenceFindings(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "evidence findings")
	typ := fs.String("type", "", "only findings of this secret type")
	dismissed := fs.Bool("dismissed", false, "only dismissed findings (=false: only those still counting)")
	live := fs.Bool("live", false, "only live secrets (=false: only those that do not work alone)")
	pos, err := parseArgs(fs, args, 1, evidenceUse)
	if err != nil {
		return err
	}
	var q apiclient.FindingQuery
	q.Type = *typ
	if flagSet(fs, "dismissed") {
		q.Dismissed = dismissed
	}
	if flagSet(fs, "live") {
		q.Live = live
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	list, err := apiclient.All(ctx, 0, func(ctx context.Context, p apiclient.Page) (notifier.ListResult[notifier.Finding], error) {
		return c.Findings(ctx, pos[0], q, p)
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, notifier.ListResult[notifier.Finding]{Items: nonNil(list)})
	}
	t := newTable(e.stdout, "FINDING", "ITEM", "TYPE", "RULE", "MASKED", "PART", "LINE", "LIVE", "DISMISSED")
	for _, f := range list {
		t.row(f.ID, f.ItemRef, terminalText(f.Type), terminalText(f.RuleID), terminalText(f.Masked), terminalText(f.Part),
			strconv.Itoa(f.Line), f.Live, dismissal(f.Dismissed))
	}
	return t.flush()
}

// dismissal says who dismissed a finding and why, on one line.
func dismissal(d *notifier.FindingDismissal) string {
	if d == nil {
		return "-"
	}
	return fmt.Sprintf("%s by %s: %s", cell(d.At), terminalText(d.By), terminalText(d.Reason))
}

func evidenceDismiss(ctx context.Context, e *env, args []string) error {
	return findingVerb(ctx, e, args, "evidence dismiss", true)
}

func evidenceUndismiss(ctx context.Context, e *env, args []string) error {
	return findingVerb(ctx, e, args, "evidence undismiss", false)
}

// findingVerb dismisses or restores one finding, with the reason required.
func findingVerb(ctx context.Context, e *env, args []string, name string, dismiss bool) error {
	fs, asJSON := newFlags(e, name)
	reason := fs.String("reason", "", "why (required; kept in the audit trail)")
	pos, err := parseArgs(fs, args, 2, evidenceUse)
	if err != nil {
		return err
	}
	if *reason == "" {
		return usageError{"--reason is required\n" + evidenceUse}
	}
	if err := notifier.ValidateReason(*reason, true); err != nil {
		return err
	}
	if _, err := notifier.ParseFindingID(pos[1]); err != nil {
		return usageError{err.Error() + "\n" + evidenceUse}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	var f notifier.Finding
	if dismiss {
		f, err = c.DismissFinding(ctx, pos[0], pos[1], *reason)
	} else {
		f, err = c.UndismissFinding(ctx, pos[0], pos[1], *reason)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, f)
	}
	t := newTable(e.stdout, "FINDING", f.ID)
	t.row("item", f.ItemRef)
	t.row("type", terminalText(f.Type))
	t.row("masked", terminalText(f.Masked))
	t.row("where", fmt.Sprintf("%s line %d", terminalText(f.Part), f.Line))
	t.row("live", f.Live)
	t.row("dismissed", dismissal(f.Dismissed))
	return t.flush()
}
