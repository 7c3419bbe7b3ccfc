package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/bouncehooks"
	"github.com/breachnotify/breachnotify/notifier/bouncehooks/snstest"
)

// postProvider posts body to a provider's webhook with header (pairs).
func postProvider(t *testing.T, e *apptest.Env, provider string, body []byte, header ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.App.URL()+"/api/v1/bounces/providers/"+provider, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

func providerFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../bouncehooks/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestProviderBounceWebhooks posts the providers' documented samples,
// pointed at real deliveries and signed as each provider signs, to a
// running service: a Mailgun permanent failure bounces its delivery and
// contact (audited as the provider) and the same webhook again records
// nothing more; a SendGrid deferral only adds an event; a Postmark bounce
// without its credentials is refused; a provider not configured is not
// found; a forged signature, an oversized body and a flood are refused.
// The metric counts each by source and outcome.
func TestProviderBounceWebhooks(t *testing.T) {
	t.Parallel()
	sendgridKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const mailgunKey = "key-mailgun-signing-test"
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		c.Bounces.MailgunSigningKey = mailgunKey
		c.Bounces.SendGridPublicKey = &sendgridKey.PublicKey
		c.Bounces.PostmarkUser, c.Bounces.PostmarkPassword = "postmark", "0123456789abcdef"
	}})
	ctx := context.Background()
	w := e.LaunchInitial(t, e.LoadSample(t, "providers"))
	tailspin := findDelivery(t, e, w.ID, "secops@tailspin.example")
	northwind := findDelivery(t, e, w.ID, "security@northwind.example")

	// Mailgun: the permanent failure sample, for tailspin's delivery.
	mg := providerFixture(t, "mailgun-failed-permanent.json")
	ev := mg["event-data"].(map[string]any)
	ev["recipient"] = tailspin.Recipient
	ev["message"].(map[string]any)["headers"].(map[string]any)["message-id"] = tailspin.MessageID
	stamp, token := strconv.FormatInt(time.Now().Unix(), 10), "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
	mac := hmac.New(sha256.New, []byte(mailgunKey))
	mac.Write([]byte(stamp + token))
	mg["signature"] = map[string]string{"timestamp": stamp, "token": token, "signature": hex.EncodeToString(mac.Sum(nil))}
	mgBody, _ := json.Marshal(mg)
	if st, b := postProvider(t, e, "mailgun", mgBody); st != 200 || !bytes.Contains(b, []byte(`"recorded":1`)) {
		t.Fatalf("mailgun: %d %s", st, b)
	}
	if d := findDelivery(t, e, w.ID, tailspin.Recipient); d.Status != notifier.DeliveryBounced {
		t.Errorf("delivery after the mailgun bounce: %s, want bounced", d.Status)
	}
	if c, _ := e.App.Store.Contact(ctx, tailspin.ContactID); c.Status != notifier.ContactBounced {
		t.Errorf("contact after the mailgun bounce: %s, want bounced", c.Status)
	}
	var actor string
	if err := e.App.Pool.QueryRow(ctx, `SELECT actor_name FROM audit_log WHERE action = 'bounce.record' ORDER BY id DESC LIMIT 1`).Scan(&actor); err != nil || actor != "bounce webhook (mailgun)" {
		t.Errorf("audited as %q, %v", actor, err)
	}
	// Mailgun retries: recorded once.
	if st, b := postProvider(t, e, "mailgun", mgBody); st != 200 || !bytes.Contains(b, []byte(`"duplicates":1`)) {
		t.Errorf("mailgun again: %d %s", st, b)
	}
	forged := bytes.Replace(mgBody, []byte(`"severity":"permanent"`), []byte(`"severity":"temporary"`), 1)
	forged = bytes.Replace(forged, []byte(token), []byte("b"+token[1:]), 1)
	if st, b := postProvider(t, e, "mailgun", forged); st != 401 {
		t.Errorf("forged mailgun: %d %s", st, b)
	}
	if st, _ := postProvider(t, e, "mailgun", bytes.Repeat([]byte("x"), 2<<20)); st != 413 {
		t.Errorf("a 2 MiB body: %d, want 413", st)
	}

	// SendGrid: a deferral of northwind's delivery, signed.
	sg := `[{"email":"` + northwind.Recipient + `","timestamp":1513299569,"smtp-id":"<` + northwind.MessageID + `>","event":"deferred",` +
		`"sg_event_id":"t7LEShmowp86DTdUW8M-GQ==","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001","response":"400 try again later","attempt":"5"},` +
		`{"email":"` + northwind.Recipient + `","timestamp":1513299569,"event":"open","sg_event_id":"FOTFFO0ecsBE-zxFXfs6WA=="}]`
	sgStamp := strconv.FormatInt(time.Now().Unix(), 10)
	sum := sha256.Sum256([]byte(sgStamp + sg))
	sig, _ := ecdsa.SignASN1(rand.Reader, sendgridKey, sum[:])
	st, b := postProvider(t, e, "sendgrid", []byte(sg), bouncehooks.SendGridSignatureHeader, base64.StdEncoding.EncodeToString(sig), bouncehooks.SendGridTimestampHeader, sgStamp)
	if st != 200 || !bytes.Contains(b, []byte(`"recorded":1`)) || !bytes.Contains(b, []byte(`"ignored":1`)) {
		t.Fatalf("sendgrid: %d %s", st, b)
	}
	d, _ := e.App.Store.Delivery(ctx, northwind.ID)
	if d.Status != notifier.DeliverySent || d.Events[len(d.Events)-1].Type != "dsn_delayed" {
		t.Errorf("delivery after the sendgrid deferral: %s, last event %+v; want sent with a dsn_delayed event", d.Status, d.Events[len(d.Events)-1])
	}

	// Postmark: refused without its credentials, taken with them (its
	// sample names no Message-ID of ours: kept unmatched).
	pm, _ := os.ReadFile("../bouncehooks/testdata/postmark-bounce.json")
	if st, b := postProvider(t, e, "postmark", pm); st != 401 {
		t.Errorf("postmark without credentials: %d %s", st, b)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("postmark:0123456789abcdef"))
	if st, b := postProvider(t, e, "postmark", pm, "Authorization", auth); st != 200 || !bytes.Contains(b, []byte(`"recorded":1`)) {
		t.Errorf("postmark: %d %s", st, b)
	}
	// SES is not configured here.
	if st, b := postProvider(t, e, "ses", []byte(`{}`)); st != 404 || !bytes.Contains(b, []byte("BREACHNOTIFY_BOUNCE_")) {
		t.Errorf("ses not configured: %d %s", st, b)
	}

	_, metrics := scrape(t, e.App.URL(), "")
	for _, want := range []string{
		`breachnotify_bounces_ingested_total{outcome="applied",source="mailgun"} 1`,
		`breachnotify_bounces_ingested_total{outcome="duplicate",source="mailgun"} 1`,
		`breachnotify_bounces_ingested_total{outcome="rejected",source="mailgun"} 2`,
		`breachnotify_bounces_ingested_total{outcome="recorded",source="sendgrid"} 1`,
		`breachnotify_bounces_ingested_total{outcome="unmatched",source="postmark"} 1`,
		`breachnotify_bounces_ingested_total{outcome="rejected",source="postmark"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// A flood from one address is cut off with 429 and Retry-After.
	limited := false
	for i := 0; i < 1000 && !limited; i++ {
		st, _ := postProvider(t, e, "postmark", pm)
		limited = st == http.StatusTooManyRequests
	}
	if !limited {
		t.Error("1,000 requests from one address were never rate limited")
	}
}

// TestSESBounceWebhook confirms the SNS subscription, then takes SES's
// documented bounce notification, pointed at a real delivery and signed
// as SNS signs (a certificate of the test's own, served for a URL on an
// SNS host): the delivery bounces, and SNS's retry records nothing more.
// A notification of another topic is refused.
func TestSESBounceWebhook(t *testing.T) {
	t.Parallel()
	sns := snstest.New(t)
	e := apptest.Start(t, apptest.Options{
		Configure: func(c *config.Config) { c.Bounces.SESTopicARNs = []string{snstest.Topic} },
		SNSFetch:  sns.Fetch,
	})
	w := e.LaunchInitial(t, e.LoadSample(t, "ses"))
	tailspin := findDelivery(t, e, w.ID, "secops@tailspin.example")

	confirm := "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + snstest.Topic + "&Token=2336412f37"
	sub := sns.Sign(t, "1", map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
		"Token": "2336412f37", "TopicArn": snstest.Topic, "Message": "You have chosen to subscribe to the topic " + snstest.Topic,
		"SubscribeURL": confirm, "Timestamp": "2012-04-26T20:45:04.751Z"})
	if st, b := postProvider(t, e, "ses", sub, "Content-Type", "text/plain; charset=UTF-8"); st != 200 || !bytes.Contains(b, []byte("confirmed")) {
		t.Fatalf("subscription confirmation: %d %s", st, b)
	}

	n := providerFixture(t, "ses-bounce.json")
	n["mail"].(map[string]any)["commonHeaders"].(map[string]any)["messageId"] = "<" + tailspin.MessageID + ">"
	n["bounce"].(map[string]any)["bouncedRecipients"].([]any)[0].(map[string]any)["emailAddress"] = tailspin.Recipient
	message, _ := json.Marshal(n)
	body := sns.Sign(t, "2", snstest.Notification("22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", message))
	if st, b := postProvider(t, e, "ses", body, "Content-Type", "text/plain; charset=UTF-8"); st != 200 || !bytes.Contains(b, []byte(`"recorded":1`)) {
		t.Fatalf("ses bounce: %d %s", st, b)
	}
	if d := findDelivery(t, e, w.ID, tailspin.Recipient); d.Status != notifier.DeliveryBounced {
		t.Errorf("delivery after the ses bounce: %s, want bounced", d.Status)
	}
	if st, b := postProvider(t, e, "ses", body); st != 200 || !bytes.Contains(b, []byte(`"duplicates":1`)) {
		t.Errorf("ses retry: %d %s", st, b)
	}
	other := snstest.Notification("33b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", message)
	other["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-elses"
	if st, b := postProvider(t, e, "ses", sns.Sign(t, "2", other)); st != 401 {
		t.Errorf("another account's topic: %d %s", st, b)
	}
}
