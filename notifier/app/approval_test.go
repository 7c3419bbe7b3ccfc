package app_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
	"github.com/breachnotify/breachnotify/templates"
)

// fourEyes turns on the approval policy and returns a planner's and an
// approver's keys.
func fourEyes(t *testing.T, e *apptest.Env, slug string, policy map[string]any) (alice, bob string) {
	t.Helper()
	policy["require_approval"] = true
	if st, b := call(t, e, "PATCH", "/api/v1/incidents/"+slug, e.Key, map[string]any{"policy": policy}); st != 200 {
		t.Fatalf("policy: %d %s", st, b)
	}
	return newKey(t, e, "alice", notifier.RoleOperator), newKey(t, e, "bob", notifier.RoleOperator)
}

// planApproved plans a wave of kind as alice and has bob approve it.
func planApproved(t *testing.T, e *apptest.Env, slug, alice, bob string) string {
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

// TestApprovalCoversTheContent approves a plan, then changes, one at a
// time, what its messages would say without changing who gets them: an
// organization's name (to a phishing sentence), a contact's locale, the
// template in use. Each makes the launch a 409; the plan made after the
// change, approved, launches.
func TestApprovalCoversTheContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := apptest.Start(t, apptest.Options{})
	slug := e.LoadSample(t, "content")
	alice, bob := fourEyes(t, e, slug, map[string]any{})
	changes := []struct {
		name, want string
		change     func()
	}{
		{"an organization's name", "plan it again and have the new plan approved", func() {
			importOrgs(t, e, "org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n"+
				"contoso,Contoso Ltd - reset your password at hxxps://evil[.]example,contoso.example,soc@contoso.example,Contoso SOC,security,true,en\n")
		}},
		{"a contact's locale", "plan it again", func() {
			importOrgs(t, e, "org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n"+
				"contoso,Contoso Ltd - reset your password at hxxps://evil[.]example,contoso.example,soc@contoso.example,Contoso SOC,security,true,de\n")
		}},
		{"the template", "the en template version", func() {
			src, _ := templates.DefaultSource(templates.KindInitial, "en")
			src.Subject = "Call us at once about {{.Organization.Name}} [{{.Notice.Reference}}]"
			if _, _, err := e.Client.UploadTemplate(ctx, notifier.TemplateUpload{Kind: templates.KindInitial, Locale: "en", Subject: src.Subject, Text: src.Text, HTML: src.HTML, Activate: &activate}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range changes {
		wave := planApproved(t, e, slug, alice, bob)
		c.change()
		if st, b := call(t, e, "POST", wave+"/launch", alice, nil); st != 409 || !bytes.Contains(b, []byte(c.want)) {
			t.Fatalf("launch after a change of %s: %d %s, want 409 saying %q", c.name, st, b, c.want)
		}
	}
	wave := planApproved(t, e, slug, alice, bob)
	st, b := call(t, e, "POST", wave+"/launch", alice, nil)
	w := decode[notifier.Wave](t, b)
	if st != 200 || w.TemplateVersions["en"] == "" || w.TemplateVersions["de"] == "" {
		t.Fatalf("launch of a current plan: %d %s, want it launched with its template versions pinned", st, b)
	}
	if w, err := e.Client.WaitWave(ctx, w.ID, 50*time.Millisecond, nil); err != nil || w.Status != notifier.WaveCompleted {
		t.Fatalf("wave: %+v %v", w, err)
	}
	soc := messagesTo(t, e, "soc@contoso.example")
	if len(soc) != 1 || !strings.Contains(soc[0].Header.Get("Subject"), "Sicherheitsvorfall") && !strings.Contains(soc[0].Text, "Sicherheitsvorfall") {
		t.Errorf("contoso's SOC (now German) got %d messages; want the German notice", len(soc))
	}
}

// activate is the upload option that makes a version current.
var activate = true

func importOrgs(t *testing.T, e *apptest.Env, csv string) {
	t.Helper()
	if _, err := e.Client.ImportOrganizations(context.Background(), strings.NewReader(csv), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
}

// TestStalePlanIsRefused: without any approval policy, a plan launched
// after the data it showed changed is refused, where it used to launch an
// empty wave and call it completed.
func TestStalePlanIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := apptest.Start(t, apptest.Options{})
	slug := e.LoadSample(t, "stale")
	first, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.LaunchWave(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	// The first plan's organizations were all notified by the second.
	st, b := call(t, e, "POST", fmt.Sprintf("/api/v1/waves/%d/launch", first.ID), e.Key, nil)
	if st != 409 || !bytes.Contains(b, []byte("plan it again")) {
		t.Fatalf("launch of a stale plan: %d %s, want 409", st, b)
	}
}

// TestWaveKeepsItsTemplates activates a new template version while a
// wave is paused halfway: the rest of the wave still goes out with the
// version it was launched with.
func TestWaveKeepsItsTemplates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) { c.Workers, c.ChunkSize = 1, 2 }})
	for rcpt := range batch1Recipients {
		e.Replies.Always(rcpt, capture.StepRcpt, capture.Fault{Delay: 60 * time.Millisecond})
	}
	slug := e.LoadSample(t, "pinned")
	plan, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a first message", func() bool { return len(e.Mailbox.Messages()) > 0 })
	if _, err := e.Client.PauseWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{"en", "de", "fr"} {
		src, _ := templates.DefaultSource(templates.KindInitial, loc)
		if _, _, err := e.Client.UploadTemplate(ctx, notifier.TemplateUpload{Kind: templates.KindInitial, Locale: loc,
			Subject: "CHANGED AFTER LAUNCH {{.Notice.Reference}}", Text: src.Text, HTML: src.HTML, Activate: &activate}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Client.ResumeWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	if w, err := e.Client.WaitWave(ctx, plan.ID, 50*time.Millisecond, nil); err != nil || w.Deliveries[notifier.DeliverySent] != 12 {
		t.Fatalf("wave: %+v %v", w, err)
	}
	for _, m := range e.Mailbox.Messages() {
		if bytes.Contains(m.Raw, []byte("CHANGED AFTER LAUNCH")) {
			t.Fatalf("a message of the wave went out with a template activated after its launch")
		}
	}
}

// TestFollowUpNeedsApproval: under the approval policy an automatic
// follow-up is planned by the service and waits (listed, counted for the
// alert) until a person approves and launches it; a later batch replaces
// the waiting plan with a current one. With
// auto_follow_up_without_approval it goes out by itself again.
func TestFollowUpNeedsApproval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := apptest.Start(t, apptest.Options{})
	slug := e.LoadSample(t, "follow-approval")
	alice, bob := fourEyes(t, e, slug, map[string]any{"follow_up_window": "0s"})
	wave := planApproved(t, e, slug, alice, bob)
	if st, b := call(t, e, "POST", wave+"/launch", alice, nil); st != 200 {
		t.Fatalf("launch: %d %s", st, b)
	}
	waitSettled(t, e, slug)
	sent := len(e.Mailbox.Messages())

	importBatch := func(csv string) {
		if _, err := e.Client.ImportExposures(ctx, slug, strings.NewReader(csv), notifier.FormatCSV); err != nil {
			t.Fatal(err)
		}
	}
	importBatch(string(sampledata.File(sampledata.ExposuresBatch2)))
	var planned notifier.Wave
	waitFor(t, "an automatic follow-up plan", func() bool {
		var ok bool
		planned, ok = automaticPlan(t, e, slug)
		return ok
	})
	if n := len(e.Mailbox.Messages()); n != sent {
		t.Fatalf("%d messages left before any approval", n-sent)
	}
	if v := sample(t, e, `breachnotify_waves_awaiting_approval{automatic="true"}`); v != 1 {
		t.Errorf("waves awaiting approval: %v, want 1", v)
	}
	// Another batch: the waiting plan is replaced by one that covers it.
	importBatch("org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\ncontoso,MSG-100099,email,2024-02-01T10:00:00Z,Late find,More,\n")
	var replacement notifier.Wave
	waitFor(t, "the plan to be superseded", func() bool {
		old, err := e.Client.Wave(ctx, planned.ID)
		if err != nil || old.Status != notifier.WaveCancelled {
			return false
		}
		var ok bool
		replacement, ok = automaticPlan(t, e, slug)
		return ok
	})
	if !auditedAs(t, e, "wave.supersede", "breachnotify (scheduled)") {
		t.Error("the superseded plan is not on the audit trail")
	}
	path := fmt.Sprintf("/api/v1/waves/%d", replacement.ID)
	if st, b := call(t, e, "POST", path+"/launch", alice, nil); st != 409 {
		t.Fatalf("launch without approval: %d %s, want 409", st, b)
	}
	if st, b := call(t, e, "POST", path+"/approve", bob, nil); st != 200 {
		t.Fatalf("approve: %d %s", st, b)
	}
	if st, b := call(t, e, "POST", path+"/launch", alice, nil); st != 200 {
		t.Fatalf("launch: %d %s", st, b)
	}
	waitSettled(t, e, slug)
	contoso := messagesTo(t, e, "soc@contoso.example")
	if len(contoso) != 2 || !strings.Contains(contoso[1].Text, "MSG-100099") || !strings.Contains(contoso[1].Text, "MSG-100004") {
		t.Fatalf("contoso got %d messages; want the initial notice and one follow-up covering both batches", len(contoso))
	}

	// Explicitly trusted: the next follow-up goes out at once.
	setPolicy(t, e, slug, map[string]any{"auto_follow_up_without_approval": true})
	importBatch("org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\ncontoso,MSG-100100,email,2024-02-02T10:00:00Z,Even later,More,\n")
	waitFor(t, "a follow-up sent without approval", func() bool { return len(messagesTo(t, e, "soc@contoso.example")) == 3 })
}

// automaticPlan finds the incident's automatic follow-up waiting for its
// approval.
func automaticPlan(t *testing.T, e *apptest.Env, slug string) (notifier.Wave, bool) {
	t.Helper()
	list, err := e.App.Service.Waves(context.Background(), notifier.LocalActor("t"), slug, notifier.WaveFilter{Status: notifier.WavePlanned}, notifier.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range list.Items {
		if w.Kind == templates.KindFollowUp && w.Automatic {
			return w, true
		}
	}
	return notifier.Wave{}, false
}
