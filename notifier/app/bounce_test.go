package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
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

func postRaw(t *testing.T, e *apptest.Env, path, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.App.URL()+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.Key)
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

func TestBouncesUnreachableAndResend(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	w := e.LaunchInitial(t, e.LoadSample(t, "bounce"))
	tailspin := findDelivery(t, e, w.ID, "secops@tailspin.example")
	northwind := findDelivery(t, e, w.ID, "security@northwind.example")

	// An unparseable report is kept as unknown and changes nothing.
	st, b := postRaw(t, e, "/api/v1/bounces", "message/rfc822", []byte("Subject: out of office\r\n\r\nback monday"))
	if page := decode[notifier.ListResult[notifier.Bounce]](t, b); st != 201 || len(page.Items) != 1 || page.Items[0].Kind != notifier.BounceUnknown || page.Items[0].Applied {
		t.Fatalf("garbage report: %d %s", st, b)
	}
	// A delayed report only adds an event.
	dsn := bytes.ReplaceAll(sampledata.File(sampledata.HardBounce), []byte("REPLACE-WITH-DELIVERY-MESSAGE-ID@notify.example"), []byte(tailspin.MessageID))
	delayed := bytes.Replace(bytes.Replace(dsn, []byte("Action: failed"), []byte("Action: delayed"), 1), []byte("Status: 5.1.1"), []byte("Status: 4.4.7"), 1)
	if st, b := postRaw(t, e, "/api/v1/bounces", "message/rfc822", delayed); st != 201 || !bytes.Contains(b, []byte(`"kind":"delayed"`)) {
		t.Fatalf("delayed report: %d %s", st, b)
	}
	if d := findDelivery(t, e, w.ID, "secops@tailspin.example"); d.Status != notifier.DeliverySent {
		t.Fatalf("a delayed report changed the delivery to %s", d.Status)
	}
	// The hard bounce marks the delivery and the contact bounced.
	st, b = postRaw(t, e, "/api/v1/bounces", "message/rfc822", dsn)
	got := decode[notifier.ListResult[notifier.Bounce]](t, b)
	if st != 201 || len(got.Items) != 1 || !got.Items[0].Applied || got.Items[0].DeliveryID == nil || *got.Items[0].DeliveryID != tailspin.ID {
		t.Fatalf("hard bounce: %d %s", st, b)
	}
	detail, _ := e.App.Store.Delivery(ctx, tailspin.ID)
	if detail.Status != notifier.DeliveryBounced || detail.Events[len(detail.Events)-1].Type != "bounced" {
		t.Fatalf("delivery after bounce = %+v", detail)
	}
	c, _ := e.App.Store.Contact(ctx, detail.ContactID)
	if c.Status != notifier.ContactBounced || !strings.Contains(c.StatusReason, "5.1.1") {
		t.Fatalf("contact after bounce = %+v", c)
	}
	// The JSON form, for another organization.
	if st, b := call(t, e, "POST", "/api/v1/bounces", e.Key, map[string]string{"message_id": "<" + northwind.MessageID + ">", "recipient": northwind.Recipient, "status": "5.2.1", "diagnostic": "mailbox disabled"}); st != 201 || !bytes.Contains(b, []byte(`"applied":true`)) {
		t.Fatalf("json bounce: %d %s", st, b)
	}
	// A report naming another address (an alias the contact forwards to)
	// is kept, not applied.
	soc := findDelivery(t, e, w.ID, "soc@contoso.example")
	if st, b := call(t, e, "POST", "/api/v1/bounces", e.Key, map[string]string{"message_id": soc.MessageID, "recipient": "alias@elsewhere.example", "status": "5.1.1"}); st != 201 || !bytes.Contains(b, []byte(`"applied":false`)) {
		t.Errorf("bounce for another recipient: %d %s, want kept unapplied", st, b)
	}
	if d := findDelivery(t, e, w.ID, "soc@contoso.example"); d.Status != notifier.DeliverySent {
		t.Errorf("delivery after a bounce for another recipient: %s, want sent", d.Status)
	}
	if st, b := call(t, e, "POST", "/api/v1/bounces", e.Key, map[string]string{"message_id": "x@y", "status": "bounced"}); st != 422 {
		t.Errorf("bad json bounce: %d %s", st, b)
	}

	// Tailspin (one contact) is now unreachable; Northwind still has counsel@.
	wave, _ := e.Client.Wave(ctx, w.ID)
	if wave.Notices.Unreachable != 1 {
		t.Errorf("wave unreachable = %d, want 1", wave.Notices.Unreachable)
	}
	st, b = call(t, e, "GET", "/api/v1/incidents/bounce/unreachable", e.Key, nil)
	un := decode[notifier.ListResult[notifier.UnreachableNotice]](t, b)
	if st != 200 || len(un.Items) != 1 || un.Items[0].OrgRef != "tailspin" || un.Items[0].Contacts[0].Status != notifier.DeliveryBounced {
		t.Fatalf("unreachable: %d %s", st, b)
	}

	// Re-sending with nobody new to send to is refused; after adding a
	// contact it reaches the new one only.
	resend := fmt.Sprintf("/api/v1/notices/%d/resend", un.Items[0].NoticeID)
	if st, b := call(t, e, "POST", resend, e.Key, nil); st != 409 {
		t.Errorf("resend with no active contact: %d %s", st, b)
	}
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader("org_ref,org_name,domain,contact_email\ntailspin,Tailspin Toys,tailspin.example,soc2@tailspin.example\n"), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	st, b = call(t, e, "POST", resend, e.Key, nil)
	if r := decode[notifier.Resend](t, b); st != 200 || r.Queued != 1 || r.Wave.Status != notifier.WaveRunning {
		t.Fatalf("resend: %d %s", st, b)
	}
	wave, err := e.Client.WaitWave(ctx, w.ID, 50*time.Millisecond, nil)
	if err != nil || wave.Notices.Unreachable != 0 || countTo(e, "soc2@tailspin.example") != 1 || countTo(e, "secops@tailspin.example") != 1 {
		t.Fatalf("after resend: %+v %v", wave, err)
	}

	// A later wave skips the bounced contact: its delivery is suppressed.
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "later", Title: "Later"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ImportExposures(ctx, "later", strings.NewReader("org_ref,item_ref,kind\ntailspin,T-9,file\n"), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	w2 := e.LaunchInitial(t, "later")
	if w2.Deliveries[notifier.DeliverySuppressed] != 1 || w2.Deliveries[notifier.DeliverySent] != 1 || countTo(e, "secops@tailspin.example") != 1 {
		t.Errorf("later wave = %+v, want the bounced contact suppressed", w2.Deliveries)
	}
}

// TestUnreachableWaitsForRetries lists unreachable notices while retries
// are pending: a notice whose only delivery was deferred, or whose other
// deliveries failed while one was deferred, may still reach someone and is
// not unreachable; one whose every delivery failed is. The list, the
// wave's count and the metric agree.
func TestUnreachableWaitsForRetries(t *testing.T) {
	t.Parallel()
	// Retries an hour away: the deferred deliveries stay deferred, with
	// their retry pending, for the whole test.
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		c.RetryMinDelay, c.RetryMaxDelay = time.Hour, time.Hour
	}})
	ctx := context.Background()
	later := capture.Fault{Code: 451, Message: "4.7.1 Greylisted, please retry"}
	never := capture.Fault{Code: 550, Message: "5.1.1 No such user"}
	e.Replies.Always("secops@tailspin.example", capture.StepRcpt, later) // tailspin's only contact
	e.Replies.Always("security@northwind.example", capture.StepRcpt, never)
	e.Replies.Always("counsel@northwind.example", capture.StepRcpt, later)
	e.Replies.Always("csirt@woodgrove.example", capture.StepRcpt, never)
	e.Replies.Always("rssi@woodgrove.example", capture.StepRcpt, never)
	slug := e.LoadSample(t, "retrying")
	plan, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	want := map[string]notifier.DeliveryStatus{
		"secops@tailspin.example": notifier.DeliveryDeferred, "counsel@northwind.example": notifier.DeliveryDeferred,
		"security@northwind.example": notifier.DeliveryFailed,
		"csirt@woodgrove.example":    notifier.DeliveryFailed, "rssi@woodgrove.example": notifier.DeliveryFailed,
	}
	eventually(t, "every delivery tried once", func() bool {
		ds, err := e.App.Store.WaveDeliveries(ctx, plan.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]notifier.DeliveryStatus{}
		for _, d := range ds {
			if _, scripted := want[d.Recipient]; scripted || d.Status != notifier.DeliverySent {
				got[d.Recipient] = d.Status
			}
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	var pending int
	if err := e.App.Pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE wave_id = $1 AND status = 'deferred' AND next_attempt_at > now()`,
		plan.ID).Scan(&pending); err != nil || pending != 2 {
		t.Fatalf("deliveries waiting for a retry: %d, %v; want 2", pending, err)
	}

	st, b := call(t, e, "GET", "/api/v1/incidents/"+slug+"/unreachable", e.Key, nil)
	var orgs []string
	for _, u := range decode[notifier.ListResult[notifier.UnreachableNotice]](t, b).Items {
		orgs = append(orgs, u.OrgRef)
	}
	if st != 200 || strings.Join(orgs, " ") != "woodgrove" {
		t.Errorf("unreachable while retries are pending: %d %v, want woodgrove alone\n%s", st, orgs, b)
	}
	if w, err := e.Client.Wave(ctx, plan.ID); err != nil || w.Status != notifier.WaveRunning || w.Notices.Unreachable != 1 {
		t.Errorf("wave = %s with %d unreachable, %v; want running with 1", w.Status, w.Notices.Unreachable, err)
	}
	if _, body := scrape(t, e.App.URL(), ""); !strings.Contains(body, "\nbreachnotify_unreachable_organizations 1\n") {
		t.Errorf("metrics: want breachnotify_unreachable_organizations 1")
	}
}
