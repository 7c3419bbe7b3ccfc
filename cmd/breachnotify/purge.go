package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// incidentPurge destroys an incident's evidence (crypto-shredding), asks
// for it, approves or cancels the request, or shows where it stands.
// Destroying asks for the incident's slug to be typed, unless --yes: a
// purge cannot be undone.
func incidentPurge(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "incident purge")
	approve := fs.Bool("approve", false, "approve the waiting request (a second admin's key) and carry it out")
	cancel := fs.Bool("cancel", false, "cancel the waiting request")
	status := fs.Bool("status", false, "show where the evidence stands; change nothing")
	reason := fs.String("reason", "", "why, for the audit trail")
	yes := fs.Bool("yes", false, "do not ask for the slug to be typed (scripts, CI)")
	pos, err := parseArgs(fs, args, 1, incidentUse)
	if err != nil {
		return err
	}
	if n := countTrue(*approve, *cancel, *status); n > 1 {
		return usageError{"--approve, --cancel and --status go alone\n" + incidentUse}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	st, err := c.EvidencePurge(ctx, pos[0])
	if err != nil {
		return err
	}
	switch {
	case *status:
	case *cancel:
		st, err = c.CancelPurge(ctx, pos[0], *reason)
	default:
		if !*yes {
			if err := confirmPurge(e, st, *approve); err != nil {
				return err
			}
		}
		if *approve {
			st, err = c.ApprovePurge(ctx, pos[0], *reason)
		} else {
			st, err = c.PurgeEvidence(ctx, pos[0], *reason)
		}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, st)
	}
	if err := printPurge(e, st); err != nil {
		return err
	}
	switch {
	case st.State == notifier.EvidencePurgeRequested && !*status:
		fmt.Fprintf(e.stderr, "purge requested: a second admin approves it with `breachnotify incident purge %s --approve`\n", st.Incident)
	case st.State == notifier.EvidencePurging:
		fmt.Fprintln(e.stderr, "the data key is destroyed: nothing of the evidence can be read any more; its rows are being deleted in the background (check with --status)")
	}
	return nil
}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// interactive reports whether r is a terminal a person types at; a test
// stands one in with an IsTerminal method.
func interactive(r io.Reader) bool {
	if t, ok := r.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// errNoTerminal refuses a purge nobody can confirm: CI has no stdin.
var errNoTerminal = errors.New("a purge asks for the incident's slug to be typed, and standard input is not a terminal: add --yes to purge without asking")

// confirmPurge says what the purge destroys and reads the slug typed back.
func confirmPurge(e *env, st notifier.EvidencePurge, approve bool) error {
	if !interactive(e.stdin) {
		return errNoTerminal
	}
	what := "destroys the data key of incident " + st.Incident
	if st.NeedsApproval && !approve {
		what = "asks for the purge of the evidence of incident " + st.Incident + " (a second admin must approve it), which then destroys its data key"
	}
	fmt.Fprintf(e.stderr, "This %s: its %d stolen messages become unreadable for good, here and in every backup, and are deleted.\n"+
		"Notices, exposure items and the proof of notification stay.\nType the incident's slug (%s) to go on: ", what, st.Messages, st.Incident)
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return fmt.Errorf("reading the confirmation: %w", err)
	}
	if strings.TrimSpace(line) != st.Incident {
		return errors.New("the slug typed does not match: nothing was purged")
	}
	return nil
}

// printPurge shows where an incident's evidence stands.
func printPurge(e *env, st notifier.EvidencePurge) error {
	t := newTable(e.stdout, "EVIDENCE", st.Incident)
	t.row("state", st.State)
	approval := "an admin may purge"
	if st.NeedsApproval {
		approval = "a purge needs a second admin's approval"
	}
	t.row("approval", approval)
	retention := "kept until purged"
	if st.Retention > 0 {
		retention = time.Duration(st.Retention).String() + " after the last import"
	}
	t.row("retention", retention)
	t.row("messages", st.Messages)
	t.row("ciphertext rows", st.Blobs)
	t.row("key destroyed", st.ShreddedAt)
	if l := st.Last; l != nil {
		t.row("last "+l.Status, fmt.Sprintf("asked by %s at %s", terminalText(l.RequestedBy), cell(l.RequestedAt)))
		if l.DecidedBy != "" {
			t.row("decided", fmt.Sprintf("by %s at %s", terminalText(l.DecidedBy), cell(l.DecidedAt)))
		}
		t.row("reason", terminalText(l.Reason))
	}
	return t.flush()
}
