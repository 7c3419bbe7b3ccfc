package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// Sender is the channel messages leave by: it hands out connections to the
// channel's server (the relay). The engine knows nothing of the channel's
// protocol: each send comes back as a channel-neutral SendResult. Email over
// SMTP is the first channel (notifier/smtp, a pool of reused connections to
// the relay); another channel is another Sender.
type Sender interface {
	// Conn returns a ready connection. An error means the relay cannot be
	// reached at all (dial, TLS or auth failed): nothing was attempted.
	Conn(ctx context.Context) (SenderConn, error)
}

// ErrRelayAuth marks a Conn error where the relay answered but would not
// let us log in: a setting to fix, not a network fault, so it is logged as
// what it is. Test for it with errors.Is.
var ErrRelayAuth = errors.New("relay authentication failed")

// SenderConn is one connection of a channel, used by one goroutine at a
// time.
type SenderConn interface {
	// Send transmits one message to one recipient.
	Send(ctx context.Context, m *notifier.Message) SendResult
	// Release returns the connection for reuse, or closes it when broken.
	Release(broken bool)
}

// Verdict is what became of one message, as the channel judged its
// server's reply.
type Verdict uint8

// The verdicts.
const (
	// Deferred: not taken for now; trying again later may work (a
	// temporary reply, a dropped connection). The zero Verdict.
	Deferred Verdict = iota
	// Accepted: the relay took the message.
	Accepted
	// Rejected: refused for good; retrying will not help.
	Rejected
	// Throttled: not taken for now because the recipient's domain asks us
	// to slow down; it says nothing about the recipient, so no attempt is
	// spent.
	Throttled
)

// SendResult is what the channel made of one message.
type SendResult struct {
	Verdict Verdict
	// Code is the server's reply code (0 when there was no reply); Detail
	// is its finer status code, if any. For SMTP: the reply code and the
	// RFC 3463 enhanced status code.
	Code   int
	Detail string
	// Reply is the server's reply text, or the transport error.
	Reply string
	// Broken means the connection must not be reused (dropped, timed out).
	Broken bool
	// NothingSent means the session failed before the relay could have
	// taken the message (a pooled connection found dead at its first
	// command): sending again at once on a fresh connection is safe.
	NothingSent bool
	// SHA256 is the hash of the exact bytes sent.
	SHA256 []byte
	// Duration is how long the transaction took.
	Duration time.Duration
}
