package main

import (
	"context"
	"strconv"
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
)

const incidentUse = `usage:
  breachnotify incident create --slug SLUG --title TITLE [--summary TEXT] [--json]
  breachnotify incident list [--json]
  breachnotify incident show INCIDENT [--json]
  breachnotify incident policy INCIDENT --require-approval=true|false [--json]`

func cmdIncident(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, args, incidentUse, map[string]command{
		"create": incidentCreate,
		"list":   incidentList,
		"show":   incidentShow,
		"policy": incidentPolicy,
	})
}

func incidentCreate(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "incident create")
	var in notifier.NewIncident
	fs.StringVar(&in.Slug, "slug", "", "short unique name: lowercase letters, digits and hyphens")
	fs.StringVar(&in.Title, "title", "", "one-line title")
	fs.StringVar(&in.Summary, "summary", "", "what happened, as the notices will tell it")
	if _, err := parseArgs(fs, args, 0, incidentUse); err != nil {
		return err
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
	requireApproval := fs.Bool("require-approval", false, "every wave needs approval by a second key before launch")
	pos, err := parseArgs(fs, args, 1, incidentUse)
	if err != nil {
		return err
	}
	if !flagSet(fs, "require-approval") {
		return usageError{"give the policy to set: --require-approval=true or --require-approval=false\n" + incidentUse}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	inc, err := c.PatchPolicy(ctx, pos[0], notifier.PolicyPatch{RequireApproval: requireApproval})
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
	t.row("created", inc.CreatedAt)
	return t.flush()
}

// approvalPolicy says whether waves need a second key.
func approvalPolicy(p notifier.Policy) string {
	if p.RequireApproval {
		return "required"
	}
	return "not required"
}

// nonNil makes an empty list print as [] rather than null in JSON.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
