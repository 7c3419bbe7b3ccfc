package app_test

// Fault tests of the delivery engine: the relay going away and coming
// back, every kind of SMTP reply, a process killed mid-wave, the
// database dropping its connections, and a delivery that cannot render.
// Each logs what it measured. `make faults` runs just these.

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/templates"
)

// TestRelayDownThenBack takes the SMTP relay down in the middle of a wave
// while transactions are in flight, keeps it down until jobs are seen
// snoozing on the outage, then brings it back on the same address: every
// delivery ends sent, and every recipient has exactly one message across
// both incarnations of the relay.
func TestRelayDownThenBack(t *testing.T) {
	t.Parallel()
	sink := &capture.Memory{}
	gate := &rcptGate{release: make(chan struct{}), delay: 40 * time.Millisecond}
	relay := apptest.StartRelay(t, capture.Options{Sink: sink, Script: gate.answer})
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		var err error
		if c.SMTP, err = config.ParseSMTPURL(relay.URL()); err != nil {
			t.Fatal(err)
		}
		c.Workers = 2
		c.ChunkSize = 3
	}})
	waveID := planAndLaunch(t, e, e.LoadSample(t, "relay-down"))

	faultWait(t, "three messages through the relay", 20*time.Second, func() bool { return len(sink.Messages()) >= 3 })
	// From now on every RCPT waits. The relay goes down once every
	// transaction past RCPT has been answered (two polls in a row), so
	// no message is stored without its 250 reaching the sender, and the
	// transactions waiting at RCPT break mid-way.
	gate.hold()
	quiet := 0
	faultWait(t, "transactions to settle at RCPT", 20*time.Second, func() bool {
		if gate.quiet(len(sink.Messages())) {
			quiet++
		} else {
			quiet = 0
		}
		return quiet >= 2
	})
	relay.Stop()
	parked := gate.open()
	sentBefore := len(sink.Messages())
	faultWait(t, "delivery jobs to snooze on the unreachable relay", 20*time.Second, func() bool {
		s := snoozes(t, e)
		return s["relay_unreachable"] >= 1 && s["relay_circuit_open"] >= 1
	})
	duringOutage := snoozes(t, e)
	relay.Start()

	w := waitWave(t, e, waveID, 30*time.Second)
	if w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliverySent] != 12 {
		t.Fatalf("wave = %s %v, want completed with 12 sent", w.Status, w.Deliveries)
	}
	got := byRecipient(sink.Messages())
	for rcpt := range batch1Recipients {
		if len(got[rcpt]) != 1 {
			t.Errorf("%s received %d messages, want exactly 1", rcpt, len(got[rcpt]))
		}
	}
	deferred := 0
	for _, d := range waveDeliveries(t, e, waveID) {
		types := eventTypes(t, e, d.ID)
		switch {
		case slices.Equal(types, []string{"sent"}) && d.Attempts == 1:
		case slices.Equal(types, []string{"deferred", "sent"}) && d.Attempts == 2:
			deferred++
		default:
			t.Errorf("%s: %s after %d attempts, events %v; want sent at once, or deferred by the outage then sent", d.Recipient, d.Status, d.Attempts, types)
		}
	}
	if deferred != parked {
		t.Errorf("%d deliveries deferred, want one per transaction broken by the outage (%d)", deferred, parked)
	}
	after := snoozes(t, e)
	if after["relay_unreachable"] < 1 {
		t.Errorf("no job snoozed on the unreachable relay: %v", after)
	}
	accepted := relay.Accepted()
	if len(accepted) != 2 || accepted[0]+accepted[1] != 12 || accepted[1] < 1 {
		t.Errorf("relay incarnations accepted %v messages, want 12 in all, some after the outage", accepted)
	}
	t.Logf("relay down after %d messages with %d transactions broken at RCPT; accepted per incarnation %v (sink %d); deferred then sent %d; job snoozes during outage %v, in all %v",
		sentBefore, parked, accepted, len(sink.Messages()), deferred, duringOutage, after)
}

// rcptGate scripts the relay of TestRelayDownThenBack: RCPTs are answered
// after a delay, or, once held, wait until the gate opens and then drop.
type rcptGate struct {
	delay   time.Duration
	release chan struct{}

	mu      sync.Mutex
	holding bool
	passed  int // RCPTs answered normally: each leads to one stored message
	parked  int // RCPTs held
}

func (g *rcptGate) answer(step capture.Step, _ string) *capture.Fault {
	if step != capture.StepRcpt {
		return nil
	}
	g.mu.Lock()
	if g.holding {
		g.parked++
		g.mu.Unlock()
		<-g.release
		return &capture.Fault{Drop: true}
	}
	g.passed++
	g.mu.Unlock()
	return &capture.Fault{Delay: g.delay}
}

func (g *rcptGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holding = true
}

// quiet reports whether some RCPT is held and every one answered has led
// to a stored message.
func (g *rcptGate) quiet(stored int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.parked > 0 && g.passed == stored
}

// open lets held RCPTs go (their connections are gone) and RCPTs through
// again; it returns how many were held.
func (g *rcptGate) open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holding = false
	close(g.release)
	return g.parked
}

// scenario is one scripted relay answer and what the engine must make of it.
type scenario struct {
	name  string
	step  capture.Step
	fault capture.Fault
	// always answers every attempt so; otherwise only the first.
	always   bool
	status   notifier.DeliveryStatus
	attempts int
	events   []string
	// code is the SMTP code of the first event (0: none, the connection broke).
	code int
}

// TestScriptedRepliesEndToEnd gives each recipient, in a domain of its
// own, one kind of relay answer, and checks the final status, attempts and
// timeline the engine gives it: throttling replies spend no attempt and
// are sent once the domain's pause is over; other temporary failures,
// dropped connections and replies slower than the SMTP timeout are
// deferred, then sent on retry; permanent ones fail at once.
func TestScriptedRepliesEndToEnd(t *testing.T) {
	t.Parallel()
	throttled := []string{"throttled", "sent"}
	deferred := []string{"deferred", "sent"}
	failed := []string{"failed"}
	rcpt, data := capture.StepRcpt, capture.StepData
	scenarios := []scenario{
		{"421", rcpt, capture.Fault{Code: 421, Message: "4.7.0 Too many connections, closing"}, false, notifier.DeliverySent, 1, throttled, 421},
		{"450-busy", rcpt, capture.Fault{Code: 450, Message: "4.2.1 Mailbox busy"}, false, notifier.DeliverySent, 2, deferred, 450},
		{"450-rate", rcpt, capture.Fault{Code: 450, Message: "4.7.28 Rate limited"}, false, notifier.DeliverySent, 1, throttled, 450},
		{"451-greylist", rcpt, capture.Fault{Code: 451, Message: "4.7.1 Greylisted, please retry"}, false, notifier.DeliverySent, 2, deferred, 451},
		{"451-busy", rcpt, capture.Fault{Code: 451, Message: "4.3.2 System not accepting network messages"}, false, notifier.DeliverySent, 1, throttled, 451},
		{"452-storage", data, capture.Fault{Code: 452, Message: "4.3.1 Insufficient system storage"}, false, notifier.DeliverySent, 2, deferred, 452},
		{"452-limit", rcpt, capture.Fault{Code: 452, Message: "Too many messages this hour"}, false, notifier.DeliverySent, 1, throttled, 452},
		{"454", rcpt, capture.Fault{Code: 454, Message: "4.7.0 Temporary policy failure"}, false, notifier.DeliverySent, 1, throttled, 454},
		{"550", rcpt, capture.Fault{Code: 550, Message: "5.1.1 User unknown"}, true, notifier.DeliveryFailed, 1, failed, 550},
		{"551", rcpt, capture.Fault{Code: 551, Message: "5.1.6 User not local"}, true, notifier.DeliveryFailed, 1, failed, 551},
		{"553", rcpt, capture.Fault{Code: 553, Message: "5.1.3 Mailbox name not allowed"}, true, notifier.DeliveryFailed, 1, failed, 553},
		{"554", data, capture.Fault{Code: 554, Message: "5.7.1 Message rejected as spam"}, true, notifier.DeliveryFailed, 1, failed, 554},
		{"drop", rcpt, capture.Fault{Drop: true}, false, notifier.DeliverySent, 2, deferred, 0},
		{"slow", rcpt, capture.Fault{Delay: 600 * time.Millisecond}, false, notifier.DeliverySent, 2, deferred, 0},
	}
	logs := &lockedBuffer{}
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		c.SMTPTimeout = 300 * time.Millisecond
	}, LogTo: logs})
	ctx := context.Background()
	slug := e.LoadSample(t, "scripted")
	orgs := "org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n"
	items := "org_ref,item_ref,kind\n"
	addr := map[string]string{}
	for i, s := range scenarios {
		ref := fmt.Sprintf("s%02d", i)
		domain := ref + "-" + s.name + ".example"
		addr[s.name] = "security@" + domain
		orgs += fmt.Sprintf("%s,Scenario %s,%s,%s,Scenario %s desk,security,false,en\n", ref, s.name, domain, addr[s.name], s.name)
		items += ref + ",ITEM-" + ref + ",email\n"
		if s.always {
			e.Replies.Always(addr[s.name], s.step, s.fault)
		} else {
			e.Replies.Next(addr[s.name], s.step, s.fault)
		}
	}
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader(orgs), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ImportExposures(ctx, slug, strings.NewReader(items), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waveID := planAndLaunch(t, e, slug)
	w := waitWave(t, e, waveID, 40*time.Second)
	took := time.Since(start)
	total := len(batch1Recipients) + len(scenarios)
	if w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliverySent]+w.Deliveries[notifier.DeliveryFailed] != total {
		t.Fatalf("wave = %s %v, want completed with all %d deliveries final", w.Status, w.Deliveries, total)
	}
	got := byRecipient(e.Mailbox.Messages())
	counts := map[string]int{}
	for _, s := range scenarios {
		d := findDelivery(t, e, waveID, addr[s.name])
		evs, err := e.App.Store.DeliveryEvents(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ev := range evs {
			types = append(types, ev.Type)
		}
		counts[string(d.Status)]++
		if d.Status != s.status || d.Attempts != s.attempts || !slices.Equal(types, s.events) {
			t.Errorf("%s: %s after %d attempts, events %v; want %s after %d, events %v (reply %q)",
				s.name, d.Status, d.Attempts, types, s.status, s.attempts, s.events, d.SMTPReply)
			continue
		}
		if code := evs[0].SMTPCode; (s.code == 0) != (code == nil) || (code != nil && *code != s.code) {
			t.Errorf("%s: first event code %v, want %d", s.name, derefInt(code), s.code)
		}
		if s.fault.Message != "" && !strings.Contains(evs[0].Detail, s.fault.Message) {
			t.Errorf("%s: first event detail %q does not quote the reply %q", s.name, evs[0].Detail, s.fault.Message)
		}
		// A failure is logged (at warn, the level apptest keeps) with the
		// ids that lead from the log line to the delivery.
		line := fmt.Sprintf("msg=\"delivery failed\" wave_id=%d notice_id=%d delivery_id=%d", waveID, d.NoticeID, d.ID)
		if logged := strings.Contains(logs.String(), line); logged != (s.status == notifier.DeliveryFailed) {
			t.Errorf("%s: log has %q: %v, want %v", s.name, line, logged, !logged)
		}
		want := 0
		if s.status == notifier.DeliverySent {
			want = 1
		}
		if len(got[addr[s.name]]) != want {
			t.Errorf("%s: %d messages at the relay, want %d", s.name, len(got[addr[s.name]]), want)
		}
	}
	for rcpt := range batch1Recipients {
		d := findDelivery(t, e, waveID, rcpt)
		if d.Status != notifier.DeliverySent || d.Attempts != 1 || len(got[rcpt]) != 1 {
			t.Errorf("%s (no fault): %s after %d attempts, %d messages; want sent once", rcpt, d.Status, d.Attempts, len(got[rcpt]))
		}
	}
	t.Logf("%d scenarios + %d plain recipients final in %s: %v; job snoozes %v", len(scenarios), len(batch1Recipients), took.Round(time.Millisecond), counts, snoozes(t, e))
}

// TestNoSendStartedPastTheJobDeadline gives each delivery job 2 s and the
// relay 250 ms per message: a chunk of 12 cannot finish in one run. A run
// must stop before a send that the job's deadline would cut (and count as
// an attempt, or repeat) and snooze, so every delivery is sent on its
// first attempt.
func TestNoSendStartedPastTheJobDeadline(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		c.JobRescueAfter = 3 * time.Second // the job timeout is two thirds: 2 s
		c.SMTPTimeout = time.Second
	}})
	for rcpt := range batch1Recipients {
		e.Replies.Always(rcpt, capture.StepRcpt, capture.Fault{Delay: 250 * time.Millisecond})
	}
	slug := e.LoadSample(t, "deadline")
	waveID := planAndLaunch(t, e, slug)
	w := waitWave(t, e, waveID, 60*time.Second)
	if w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliverySent] != len(batch1Recipients) {
		t.Fatalf("wave = %s %v, want completed with all %d sent", w.Status, w.Deliveries, len(batch1Recipients))
	}
	for rcpt := range batch1Recipients {
		if d := findDelivery(t, e, waveID, rcpt); d.Attempts != 1 {
			t.Errorf("%s: %d attempts (%q), want 1", rcpt, d.Attempts, d.SMTPReply)
		}
	}
	if got := len(e.Mailbox.Messages()); got != len(batch1Recipients) {
		t.Errorf("%d messages at the relay, want %d", got, len(batch1Recipients))
	}
	sn := snoozes(t, e)
	if sn["interrupted"] == 0 {
		t.Errorf("no run stopped for its deadline: snoozes %v", sn)
	}
	t.Logf("%d deliveries final; job snoozes %v", len(batch1Recipients), sn)
}

// TestWorkerKilledMidWave runs two `breachnotify serve` processes on one
// database, with the default lease and rescue settings, and SIGKILLs one of
// them three times in the middle of a wave, restarting it each time. The
// survivor takes each dead incarnation's claims over when its lease lapses
// (within a minute, long before River's stuck-job rescue): nothing is lost,
// no job needs rescuing, and what is sent twice is bounded by the messages
// a process may have sent without their outcome committed
// (delivery.MaxUnrecordedDefault per kill), each with its original's
// Message-ID.
func TestWorkerKilledMidWave(t *testing.T) {
	t.Parallel()
	const (
		orgCount, perOrg   = 30, 10
		workers, chunkSize = 4, 10
		kills              = 3
	)
	bin := apptest.BuildBinary(t)
	dbURL := testdb.URL(t)
	sink := &capture.Memory{}
	relay := apptest.StartRelay(t, capture.Options{Sink: sink, Script: func(step capture.Step, _ string) *capture.Fault {
		if step == capture.StepRcpt {
			return &capture.Fault{Delay: 40 * time.Millisecond}
		}
		return nil
	}})
	// The in-process service only serves the API (loading, launching,
	// reading); the two child processes do all the sending.
	cfg := apptest.TestConfig(dbURL)
	cfg.ChunkSize = chunkSize // the launch cuts the chunks
	e := apptest.StartApp(t, cfg, app.Options{NoWorkers: true})
	ctx := context.Background()
	orgs, items, recipients := directory("k", orgCount, perOrg)
	loadDirectory(t, e, "killed", orgs, items)
	plan, err := e.Client.PlanWave(ctx, "killed", templates.KindInitial)
	if err != nil || plan.Deliveries != len(recipients) {
		t.Fatalf("plan = %+v, %v; want %d deliveries", plan, err, len(recipients))
	}
	env := []string{
		"BREACHNOTIFY_DATABASE_URL=" + dbURL,
		"BREACHNOTIFY_HTTP_ADDR=127.0.0.1:0",
		"BREACHNOTIFY_SMTP_URL=" + relay.URL(),
		fmt.Sprintf("BREACHNOTIFY_WORKERS=%d", workers),
		fmt.Sprintf("BREACHNOTIFY_CHUNK_SIZE=%d", chunkSize),
		"BREACHNOTIFY_LOG_FORMAT=json",
		"BREACHNOTIFY_RETRY_MIN_DELAY=100ms",
		"BREACHNOTIFY_RETRY_MAX_DELAY=200ms",
	}
	survivor := apptest.StartProc(t, "survivor", bin, env...)
	victim := apptest.StartProc(t, "victim", bin, env...)
	start := time.Now()
	if _, err := e.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpWave(t, e, plan.ID)
		}
	})
	var killedAt []int
	var lastKill time.Time
	for i := range kills {
		at := len(recipients) * (2*i + 1) / 10 // a tenth, three tenths, half of the wave
		faultWait(t, fmt.Sprintf("%d messages before kill %d", at, i+1), 60*time.Second, func() bool { return len(sink.Messages()) >= at })
		victim.Kill()
		lastKill = time.Now()
		killedAt = append(killedAt, len(sink.Messages()))
		victim.Start()
	}
	w := waitWave(t, e, plan.ID, 120*time.Second)
	took := time.Since(start)
	if w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliverySent] != len(recipients) {
		t.Fatalf("wave = %s %v, want completed with %d sent", w.Status, w.Deliveries, len(recipients))
	}
	var rescued int
	if err := e.App.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job j, unnest(j.errors) AS e
		WHERE e->>'error' LIKE 'Stuck job rescued%'`).Scan(&rescued); err != nil {
		t.Fatal(err)
	}
	// The wave, as the API shows it, says what was taken over.
	takenOverAt, note := w.TakenOverAt, w.TakeoverNote
	msgs := sink.Messages()
	dups := checkDuplicates(t, e, plan.ID, recipients, msgs)
	if takenOverAt == nil || note == "" {
		t.Fatalf("the wave shows no takeover: the kills interrupted nothing")
	}
	if rescued != 0 {
		t.Errorf("%d jobs were rescued by River: the takeover should have made that unneeded", rescued)
	}
	takeover := takenOverAt.Sub(lastKill)
	if takeover > time.Minute {
		t.Errorf("the last takeover came %s after the last kill, want under a minute", takeover.Round(time.Second))
	}
	if bound := kills * delivery.MaxUnrecordedDefault; dups > bound {
		t.Errorf("%d duplicates for %d kills: want at most %d (kills × MaxUnrecordedDefault)", dups, kills, bound)
	}
	t.Logf("%d deliveries, %d kills (at %v messages), %d messages, %d duplicates (bound: %d per kill), last takeover %s after the last kill (%q), wave completed after %s; victim started %d times, survivor %d, %d workers each",
		len(recipients), kills, killedAt, len(msgs), dups, delivery.MaxUnrecordedDefault, takeover.Round(time.Millisecond), note,
		took.Round(time.Millisecond), victim.Starts, survivor.Starts, workers)
}

// TestDatabaseConnectionsDropped terminates every PostgreSQL connection of
// a running service twice in the middle of a wave: the service reconnects
// and finishes the wave without a restart, losing nothing. The outcome
// writer retries a commit the lost connection failed, so nothing it had
// sent is sent again (the bound, delivery.MaxUnrecordedDefault per loss,
// is what a job failing for good could re-send).
func TestDatabaseConnectionsDropped(t *testing.T) {
	t.Parallel()
	const (
		orgCount, perOrg = 12, 10
		workers          = 2
		terminations     = 2
	)
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		c.Workers = workers
		c.ChunkSize = 20
	}})
	ctx := context.Background()
	orgs, items, recipients := directory("d", orgCount, perOrg)
	for _, r := range recipients {
		e.Replies.Always(r, capture.StepRcpt, capture.Fault{Delay: 25 * time.Millisecond})
	}
	loadDirectory(t, e, "dropped", orgs, items)
	start := time.Now()
	waveID := planAndLaunch(t, e, "dropped")
	var ended, terminatedAt []int
	for i := range terminations {
		at := len(recipients) * (i + 1) / (terminations + 2)
		faultWait(t, fmt.Sprintf("%d messages before termination %d", at, i+1), 30*time.Second, func() bool { return len(e.Mailbox.Messages()) >= at })
		terminatedAt = append(terminatedAt, len(e.Mailbox.Messages()))
		ended = append(ended, apptest.TerminateBackends(t, e.App.Config.DatabaseURL))
	}
	w := waitWave(t, e, waveID, 45*time.Second)
	took := time.Since(start)
	if w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliverySent] != len(recipients) {
		t.Fatalf("wave = %s %v, want completed with %d sent", w.Status, w.Deliveries, len(recipients))
	}
	for i, n := range ended {
		if n < 1 {
			t.Errorf("termination %d ended no connection", i+1)
		}
	}
	msgs := e.Mailbox.Messages()
	dups := checkDuplicates(t, e, waveID, recipients, msgs)
	var failedJobs int
	if err := e.App.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job j, unnest(j.errors) AS e`).Scan(&failedJobs); err != nil {
		t.Fatal(err)
	}
	if bound := terminations * delivery.MaxUnrecordedDefault; dups > bound {
		t.Errorf("%d duplicates after %d terminations: want at most %d (MaxUnrecordedDefault per loss)", dups, terminations, bound)
	}
	t.Logf("%d deliveries, %d terminations (at %v messages, ending %v connections), %d job errors, %d messages, %d duplicates (bound %d per loss), completed in %s",
		len(recipients), terminations, terminatedAt, ended, failedJobs, len(msgs), dups, delivery.MaxUnrecordedDefault, took.Round(time.Millisecond))
}

// TestPoisonDeliveryFailsAlone runs a wave where one delivery's template
// fails at execution: that delivery fails at once with the reason and no
// attempt, and nothing else is held back or retried.
func TestPoisonDeliveryFailsAlone(t *testing.T) {
	t.Parallel()
	// A template for locale "xx" that names the second exposure item:
	// fine for the sample data Compile checks (three items) and for any
	// notice with two or more, an error for a notice with one.
	set, err := templates.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	src, err := templates.DefaultSource(templates.KindInitial, templates.DefaultLocale)
	if err != nil {
		t.Fatal(err)
	}
	src.Text += "\nSecond item: {{with index .Notice.Items 1}}{{.Subject}}{{end}}\n"
	xx, err := templates.Compile(templates.KindInitial, "xx", src)
	if err != nil {
		t.Fatalf("compile the xx template: %v", err)
	}
	set.Put(xx)
	e := apptest.StartApp(t, apptest.TestConfig(testdb.URL(t)), app.Options{Templates: set})
	ctx := context.Background()
	slug := e.LoadSample(t, "poison")
	// The poisoned delivery sorts first in the wave's one chunk.
	const victim, fine = "victim@aaa-poison.example", "fine@xx-two.example"
	orgs := "org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n" +
		"poison,Poison Inc,aaa-poison.example," + victim + ",Victim,security,false,xx\n" +
		"two,Two Items Ltd,xx-two.example," + fine + ",Fine,security,false,xx\n"
	items := "org_ref,item_ref,kind,subject\npoison,P-1,email,Only item\ntwo,T-1,email,First item\ntwo,T-2,file,Second of two\n"
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader(orgs), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ImportExposures(ctx, slug, strings.NewReader(items), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waveID := planAndLaunch(t, e, slug)
	w := waitWave(t, e, waveID, 20*time.Second)
	took := time.Since(start)
	total := len(batch1Recipients) + 2
	if w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliveryFailed] != 1 || w.Deliveries[notifier.DeliverySent] != total-1 {
		t.Fatalf("wave = %s %v, want completed with 1 failed and %d sent", w.Status, w.Deliveries, total-1)
	}
	got := byRecipient(e.Mailbox.Messages())
	for _, d := range waveDeliveries(t, e, waveID) {
		types := eventTypes(t, e, d.ID)
		if d.Recipient == victim {
			if d.Status != notifier.DeliveryFailed || d.Attempts != 0 || !strings.HasPrefix(d.SMTPReply, "render failed") ||
				!strings.Contains(d.SMTPReply, "index out of range") || !slices.Equal(types, []string{"failed"}) || len(got[victim]) != 0 {
				t.Errorf("poisoned delivery: %s after %d attempts, reply %q, events %v, %d messages; want failed with no attempt, the render error, nothing sent",
					d.Status, d.Attempts, d.SMTPReply, types, len(got[victim]))
			}
			t.Logf("poisoned delivery: %s, %d attempts, reply %q", d.Status, d.Attempts, d.SMTPReply)
			continue
		}
		if d.Status != notifier.DeliverySent || d.Attempts != 1 || !slices.Equal(types, []string{"sent"}) || len(got[d.Recipient]) != 1 {
			t.Errorf("%s: %s after %d attempts, events %v, %d messages; want sent at the first attempt", d.Recipient, d.Status, d.Attempts, types, len(got[d.Recipient]))
		}
	}
	if m := got[fine]; len(m) != 1 || !strings.Contains(apptest.Parse(t, m[0].Raw).Text, "Second item: Second of two") {
		t.Errorf("the xx template did not render for a notice with two items")
	}
	// Nothing was retried or requeued: the launch's jobs did it all.
	var jobs int
	if err := e.App.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'deliver'`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if chunks := (total + e.App.Config.ChunkSize - 1) / e.App.Config.ChunkSize; jobs != chunks {
		t.Errorf("%d delivery jobs, want only the %d of the launch", jobs, chunks)
	}
	t.Logf("%d deliveries: %d sent, %d failed, in %d jobs, completed in %s", total, w.Deliveries[notifier.DeliverySent], w.Deliveries[notifier.DeliveryFailed], jobs, took.Round(time.Millisecond))
}

// faultWait polls cond until it holds, failing the test after timeout.
func faultWait(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// planAndLaunch plans and launches an initial wave of the incident.
func planAndLaunch(t *testing.T, e *apptest.Env, slug string) int64 {
	t.Helper()
	ctx := context.Background()
	plan, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	return plan.ID
}

// waitWave waits for a wave to complete, reading it through the API, and
// returns it. Failed reads are retried (the database may be going away).
// On timeout it logs the deliveries still pending and the jobs.
func waitWave(t *testing.T, e *apptest.Env, id int64, timeout time.Duration) notifier.Wave {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w, err := e.Client.Wave(context.Background(), id)
		if err == nil && (w.Status == notifier.WaveCompleted || w.Status == notifier.WaveCancelled) {
			return w
		}
		if time.Now().After(deadline) {
			dumpWave(t, e, id)
			t.Fatalf("wave %d not complete after %s: %s %v (last error %v)", id, timeout, w.Status, w.Deliveries, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dumpWave logs a wave's unfinished deliveries with their timelines, and
// its jobs, to tell why it is stuck.
func dumpWave(t *testing.T, e *apptest.Env, id int64) {
	t.Helper()
	ctx := context.Background()
	for _, d := range waveDeliveries(t, e, id) {
		if d.Status == notifier.DeliveryQueued || d.Status == notifier.DeliveryDeferred {
			evs, _ := e.App.Store.DeliveryEvents(ctx, d.ID)
			t.Logf("pending delivery %d to %s: %s, %d attempts, events %+v", d.ID, d.Recipient, d.Status, d.Attempts, evs)
		}
	}
	rows, err := e.App.Pool.Query(ctx, `SELECT id, state, args::text, attempt, scheduled_at, coalesce(attempted_at::text, ''),
		coalesce(finalized_at::text, ''), coalesce(array_to_string(errors, ' '), '') FROM river_job ORDER BY id`)
	if err != nil {
		t.Logf("jobs: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var jid int64
		var attempt int
		var state, args, attempted, finalized, errs string
		var scheduled time.Time
		if err := rows.Scan(&jid, &state, &args, &attempt, &scheduled, &attempted, &finalized, &errs); err != nil {
			t.Logf("jobs: %v", err)
			return
		}
		t.Logf("job %d %s %s attempt %d scheduled %s attempted %s finalized %s %s", jid, state, args, attempt, scheduled.Format(time.StampMilli), attempted, finalized, errs)
	}
	claims, err := e.App.Pool.Query(ctx, `SELECT job_id, delivery_ids::text, claimed_at FROM delivery_claims`)
	if err != nil {
		return
	}
	defer claims.Close()
	for claims.Next() {
		var jid int64
		var ids string
		var at time.Time
		if claims.Scan(&jid, &ids, &at) == nil {
			t.Logf("claim of job %d: %s since %s", jid, ids, at.Format(time.StampMilli))
		}
	}
}

func waveDeliveries(t *testing.T, e *apptest.Env, waveID int64) []notifier.Delivery {
	t.Helper()
	ds, err := e.App.Store.WaveDeliveries(context.Background(), waveID)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func eventTypes(t *testing.T, e *apptest.Env, deliveryID int64) []string {
	t.Helper()
	evs, err := e.App.Store.DeliveryEvents(context.Background(), deliveryID)
	if err != nil {
		t.Fatal(err)
	}
	types := make([]string, len(evs))
	for i, ev := range evs {
		types[i] = ev.Type
	}
	return types
}

// snoozes reads the job snooze counter of the service, by reason.
func snoozes(t *testing.T, e *apptest.Env) map[string]float64 {
	t.Helper()
	families, err := e.App.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "breachnotify_job_snoozes_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// byRecipient groups messages by their one recipient.
func byRecipient(msgs []notifier.CapturedMessage) map[string][]notifier.CapturedMessage {
	out := map[string][]notifier.CapturedMessage{}
	for _, m := range msgs {
		for _, r := range m.Recipients {
			out[r] = append(out[r], m)
		}
	}
	return out
}

// checkDuplicates checks that every recipient has at least one message,
// that every message of a recipient carries the Message-ID recorded for
// its delivery, and returns how many messages are duplicates.
func checkDuplicates(t *testing.T, e *apptest.Env, waveID int64, recipients []string, msgs []notifier.CapturedMessage) int {
	t.Helper()
	messageID := map[string]string{}
	for _, d := range waveDeliveries(t, e, waveID) {
		messageID[d.Recipient] = d.MessageID
	}
	got := byRecipient(msgs)
	dups := 0
	for _, r := range recipients {
		if len(got[r]) == 0 {
			t.Errorf("%s never received the notice", r)
			continue
		}
		dups += len(got[r]) - 1
		for _, m := range got[r] {
			hdr, err := mail.ReadMessage(strings.NewReader(string(m.Raw)))
			if err != nil {
				t.Fatalf("message to %s: %v", r, err)
			}
			if id := strings.Trim(hdr.Header.Get("Message-Id"), "<>"); id != messageID[r] {
				t.Errorf("message to %s has Message-ID %q, want the delivery's %q (of %d messages)", r, id, messageID[r], len(got[r]))
			}
		}
	}
	if len(got) != len(recipients) {
		t.Errorf("messages to %d recipients, want %d", len(got), len(recipients))
	}
	return dups
}

// directory generates orgs organizations of perOrg contacts each (CSV),
// one exposure item per organization, and the contacts' addresses.
func directory(prefix string, orgs, perOrg int) (orgCSV, itemCSV string, recipients []string) {
	var o, i strings.Builder
	o.WriteString("org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n")
	i.WriteString("org_ref,item_ref,kind,subject\n")
	for n := range orgs {
		ref := fmt.Sprintf("%s%03d", prefix, n)
		for c := range perOrg {
			addr := fmt.Sprintf("contact%02d@%s.example", c, ref)
			recipients = append(recipients, addr)
			fmt.Fprintf(&o, "%s,Org %s,%s.example,%s,Contact %d,security,false,en\n", ref, ref, ref, addr, c)
		}
		fmt.Fprintf(&i, "%s,ITEM-%s,email,Mailbox of %s\n", ref, ref, ref)
	}
	return o.String(), i.String(), recipients
}

// loadDirectory creates an incident and imports a generated directory.
func loadDirectory(t *testing.T, e *apptest.Env, slug, orgs, items string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: slug, Title: "Fault run", Summary: "Generated contacts."}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader(orgs), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ImportExposures(ctx, slug, strings.NewReader(items), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
}

func derefInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// lockedBuffer collects the service's log lines for a test to search.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
