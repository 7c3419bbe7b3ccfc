package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/templates"
)

const waveUse = `usage:
  breachnotify wave plan INCIDENT [--kind initial] [--urgent-only] [--all] [--json]
  breachnotify wave list [INCIDENT] [--json]
  breachnotify wave status ID [--watch] [--interval 1s] [--json]
  breachnotify wave launch ID [--idempotency-key KEY] [--json]
  breachnotify wave approve|pause|resume|cancel ID [--json]`

func cmdWave(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, args, waveUse, map[string]command{
		"plan":    wavePlan,
		"list":    waveList,
		"status":  waveStatus,
		"launch":  waveLaunch,
		"approve": waveAction("approve", (*apiclient.Client).ApproveWave),
		"pause":   waveAction("pause", (*apiclient.Client).PauseWave),
		"resume":  waveAction("resume", (*apiclient.Client).ResumeWave),
		"cancel":  waveAction("cancel", (*apiclient.Client).CancelWave),
	})
}

func wavePlan(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "wave plan")
	kind := fs.String("kind", string(templates.KindInitial), "what the wave sends")
	urgent := fs.Bool("urgent-only", false, "only the organizations with a live secret among their new items (plan these first, then the rest)")
	all := fs.Bool("all", false, fmt.Sprintf("list every skipped organization (default: counts by reason and the first %d)", skippedShown))
	pos, err := parseArgs(fs, args, 1, waveUse)
	if err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	plan, err := c.PlanWaveWith(ctx, pos[0], templates.Kind(*kind), notifier.WaveOptions{UrgentOnly: *urgent})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, plan)
	}
	out := e.stdout
	t := newTable(out, "WAVE", plan.ID)
	t.row("incident", plan.IncidentID)
	t.row("kind", plan.Kind)
	if plan.UrgentOnly {
		t.row("urgent only", "yes")
	}
	t.row("status", plan.Status)
	t.row("organizations", plan.Organizations)
	if plan.Urgent > 0 && !plan.UrgentOnly {
		t.row("urgent", fmt.Sprintf("%d (plan them first with --urgent-only)", plan.Urgent))
	} else {
		t.row("urgent", plan.Urgent)
	}
	t.row("notices", plan.Notices)
	t.row("deliveries", plan.Deliveries)
	t.row("skipped", len(plan.Skipped))
	t.row("approval", approvalNeeded(plan.NeedsApproval))
	if plan.Disclosure != "" {
		t.row("disclosure", disclosurePolicy(plan.Disclosure))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if err := printSkipped(out, plan.Skipped, *all); err != nil {
		return err
	}
	if s := plan.Sample; s != nil {
		fmt.Fprintln(out, "\nSample message:")
		t := newTable(out, "  to", s.To)
		t.row("  subject", s.Subject)
		t.row("  template", s.TemplateVersion)
		if err := t.flush(); err != nil {
			return err
		}
	}
	if plan.NeedsApproval {
		fmt.Fprintf(out, "\nThe incident's policy needs a second key to approve: breachnotify wave approve %d\nthen: breachnotify wave launch %d\n", plan.ID, plan.ID)
	} else {
		fmt.Fprintf(out, "\nNext: breachnotify wave launch %d\n", plan.ID)
	}
	return nil
}

func waveList(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "wave list")
	pos, err := parseArgs(fs, args, -1, waveUse)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{waveUse}
	}
	incident := ""
	if len(pos) == 1 {
		incident = pos[0]
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	list, err := apiclient.All(ctx, 0, func(ctx context.Context, p apiclient.Page) (notifier.ListResult[notifier.Wave], error) {
		return c.ListWaves(ctx, incident, p)
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, notifier.ListResult[notifier.Wave]{Items: nonNil(list)})
	}
	t := newTable(e.stdout, "ID", "INCIDENT", "KIND", "STATUS", "NOTICES", "DELIVERIES", "DONE", "SENT", "FAILED", "CREATED", "LAUNCHED")
	for _, w := range list {
		notices, deliveries := waveSize(w)
		final, _ := finalCount(w)
		t.row(w.ID, w.IncidentID, w.Kind, w.Status, notices, deliveries, fmt.Sprintf("%d%%", percent(w, final, deliveries)),
			w.Deliveries[notifier.DeliverySent], w.Deliveries[notifier.DeliveryFailed], w.CreatedAt, w.LaunchedAt)
	}
	return t.flush()
}

func waveStatus(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "wave status")
	watch := fs.Bool("watch", false, "poll until the wave is completed or cancelled")
	interval := fs.Duration("interval", time.Second, "time between polls with --watch")
	pos, err := parseArgs(fs, args, 1, waveUse)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0], waveUse)
	if err != nil {
		return err
	}
	if *interval <= 0 {
		return usageError{"--interval must be positive\n" + waveUse}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	if *watch {
		return watchWave(ctx, e, c, id, *interval, *asJSON)
	}
	w, err := c.Wave(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, w)
	}
	return printWave(e.stdout, w)
}

// watchWave polls a wave until it ends, showing progress: one line redrawn
// in place on a terminal, one line per change otherwise (logs, pipes), one
// JSON object per change with --json. People then get the final table;
// scripts already have the final state as the last line.
func watchWave(ctx context.Context, e *env, c *apiclient.Client, id int64, interval time.Duration, asJSON bool) error {
	term := !asJSON && isTerminal(e.stdout)
	last := ""
	var meter rateMeter
	w, err := c.WaitWave(ctx, id, interval, func(w notifier.Wave) {
		final, total := finalCount(w)
		meter.add(time.Now(), final)
		// Pipes get a line per change of the counts, not per change of
		// the rate (which moves on every poll).
		counts := progressLine(w)
		line := counts + meter.describe(total-final, w.Status)
		switch {
		case term:
			fmt.Fprintf(e.stdout, "\r%s\x1b[K", line)
		case counts == last:
		case asJSON:
			_ = printJSON(e.stdout, w)
		default:
			fmt.Fprintf(e.stdout, "%s  %s\n", time.Now().UTC().Format("15:04:05Z"), line)
		}
		last = counts
	})
	if term {
		fmt.Fprintln(e.stdout)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return nil
	}
	fmt.Fprintln(e.stdout)
	return printWave(e.stdout, w)
}

// progressOrder puts the counts people watch first.
var progressOrder = []notifier.DeliveryStatus{
	notifier.DeliverySent, notifier.DeliveryFailed, notifier.DeliveryDeferred, notifier.DeliveryQueued,
	notifier.DeliverySending, notifier.DeliveryBounced, notifier.DeliverySuppressed, notifier.DeliveryCancelled,
}

// progressBarWidth is the number of cells in the progress bar.
const progressBarWidth = 20

// progressLine is one line of wave progress: a bar of final deliveries
// over all deliveries, every count, and the wave's status.
func progressLine(w notifier.Wave) string {
	final, total := finalCount(w)
	filled := 0
	if total > 0 {
		filled = final * progressBarWidth / total
	} else if w.Status == notifier.WaveCompleted {
		filled = progressBarWidth
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s%s] %3d%% ", strings.Repeat("#", filled), strings.Repeat("-", progressBarWidth-filled), percent(w, final, total))
	for _, st := range progressOrder {
		fmt.Fprintf(&b, " %s=%d", st, w.Deliveries[st])
	}
	fmt.Fprintf(&b, "  wave %d %s", w.ID, w.Status)
	return b.String()
}

// finalCount counts the deliveries nothing more will be sent for, and all.
func finalCount(w notifier.Wave) (final, total int) {
	for st, n := range w.Deliveries {
		total += n
		if st.Final() {
			final += n
		}
	}
	return final, total
}

// percent is the share of final deliveries, rounded down so that 100%
// means done; a completed wave without deliveries is done too.
func percent(w notifier.Wave, final, total int) int {
	if total == 0 {
		if w.Status == notifier.WaveCompleted {
			return 100
		}
		return 0
	}
	return final * 100 / total
}

func approvalNeeded(needed bool) string {
	if needed {
		return "needed"
	}
	return "not needed"
}

// waveSize is what a wave sends: its real notices and deliveries once
// launched, what the plan counted before.
func waveSize(w notifier.Wave) (notices, deliveries int) {
	if _, total := finalCount(w); total > 0 || w.LaunchedAt != nil {
		return w.Notices.Total, total
	}
	return w.PlannedNotices, w.PlannedDeliveries
}

func printWave(out io.Writer, w notifier.Wave) error {
	notices, deliveries := waveSize(w)
	final, total := finalCount(w)
	t := newTable(out, "WAVE", w.ID)
	t.row("incident", w.IncidentID)
	t.row("kind", w.Kind)
	t.row("status", w.Status)
	t.row("notices", notices)
	t.row("deliveries", fmt.Sprintf("%d, %d final (%d%%)", deliveries, final, percent(w, final, total)))
	for _, st := range progressOrder {
		t.row("  "+string(st), w.Deliveries[st])
	}
	t.row("planned by key", w.PlannedBy)
	t.row("approved by key", w.ApprovedBy)
	t.row("launched by key", w.LaunchedBy)
	t.row("cancelled by key", w.CancelledBy)
	t.row("created", w.CreatedAt)
	t.row("approved", w.ApprovedAt)
	t.row("launched", w.LaunchedAt)
	t.row("paused", w.PausedAt)
	t.row("completed", w.CompletedAt)
	t.row("cancelled", w.CancelledAt)
	return t.flush()
}

// waveAction is a verb that runs one state change on a wave.
func waveAction(name string, do func(*apiclient.Client, context.Context, int64) (notifier.Wave, error)) command {
	return func(ctx context.Context, e *env, args []string) error {
		fs, asJSON := newFlags(e, "wave "+name)
		pos, err := parseArgs(fs, args, 1, waveUse)
		if err != nil {
			return err
		}
		id, err := parseID(pos[0], waveUse)
		if err != nil {
			return err
		}
		c, err := apiClient(e)
		if err != nil {
			return err
		}
		w, err := do(c, ctx, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, w)
		}
		return printWave(e.stdout, w)
	}
}

// waveLaunch always sends an Idempotency-Key, so that the client's retry
// after a lost reply, or the operator running the command again with the
// same key, can never launch the wave twice.
func waveLaunch(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "wave launch")
	key := fs.String("idempotency-key", "", "key that makes repeats of this launch harmless (default: a fresh random one)")
	pos, err := parseArgs(fs, args, 1, waveUse)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0], waveUse)
	if err != nil {
		return err
	}
	if *key == "" {
		if flagSet(fs, "idempotency-key") {
			return usageError{"--idempotency-key must not be empty\n" + waveUse}
		}
		*key = "cli-" + rand.Text()
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	w, err := c.LaunchWaveIdempotent(ctx, id, *key)
	if err != nil {
		var apiErr *apiclient.Error
		if errors.As(err, &apiErr) {
			return err
		}
		return fmt.Errorf("%w\nwhether wave %d launched is unknown: `breachnotify wave launch %d --idempotency-key %s` finds out, and cannot launch it twice",
			err, id, id, *key)
	}
	if *asJSON {
		return printJSON(e.stdout, w)
	}
	if err := printWave(e.stdout, w); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nidempotency key: %s\nwatch it: breachnotify wave status %d --watch\n", *key, id)
	return nil
}

// skippedShown is how many skipped organizations a plan lists without
// --all: a re-plan can skip 100,000 organizations, and a table that long
// hides the plan it belongs to.
const skippedShown = 20

// printSkipped lists the skipped organizations: counts by reason, then the
// first skippedShown of them (all of them with --all; -o json has them all).
func printSkipped(out io.Writer, skipped []notifier.SkippedOrganization, all bool) error {
	if len(skipped) == 0 {
		return nil
	}
	byReason := map[string]int{}
	for _, s := range skipped {
		byReason[s.Reason]++
	}
	fmt.Fprintf(out, "\nSkipped organizations: %d\n", len(skipped))
	t := newTable(out, "  REASON", "COUNT")
	for _, r := range slices.Sorted(maps.Keys(byReason)) {
		t.row("  "+r, byReason[r])
	}
	if err := t.flush(); err != nil {
		return err
	}
	shown := skipped
	if !all && len(shown) > skippedShown {
		shown = shown[:skippedShown]
	}
	fmt.Fprintln(out)
	t = newTable(out, "ORG", "NAME", "REASON")
	for _, s := range shown {
		t.row(s.OrgRef, s.Name, s.Reason)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(shown) < len(skipped) {
		fmt.Fprintf(out, "... and %d more: --all or -o json lists them all\n", len(skipped)-len(shown))
	}
	return nil
}

// rateWindow is how far back the rate looks: long enough to smooth the
// polls' jitter, short enough that a pause or a relay slowing down shows.
const rateWindow = 30 * time.Second

// rateMeter estimates how fast deliveries become final from the watched
// polls, and so when the wave will be done.
type rateMeter struct {
	samples []rateSample
}

type rateSample struct {
	at    time.Time
	final int
}

// add records one poll and forgets the polls older than the window (but
// always keeps two, so a slow --interval still gives a rate).
func (m *rateMeter) add(at time.Time, final int) {
	m.samples = append(m.samples, rateSample{at, final})
	for len(m.samples) > 2 && at.Sub(m.samples[0].at) > rateWindow {
		m.samples = m.samples[1:]
	}
}

// rate is final deliveries per second over the window; ok is false until
// two polls are apart in time.
func (m *rateMeter) rate() (perSecond float64, ok bool) {
	if len(m.samples) < 2 {
		return 0, false
	}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	elapsed := last.at.Sub(first.at).Seconds()
	if elapsed <= 0 {
		return 0, false
	}
	return float64(last.final-first.final) / elapsed, true
}

// describe is the rate and ETA suffix of a progress line: empty before
// the rate is known, no ETA while nothing moves (paused, waiting for a
// relay) or once nothing remains.
func (m *rateMeter) describe(remaining int, status notifier.WaveStatus) string {
	r, ok := m.rate()
	if !ok || status == notifier.WaveCompleted || status == notifier.WaveCancelled {
		return ""
	}
	s := fmt.Sprintf("  %.1f/s", r)
	switch {
	case remaining <= 0:
	case r <= 0:
		s += "  ETA -"
	default:
		s += "  ETA " + (time.Duration(float64(remaining) / r * float64(time.Second))).Round(time.Second).String()
	}
	return s
}
