package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// clockFlags are the deadline clock's flags, shared by `incident create`
// and `incident clock`.
type clockFlags struct {
	fs                     *flag.FlagSet
	awareAt, materialityAt *string
	obligations            *string
	targets                targetFlag
}

func addClockFlags(fs *flag.FlagSet) *clockFlags {
	c := &clockFlags{fs: fs,
		awareAt:       fs.String("aware-at", "", `when the breach became known (RFC 3339, e.g. 2026-12-01T09:30:00Z; "none" clears it)`),
		materialityAt: fs.String("materiality-at", "", `when the breach was determined material, for SEC Form 8-K (RFC 3339; "none" clears it)`),
		obligations:   fs.String("obligations", "", "obligation profile ids the incident is under, comma-separated (e.g. gdpr-art33,gdpr-art33-processor,us-co)"),
		targets:       targetFlag{},
	}
	fs.Var(c.targets, "target", `ID=HOURS: replace a "without undue delay" obligation's default target (repeatable; ID=0 restores the default)`)
	return c
}

// given reports whether any clock flag was given.
func (c *clockFlags) given() bool {
	return flagSet(c.fs, "aware-at") || flagSet(c.fs, "materiality-at") || flagSet(c.fs, "obligations") || flagSet(c.fs, "target")
}

// apply changes clock by the flags given; the others keep its values.
func (c *clockFlags) apply(clock *notifier.IncidentClock) error {
	for _, f := range []struct {
		name string
		val  string
		dst  **time.Time
	}{{"aware-at", *c.awareAt, &clock.AwareAt}, {"materiality-at", *c.materialityAt, &clock.MaterialityDeterminedAt}} {
		if !flagSet(c.fs, f.name) {
			continue
		}
		if f.val == "none" {
			*f.dst = nil
			continue
		}
		t, err := time.Parse(time.RFC3339, f.val)
		if err != nil {
			return usageError{fmt.Sprintf("--%s %q is not an RFC 3339 time such as 2026-12-01T09:30:00Z", f.name, f.val)}
		}
		*f.dst = &t
	}
	if flagSet(c.fs, "obligations") {
		clock.Obligations = []string{}
		for _, id := range strings.Split(*c.obligations, ",") {
			if id = strings.TrimSpace(id); id != "" {
				clock.Obligations = append(clock.Obligations, id)
			}
		}
	}
	if len(c.targets) > 0 && clock.DeadlineTargets == nil {
		clock.DeadlineTargets = map[string]int{}
	}
	for id, hours := range c.targets {
		if hours == 0 {
			delete(clock.DeadlineTargets, id)
		} else {
			clock.DeadlineTargets[id] = hours
		}
	}
	return nil
}

// targetFlag collects --target ID=HOURS.
type targetFlag map[string]int

func (t targetFlag) String() string { return "" }

func (t targetFlag) Set(v string) error {
	id, hours, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(hours)
	if !ok || id == "" || err != nil || n < 0 {
		return fmt.Errorf("%q is not ID=HOURS", v)
	}
	t[id] = n
	return nil
}

// incidentClock changes an incident's deadline clock: it reads the
// current one and sends it back with the flags' changes (the API replaces
// the clock as a whole).
func incidentClock(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "incident clock")
	flags := addClockFlags(fs)
	pos, err := parseArgs(fs, args, 1, incidentUse)
	if err != nil {
		return err
	}
	if !flags.given() {
		return usageError{"give at least one of --aware-at, --materiality-at, --obligations, --target\n" + incidentUse}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	inc, err := c.Incident(ctx, pos[0])
	if err != nil {
		return err
	}
	clock := inc.Clock
	if err := flags.apply(&clock); err != nil {
		return err
	}
	if inc, err = c.PatchClock(ctx, pos[0], clock); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, inc)
	}
	return printIncident(e, inc)
}

// incidentDeadlines prints the deadline board: the incident's filings,
// then each organization's notify-by time and how it stands.
func incidentDeadlines(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "incident deadlines")
	pos, err := parseArgs(fs, args, 1, incidentUse)
	if err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	board, err := c.AllDeadlines(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, board)
	}
	fmt.Fprintf(e.stdout, "Deadlines of %s (profiles %s; a tracking aid, not legal advice)\n", board.Incident, board.ProfilesVersion)
	if board.Clock.AwareAt == nil {
		fmt.Fprintln(e.stdout, "No aware_at: no deadline runs. Set it with `breachnotify incident clock INCIDENT --aware-at TIME`.")
	}
	if len(board.Filings) > 0 {
		t := newTable(e.stdout, "FILING", "OWED TO", "DUE", "SOURCE")
		for _, f := range board.Filings {
			t.row(f.ID, f.OwedTo, f.DueAt, f.Source)
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout)
	}
	t := newTable(e.stdout, "ORG", "JURISDICTION", "NOTIFY BY", "OBLIGATION", "STATE", "NOTIFIED", "WAVE", "LEFT")
	for _, d := range board.Items {
		left := "-"
		if d.SecondsLeft != nil {
			left = (time.Duration(*d.SecondsLeft) * time.Second).String()
		}
		t.row(d.OrgRef, d.Jurisdiction, d.NotifyBy, d.Obligation, d.State, d.NotifiedAt, d.WaveID, left)
	}
	return t.flush()
}

// clockSummary is one line on the clock for printIncident.
func clockSummary(c notifier.IncidentClock) string {
	if c.AwareAt == nil {
		return "not started (no aware_at)"
	}
	s := "aware " + cell(c.AwareAt)
	if c.MaterialityDeterminedAt != nil {
		s += ", material " + cell(c.MaterialityDeterminedAt)
	}
	if len(c.Obligations) > 0 {
		s += "; under " + strings.Join(c.Obligations, ", ")
	}
	return s
}
