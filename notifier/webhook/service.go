package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/vault"
)

// Store is the persistence webhooks need (notifier/store implements it).
// Every change is audited in its own transaction by the store.
type Store interface {
	CreateWebhookEndpoint(ctx context.Context, by notifier.Actor, p CreateParams) (Endpoint, error)
	// UpdateWebhookEndpoint applies the fields in set.
	UpdateWebhookEndpoint(ctx context.Context, by notifier.Actor, id int64, set EndpointInput) (Endpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, by notifier.Actor, id int64) error
	WebhookEndpoint(ctx context.Context, id int64) (Endpoint, error)
	// WebhookEndpoints lists endpoints by id, Limit+1 of them.
	WebhookEndpoints(ctx context.Context, p notifier.Page) ([]Endpoint, error)
	// RotateWebhookSecret adds secret to the endpoint and makes every
	// other secret of it expire overlap from now (at once for 0).
	RotateWebhookSecret(ctx context.Context, by notifier.Actor, id int64, secret SealedSecret, overlap time.Duration) (Endpoint, error)
	// WebhookDeliveries lists an endpoint's deliveries, newest first,
	// Limit+1 of them, each with its attempts.
	WebhookDeliveries(ctx context.Context, endpointID int64, p notifier.Page) ([]Delivery, error)
	// RedeliverWebhook sets a delivery pending again and enqueues its job.
	RedeliverWebhook(ctx context.Context, by notifier.Actor, endpointID, deliveryID int64) (Delivery, error)
	// SendWebhookTest writes a test event for one endpoint, its delivery
	// and its job.
	SendWebhookTest(ctx context.Context, by notifier.Actor, endpointID int64, data json.RawMessage) (Delivery, error)
	// DispatchWebhookEvents fans up to limit new events out to the enabled
	// endpoints that want them, enqueueing one job per delivery, and
	// returns how many events it dispatched.
	DispatchWebhookEvents(ctx context.Context, limit int) (int, error)
	// WebhookOutgoing reads what one attempt at a delivery needs.
	WebhookOutgoing(ctx context.Context, deliveryID int64) (Outgoing, error)
	// RecordWebhookAttempt logs an attempt and sets its delivery's status.
	RecordWebhookAttempt(ctx context.Context, r AttemptRecord) error
	// RewrapWebhookSecrets wraps every secret's data key again with the
	// keyring's current master key.
	RewrapWebhookSecrets(ctx context.Context, by notifier.Actor, ring *vault.Keyring, scope string) (int, error)
}

// CreateParams are what registering an endpoint writes.
type CreateParams struct {
	Incident    string
	URL         string
	Description string
	Events      []EventType
	Enabled     bool
	Secret      SealedSecret
}

// SealedSecret is a signing secret as stored: sealed under a data key of
// its own, which the vault's master key wraps.
type SealedSecret struct {
	Key    vault.WrappedKey
	Sealed []byte
}

// Outgoing is a delivery as an attempt needs it.
type Outgoing struct {
	DeliveryID int64
	Status     DeliveryStatus
	Attempts   int
	// FirstAttemptAt starts the retry lifetime (zero before the first).
	FirstAttemptAt time.Time
	// NextAttemptAt is when the delivery is due.
	NextAttemptAt time.Time
	MsgID         string
	Type          EventType
	EventAt       time.Time
	Data          json.RawMessage
	URL           string
	Enabled       bool
	// Secrets are the endpoint's secrets not expired at Now.
	Secrets []SealedSecret
	// Now is the database's clock.
	Now time.Time
}

// AttemptRecord is one attempt's outcome to log.
type AttemptRecord struct {
	DeliveryID int64
	Status     DeliveryStatus
	StatusCode int
	Latency    time.Duration
	Error      string
	// NextRetryAt is set when Status is pending.
	NextRetryAt time.Time
}

// Observer counts webhook deliveries (metrics).
type Observer interface {
	// ObserveWebhook counts an attempt's outcome (succeeded, retrying,
	// failed) and times its request.
	ObserveWebhook(outcome string, took time.Duration)
}

// Config configures a Service.
type Config struct {
	// Store is required.
	Store Store
	// Keyring seals secrets (required).
	Keyring *vault.Keyring
	// Policy says which URLs endpoints may have.
	Policy Policy
	// Overlap is how long an old secret still signs after a rotation
	// (OverlapDefault when zero).
	Overlap time.Duration
	Logger  *slog.Logger
}

// OverlapDefault is how long both secrets sign after a rotation: a day
// to put the new secret into every receiver.
const OverlapDefault = 24 * time.Hour

// Service is the webhook use cases the API calls.
type Service struct {
	store   Store
	keyring *vault.Keyring
	policy  Policy
	overlap time.Duration
	logger  *slog.Logger
}

// NewService builds a Service.
func NewService(cfg Config) *Service {
	if cfg.Overlap <= 0 {
		cfg.Overlap = OverlapDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: cfg.Store, keyring: cfg.Keyring, policy: cfg.Policy, overlap: cfg.Overlap, logger: cfg.Logger}
}

// Policy is the URL policy endpoints are checked against.
func (s *Service) Policy() Policy { return s.policy }

// secretScope binds sealed webhook secrets to their use.
const secretScope = "webhook secret"

// seal draws a secret and seals it for storage.
func (s *Service) seal() (raw []byte, sealed SealedSecret, err error) {
	raw = newSecret()
	dk, wrapped, err := s.keyring.NewDataKey(secretScope)
	if err != nil {
		return nil, sealed, fmt.Errorf("seal webhook secret: %w", err)
	}
	b, err := dk.Seal(secretScope, raw)
	if err != nil {
		return nil, sealed, fmt.Errorf("seal webhook secret: %w", err)
	}
	return raw, SealedSecret{Key: wrapped, Sealed: b}, nil
}

// open unseals a stored secret.
func open(ring *vault.Keyring, s SealedSecret) ([]byte, error) {
	dk, err := ring.Unwrap(secretScope, s.Key)
	if err != nil {
		return nil, err
	}
	return dk.Open(secretScope, s.Sealed)
}

func requireAdmin(by notifier.Actor) error {
	if by.Role != notifier.RoleAdmin {
		return notifier.Errorf(notifier.CodeForbidden, "webhooks are managed by admins")
	}
	return nil
}

// CreateEndpoint registers an endpoint from its validated input and
// returns it with its secret, shown this once.
func (s *Service) CreateEndpoint(ctx context.Context, by notifier.Actor, in EndpointInput) (CreatedEndpoint, error) {
	if err := requireAdmin(by); err != nil {
		return CreatedEndpoint{}, err
	}
	if in.URL == nil {
		return CreatedEndpoint{}, notifier.Errorf(notifier.CodeInvalid, "url: is required")
	}
	if err := s.checkURL(in.URL); err != nil {
		return CreatedEndpoint{}, err
	}
	raw, sealed, err := s.seal()
	if err != nil {
		return CreatedEndpoint{}, err
	}
	p := CreateParams{URL: *in.URL, Enabled: true, Secret: sealed, Events: []EventType{}}
	if in.Incident != nil {
		p.Incident = *in.Incident
	}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if in.Events != nil {
		p.Events = *in.Events
	}
	if in.Enabled != nil {
		p.Enabled = *in.Enabled
	}
	e, err := s.store.CreateWebhookEndpoint(ctx, by, p)
	if err != nil {
		return CreatedEndpoint{}, err
	}
	return CreatedEndpoint{Endpoint: e, Secret: FormatSecret(raw)}, nil
}

// checkURL holds every caller, not only the API's parser, to the policy.
func (s *Service) checkURL(u *string) error {
	if u == nil {
		return nil
	}
	if err := s.policy.CheckURL(*u); err != nil {
		return &notifier.Error{Code: notifier.CodeInvalid, Message: "the endpoint is not valid: url: " + err.Error(),
			Details: []FieldError{{Field: "url", Message: err.Error()}}}
	}
	return nil
}

// UpdateEndpoint changes the fields present in in.
func (s *Service) UpdateEndpoint(ctx context.Context, by notifier.Actor, id int64, in EndpointInput) (Endpoint, error) {
	if err := requireAdmin(by); err != nil {
		return Endpoint{}, err
	}
	if err := s.checkURL(in.URL); err != nil {
		return Endpoint{}, err
	}
	return s.store.UpdateWebhookEndpoint(ctx, by, id, in)
}

// DeleteEndpoint removes an endpoint, its secrets and its log.
func (s *Service) DeleteEndpoint(ctx context.Context, by notifier.Actor, id int64) error {
	if err := requireAdmin(by); err != nil {
		return err
	}
	return s.store.DeleteWebhookEndpoint(ctx, by, id)
}

// Endpoint returns one endpoint.
func (s *Service) Endpoint(ctx context.Context, by notifier.Actor, id int64) (Endpoint, error) {
	if err := requireAdmin(by); err != nil {
		return Endpoint{}, err
	}
	return s.store.WebhookEndpoint(ctx, id)
}

// Endpoints lists endpoints.
func (s *Service) Endpoints(ctx context.Context, by notifier.Actor, p notifier.Page) (notifier.ListResult[Endpoint], error) {
	if err := requireAdmin(by); err != nil {
		return notifier.ListResult[Endpoint]{}, err
	}
	p.Limit = limit(p.Limit)
	list, err := s.store.WebhookEndpoints(ctx, p)
	return page(list, p.Limit, func(e Endpoint) int64 { return e.ID }), err
}

// RotateSecret adds a new secret and returns it, shown this once; the
// endpoint's other secrets keep signing for the overlap, then expire.
func (s *Service) RotateSecret(ctx context.Context, by notifier.Actor, id int64) (CreatedEndpoint, error) {
	if err := requireAdmin(by); err != nil {
		return CreatedEndpoint{}, err
	}
	raw, sealed, err := s.seal()
	if err != nil {
		return CreatedEndpoint{}, err
	}
	e, err := s.store.RotateWebhookSecret(ctx, by, id, sealed, s.overlap)
	if err != nil {
		return CreatedEndpoint{}, err
	}
	return CreatedEndpoint{Endpoint: e, Secret: FormatSecret(raw)}, nil
}

// Deliveries lists an endpoint's delivery log, newest first.
func (s *Service) Deliveries(ctx context.Context, by notifier.Actor, endpointID int64, p notifier.Page) (notifier.ListResult[Delivery], error) {
	if err := requireAdmin(by); err != nil {
		return notifier.ListResult[Delivery]{}, err
	}
	if _, err := s.store.WebhookEndpoint(ctx, endpointID); err != nil {
		return notifier.ListResult[Delivery]{}, err
	}
	p.Limit = limit(p.Limit)
	list, err := s.store.WebhookDeliveries(ctx, endpointID, p)
	return page(list, p.Limit, func(d Delivery) int64 { return d.ID }), err
}

// Redeliver sends a delivery again, whatever became of it.
func (s *Service) Redeliver(ctx context.Context, by notifier.Actor, endpointID, deliveryID int64) (Delivery, error) {
	if err := requireAdmin(by); err != nil {
		return Delivery{}, err
	}
	return s.store.RedeliverWebhook(ctx, by, endpointID, deliveryID)
}

// SendTest sends a webhook.test event to one endpoint (enabled or not),
// for a receiver to check its verification.
func (s *Service) SendTest(ctx context.Context, by notifier.Actor, endpointID int64) (Delivery, error) {
	if err := requireAdmin(by); err != nil {
		return Delivery{}, err
	}
	data, _ := json.Marshal(map[string]any{"endpoint_id": endpointID, "requested_by": by.Name})
	return s.store.SendWebhookTest(ctx, by, endpointID, data)
}

// limit is a page's size: the default when none was asked for.
func limit(n int) int {
	if n <= 0 {
		return notifier.PageLimitDefault
	}
	return min(n, notifier.PageLimitMax)
}

// RewrapSecrets wraps every signing secret's key again with the first
// master key (after a master key rotation, before the old key is
// removed); it returns how many changed.
func (s *Service) RewrapSecrets(ctx context.Context, by notifier.Actor) (int, error) {
	if err := requireAdmin(by); err != nil {
		return 0, err
	}
	return s.store.RewrapWebhookSecrets(ctx, by, s.keyring, secretScope)
}

// page trims a store result fetched with Limit+1 rows into a page.
func page[T any](items []T, limit int, idOf func(T) int64) notifier.ListResult[T] {
	if items == nil {
		items = []T{}
	}
	if len(items) > limit {
		items = items[:limit]
		return notifier.ListResult[T]{Items: items, NextCursor: notifier.EncodeCursor(idOf(items[len(items)-1]))}
	}
	return notifier.ListResult[T]{Items: items}
}

// RetryPolicyDefault plans webhook retries: from 30 s doubling to an
// hour, for three days (the delivery engine's planning, with webhook
// timings).
var RetryPolicyDefault = delivery.RetryPolicy{Min: 30 * time.Second, Max: time.Hour, Lifetime: 72 * time.Hour}
