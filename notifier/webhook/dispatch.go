package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/vault"
)

// Dispatcher fans events out and makes delivery attempts; the queue's
// webhook workers call it.
type Dispatcher struct {
	store    Store
	keyring  *vault.Keyring
	sender   *Sender
	retry    delivery.RetryPolicy
	observer Observer
	logger   *slog.Logger
}

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	Store   Store
	Keyring *vault.Keyring
	Sender  *Sender
	// Retry plans attempts (RetryPolicyDefault when zero).
	Retry    delivery.RetryPolicy
	Observer Observer
	Logger   *slog.Logger
}

// NewDispatcher builds a Dispatcher.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.Retry == (delivery.RetryPolicy{}) {
		cfg.Retry = RetryPolicyDefault
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{store: cfg.Store, keyring: cfg.Keyring, sender: cfg.Sender, retry: cfg.Retry, observer: cfg.Observer, logger: cfg.Logger}
}

type nopObserver struct{}

func (nopObserver) ObserveWebhook(string, time.Duration) {}

// dispatchBatch is how many events one dispatch transaction fans out.
const dispatchBatch = 500

// Dispatch fans out every event not yet dispatched, a batch per
// transaction, and returns how many.
func (d *Dispatcher) Dispatch(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := d.store.DispatchWebhookEvents(ctx, dispatchBatch)
		total += n
		if err != nil || n < dispatchBatch {
			return total, err
		}
	}
}

// Envelope is the body of every webhook: the Standard Webhooks payload
// structure.
type Envelope struct {
	Type      EventType       `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Outcome names of ObserveWebhook.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeRetrying  = "retrying"
	OutcomeFailed    = "failed"
)

// Attempt makes one attempt at a delivery and logs it. It returns when
// the delivery is to be tried again (the zero time when it is settled),
// on the database's clock, with that clock's now.
func (d *Dispatcher) Attempt(ctx context.Context, deliveryID int64) (retryAt, now time.Time, err error) {
	out, err := d.store.WebhookOutgoing(ctx, deliveryID)
	if err != nil {
		return retryAt, now, err
	}
	now = out.Now
	// A job finds its delivery settled, or not due, when another job took
	// it over (a redelivery while a retry waited): that job owns it now.
	if out.Status != StatusPending || out.NextAttemptAt.After(now) {
		return retryAt, now, nil
	}
	rec := AttemptRecord{DeliveryID: deliveryID}
	var res delivery.SendResult
	switch {
	case !out.Enabled:
		res = delivery.SendResult{Verdict: delivery.Rejected, Reply: "endpoint disabled: not sent"}
	case len(out.Secrets) == 0:
		res = delivery.SendResult{Verdict: delivery.Rejected, Reply: "endpoint has no live secret: rotate it to get one"}
	default:
		res, err = d.send(ctx, out)
		if err != nil {
			return retryAt, now, err
		}
	}
	rec.StatusCode, rec.Latency, rec.Error = res.Code, res.Duration, res.Reply
	outcome := OutcomeSucceeded
	switch res.Verdict {
	case delivery.Accepted:
		rec.Status = StatusSucceeded
	case delivery.Rejected:
		rec.Status, outcome = StatusFailed, OutcomeFailed
	default:
		first := out.FirstAttemptAt
		if out.Attempts == 0 {
			first = now // the first attempt starts the lifetime
		}
		if at, ok := d.retry.Next(out.Attempts+1, first, now); ok {
			rec.Status, rec.NextRetryAt, outcome, retryAt = StatusPending, at, OutcomeRetrying, at
		} else {
			rec.Status, outcome = StatusFailed, OutcomeFailed
			rec.Error = "gave up after the retry lifetime; last: " + rec.Error
		}
	}
	if err := d.store.RecordWebhookAttempt(ctx, rec); err != nil {
		return time.Time{}, now, err
	}
	d.observer.ObserveWebhook(outcome, rec.Latency)
	d.logger.InfoContext(ctx, "webhook attempt", "webhook_delivery_id", deliveryID, "type", out.Type,
		"status_code", rec.StatusCode, "outcome", outcome, "latency_ms", rec.Latency.Milliseconds())
	return retryAt, now, nil
}

// send signs the event with every live secret and posts it.
func (d *Dispatcher) send(ctx context.Context, out Outgoing) (delivery.SendResult, error) {
	secrets := make([][]byte, 0, len(out.Secrets))
	for _, s := range out.Secrets {
		raw, err := open(d.keyring, s)
		if err != nil {
			return delivery.SendResult{}, fmt.Errorf("open webhook secret of delivery %d: %w", out.DeliveryID, err)
		}
		secrets = append(secrets, raw)
	}
	body, err := json.Marshal(Envelope{Type: out.Type, Timestamp: out.EventAt.UTC(), Data: out.Data})
	if err != nil {
		return delivery.SendResult{}, fmt.Errorf("webhook body: %w", err)
	}
	return d.sender.Send(ctx, Message{URL: out.URL, MsgID: out.MsgID, At: out.Now, Body: body, Secrets: secrets}), nil
}
