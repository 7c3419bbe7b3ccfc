package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// Sender hands out connections to the SMTP relay. notifier/smtp implements
// it with a pool of reused connections.
type Sender interface {
	// Conn returns a ready connection. An error means the relay cannot be
	// reached at all (dial, TLS or auth failed): nothing was attempted.
	Conn(ctx context.Context) (SenderConn, error)
}

// ErrRelayAuth marks a Conn error where the relay answered but would not
// let us log in (SMTP AUTH): a setting to fix, not a network fault, so it
// is logged as what it is. Test for it with errors.Is.
var ErrRelayAuth = errors.New("relay authentication failed")

// SenderConn is one SMTP connection, used by one goroutine at a time.
type SenderConn interface {
	// Send transmits one message to one recipient.
	Send(ctx context.Context, m *notifier.Message) SendResult
	// Release returns the connection for reuse, or closes it when broken.
	Release(broken bool)
}

// SendResult is what the relay said about one message.
type SendResult struct {
	// Accepted is true when the relay answered 250 to the end of DATA.
	Accepted bool
	// Permanent is true for a 5xx reply: retrying will not help.
	Permanent bool
	// Code and Enhanced are the reply code (0 when there was no reply) and
	// the RFC 3463 enhanced status code, if any.
	Code     int
	Enhanced string
	// Reply is the relay's reply text, or the transport error.
	Reply string
	// Broken means the connection must not be reused (dropped, timed out).
	Broken bool
	// NothingSent means the session failed before the relay could have
	// taken the message (a pooled connection found dead at its first
	// command): sending again at once on a fresh connection is safe.
	NothingSent bool
	// SHA256 is the hash of the exact bytes sent in DATA.
	SHA256 []byte
	// Duration is how long the SMTP transaction took.
	Duration time.Duration
}
