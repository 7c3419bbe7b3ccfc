// Package bouncehooks reads the bounce webhooks of sending providers
// (Amazon SES through SNS, SendGrid, Postmark, Mailgun): each request is
// authenticated the provider's way (SNS's certificate signature,
// SendGrid's ECDSA signature, Postmark's basic auth, Mailgun's HMAC) and
// its events become notifier.BounceRecords, keyed by the provider's own
// event id so a retried webhook records nothing twice. Events that are no
// bounce (opens, clicks) are ignored. The HTTP handler (httpapi) records
// what a Hook returns through the same path as every other bounce.
package bouncehooks

import (
	"context"
	"errors"
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
)

// ErrUnauthenticated is a request whose signature or credentials do not
// check out: answered 401, nothing read from it.
var ErrUnauthenticated = errors.New("the request is not authenticated as coming from the provider")

// Request is what a Hook reads of an HTTP request.
type Request struct {
	Header http.Header
	Body   []byte
	// BasicUser and BasicPassword are the request's basic-auth credentials
	// (HasBasic false without).
	BasicUser, BasicPassword string
	HasBasic                 bool
}

// Result is what a Hook made of a request.
type Result struct {
	// Records are the bounces to record.
	Records []notifier.BounceRecord
	// Ignored counts events that are no bounce (opens, clicks, sends).
	Ignored int
	// Note says what was done instead of recording, when something was
	// (an SNS subscription confirmed).
	Note string
}

// Hook is one provider's webhook.
type Hook interface {
	// Source names the provider (the path segment and the metric label).
	Source() notifier.BounceSource
	// Take authenticates req (ErrUnauthenticated when it fails) and reads
	// its events (a *notifier.Error coded invalid when they cannot be read).
	Take(ctx context.Context, req Request) (Result, error)
}

// Actor is who a provider's bounces are recorded and audited as.
func Actor(source notifier.BounceSource) notifier.Actor {
	return notifier.Actor{Name: "bounce webhook (" + string(source) + ")", Role: notifier.RoleOperator}
}

// invalid is a payload that authenticated but cannot be read.
func invalid(format string, args ...any) error {
	return notifier.Errorf(notifier.CodeInvalid, format, args...)
}

// maxEvents bounds the events one request may carry (SendGrid batches
// events; a larger batch is refused, not cut).
const maxEvents = 1000
