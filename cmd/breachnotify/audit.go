package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
)

const auditUse = `usage:
  breachnotify audit list [--limit N] [--action ACTION] [--target-type T] [--target-id ID] [--json]
  breachnotify audit verify [--json]`

func cmdAudit(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, args, auditUse, map[string]command{
		"list":   auditList,
		"verify": auditVerify,
	})
}

func auditList(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "audit list")
	limit := fs.Int("limit", notifier.PageLimitDefault, "how many entries, newest first")
	var q apiclient.AuditQuery
	fs.StringVar(&q.Action, "action", "", "only entries with this action, e.g. wave.launch")
	fs.StringVar(&q.TargetType, "target-type", "", "only entries about this kind of target, e.g. wave")
	fs.StringVar(&q.TargetID, "target-id", "", "only entries about this target id")
	if _, err := parseArgs(fs, args, 0, auditUse); err != nil {
		return err
	}
	if *limit < 1 {
		return usageError{"--limit must be at least 1\n" + auditUse}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	list, err := apiclient.All(ctx, *limit, func(ctx context.Context, p apiclient.Page) (notifier.ListResult[notifier.AuditEntry], error) {
		q.Page = p
		return c.AuditList(ctx, q)
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, notifier.ListResult[notifier.AuditEntry]{Items: nonNil(list)})
	}
	t := newTable(e.stdout, "ID", "AT", "ACTOR", "ACTION", "TARGET", "HASH")
	for _, a := range list {
		target := a.TargetType
		if a.TargetID != "" {
			target += " " + a.TargetID
		}
		t.row(a.ID, a.At, a.ActorName, a.Action, target, shortHash(a.Hash))
	}
	return t.flush()
}

// shortHash is enough of a hash to tell entries apart by eye.
func shortHash(h []byte) string {
	s := hex.EncodeToString(h)
	return s[:min(len(s), 12)]
}

// auditVerification is what audit verify reports: the check made here on
// the downloaded chain, and the server's own.
type auditVerification struct {
	Client notifier.AuditVerification `json:"client"`
	Server notifier.AuditVerification `json:"server"`
}

// auditVerify checks the audit chain twice: here, on every entry
// downloaded through the list API, so a server whose own check was
// tampered with cannot vouch for itself; and on the server, which reads
// the table directly. Either finding a break makes the command fail.
func auditVerify(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "audit verify")
	if _, err := parseArgs(fs, args, 0, auditUse); err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	chain, err := c.AuditChain(ctx)
	if err != nil {
		return fmt.Errorf("download the audit trail: %w", err)
	}
	v := notifier.NewChainVerifier()
	for _, entry := range chain {
		if !v.Add(entry) {
			break
		}
	}
	res := auditVerification{Client: v.Result()}
	if res.Server, err = c.AuditVerify(ctx); err != nil {
		return fmt.Errorf("server check: %w", err)
	}
	if *asJSON {
		if err := printJSON(e.stdout, res); err != nil {
			return err
		}
	} else {
		t := newTable(e.stdout, "CHECK", "RESULT", "ENTRIES", "HEAD")
		t.row("client", verdict(res.Client), res.Client.Entries, res.Client.Head)
		t.row("server", verdict(res.Server), res.Server.Entries, res.Server.Head)
		if err := t.flush(); err != nil {
			return err
		}
		if res.Client.OK && res.Server.OK {
			fmt.Fprintf(e.stdout, "\nRecord the head outside this system: a later chain that does not pass through\n%s\nhas lost or rewritten entries.\n", res.Client.Head)
		}
	}
	var problems []string
	for _, side := range []struct {
		name string
		v    notifier.AuditVerification
	}{{"client", res.Client}, {"server", res.Server}} {
		if !side.v.OK {
			problems = append(problems, fmt.Sprintf("%s check: broken at entry %d: %s", side.name, side.v.BrokenAt, side.v.Reason))
		}
	}
	// Both walked the same table, the server after this client; with as
	// many entries, they must end at the same hash.
	if res.Client.OK && res.Server.OK && res.Client.Entries == res.Server.Entries && res.Client.Head != res.Server.Head {
		problems = append(problems, fmt.Sprintf("the server's chain ends at %s but the downloaded one at %s", res.Server.Head, res.Client.Head))
	}
	if len(problems) > 0 {
		return errors.New("the audit chain is broken\n  " + strings.Join(problems, "\n  "))
	}
	return nil
}

func verdict(v notifier.AuditVerification) string {
	if v.OK {
		return "ok"
	}
	return fmt.Sprintf("BROKEN at entry %d: %s", v.BrokenAt, v.Reason)
}
