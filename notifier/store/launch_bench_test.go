package store_test

// BenchmarkLaunchWave measures the fan-out: one LaunchWave of 100,000
// deliveries (1,000 organizations of 100 contacts) into a fresh database,
// as `breachnotify bench` launches its wave. Each run launches once (the
// deliveries table starts empty, as in bench); repeat with -count:
//
//	go test -c -o /tmp/store.test ./notifier/store/
//	/tmp/store.test -test.run '^$' -test.bench LaunchWave -test.benchtime 1x -test.count 5
//
// It reports the launch's wall time (launch-s) and the CPU time of the
// PostgreSQL backend that ran it (pg-cpu-s, from /proc; absent when the
// server is on another machine), which other tenants of a shared machine
// inflate far less than wall time.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/queue"
	"github.com/breachnotify/breachnotify/templates"
)

const (
	launchRecipients = 100_000
	launchDomains    = 1_000
)

func BenchmarkLaunchWave(b *testing.B) {
	ctx := context.Background()
	pc, err := pgxpool.ParseConfig(testdb.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	// One connection: the launch's one transaction runs on the backend
	// whose CPU is read.
	pc.MaxConns, pc.MinConns = 1, 1
	pc.AfterConnect = migrations.AssumeServiceRole
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	jobs, err := queue.NewInserter(pool, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	keys, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: auditSecret})
	if err != nil {
		b.Fatal(err)
	}
	st := store.New(pool, store.Config{Jobs: jobs, MessageIDDomain: "notify.example", AuditKeys: keys})
	svc := notifier.NewService(st, notifier.ServiceConfig{AuditKeys: keys})
	var orgs bytes.Buffer
	orgs.WriteString("org_ref,org_name,domain,contact_email\n")
	for i := range launchRecipients {
		d := i % launchDomains
		fmt.Fprintf(&orgs, "org-%d,Org %d,d%d.example,c%d@d%d.example\n", d, d, d, i, d)
	}
	if _, err := svc.ImportOrganizations(ctx, actor, &orgs, notifier.FormatCSV); err != nil {
		b.Fatal(err)
	}
	var pid int
	if err := pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		b.Fatal(err)
	}
	var wall, cpu, cpu1 time.Duration
	cpuOK := false
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		slug := "launch-" + strconv.Itoa(i)
		if _, err := svc.CreateIncident(ctx, actor, notifier.NewIncident{Slug: slug, Title: "Launch " + slug}); err != nil {
			b.Fatal(err)
		}
		var items bytes.Buffer
		items.WriteString("org_ref,item_ref,kind,subject,secret_types\n")
		for d := range launchDomains {
			fmt.Fprintf(&items, "org-%d,ITEM-%d,email,Item,password\n", d, d)
		}
		if _, err := svc.ImportExposures(ctx, actor, slug, &items, notifier.FormatCSV); err != nil {
			b.Fatal(err)
		}
		plan, err := svc.PlanWave(ctx, actor, slug, templates.KindInitial)
		if err != nil {
			b.Fatal(err)
		}
		cpu0, _ := backendCPU(pid)
		start := time.Now()
		b.StartTimer()
		w, err := svc.LaunchWave(ctx, actor, plan.ID, notifier.Idempotency{})
		b.StopTimer()
		wall += time.Since(start)
		cpu1, cpuOK = backendCPU(pid)
		cpu += cpu1 - cpu0
		if err != nil {
			b.Fatal(err)
		}
		if w.Status != notifier.WaveRunning {
			b.Fatalf("wave %d launched %s, want running", w.ID, w.Status)
		}
	}
	b.ReportMetric(wall.Seconds()/float64(b.N), "launch-s")
	if cpuOK {
		b.ReportMetric(cpu.Seconds()/float64(b.N), "pg-cpu-s")
	}
}
