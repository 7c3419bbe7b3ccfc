package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/templates"
)

// benchResult is what `bench --json` prints.
type benchResult struct {
	Recipients          int              `json:"recipients"`
	Domains             int              `json:"domains"`
	Delivered           int              `json:"delivered"`
	Sink                string           `json:"sink"`
	Workers             int              `json:"workers"`
	ChunkSize           int              `json:"chunk_size"`
	FanoutSeconds       float64          `json:"fanout_seconds"`
	DeliverySeconds     float64          `json:"delivery_seconds"`
	DeliveriesPerSecond float64          `json:"deliveries_per_second"`
	P50Seconds          float64          `json:"p50_seconds"`
	P99Seconds          float64          `json:"p99_seconds"`
	PeakRSSBytes        int64            `json:"peak_rss_bytes"`
	RowsWritten         map[string]int64 `json:"rows_written"`
}

// cmdBench runs a whole wave against a sink and measures it: fan-out time,
// deliveries per second, launch-to-accept latency, peak RSS and rows written.
func cmdBench(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "ingest" {
		return cmdBenchIngest(ctx, e, args[1:])
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	recipients := fs.Int("recipients", 10000, "contacts to notify")
	domains := fs.Int("domains", 100, "recipient domains (one organization each)")
	sink := fs.String("smtp", "discard", `"discard" (built-in sink that accepts and drops), "capture" (the embedded mailbox, stored in PostgreSQL) or a relay URL smtp://host:port?tls=none`)
	asJSON := fs.Bool("json", false, "print the figures as one JSON object")
	polite := fs.Bool("polite", false, "keep the configured rate limits (default: no limits, to measure the service)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the wave to this file")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *recipients < 1 || *domains < 1 || *domains > *recipients {
		return usageError{"--recipients must be positive and --domains between 1 and --recipients"}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	cfg.HTTPAddr = "127.0.0.1:0" // the bench needs no API; never collide with a running server
	// Its links go to a sink or a test relay, never to a recipient.
	cfg.AllowInsecurePublicURL = true
	if !*polite {
		cfg.RateLimit, cfg.DomainRateLimit, cfg.DomainConcurrency = 0, 0, 0
	}
	opts := app.Options{Logger: app.NewLogger(&config.Config{LogFormat: cfg.LogFormat, LogLevel: "warn"}, e.stderr)}
	var discard *capture.Discard
	switch {
	case *sink == "discard":
		if discard, err = capture.StartDiscard("127.0.0.1:0"); err != nil {
			return err
		}
		defer discard.Close()
		if cfg.SMTP, err = config.ParseSMTPURL("smtp://" + discard.Addr() + "?tls=none"); err != nil {
			return err
		}
	case *sink == "capture":
		cfg.SMTP = nil
	case strings.HasPrefix(*sink, "smtp://"):
		if cfg.SMTP, err = config.ParseSMTPURL(*sink); err != nil {
			return usageError{"--smtp: " + err.Error()}
		}
	default:
		return usageError{`--smtp must be "discard", "capture" or an smtp:// URL`}
	}
	if err := migrate(ctx, &env{stdout: e.stderr, stderr: e.stderr}, cfg); err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Stop(context.Background())
		return err
	}
	defer a.Stop(context.Background())

	res, err := runBench(ctx, e, a, *recipients, *domains, *cpuProfile)
	if err != nil {
		return err
	}
	res.Sink, res.Workers, res.ChunkSize = *sink, cfg.Workers, cfg.ChunkSize
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "bench: %d recipients over %d domains, sink %s, %d workers, chunks of %d\n",
		res.Recipients, res.Domains, res.Sink, res.Workers, res.ChunkSize)
	fmt.Fprintf(e.stdout, "  fan-out (notices, deliveries, jobs committed): %.3f s\n", res.FanoutSeconds)
	fmt.Fprintf(e.stdout, "  delivered: %d in %.2f s = %.0f deliveries/s\n", res.Delivered, res.DeliverySeconds, res.DeliveriesPerSecond)
	fmt.Fprintf(e.stdout, "  launch to SMTP accept: p50 %.3f s, p99 %.3f s\n", res.P50Seconds, res.P99Seconds)
	fmt.Fprintf(e.stdout, "  peak RSS: %.1f MiB\n", float64(res.PeakRSSBytes)/(1<<20))
	fmt.Fprintf(e.stdout, "  rows written: %v\n", res.RowsWritten)
	return nil
}

func runBench(ctx context.Context, e *env, a *app.App, recipients, domains int, cpuProfile string) (benchResult, error) {
	res := benchResult{Recipients: recipients, Domains: domains}
	by := notifier.LocalActor(osUser())
	stamp := time.Now().UTC().Format("20060102-150405")
	slug := "bench-" + stamp
	if _, err := a.Service.CreateIncident(ctx, by, notifier.NewIncident{Slug: slug, Title: "Benchmark " + stamp}); err != nil {
		return res, err
	}
	var orgs, items bytes.Buffer
	orgs.WriteString("org_ref,org_name,domain,contact_email\n")
	items.WriteString("org_ref,item_ref,kind,subject,secret_types\n")
	for d := range domains {
		ref := fmt.Sprintf("bench-%s-%d", stamp, d)
		fmt.Fprintf(&items, "%s,ITEM-%d,email,Benchmark item,password\n", ref, d)
	}
	for i := range recipients {
		d := i % domains
		fmt.Fprintf(&orgs, "bench-%s-%d,Bench Org %d,d%d.bench.example,c%d@d%d.bench.example\n", stamp, d, d, d, i, d)
	}
	t0 := time.Now()
	if _, err := a.Service.ImportOrganizations(ctx, by, &orgs, notifier.FormatCSV); err != nil {
		return res, fmt.Errorf("import contacts: %w", err)
	}
	if _, err := a.Service.ImportExposures(ctx, by, slug, &items, notifier.FormatCSV); err != nil {
		return res, fmt.Errorf("import items: %w", err)
	}
	fmt.Fprintf(e.stderr, "bench: loaded %d contacts in %.2f s\n", recipients, time.Since(t0).Seconds())
	plan, err := a.Service.PlanWave(ctx, by, slug, templates.KindInitial)
	if err != nil {
		return res, err
	}
	stopProfile, err := startCPUProfile(cpuProfile)
	if err != nil {
		return res, err
	}
	defer stopProfile()
	start := time.Now()
	if _, err := a.Service.LaunchWave(ctx, by, plan.ID, notifier.Idempotency{}); err != nil {
		return res, err
	}
	res.FanoutSeconds = time.Since(start).Seconds()
	for {
		// Only the status: the full wave counts would cost the database more
		// than the bench should add to what it measures.
		st, err := a.Store.WaveStatus(ctx, plan.ID)
		if err != nil {
			return res, err
		}
		if st == string(notifier.WaveCompleted) {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	timings, err := a.Store.WaveTimings(ctx, plan.ID)
	if err != nil {
		return res, err
	}
	res.Delivered, res.P50Seconds, res.P99Seconds = timings.Delivered, timings.P50, timings.P99
	res.DeliverySeconds = timings.LastSentSec
	if res.DeliverySeconds > 0 {
		res.DeliveriesPerSecond = float64(res.Delivered) / res.DeliverySeconds
	}
	res.PeakRSSBytes = peakRSS()
	res.RowsWritten, err = a.Store.WaveRows(ctx, plan.ID)
	return res, err
}

// peakRSS reads the process's high-water resident set size (Linux).
// startCPUProfile writes a CPU profile to path until stop is called; an
// empty path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
