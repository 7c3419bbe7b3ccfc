package queue_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/notifier/vault"
	"github.com/breachnotify/breachnotify/notifier/webhook"
	"github.com/breachnotify/breachnotify/queue"
)

// TestWebhookWorker: a job whose attempt fails is snoozed until the retry
// its dispatcher planned (no River attempt spent); the next run, once the
// receiver accepts, completes it.
func TestWebhookWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ins, b := setup(t)
	keys, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: []byte("the queue tests' audit key, 32 b")})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(b.pool, store.Config{Jobs: ins, AuditKeys: keys})
	ring, err := vault.NewKeyring(bytes.Repeat([]byte{9}, vault.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	policy := webhook.Policy{AllowLocalHTTP: true}
	svc := webhook.NewService(webhook.Config{Store: st, Keyring: ring, Policy: policy})
	url := srv.URL
	e, err := svc.CreateEndpoint(ctx, notifier.Actor{Name: "admin", Role: notifier.RoleAdmin}, webhook.EndpointInput{URL: &url})
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.SendTest(ctx, notifier.Actor{Name: "admin", Role: notifier.RoleAdmin}, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The retry comes due at once: a microsecond's backoff.
	dispatcher := webhook.NewDispatcher(webhook.DispatcherConfig{Store: st, Keyring: ring, Sender: webhook.NewSender(policy, 5*time.Second),
		Retry: delivery.RetryPolicy{Min: time.Microsecond, Max: time.Microsecond, Lifetime: time.Hour}})
	worker := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, &queue.WebhookWorker{Dispatcher: dispatcher})

	for i, want := range []river.EventKind{river.EventKindJobSnoozed, river.EventKindJobCompleted} {
		var res *rivertest.WorkResult
		err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			var err error
			res, err = worker.Work(ctx, t, tx, queue.WebhookArgs{DeliveryID: d.ID}, nil)
			return err
		})
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if res.EventKind != want {
			t.Fatalf("run %d: %s, want %s", i+1, res.EventKind, want)
		}
	}
	log, err := svc.Deliveries(ctx, notifier.Actor{Name: "admin", Role: notifier.RoleAdmin}, e.ID, notifier.Page{})
	if err != nil || len(log.Items) != 1 || log.Items[0].Status != webhook.StatusSucceeded || len(log.Items[0].Attempts) != 2 {
		t.Fatalf("log: %+v, %v", log, err)
	}
}
