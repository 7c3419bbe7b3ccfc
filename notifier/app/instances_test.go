package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/templates"
)

// TestThreeWorkerProcessesSendEachNoticeOnce runs one API-only process and
// three `serve --workers` processes on one database and one wave: every
// delivery is sent exactly once, and stopping one worker process mid-wave
// (SIGTERM, as a deploy would) loses nothing and repeats nothing.
func TestThreeWorkerProcessesSendEachNoticeOnce(t *testing.T) {
	t.Parallel()
	const orgCount, perOrg = 30, 10
	bin := apptest.BuildBinary(t)
	dbURL := testdb.URL(t)
	sink := &capture.Memory{}
	relay := apptest.StartRelay(t, capture.Options{Sink: sink, Script: func(step capture.Step, _ string) *capture.Fault {
		if step == capture.StepRcpt {
			return &capture.Fault{Delay: 20 * time.Millisecond}
		}
		return nil
	}})
	cfg := apptest.TestConfig(dbURL)
	cfg.ChunkSize = 10
	e := apptest.StartApp(t, cfg, app.Options{NoWorkers: true})
	ctx := context.Background()
	orgs, items, recipients := directory("m", orgCount, perOrg)
	loadDirectory(t, e, "many", orgs, items)
	plan, err := e.Client.PlanWave(ctx, "many", templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"BREACHNOTIFY_DATABASE_URL=" + dbURL,
		"BREACHNOTIFY_HTTP_ADDR=127.0.0.1:0",
		"BREACHNOTIFY_SMTP_URL=" + relay.URL(),
		"BREACHNOTIFY_WORKERS=3",
		"BREACHNOTIFY_LOG_FORMAT=json",
	}
	var procs []*apptest.Proc
	for i := range 3 {
		procs = append(procs, apptest.StartServe(t, fmt.Sprintf("worker-%d", i+1), bin, []string{"--workers"}, env...))
	}
	// A workers-only process serves the operational endpoints, not the API.
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/api/v1/incidents": 404} {
		resp, err := http.Get(procs[0].URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("worker process %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if !strings.Contains(procs[0].Output(), `"workers":true`) {
		t.Errorf("worker process did not start its workers:\n%s", procs[0].Output())
	}
	if _, err := e.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	faultWait(t, "a third of the wave", 60*time.Second, func() bool { return len(sink.Messages()) >= len(recipients)/3 })
	procs[1].Stop()
	stoppedAt := len(sink.Messages())
	w := waitWave(t, e, plan.ID, 90*time.Second)
	if w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliverySent] != len(recipients) {
		t.Fatalf("wave = %s %v, want %d sent", w.Status, w.Deliveries, len(recipients))
	}
	got := map[string]int{}
	for _, m := range sink.Messages() {
		got[m.Recipients[0]]++
	}
	for _, r := range recipients {
		if got[r] != 1 {
			t.Errorf("%s received %d messages, want exactly 1", r, got[r])
		}
	}
	// Every process took part.
	var workedBy int
	if err := e.App.Pool.QueryRow(ctx, `SELECT count(DISTINCT attempted_by[1]) FROM river_job WHERE kind = 'deliver'`).Scan(&workedBy); err != nil {
		t.Fatal(err)
	}
	if workedBy < 2 {
		t.Errorf("deliver jobs were worked by %d process(es), want the work shared", workedBy)
	}
	t.Logf("%d deliveries, %d messages; worker-2 stopped after %d; jobs worked by %d processes", len(recipients), len(sink.Messages()), stoppedAt, workedBy)
}
