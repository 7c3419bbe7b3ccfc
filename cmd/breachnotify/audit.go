package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app"
)

const auditUse = `usage:
  breachnotify audit list [--limit N] [--action ACTION] [--target-type T] [--target-id ID] [--json]
  breachnotify audit verify [--checkpoint CHECKPOINT] [--json]`

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
	// KeySource says where the client's current audit key came from
	// (empty: it had none, and checked the links only).
	KeySource string `json:"key_source,omitempty"`
}

// auditVerify checks the audit chain twice: here, on every entry
// downloaded through the list API, so a server whose own check was
// tampered with cannot vouch for itself; and on the server, which reads
// the table directly. The check here needs the audit key (the server's
// BREACHNOTIFY_AUDIT_KEY_FILE or BREACHNOTIFY_SECRET_FILE) to check the
// entries' MACs; entries keyed with a key it lacks it checks only by
// their links. Both hold the chain to --checkpoint when given (the server
// otherwise to its newest stored one). Either finding a break makes the
// command fail.
func auditVerify(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "audit verify")
	checkpoint := fs.String("checkpoint", "", "a checkpoint from an earlier verify or the server's log: the chain must still pass through it")
	if _, err := parseArgs(fs, args, 0, auditUse); err != nil {
		return err
	}
	var cp *notifier.AuditCheckpoint
	if *checkpoint != "" {
		parsed, err := notifier.ParseAuditCheckpoint(*checkpoint)
		if err != nil {
			return usageError{"--checkpoint " + err.Error()}
		}
		cp = &parsed
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	keys, source, err := app.LocalAuditKeys(cfg)
	if err != nil {
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
	v := notifier.NewChainVerifier(keys)
	// The server has every key; this side may lack the one derived from
	// the secret in the database, and leaves what it keyed to the server.
	// The server checks the checkpoint's MAC too: here, a forged one could
	// only make the check stricter.
	v.AllowMissingKeys()
	if cp != nil {
		v.Against(*cp)
	}
	for _, entry := range chain {
		if !v.Add(entry) {
			break
		}
	}
	res := auditVerification{Client: v.Result()}
	if keys != nil {
		res.KeySource = source
	}
	if res.Server, err = c.AuditVerify(ctx, *checkpoint); err != nil {
		return fmt.Errorf("server check: %w", err)
	}
	if *asJSON {
		if err := printJSON(e.stdout, res); err != nil {
			return err
		}
	} else if err := printVerification(e, res); err != nil {
		return err
	}
	var problems []string
	for _, side := range []struct {
		name string
		v    notifier.AuditVerification
	}{{"client", res.Client}, {"server", res.Server}} {
		if !side.v.OK {
			problems = append(problems, side.name+" check: broken"+brokenAt(side.v))
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

func printVerification(e *env, res auditVerification) error {
	t := newTable(e.stdout, "CHECK", "RESULT", "ENTRIES", "HEAD")
	client := verdict(res.Client)
	if res.Client.OK && res.Client.UncheckedMACs > 0 {
		client += fmt.Sprintf(" (%d keyed entries checked by their links only: their key is not here)", res.Client.UncheckedMACs)
	}
	t.row("client", client, res.Client.Entries, res.Client.Head)
	t.row("server", verdict(res.Server), res.Server.Entries, res.Server.Head)
	if err := t.flush(); err != nil {
		return err
	}
	if against := res.Server.CheckedAgainst; against != "" {
		fmt.Fprintf(e.stdout, "\nHeld to the checkpoint %s\n", against)
	}
	if res.Server.Checkpoint != "" {
		fmt.Fprintf(e.stdout, "\nKeep this checkpoint outside this system (the server logged it too); a later\n`audit verify --checkpoint` with it fails if entries up to it were removed or rewritten:\n%s\n", res.Server.Checkpoint)
	}
	return nil
}

func verdict(v notifier.AuditVerification) string {
	if v.OK {
		return "ok"
	}
	return "BROKEN" + brokenAt(v)
}

// brokenAt says where and why a chain is broken, to follow "broken": a
// lost tail has no entry left to name.
func brokenAt(v notifier.AuditVerification) string {
	if v.BrokenAt == 0 {
		return ": " + v.Reason
	}
	return fmt.Sprintf(" at entry %d: %s", v.BrokenAt, v.Reason)
}
