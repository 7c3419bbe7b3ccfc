package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/notifier/vault"
	"github.com/breachnotify/breachnotify/notifier/webhook"
	"github.com/breachnotify/breachnotify/queue"
)

var admin = notifier.Actor{Name: "webhook test admin", Role: notifier.RoleAdmin}

// receiver is a real HTTP receiver that verifies every request with the
// official Standard Webhooks library, under each secret it is given, and
// answers with the next scripted status (204 once the script is over).
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	script   []int
	secrets  []string
	requests []received
}

// received is one request as the receiver saw it.
type received struct {
	ID       string
	Body     []byte
	Verified []bool // per secret, in the order given
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		rec := received{ID: req.Header.Get("webhook-id"), Body: body}
		for _, s := range r.secrets {
			wh, err := standardwebhooks.NewWebhook(s)
			if err != nil {
				t.Errorf("the official library refuses secret %q: %v", s, err)
				continue
			}
			rec.Verified = append(rec.Verified, wh.Verify(body, req.Header) == nil)
		}
		r.requests = append(r.requests, rec)
		status := http.StatusNoContent
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) trust(secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, secret)
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.requests...)
}

// bundle is what setup returns beside the use cases.
type bundle struct {
	pool       *pgxpool.Pool
	store      *store.Store
	dispatcher *webhook.Dispatcher
	observed   *outcomes
}

// outcomes counts ObserveWebhook calls.
type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) ObserveWebhook(outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n[outcome]++
}

// localPolicy lets endpoints be httptest servers on loopback http.
var localPolicy = webhook.Policy{AllowLocalHTTP: true}

// setup gives each test a fresh database, the webhook use cases and a
// dispatcher whose retries come due at once (a microsecond's backoff),
// so a test drives attempts one after the other without waiting.
func setup(t *testing.T) (*webhook.Service, *bundle) {
	t.Helper()
	pool := testdb.ServicePool(t, 0)
	jobs, err := queue.NewInserter(pool, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: []byte("the webhook tests' audit key, 32")})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool, store.Config{Jobs: jobs, AuditKeys: keys})
	ring, err := vault.NewKeyring(bytes.Repeat([]byte{5}, vault.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	obs := &outcomes{n: map[string]int{}}
	svc := webhook.NewService(webhook.Config{Store: st, Keyring: ring, Policy: localPolicy, Overlap: time.Hour})
	d := webhook.NewDispatcher(webhook.DispatcherConfig{Store: st, Keyring: ring, Sender: webhook.NewSender(localPolicy, 5*time.Second),
		Retry: delivery.RetryPolicy{Min: time.Microsecond, Max: time.Microsecond, Lifetime: time.Hour}, Observer: obs})
	return svc, &bundle{pool: pool, store: st, dispatcher: d, observed: obs}
}

func register(t *testing.T, svc *webhook.Service, url string) webhook.CreatedEndpoint {
	t.Helper()
	e, err := svc.CreateEndpoint(context.Background(), admin, webhook.EndpointInput{URL: &url})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSignedDeliveryVerifies: a test event reaches a real receiver, and
// the official Standard Webhooks library verifies its signature with the
// secret shown at registration; the body is the documented envelope.
func TestSignedDeliveryVerifies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	r := newReceiver(t)
	e := register(t, svc, r.srv.URL+"/hooks")
	if !strings.HasPrefix(e.Secret, "whsec_") {
		t.Fatalf("secret %q is not a whsec_ secret", e.Secret)
	}
	r.trust(e.Secret)
	r.trust(webhook.FormatSecret([]byte("some other secret entirely")))

	d, err := svc.SendTest(ctx, admin, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	retryAt, _, err := b.dispatcher.Attempt(ctx, d.ID)
	if err != nil || !retryAt.IsZero() {
		t.Fatalf("attempt: retry at %v, %v", retryAt, err)
	}
	got := r.got()
	if len(got) != 1 || !got[0].Verified[0] || got[0].Verified[1] {
		t.Fatalf("received %+v: want one request, verified by its secret and by no other", got)
	}
	if got[0].ID != d.MessageID {
		t.Errorf("webhook-id %q, want the delivery's message id %q", got[0].ID, d.MessageID)
	}
	var env struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      map[string]any  `json:"data"`
		Extra     json.RawMessage `json:"extra"`
	}
	if err := json.Unmarshal(got[0].Body, &env); err != nil || env.Type != "webhook.test" || env.Timestamp.IsZero() || env.Data["endpoint_id"] != float64(e.ID) {
		t.Errorf("body %s: %+v, %v", got[0].Body, env, err)
	}
	log, err := svc.Deliveries(ctx, admin, e.ID, notifier.Page{Limit: 10})
	if err != nil || len(log.Items) != 1 || log.Items[0].Status != webhook.StatusSucceeded || log.Items[0].Attempts[0].StatusCode != 204 {
		t.Errorf("log: %+v, %v", log, err)
	}
	// A job that runs again for a settled delivery sends nothing.
	if _, _, err := b.dispatcher.Attempt(ctx, d.ID); err != nil || len(r.got()) != 1 {
		t.Errorf("second job: %v, %d requests", err, len(r.got()))
	}
}

// TestRetriesUntilAccepted: a receiver that fails twice then accepts gets
// three attempts, each logged with its status and the next retry; the
// same webhook-id every time, so the receiver can deduplicate.
func TestRetriesUntilAccepted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	r := newReceiver(t, http.StatusServiceUnavailable, http.StatusInternalServerError)
	e := register(t, svc, r.srv.URL)
	r.trust(e.Secret)
	d, err := svc.SendTest(ctx, admin, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	var retries []time.Time
	for range 3 {
		retryAt, now, err := b.dispatcher.Attempt(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !retryAt.IsZero() && !retryAt.After(now) {
			t.Errorf("retry at %v is not after now %v", retryAt, now)
		}
		retries = append(retries, retryAt)
	}
	if retries[0].IsZero() || retries[1].IsZero() || !retries[2].IsZero() {
		t.Errorf("retries planned %v: want two, then none", retries)
	}
	got := r.got()
	if len(got) != 3 || got[0].ID != got[2].ID || !got[2].Verified[0] {
		t.Fatalf("received %+v", got)
	}
	log, err := svc.Deliveries(ctx, admin, e.ID, notifier.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	a := log.Items[0].Attempts
	if log.Items[0].Status != webhook.StatusSucceeded || len(a) != 3 || a[0].StatusCode != 503 || a[0].Error != "HTTP 503" || a[0].NextRetryAt == nil ||
		a[1].StatusCode != 500 || a[2].StatusCode != 204 || a[2].NextRetryAt != nil {
		t.Errorf("log %+v", log.Items[0])
	}
	if b.observed.n[webhook.OutcomeRetrying] != 2 || b.observed.n[webhook.OutcomeSucceeded] != 1 {
		t.Errorf("observed %v", b.observed.n)
	}

	// Manual redelivery of the delivered event sends it again, same id.
	if _, err := svc.Redeliver(ctx, admin, e.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.dispatcher.Attempt(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if got := r.got(); len(got) != 4 || got[3].ID != got[0].ID {
		t.Errorf("after redelivery: %d requests", len(got))
	}
}

// TestGivesUp: 410 Gone is the receiver asking not to be sent again: the
// delivery fails at once, without retries.
func TestGivesUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	r := newReceiver(t, http.StatusGone)
	e := register(t, svc, r.srv.URL)
	d, err := svc.SendTest(ctx, admin, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if retryAt, _, err := b.dispatcher.Attempt(ctx, d.ID); err != nil || !retryAt.IsZero() {
		t.Fatalf("410: retry at %v, %v; want none", retryAt, err)
	}
	log, _ := svc.Deliveries(ctx, admin, e.ID, notifier.Page{Limit: 10})
	if log.Items[0].Status != webhook.StatusFailed {
		t.Errorf("after 410: %+v", log.Items[0])
	}
}

// TestRotationOverlap: after a rotation both secrets sign, so a receiver
// with either verifies; once the old one expires only the new one does.
func TestRotationOverlap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, b := setup(t)
	r := newReceiver(t)
	e := register(t, svc, r.srv.URL)
	rotated, err := svc.RotateSecret(ctx, admin, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == e.Secret || len(rotated.Secrets) != 2 || rotated.Secrets[0].ExpiresAt == nil || rotated.Secrets[1].ExpiresAt != nil {
		t.Fatalf("rotated: %+v", rotated.Endpoint)
	}
	r.trust(e.Secret)
	r.trust(rotated.Secret)

	send := func() received {
		t.Helper()
		d, err := svc.SendTest(ctx, admin, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.dispatcher.Attempt(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		got := r.got()
		return got[len(got)-1]
	}
	if got := send(); !got.Verified[0] || !got.Verified[1] {
		t.Errorf("during the overlap: verified %v, want by both secrets", got.Verified)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE webhook_secrets SET expires_at = now() - interval '1 second' WHERE expires_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if got := send(); got.Verified[0] || !got.Verified[1] {
		t.Errorf("after the overlap: verified %v, want by the new secret only", got.Verified)
	}
	shown, err := svc.Endpoint(ctx, admin, e.ID)
	if err != nil || len(shown.Secrets) != 1 {
		t.Errorf("endpoint after expiry lists secrets %+v, %v; want the new one", shown.Secrets, err)
	}
}

// TestSSRFRefused: URLs that would reach the service's own network are
// refused at registration, and an address refused at connection time
// (a name that resolves inward later) is never connected to.
func TestSSRFRefused(t *testing.T) {
	t.Parallel()
	strict := webhook.Policy{}
	for _, u := range []string{
		"http://hooks.example.com/in",    // not https
		"https://127.0.0.1/in",           // loopback
		"https://localhost/in",           // this machine
		"https://10.1.2.3/in",            // private
		"https://169.254.169.254/latest", // link-local: cloud metadata
		"https://[fd00::1]/in",           // unique-local
		"https://[::ffff:192.168.1.1]/",  // private, mapped into IPv6
		"https://100.64.0.1/",            // shared address space
		"https://0.0.0.0/",               // unspecified
		"https://user:pw@hooks.example.com/",
		"ftp://hooks.example.com/",
		"https:///no-host",
	} {
		if err := strict.CheckURL(u); err == nil {
			t.Errorf("CheckURL(%q) accepted", u)
		}
	}
	for _, u := range []string{"https://hooks.example.com/in", "https://93.184.215.14:8443/x?y=1", "https://[2001:4860::8888]/"} {
		if err := strict.CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q): %v", u, err)
		}
	}
	if err := (webhook.Policy{AllowPrivate: true}).CheckURL("https://10.1.2.3/in"); err != nil {
		t.Errorf("private allowed: %v", err)
	}
	if err := localPolicy.CheckURL("http://127.0.0.1:8080/in"); err != nil {
		t.Errorf("local http allowed: %v", err)
	}
	if err := localPolicy.CheckURL("http://10.1.2.3/in"); err == nil {
		t.Error("local http allowed http to a private address")
	}

	// At connection time: the receiver is on loopback, the policy strict.
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer srv.Close()
	res := webhook.NewSender(strict, time.Second).Send(context.Background(), webhook.Message{URL: srv.URL, MsgID: "msg_1", At: time.Now(),
		Body: []byte("{}"), Secrets: [][]byte{[]byte("k")}})
	if hit || res.Verdict == delivery.Accepted || !strings.Contains(res.Reply, "refused") {
		t.Errorf("strict sender reached loopback: hit %v, %+v", hit, res)
	}
}

// TestParseEndpointInput: every problem is named by its field.
func TestParseEndpointInput(t *testing.T) {
	t.Parallel()
	_, err := webhook.ParseEndpointInput([]byte(`{"url":"http://x.example/","events":["wave.completed","nope","wave.completed"],"description":"`+strings.Repeat("d", 600)+`"}`), true, webhook.Policy{})
	var ne *notifier.Error
	if !errors.As(err, &ne) || ne.Code != notifier.CodeInvalid {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"url: must use https", `events: unknown event type "nope"`, `"wave.completed" is listed twice`, "description:"} {
		if !strings.Contains(ne.Message, want) {
			t.Errorf("message %q does not say %q", ne.Message, want)
		}
	}
	if _, err := webhook.ParseEndpointInput([]byte(`{"url":"https://x.example/","color":"red"}`), true, webhook.Policy{}); err == nil {
		t.Error("unknown field accepted")
	}
	if _, err := webhook.ParseEndpointInput([]byte(`{"description":"x"}`), true, webhook.Policy{}); err == nil {
		t.Error("registration without url accepted")
	}
	if _, err := webhook.ParseEndpointInput([]byte(`{"incident":"x"}`), false, webhook.Policy{}); err == nil {
		t.Error("moving an endpoint to another incident accepted")
	}
	in, err := webhook.ParseEndpointInput([]byte(`{"enabled":false}`), false, webhook.Policy{})
	if err != nil || in.Enabled == nil || *in.Enabled || in.URL != nil {
		t.Errorf("change of enabled: %+v, %v", in, err)
	}
}

// FuzzParseEndpointInput: any body is refused with a coded error or gives
// an endpoint whose URL passes the policy.
func FuzzParseEndpointInput(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://hooks.example.com/in","events":["wave.completed"],"description":"SOAR","enabled":true,"incident":"acme"}`,
		`{"url":"http://127.0.0.1:9/"}`, `{"url":"https://[::1]/"}`, `{"events":[]}`, `{"url":null}`, `[]`, `{"url":"https://a.example/"} {}`,
		`{"url":"https://169.254.169.254/"}`, "{\"description\":\"\xff\"}",
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, creating bool) {
		for _, p := range []webhook.Policy{{}, localPolicy} {
			in, err := webhook.ParseEndpointInput(body, creating, p)
			if err != nil {
				if notifier.ErrorCode(err) != notifier.CodeInvalid {
					t.Fatalf("error without the invalid code: %v", err)
				}
				continue
			}
			if creating && in.URL == nil {
				t.Fatal("registration accepted without a URL")
			}
			if in.URL != nil {
				if err := p.CheckURL(*in.URL); err != nil {
					t.Fatalf("accepted URL %q fails the policy: %v", *in.URL, err)
				}
				if p == (webhook.Policy{}) && !strings.HasPrefix(strings.ToLower(*in.URL), "https:") {
					t.Fatalf("strict policy accepted %q", *in.URL)
				}
			}
			if in.Events != nil {
				for _, e := range *in.Events {
					if !webhook.Known(e) {
						t.Fatalf("accepted event type %q", e)
					}
				}
			}
		}
	})
}
