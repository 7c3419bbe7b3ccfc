package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
)

const incidentUse = `usage:
  breachnotify incident create --slug SLUG --title TITLE [--summary TEXT] [--aware-at TIME] [--materiality-at TIME]
        [--obligations ID,ID] [--target ID=HOURS] [--json]
  breachnotify incident list [--json]
  breachnotify incident show INCIDENT [--json]
  breachnotify incident policy INCIDENT [--require-approval=true|false] [--auto-follow-up=true|false]
        [--auto-follow-up-without-approval=true|false] [--follow-up-window 15m] [--reminder-after 48h]
        [--max-reminders 2] [--disclosure full|minimal] [--purge-needs-approval=true|false] [--evidence-retention 2160h] [--json]
  breachnotify incident clock INCIDENT [--aware-at TIME|none] [--materiality-at TIME|none] [--obligations ID,ID]
        [--target ID=HOURS] [--json]                                        the deadline clock (admin)
  breachnotify incident deadlines INCIDENT [--json]                        notify-by per organization, met or time left
  breachnotify incident purge INCIDENT [--reason TEXT] [--yes] [--json]     destroy the evidence (admin)
  breachnotify incident purge INCIDENT --approve [--reason TEXT] [--yes]    a second admin approves a request
  breachnotify incident purge INCIDENT --cancel [--reason TEXT]             cancel a waiting request
  breachnotify incident purge INCIDENT --status                             where the evidence stands`

func cmdIncident(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, args, incidentUse, map[string]command{
		"create":    incidentCreate,
		"list":      incidentList,
		"show":      incidentShow,
		"policy":    incidentPolicy,
		"clock":     incidentClock,
		"deadlines": incidentDeadlines,
		"purge":     incidentPurge,
	})
}

func incidentCreate(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "incident create")
	var in notifier.NewIncident
	fs.StringVar(&in.Slug, "slug", "", "short unique name: lowercase letters, digits and hyphens")
	fs.StringVar(&in.Title, "title", "", "one-line title")
	fs.StringVar(&in.Summary, "summary", "", "what happened, as the notices will tell it")
	clock := addClockFlags(fs)
	if _, err := parseArgs(fs, args, 0, incidentUse); err != nil {
		return err
	}
	if clock.given() {
		in.Clock = &notifier.IncidentClock{}
		if err := clock.apply(in.Clock); err != nil {
			return err
		}
	}
	if in.Slug == "" || in.Title == "" {
		return usageError{"--slug and --title are required\n" + incidentUse}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	inc, err := c.CreateIncident(ctx, in)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, inc)
	}
	return printIncident(e, inc)
}

func incidentList(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "incident list")
	if _, err := parseArgs(fs, args, 0, incidentUse); err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	list, err := apiclient.All(ctx, 0, c.ListIncidents)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, notifier.ListResult[notifier.Incident]{Items: nonNil(list)})
	}
	t := newTable(e.stdout, "ID", "SLUG", "TITLE", "APPROVAL", "CREATED")
	for _, inc := range list {
		t.row(inc.ID, inc.Slug, inc.Title, approvalPolicy(inc.Policy), inc.CreatedAt)
	}
	return t.flush()
}

func incidentShow(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "incident show")
	pos, err := parseArgs(fs, args, 1, incidentUse)
	if err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	inc, err := c.Incident(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, inc)
	}
	return printIncident(e, inc)
}

func incidentPolicy(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "incident policy")
	disclosure := fs.String("disclosure", "", `"minimal": notices tell only that there is a security notice, its reference, how to verify it and the portal link ("full": the incident, items and secret types, as by default)`)
	requireApproval := fs.Bool("require-approval", false, "every wave needs approval by a second key before launch")
	autoFollowUp := fs.Bool("auto-follow-up", true, "plan and launch a follow-up when a new batch touches an organization already told")
	withoutApproval := fs.Bool("auto-follow-up-without-approval", false, "under --require-approval, send automatic follow-ups without waiting for an approval")
	followUpWindow := fs.Duration("follow-up-window", 0, "wait this long after a batch so that batches in a row make one follow-up")
	reminderAfter := fs.Duration("reminder-after", 0, "remind an unacknowledged notice this long after it (or its last reminder) was sent")
	maxReminders := fs.Int("max-reminders", 0, "reminders before the escalation to the organization's legal and executive contacts")
	purgeApproval := fs.Bool("purge-needs-approval", false, "a purge of the evidence is a request a second admin must approve")
	retention := fs.Duration("evidence-retention", 0, "purge the evidence this long after its last import ended (0: keep until purged)")
	pos, err := parseArgs(fs, args, 1, incidentUse)
	if err != nil {
		return err
	}
	// Only the flags given change: the server keeps the rest of the policy.
	var patch notifier.PolicyPatch
	if flagSet(fs, "disclosure") {
		d := notifier.Disclosure(*disclosure)
		patch.Disclosure = &d
	}

	if flagSet(fs, "require-approval") {
		patch.RequireApproval = requireApproval
	}
	if flagSet(fs, "auto-follow-up") {
		patch.AutoFollowUp = autoFollowUp
	}
	if flagSet(fs, "auto-follow-up-without-approval") {
		patch.AutoFollowUpWithoutApproval = withoutApproval
	}
	if flagSet(fs, "follow-up-window") {
		d := notifier.Duration(*followUpWindow)
		patch.FollowUpWindow = &d
	}
	if flagSet(fs, "reminder-after") {
		d := notifier.Duration(*reminderAfter)
		patch.ReminderAfter = &d
	}
	if flagSet(fs, "max-reminders") {
		patch.MaxReminders = maxReminders
	}
	if flagSet(fs, "purge-needs-approval") {
		patch.PurgeNeedsApproval = purgeApproval
	}
	if flagSet(fs, "evidence-retention") {
		d := notifier.Duration(*retention)
		patch.EvidenceRetention = &d
	}
	if patch == (notifier.PolicyPatch{}) {
		return usageError{"give at least one policy field to set\n" + incidentUse}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	inc, err := c.PatchPolicy(ctx, pos[0], patch)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, inc)
	}
	return printIncident(e, inc)
}

func printIncident(e *env, inc notifier.Incident) error {
	t := newTable(e.stdout, "INCIDENT", inc.Slug)
	t.row("id", strconv.FormatInt(inc.ID, 10))
	t.row("title", inc.Title)
	// A summary may hold line breaks; one table row must not.
	t.row("summary", strings.Join(strings.Fields(inc.Summary), " "))
	t.row("approval", approvalPolicy(inc.Policy))
	t.row("disclosure", disclosurePolicy(inc.Policy.Disclosure))
	p := inc.Policy
	switch {
	case p.AutoFollowUp && p.FollowUpsNeedApproval():
		t.row("follow-ups", "planned automatically "+time.Duration(p.FollowUpWindow).String()+" after a batch; each waits for an approval")
	case p.AutoFollowUp:
		t.row("follow-ups", "automatic, "+time.Duration(p.FollowUpWindow).String()+" after a batch")
	default:
		t.row("follow-ups", "planned by hand")
	}
	t.row("reminders", strconv.Itoa(p.MaxReminders)+", every "+time.Duration(p.ReminderAfter).String()+" until acknowledged, then one escalation")
	t.row("evidence", evidencePolicy(p))
	t.row("deadline clock", clockSummary(inc.Clock))
	t.row("created", inc.CreatedAt)
	return t.flush()
}

// disclosurePolicy says what the incident's notices tell.
func disclosurePolicy(d notifier.Disclosure) string {
	if d.Minimal() {
		return "minimal: a notice gives its reference, how to verify it and the portal link; the rest is behind sign-in"
	}
	return "full: notices name the incident, the exposed items and their secret types"
}

// approvalPolicy says whether waves need a second key.
func approvalPolicy(p notifier.Policy) string {
	if p.RequireApproval {
		return "required"
	}
	return "not required"
}

// evidencePolicy says how long evidence is kept and who may purge it.
func evidencePolicy(p notifier.Policy) string {
	keep := "kept until purged"
	if p.EvidenceRetention > 0 {
		keep = "purged automatically " + time.Duration(p.EvidenceRetention).String() + " after its last import"
	}
	if p.PurgeNeedsApproval {
		return keep + "; a purge needs a second admin's approval"
	}
	return keep + "; an admin may purge it"
}

// nonNil makes an empty list print as [] rather than null in JSON.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
