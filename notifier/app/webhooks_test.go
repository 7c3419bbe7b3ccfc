package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/webhook"
)

// hookReceiver is a receiver an IR team's SOAR would run: it verifies
// every request with the official Standard Webhooks library and hands
// the verified events to the test, by type.
type hookReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	secret string
	events chan webhook.Envelope
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{t: t, events: make(chan webhook.Envelope, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		secret := r.secret
		r.mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, req.Header)
		}
		if err != nil {
			t.Errorf("webhook %s does not verify: %v", req.Header.Get("webhook-id"), err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if bytes.Contains(body, []byte("@")) {
			t.Errorf("webhook body carries an address: %s", body)
		}
		var env webhook.Envelope
		if err := json.Unmarshal(body, &env); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		r.events <- env
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// await returns the next event of type typ, skipping others.
func (r *hookReceiver) await(typ webhook.EventType) webhook.Envelope {
	r.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case env := <-r.events:
			if env.Type == typ {
				return env
			}
		case <-deadline:
			r.t.Fatalf("no %s event came", typ)
		}
	}
}

// TestWebhooksEndToEnd: an admin registers an endpoint over the API; the
// test event, a completed wave and a bounce reach the receiver signed
// (verified by the official library); the delivery log, the audit trail
// and the metrics show them.
func TestWebhooksEndToEnd(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) { c.WebhookAllowLocalHTTP = true }})
	ctx := context.Background()
	r := newHookReceiver(t)

	// Refused: an operator, an https-less public URL, cloud metadata.
	operator, _, err := e.App.Service.CreateAPIKey(ctx, notifier.LocalActor("test"), "ops", notifier.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if st, b := call(t, e, "POST", "/api/v1/webhooks", operator, map[string]any{"url": r.srv.URL}); st != http.StatusForbidden {
		t.Errorf("operator registers: %d %s", st, b)
	}
	for _, u := range []string{"http://hooks.example.com/", "https://169.254.169.254/latest/meta-data"} {
		if st, b := call(t, e, "POST", "/api/v1/webhooks", e.Key, map[string]any{"url": u}); st != http.StatusUnprocessableEntity || !bytes.Contains(b, []byte(`"field":"url"`)) {
			t.Errorf("register %s: %d %s, want 422 naming url", u, st, b)
		}
	}

	st, b := call(t, e, "POST", "/api/v1/webhooks", e.Key, map[string]any{"url": r.srv.URL + "/soar", "description": "SOAR"})
	if st != http.StatusCreated {
		t.Fatalf("register: %d %s", st, b)
	}
	created := decode[webhook.CreatedEndpoint](t, b)
	r.mu.Lock()
	r.secret = created.Secret
	r.mu.Unlock()
	if st, b := call(t, e, "GET", fmt.Sprintf("/api/v1/webhooks/%d", created.ID), e.Key, nil); st != 200 || bytes.Contains(b, []byte("whsec_")) {
		t.Errorf("get endpoint: %d %s; the secret is shown only once", st, b)
	}

	if st, b := call(t, e, "POST", fmt.Sprintf("/api/v1/webhooks/%d/test", created.ID), e.Key, nil); st != http.StatusAccepted {
		t.Fatalf("test event: %d %s", st, b)
	}
	r.await(webhook.Test)

	w := e.LaunchInitial(t, e.LoadSample(t, "hooks"))
	completed := r.await(webhook.WaveCompleted)
	var data struct {
		WaveID     int64          `json:"wave_id"`
		Deliveries map[string]int `json:"deliveries"`
	}
	if err := json.Unmarshal(completed.Data, &data); err != nil || data.WaveID != w.ID || data.Deliveries["sent"] == 0 {
		t.Errorf("wave.completed data %s: %+v, %v", completed.Data, data, err)
	}

	tailspin := findDelivery(t, e, w.ID, "secops@tailspin.example")
	if st, b := call(t, e, "POST", "/api/v1/bounces", e.Key, map[string]string{"message_id": tailspin.MessageID, "recipient": tailspin.Recipient, "status": "5.1.1"}); st != 201 {
		t.Fatalf("bounce: %d %s", st, b)
	}
	bounced := r.await(webhook.DeliveryBounced)
	var bouncedData struct {
		DeliveryID int64 `json:"delivery_id"`
		WaveID     int64 `json:"wave_id"`
	}
	if err := json.Unmarshal(bounced.Data, &bouncedData); err != nil || bouncedData.DeliveryID != tailspin.ID || bouncedData.WaveID != w.ID {
		t.Errorf("delivery.bounced data %s", bounced.Data)
	}

	st, b = call(t, e, "GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries", created.ID), e.Key, nil)
	log := decode[notifier.ListResult[webhook.Delivery]](t, b)
	if st != 200 || len(log.Items) < 3 {
		t.Fatalf("delivery log: %d %s", st, b)
	}
	for _, d := range log.Items {
		if d.Status == webhook.StatusSucceeded && (len(d.Attempts) == 0 || d.Attempts[len(d.Attempts)-1].StatusCode != 204) {
			t.Errorf("logged delivery %+v", d)
		}
	}
	oldest := log.Items[len(log.Items)-1]
	if st, b := call(t, e, "POST", fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d/redeliver", created.ID, oldest.ID), e.Key, nil); st != http.StatusAccepted {
		t.Fatalf("redeliver: %d %s", st, b)
	}
	if again := r.await(oldest.Type); again.Type != oldest.Type {
		t.Errorf("redelivered %s", again.Type)
	}

	st, b = call(t, e, "GET", "/api/v1/audit?limit=500", e.Key, nil)
	for _, action := range []string{"webhook.create", "webhook.test", "webhook.redeliver"} {
		if st != 200 || !bytes.Contains(b, []byte(`"action":"`+action+`"`)) {
			t.Errorf("audit trail lacks %s", action)
		}
	}
	st, b = call(t, e, "GET", "/metrics", "", nil)
	if st != 200 || !regexp.MustCompile(`breachnotify_webhook_deliveries_total\{outcome="succeeded"\} [1-9]`).Match(b) {
		t.Errorf("metrics lack succeeded webhook deliveries: %s", grepLines(b, "webhook"))
	}
}

func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
