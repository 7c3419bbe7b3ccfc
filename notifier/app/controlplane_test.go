package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/templates"
)

// call makes one API request with key and returns the status and body.
func call(t *testing.T, e *apptest.Env, method, path, key string, body any, header ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.App.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func newKey(t *testing.T, e *apptest.Env, name string, role notifier.Role) string {
	t.Helper()
	key, _, err := e.App.Service.CreateAPIKey(context.Background(), notifier.LocalActor("test"), name, role)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// What a caller gets from a route: let in (any status but 401 and 403),
// 401 unauthorized or 403 forbidden.
type access int

const (
	ok access = iota
	unauth
	denied
)

// apiRow is one route and what each caller gets from it.
type apiRow struct {
	method, pattern                string
	noKey, viewer, operator, admin access
}

// apiAccess is who gets into every route of the API, written out by hand
// rather than read from the route table, so that a role changed there (or
// a route added without one) fails TestAuthorizationMatrix.
var apiAccess = []apiRow{
	{"GET", "/healthz", ok, ok, ok, ok},
	{"GET", "/readyz", ok, ok, ok, ok},
	{"GET", "/metrics", ok, ok, ok, ok},
	{"GET", "/api/v1/openapi.json", ok, ok, ok, ok},

	{"GET", "/api/v1/incidents", unauth, ok, ok, ok},
	{"POST", "/api/v1/incidents", unauth, denied, ok, ok},
	{"GET", "/api/v1/incidents/{incident}", unauth, ok, ok, ok},
	{"PATCH", "/api/v1/incidents/{incident}", unauth, denied, denied, ok},
	{"POST", "/api/v1/incidents/{incident}/exposures", unauth, denied, ok, ok},
	{"GET", "/api/v1/incidents/{incident}/batches", unauth, ok, ok, ok},
	{"GET", "/api/v1/incidents/{incident}/items", unauth, ok, ok, ok},
	{"GET", "/api/v1/incidents/{incident}/waves", unauth, ok, ok, ok},
	{"POST", "/api/v1/incidents/{incident}/waves", unauth, denied, ok, ok},
	{"GET", "/api/v1/incidents/{incident}/notices", unauth, ok, ok, ok},
	{"GET", "/api/v1/incidents/{incident}/report", unauth, ok, ok, ok},
	{"GET", "/api/v1/incidents/{incident}/deadlines", unauth, ok, ok, ok},
	{"GET", "/api/v1/incidents/{incident}/unreachable", unauth, ok, ok, ok},
	{"POST", "/api/v1/incidents/{incident}/evidence", unauth, denied, ok, ok},
	{"GET", "/api/v1/incidents/{incident}/evidence-imports", unauth, ok, ok, ok},
	{"GET", "/api/v1/evidence-imports/{id}", unauth, ok, ok, ok},
	{"GET", "/api/v1/incidents/{incident}/purge", unauth, ok, ok, ok},
	{"POST", "/api/v1/incidents/{incident}/purge", unauth, denied, denied, ok},
	{"POST", "/api/v1/incidents/{incident}/purge/approve", unauth, denied, denied, ok},
	{"POST", "/api/v1/incidents/{incident}/purge/cancel", unauth, denied, denied, ok},
	{"GET", "/api/v1/incidents/{incident}/evidence/findings", unauth, denied, ok, ok},
	{"POST", "/api/v1/incidents/{incident}/evidence/findings/{finding}/dismiss", unauth, denied, ok, ok},
	{"POST", "/api/v1/incidents/{incident}/evidence/findings/{finding}/undismiss", unauth, denied, ok, ok},
	{"GET", "/api/v1/incidents/{incident}/evidence/unattributed", unauth, ok, ok, ok},
	{"POST", "/api/v1/incidents/{incident}/evidence/reattribute", unauth, denied, ok, ok},

	{"GET", "/api/v1/batches/{id}", unauth, ok, ok, ok},

	{"GET", "/api/v1/organizations", unauth, ok, ok, ok},
	{"POST", "/api/v1/organizations/import", unauth, denied, ok, ok},
	{"GET", "/api/v1/organizations/{org}", unauth, ok, ok, ok},
	{"GET", "/api/v1/organizations/{org}/contacts", unauth, ok, ok, ok},
	{"GET", "/api/v1/organizations/{org}/evidence-access", unauth, ok, ok, ok},
	{"GET", "/api/v1/organizations/{org}/portal-sessions", unauth, ok, ok, ok},
	{"POST", "/api/v1/organizations/{org}/portal-sessions/end", unauth, denied, ok, ok},
	{"GET", "/api/v1/organizations/{org}/members", unauth, ok, ok, ok},
	{"POST", "/api/v1/organizations/{org}/members", unauth, denied, denied, ok},
	{"PATCH", "/api/v1/organizations/{org}/members/{id}", unauth, denied, denied, ok},
	{"POST", "/api/v1/organizations/{org}/access-requests/{id}", unauth, denied, denied, ok},
	{"POST", "/api/v1/organizations/{org}/invite-domains", unauth, denied, denied, ok},
	{"GET", "/api/v1/contacts", unauth, ok, ok, ok},
	{"GET", "/api/v1/contacts/{id}", unauth, ok, ok, ok},
	{"PATCH", "/api/v1/contacts/{id}", unauth, denied, ok, ok},
	{"POST", "/api/v1/contacts/{id}/suppress", unauth, denied, ok, ok},
	{"POST", "/api/v1/contacts/{id}/reactivate", unauth, denied, ok, ok},
	{"POST", "/api/v1/contacts/{id}/factors/reset", unauth, denied, denied, ok},

	{"GET", "/api/v1/waves", unauth, ok, ok, ok},
	{"GET", "/api/v1/waves/{id}", unauth, ok, ok, ok},
	{"POST", "/api/v1/waves/{id}/approve", unauth, denied, ok, ok},
	{"POST", "/api/v1/waves/{id}/launch", unauth, denied, ok, ok},
	{"POST", "/api/v1/waves/{id}/pause", unauth, denied, ok, ok},
	{"POST", "/api/v1/waves/{id}/resume", unauth, denied, ok, ok},
	{"POST", "/api/v1/waves/{id}/cancel", unauth, denied, ok, ok},

	{"GET", "/api/v1/notices", unauth, ok, ok, ok},
	{"GET", "/api/v1/notices/{id}", unauth, ok, ok, ok},
	{"POST", "/api/v1/notices/{id}/resend", unauth, denied, ok, ok},
	{"GET", "/api/v1/deliveries", unauth, ok, ok, ok},
	{"GET", "/api/v1/deliveries/{id}", unauth, ok, ok, ok},

	{"GET", "/api/v1/bounces", unauth, ok, ok, ok},
	{"POST", "/api/v1/bounces", unauth, denied, ok, ok},
	// No API key: the provider's own signature or credentials decide, and
	// an API key gives nothing (TestProviderBounceWebhooks checks those).
	{"POST", "/api/v1/bounces/providers/{provider}", ok, ok, ok, ok},

	{"GET", "/api/v1/audit", unauth, ok, ok, ok},
	{"GET", "/api/v1/audit/verify", unauth, ok, ok, ok},

	{"GET", "/api/v1/apikeys", unauth, denied, denied, ok},
	{"POST", "/api/v1/apikeys", unauth, denied, denied, ok},
	{"DELETE", "/api/v1/apikeys/{id}", unauth, denied, denied, ok},
	{"GET", "/api/v1/webhooks", unauth, denied, denied, ok},
	{"POST", "/api/v1/webhooks", unauth, denied, denied, ok},
	{"GET", "/api/v1/webhooks/{id}", unauth, denied, denied, ok},
	{"PATCH", "/api/v1/webhooks/{id}", unauth, denied, denied, ok},
	{"DELETE", "/api/v1/webhooks/{id}", unauth, denied, denied, ok},
	{"POST", "/api/v1/webhooks/{id}/rotate-secret", unauth, denied, denied, ok},
	{"POST", "/api/v1/webhooks/{id}/test", unauth, denied, denied, ok},
	{"GET", "/api/v1/webhooks/{id}/deliveries", unauth, denied, denied, ok},
	{"POST", "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver", unauth, denied, denied, ok},

	{"GET", "/api/v1/templates", unauth, ok, ok, ok},
	{"POST", "/api/v1/templates", unauth, denied, denied, ok},
	{"GET", "/api/v1/templates/{id}", unauth, ok, ok, ok},
	{"POST", "/api/v1/templates/{id}/activate", unauth, denied, denied, ok},
	{"POST", "/api/v1/templates/{id}/preview", unauth, ok, ok, ok},

	{"GET", "/api/v1/mailbox", unauth, denied, denied, ok},
	{"GET", "/api/v1/mailbox/{id}", unauth, denied, denied, ok},
}

// TestAuthorizationMatrix calls every route of the API with no key, a
// revoked key and a key of each role, and checks each answer against
// apiAccess; apiAccess must list exactly the routes the server registers.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()

	// The table lists each registered route once, and the route table
	// declares the same least role: the service's own check would hide a
	// route let in more widely than the table says.
	registered := map[string]notifier.Role{}
	for _, rt := range e.App.API.Routes() {
		registered[rt.Method+" "+rt.Pattern] = rt.Role
	}
	listed := map[string]bool{}
	for _, a := range apiAccess {
		r := a.method + " " + a.pattern
		if listed[r] {
			t.Errorf("%s is in apiAccess twice", r)
		}
		listed[r] = true
		role, found := registered[r]
		if !found {
			t.Errorf("%s is in apiAccess but not a route of the API", r)
		} else if want := a.leastRole(); role != want {
			t.Errorf("%s: the route table asks for %q, apiAccess lets in %q and up", r, role, want)
		}
	}
	for r := range registered {
		if !listed[r] {
			t.Errorf("route %s is missing from apiAccess: say who may call it", r)
		}
	}

	w := e.LaunchInitial(t, e.LoadSample(t, "matrix"))
	d, _ := e.App.Store.WaveDeliveries(ctx, w.ID)
	revoked := newKey(t, e, "revoked", notifier.RoleAdmin)
	keys, _ := e.App.Service.APIKeys(ctx, notifier.LocalActor("test"))
	if _, err := e.App.Service.RevokeAPIKey(ctx, notifier.LocalActor("test"), keys[len(keys)-1].ID); err != nil {
		t.Fatal(err)
	}
	newKey(t, e, "spare", notifier.RoleViewer)
	keys, _ = e.App.Service.APIKeys(ctx, notifier.LocalActor("test"))
	spareID := keys[len(keys)-1].ID
	viewer, operator, admin := newKey(t, e, "viewer", notifier.RoleViewer), newKey(t, e, "operator", notifier.RoleOperator),
		newKey(t, e, "admin", notifier.RoleAdmin)
	concrete := strings.NewReplacer("{incident}", "matrix", "{org}", "contoso", "{finding}", strings.Repeat("ab", 32)+"-0", "{delivery}", "1",
		"{id}", fmt.Sprint(d[0].ID)) // a delivery id; other kinds with that id may or may not exist
	for _, a := range apiAccess {
		path := concrete.Replace(a.pattern)
		if a.method == "DELETE" && strings.HasPrefix(a.pattern, "/api/v1/apikeys/") {
			path = fmt.Sprintf("/api/v1/apikeys/%d", spareID)
		}
		var body any
		if a.method != "GET" && a.method != "DELETE" {
			body = map[string]any{}
		}
		for _, c := range []struct {
			who, key string
			want     access
		}{{"no key", "", a.noKey}, {"a revoked key", revoked, revokedKeyGets(a.noKey)}, {"viewer", viewer, a.viewer},
			{"operator", operator, a.operator}, {"admin", admin, a.admin}} {
			st, b := call(t, e, a.method, path, c.key, body)
			switch c.want {
			case ok:
				if st == 401 || st == 403 {
					t.Errorf("%s %s as %s: %d %s, want let in", a.method, a.pattern, c.who, st, b)
				}
			case unauth:
				if st != 401 || !bytes.Contains(b, []byte(`"code":"unauthorized"`)) {
					t.Errorf("%s %s as %s: %d %s, want 401", a.method, a.pattern, c.who, st, b)
				}
			case denied:
				if st != 403 || !bytes.Contains(b, []byte(`"code":"forbidden"`)) {
					t.Errorf("%s %s as %s: %d %s, want 403", a.method, a.pattern, c.who, st, b)
				}
			}
		}
	}
}

// leastRole is the least role a row lets in ("" when no key is needed).
func (a apiRow) leastRole() notifier.Role {
	switch {
	case a.noKey == ok:
		return ""
	case a.viewer == ok:
		return notifier.RoleViewer
	case a.operator == ok:
		return notifier.RoleOperator
	case a.admin == ok:
		return notifier.RoleAdmin
	}
	return "nobody"
}

// revokedKeyGets is what a revoked key gets: what no key gets where a key is
// needed (401), and the open routes still open.
func revokedKeyGets(noKey access) access {
	if noKey == ok {
		return ok
	}
	return unauth
}

func TestConcurrentLaunchesAreIdempotent(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	slug := e.LoadSample(t, "idem")
	plan, err := e.Client.PlanWave(context.Background(), slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/waves/%d/launch", plan.ID)
	const n = 50
	var wg sync.WaitGroup
	replies := make([][]byte, n)
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			statuses[i], replies[i] = call(t, e, "POST", path, e.Key, nil, "Idempotency-Key", "launch-once-42")
		})
	}
	wg.Wait()
	for i := range n {
		if statuses[i] != 200 || !bytes.Equal(replies[i], replies[0]) {
			t.Fatalf("launch %d: %d %s; want 200 and the same reply as the first (%s)", i, statuses[i], replies[i], replies[0])
		}
	}
	first := decode[notifier.Wave](t, replies[0])
	if first.Status != notifier.WaveRunning || first.Deliveries[notifier.DeliveryQueued] != 12 {
		t.Errorf("reply = %+v, want a running wave with 12 queued", first)
	}
	w, err := e.Client.WaitWave(context.Background(), plan.ID, 50*time.Millisecond, nil)
	if err != nil || w.Deliveries[notifier.DeliverySent] != 12 || len(e.Mailbox.Messages()) != 12 {
		t.Fatalf("wave = %+v, %d messages, %v; want 12 sent once each", w, len(e.Mailbox.Messages()), err)
	}
	// The key belongs to that request: reusing it elsewhere is refused.
	st, b := call(t, e, "POST", "/api/v1/waves/99999/launch", e.Key, nil, "Idempotency-Key", "launch-once-42")
	if st != 422 {
		t.Errorf("key reused for another wave: %d %s, want 422", st, b)
	}
	// Without a key, concurrent launches still write the wave once.
	slug2 := "idem2"
	if _, err := e.Client.CreateIncident(context.Background(), notifier.NewIncident{Slug: slug2, Title: "Second"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ImportExposures(context.Background(), slug2, strings.NewReader("org_ref,item_ref,kind\ncontoso,X-1,file\n"), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	plan2, _ := e.Client.PlanWave(context.Background(), slug2, templates.KindInitial)
	for range 10 {
		wg.Go(func() { call(t, e, "POST", fmt.Sprintf("/api/v1/waves/%d/launch", plan2.ID), e.Key, nil) })
	}
	wg.Wait()
	w2, _ := e.Client.WaitWave(context.Background(), plan2.ID, 50*time.Millisecond, nil)
	if w2.Notices.Total != 1 || w2.Deliveries[notifier.DeliverySent] != 3 {
		t.Errorf("unkeyed concurrent launches: %+v, want 1 notice and 3 deliveries", w2)
	}
}

func TestFourEyesApproval(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	slug := e.LoadSample(t, "four-eyes")
	alice, bob := newKey(t, e, "alice", notifier.RoleOperator), newKey(t, e, "bob", notifier.RoleOperator)
	if st, b := call(t, e, "PATCH", "/api/v1/incidents/"+slug, alice, map[string]any{"policy": map[string]any{"require_approval": true}}); st != 403 {
		t.Fatalf("operator changed policy: %d %s", st, b)
	}
	if st, b := call(t, e, "PATCH", "/api/v1/incidents/"+slug, e.Key, map[string]any{"policy": map[string]any{"require_approval": true}}); st != 200 || !bytes.Contains(b, []byte(`"require_approval":true`)) {
		t.Fatalf("admin policy change: %d %s", st, b)
	}
	st, b := call(t, e, "POST", "/api/v1/incidents/"+slug+"/waves", alice, map[string]any{"kind": "initial"})
	plan := decode[notifier.WavePlan](t, b)
	if st != 201 || !plan.NeedsApproval {
		t.Fatalf("plan: %d %s", st, b)
	}
	wave := fmt.Sprintf("/api/v1/waves/%d", plan.ID)
	if st, b := call(t, e, "POST", wave+"/launch", alice, nil); st != 409 || !bytes.Contains(b, []byte("approval")) {
		t.Errorf("launch before approval: %d %s, want 409", st, b)
	}
	if st, b := call(t, e, "POST", wave+"/approve", alice, nil); st != 403 {
		t.Errorf("planner approved own wave: %d %s, want 403", st, b)
	}
	if st, b := call(t, e, "POST", wave+"/approve", bob, nil); st != 200 || !bytes.Contains(b, []byte(`"status":"approved"`)) {
		t.Errorf("second key approves: %d %s", st, b)
	}
	if st, b := call(t, e, "POST", wave+"/approve", bob, nil); st != 409 {
		t.Errorf("approved twice: %d %s, want 409", st, b)
	}
	if st, b := call(t, e, "POST", wave+"/launch", alice, nil); st != 200 || !bytes.Contains(b, []byte(`"status":"running"`)) {
		t.Errorf("launch after approval: %d %s", st, b)
	}
	st, b = call(t, e, "GET", "/api/v1/audit?target_type=wave&target_id="+fmt.Sprint(plan.ID), e.Key, nil)
	page := decode[notifier.ListResult[notifier.AuditEntry]](t, b)
	var actions []string
	for _, en := range page.Items {
		actions = append(actions, en.Action+" by "+en.ActorName)
	}
	if st != 200 || strings.Join(actions, ", ") != "wave.launch by alice, wave.approve by bob, wave.plan by alice" {
		t.Errorf("audit of the wave: %v", actions)
	}
}

// TestApprovalCoversOnlyWhatWasPlanned: a contact imported after a wave
// was planned and approved must not be sent to on that approval; the
// launch is refused until a new plan is approved.
func TestApprovalCoversOnlyWhatWasPlanned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := apptest.Start(t, apptest.Options{})
	slug := e.LoadSample(t, "four-eyes-drift")
	alice, bob := newKey(t, e, "alice", notifier.RoleOperator), newKey(t, e, "bob", notifier.RoleOperator)
	if st, b := call(t, e, "PATCH", "/api/v1/incidents/"+slug, e.Key, map[string]any{"policy": map[string]any{"require_approval": true}}); st != 200 {
		t.Fatalf("policy: %d %s", st, b)
	}
	planAndApprove := func() string {
		t.Helper()
		st, b := call(t, e, "POST", "/api/v1/incidents/"+slug+"/waves", alice, map[string]any{"kind": "initial"})
		if st != 201 {
			t.Fatalf("plan: %d %s", st, b)
		}
		wave := fmt.Sprintf("/api/v1/waves/%d", decode[notifier.WavePlan](t, b).ID)
		if st, b := call(t, e, "POST", wave+"/approve", bob, nil); st != 200 {
			t.Fatalf("approve: %d %s", st, b)
		}
		return wave
	}
	first := planAndApprove()
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader("org_ref,org_name,domain,contact_email\ncontoso,Contoso Ltd,contoso.example,late@contoso.example\n"), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if st, b := call(t, e, "POST", first+"/launch", alice, nil); st != 409 || !bytes.Contains(b, []byte("plan it again")) {
		t.Fatalf("launch after the targets changed: %d %s, want 409", st, b)
	}
	second := planAndApprove()
	st, b := call(t, e, "POST", second+"/launch", alice, nil)
	if w := decode[notifier.Wave](t, b); st != 200 || w.Status != notifier.WaveRunning {
		t.Fatalf("launch of the new plan: %d %s", st, b)
	}
	if st, b := call(t, e, "GET", first, e.Key, nil); st != 200 || !bytes.Contains(b, []byte(`"status":"approved"`)) {
		t.Errorf("the stale approved wave: %d %s, want it left approved, unlaunched", st, b)
	}
}

// slowWave starts a service that sends one message at a time, slowly, in
// chunks of two, and launches the sample's initial wave.
func slowWave(t *testing.T, slug string) (*apptest.Env, int64) {
	t.Helper()
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		c.Workers, c.ChunkSize = 1, 2
	}})
	for rcpt := range batch1Recipients {
		e.Replies.Always(rcpt, capture.StepRcpt, capture.Fault{Delay: 60 * time.Millisecond})
	}
	e.LoadSample(t, slug)
	plan, err := e.Client.PlanWave(context.Background(), slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.LaunchWave(context.Background(), plan.ID); err != nil {
		t.Fatal(err)
	}
	return e, plan.ID
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	e, id := slowWave(t, "pause")
	waitFor(t, "a first send", func() bool { return len(e.Mailbox.Messages()) >= 1 })
	st, b := call(t, e, "POST", fmt.Sprintf("/api/v1/waves/%d/pause", id), e.Key, nil)
	if st != 200 || !bytes.Contains(b, []byte(`"status":"paused"`)) {
		t.Fatalf("pause: %d %s", st, b)
	}
	// In-flight sends finish (at most the rest of the chunk in hand); then nothing.
	waitFor(t, "the wave to go quiet", func() bool {
		w, _ := e.Client.Wave(context.Background(), id)
		return w.Deliveries[notifier.DeliverySending] == 0
	})
	paused := len(e.Mailbox.Messages())
	time.Sleep(400 * time.Millisecond) // long enough for several sends, were any still going
	if got := len(e.Mailbox.Messages()); got != paused || paused >= 12 {
		t.Fatalf("sends while paused: %d then %d of 12", paused, got)
	}
	w, _ := e.Client.Wave(context.Background(), id)
	if w.Status != notifier.WavePaused || w.Deliveries[notifier.DeliverySent] != paused || w.Deliveries[notifier.DeliveryQueued] != 12-paused {
		t.Fatalf("paused wave = %+v (%d received)", w, paused)
	}
	if st, _ := call(t, e, "POST", fmt.Sprintf("/api/v1/waves/%d/pause", id), e.Key, nil); st != 409 {
		t.Errorf("pausing a paused wave: %d, want 409", st)
	}
	if st, b := call(t, e, "POST", fmt.Sprintf("/api/v1/waves/%d/resume", id), e.Key, nil); st != 200 || !bytes.Contains(b, []byte(`"status":"running"`)) {
		t.Fatalf("resume: %d %s", st, b)
	}
	w, err := e.Client.WaitWave(context.Background(), id, 50*time.Millisecond, nil)
	if err != nil || w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliverySent] != 12 {
		t.Fatalf("after resume: %+v %v", w, err)
	}
	if n := len(e.Mailbox.Messages()); n != 12 {
		t.Errorf("%d messages received, want each of 12 exactly once", n)
	}
	t.Logf("sent before the pause took hold: %d", paused)
}

func TestCancelStopsForGood(t *testing.T) {
	t.Parallel()
	e, id := slowWave(t, "cancel")
	waitFor(t, "a first send", func() bool { return len(e.Mailbox.Messages()) >= 1 })
	st, b := call(t, e, "POST", fmt.Sprintf("/api/v1/waves/%d/cancel", id), e.Key, nil)
	if st != 200 || !bytes.Contains(b, []byte(`"status":"cancelled"`)) {
		t.Fatalf("cancel: %d %s", st, b)
	}
	waitFor(t, "the wave to settle", func() bool {
		w, _ := e.Client.Wave(context.Background(), id)
		return w.Deliveries[notifier.DeliverySending]+w.Deliveries[notifier.DeliveryQueued] == 0
	})
	sent := len(e.Mailbox.Messages())
	time.Sleep(300 * time.Millisecond)
	w, _ := e.Client.Wave(context.Background(), id)
	if len(e.Mailbox.Messages()) != sent || w.Deliveries[notifier.DeliverySent] != sent ||
		w.Deliveries[notifier.DeliveryCancelled] != 12-sent || w.Status != notifier.WaveCancelled {
		t.Fatalf("cancelled wave = %+v, %d received then %d", w, sent, len(e.Mailbox.Messages()))
	}
	if st, _ := call(t, e, "POST", fmt.Sprintf("/api/v1/waves/%d/resume", id), e.Key, nil); st != 409 {
		t.Errorf("resuming a cancelled wave: %d, want 409", st)
	}
	if st, _ := call(t, e, "POST", fmt.Sprintf("/api/v1/waves/%d/launch", id), e.Key, nil); st != 409 {
		t.Errorf("launching a cancelled wave: %d, want 409", st)
	}
	// Organizations nobody was told about are notified by the next wave;
	// the ones already told are not told again.
	plan, err := e.Client.PlanWave(context.Background(), "cancel", templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Notices == 0 || plan.Notices+len(alreadyTold(t, e, id)) != 7 {
		t.Errorf("replan after cancel = %+v, want the %d untold organizations", plan, 7-len(alreadyTold(t, e, id)))
	}
}

// TestCancelWaitsForAClaimInProgress: a job claiming deliveries while the
// wave is cancelled keeps them (it sends them), and the cancel leaves them
// to it. Cancel must not read the claims before that claim commits, or it
// would cancel deliveries the job then sends.
func TestCancelWaitsForAClaimInProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	slug := e.LoadSample(t, "cancel-race")
	waveID := planAndLaunch(t, e, slug)
	ds, err := e.App.Store.WaveDeliveries(ctx, waveID)
	if err != nil || len(ds) < 4 {
		t.Fatalf("deliveries = %d, %v", len(ds), err)
	}
	claimed := []int64{ds[0].ID, ds[1].ID, ds[2].ID}
	slices.Sort(claimed)

	// A claim in progress: the wave's claim lock held and the deliveries
	// read as queued; the claim row is written after the cancel started
	// (the claim statement writes it last).
	tx, err := e.App.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := store.LockClaims(ctx, tx, waveID); err != nil {
		t.Fatal(err)
	}
	cancelled := make(chan int, 1)
	go func() {
		st, _ := call(t, e, "POST", fmt.Sprintf("/api/v1/waves/%d/cancel", waveID), e.Key, nil)
		cancelled <- st
	}()
	time.Sleep(200 * time.Millisecond) // time for the cancel to reach the lock
	select {
	case st := <-cancelled:
		t.Fatalf("cancel answered %d while a claim of the wave was in progress", st)
	default:
	}
	if _, err := tx.Exec(ctx, `INSERT INTO delivery_claims (job_id, wave_id, delivery_ids) VALUES (-1, $1, $2)`, waveID, claimed); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if st := <-cancelled; st != 200 {
		t.Fatalf("cancel: %d", st)
	}
	ds, err = e.App.Store.WaveDeliveries(ctx, waveID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		want := notifier.DeliveryCancelled
		if slices.Contains(claimed, d.ID) {
			want = notifier.DeliveryQueued // the claiming job's to send
		}
		if d.Status != want {
			t.Errorf("delivery %d: %s, want %s", d.ID, d.Status, want)
		}
	}
}

// alreadyTold lists the organizations with a sent delivery in a wave.
func alreadyTold(t *testing.T, e *apptest.Env, waveID int64) map[int64]bool {
	ds, err := e.App.Store.WaveDeliveries(context.Background(), waveID)
	if err != nil {
		t.Fatal(err)
	}
	told := map[int64]bool{}
	for _, d := range ds {
		if d.Status == notifier.DeliverySent {
			told[d.NoticeID] = true
		}
	}
	return told
}

func TestReportProvesWhatWasSent(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	e.Replies.Next("soc@contoso.example", capture.StepRcpt, capture.Fault{Code: 451, Message: "4.7.1 Try later"})
	e.Replies.Always("secops@tailspin.example", capture.StepRcpt, capture.Fault{Code: 550, Message: "5.1.1 No such user"})
	// A hostile organization name must come out of the CSV inert, and so
	// must a contact name that hides a formula behind a semicolon (German
	// and French spreadsheets split on it).
	if _, err := e.Client.ImportOrganizations(context.Background(), strings.NewReader(
		"org_ref,org_name,contact_email,contact_name\nevil,\"=HYPERLINK(\"\"http://x.example\"\")\",a@evil.example,foo;=cmd|' /C calc'!A0\n"), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	slug := e.LoadSample(t, "proof")
	if _, err := e.Client.ImportExposures(context.Background(), slug, strings.NewReader("org_ref,item_ref,kind\nevil,E-1,file\n"), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	w := e.LaunchInitial(t, slug)
	if w.Deliveries[notifier.DeliverySent] != 12 || w.Deliveries[notifier.DeliveryFailed] != 1 {
		t.Fatalf("wave = %+v", w.Deliveries)
	}
	received := map[string][]byte{}
	for _, m := range e.Mailbox.Messages() {
		received[m.Recipients[0]] = m.Raw
	}

	st, b := call(t, e, "GET", "/api/v1/incidents/"+slug+"/report?format=json", e.Key, nil)
	if st != 200 {
		t.Fatalf("report: %d %s", st, b)
	}
	rep := decode[struct {
		Incident string               `json:"incident"`
		Rows     []notifier.ReportRow `json:"rows"`
	}](t, b)
	if rep.Incident != slug || len(rep.Rows) != 13 {
		t.Fatalf("report has %d rows for %q, want 13 (12 sample contacts + 1)", len(rep.Rows), rep.Incident)
	}
	for _, r := range rep.Rows {
		raw, ok := received[r.ContactEmail]
		switch {
		case r.ContactEmail == "secops@tailspin.example":
			if ok || r.Status != notifier.DeliveryFailed || len(r.Attempts) != 1 || !strings.Contains(r.Attempts[0].Reply, "550") {
				t.Errorf("failed row = %+v", r)
			}
		case r.Status == notifier.DeliverySent:
			sum := sha256.Sum256(raw)
			p := apptest.Parse(t, raw)
			if !ok || hex.EncodeToString(sum[:]) != r.MessageSHA256 || strings.Trim(p.Header.Get("Message-Id"), "<>") != r.MessageID ||
				r.TemplateVersion == "" || r.NoticeKind != "initial" || r.SentAt == nil {
				t.Errorf("row for %s does not match what the server received: %+v", r.ContactEmail, r)
			}
			last := r.Attempts[len(r.Attempts)-1]
			if last.Type != "sent" || last.SMTPCode == nil || *last.SMTPCode != 250 {
				t.Errorf("row for %s: last attempt %+v", r.ContactEmail, last)
			}
			if r.ContactEmail == "soc@contoso.example" && (len(r.Attempts) != 2 || r.Attempts[0].Type != "deferred") {
				t.Errorf("greylisted contact attempts = %+v", r.Attempts)
			}
		}
	}

	st, b = call(t, e, "GET", "/api/v1/incidents/"+slug+"/report?format=csv", e.Key, nil)
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if st != 200 || err != nil || len(recs) != 14 {
		t.Fatalf("csv report: %d, %d records, %v", st, len(recs), err)
	}
	for _, rec := range recs[1:] {
		if rec[0] == "evil" && (rec[1] != `'=HYPERLINK("http://x.example")` || rec[3] != "foo;'=cmd|' /C calc'!A0") {
			t.Errorf("formula not neutralised: %q", rec)
		}
	}
	if !bytes.Contains(b, []byte(`,"foo;'=cmd|' /C calc'!A0",`)) {
		t.Errorf("the contact name with a semicolon is not quoted:\n%s", b)
	}
	// Exporting the proof is itself on the record.
	st, b = call(t, e, "GET", "/api/v1/audit?action=report.export", e.Key, nil)
	if page := decode[notifier.ListResult[notifier.AuditEntry]](t, b); st != 200 || len(page.Items) != 2 {
		t.Errorf("report exports audited: %d %d", st, len(page.Items))
	}
}

func TestAuditTrailIsAppendOnlyAndChained(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	ctx := context.Background()
	e.LoadSample(t, "audit")
	st, b := call(t, e, "GET", "/api/v1/audit/verify", e.Key, nil)
	v := decode[notifier.AuditVerification](t, b)
	if st != 200 || !v.OK || v.Entries < 4 {
		t.Fatalf("verify = %d %+v", st, v)
	}
	page := decode[notifier.ListResult[notifier.AuditEntry]](t, func() []byte { _, b := call(t, e, "GET", "/api/v1/audit", e.Key, nil); return b }())
	for _, en := range page.Items {
		if en.RequestID == "" && en.ActorKey != nil {
			t.Errorf("entry %d (%s) has no request id", en.ID, en.Action)
		}
	}
	// The table's triggers refuse changes even to its owner (the service's
	// own role may not even try: TestServiceRoleCannotRewriteTheAuditTrail).
	owner := e.Owner(t)
	if _, err := owner.Exec(ctx, `UPDATE audit_log SET actor_name = 'mallory' WHERE id = 2`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("UPDATE on audit_log: %v, want refused", err)
	}
	if _, err := owner.Exec(ctx, `DELETE FROM audit_log WHERE id = 2`); err == nil {
		t.Fatal("DELETE on audit_log was allowed")
	}
	if _, err := owner.Exec(ctx, `TRUNCATE audit_log`); err == nil {
		t.Fatal("TRUNCATE on audit_log was allowed")
	}
	// Someone with the table owner's rights disables the guard and edits a row:
	// the chain gives it away.
	if _, err := owner.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER USER;
		UPDATE audit_log SET details = '{"rows":1}' WHERE id = 3;
		ALTER TABLE audit_log ENABLE TRIGGER USER`); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	_, b = call(t, e, "GET", "/api/v1/audit/verify", e.Key, nil)
	if v := decode[notifier.AuditVerification](t, b); v.OK || v.BrokenAt != 3 || !strings.Contains(v.Reason, "changed") {
		t.Errorf("after tampering: %+v, want broken at 3", v)
	}
}
