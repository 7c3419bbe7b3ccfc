package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

// demoTimeout bounds how long the demo waits for its wave to complete.
const demoTimeout = 3 * time.Minute

// cmdDemo runs a whole campaign on the sample data: migrate, serve, load
// through the HTTP API, launch the initial wave, wait for it, summarise.
func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	once := fs.Bool("once", false, "exit after the summary instead of serving until interrupted")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	if err := migrate(ctx, e, cfg); err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: app.NewLogger(cfg, e.stderr)})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Stop(context.Background())
		return err
	}
	if err := runDemoCampaign(ctx, e, a); err != nil {
		_ = a.Stop(context.Background())
		return err
	}
	if *once {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		return a.Stop(sctx)
	}
	fmt.Fprintln(e.stdout, "\nServing until interrupted (Ctrl-C).")
	return serveUntilDone(ctx, a)
}

func runDemoCampaign(ctx context.Context, e *env, a *app.App) error {
	key, _, err := a.Service.CreateAPIKey(ctx, notifier.LocalActor(osUser()), "demo "+time.Now().UTC().Format(time.RFC3339), notifier.RoleAdmin)
	if err != nil {
		return err
	}
	c := apiclient.New(a.URL(), key)
	slug := "demo-" + time.Now().UTC().Format("20060102-150405")
	inc, err := c.CreateIncident(ctx, notifier.NewIncident{
		Slug:    slug,
		Title:   "Unauthorized access to corporate email",
		Summary: "A threat actor obtained access to a subset of our corporate mailboxes and read messages exchanged with customers. Access has been revoked and the investigation continues.",
	})
	if err != nil {
		return fmt.Errorf("create incident: %w", err)
	}
	orgs, err := c.ImportOrganizations(ctx, bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV)
	if err != nil {
		return fmt.Errorf("import organizations: %w", err)
	}
	batch, err := c.ImportExposures(ctx, slug, bytes.NewReader(sampledata.File(sampledata.ExposuresBatch1)), notifier.FormatCSV)
	if err != nil {
		return fmt.Errorf("import exposures: %w", err)
	}
	plan, err := c.PlanWave(ctx, slug, notifier.WaveInitial)
	if err != nil {
		return fmt.Errorf("plan wave: %w", err)
	}
	if _, err := c.LaunchWave(ctx, plan.ID); err != nil {
		return fmt.Errorf("launch wave: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	w, err := c.WaitWave(wctx, plan.ID, 200*time.Millisecond, nil)
	if err != nil {
		return fmt.Errorf("wait for wave %d: %w", plan.ID, err)
	}

	out := e.stdout
	fmt.Fprintf(out, "\nDemo campaign %q (incident %d)\n", inc.Slug, inc.ID)
	fmt.Fprintf(out, "  organizations imported: %d created, %d updated; contacts: %d created, %d updated\n",
		orgs.Organizations.Created, orgs.Organizations.Updated, orgs.Contacts.Created, orgs.Contacts.Updated)
	fmt.Fprintf(out, "  exposure batch %d: %d new items over %d organizations\n", batch.BatchID, batch.ItemsNew, batch.Organizations)
	fmt.Fprintf(out, "  wave %d: %s; %d organizations notified\n", w.ID, w.Status, w.Notices.Total)
	fmt.Fprint(out, "  deliveries:")
	for _, st := range notifier.DeliveryStatuses {
		fmt.Fprintf(out, " %s=%d", st, w.Deliveries[st])
	}
	fmt.Fprintln(out)
	if a.Capture != nil {
		fmt.Fprintf(out, "\nWhere to look (the embedded capture mailbox received every message):\n")
	} else {
		fmt.Fprintf(out, "\nWhere to look (messages went to the configured relay %s):\n", a.Config.SMTP)
	}
	fmt.Fprintf(out, "  export BREACHNOTIFY_API_KEY=%s\n", key)
	fmt.Fprintf(out, "  curl -H \"Authorization: Bearer $BREACHNOTIFY_API_KEY\" %s/api/v1/waves/%d\n", a.URL(), w.ID)
	if a.Capture != nil {
		fmt.Fprintf(out, "  curl -H \"Authorization: Bearer $BREACHNOTIFY_API_KEY\" %s/api/v1/mailbox\n", a.URL())
	}
	fmt.Fprintf(out, "  metrics: %s/metrics\n", a.URL())
	return nil
}
