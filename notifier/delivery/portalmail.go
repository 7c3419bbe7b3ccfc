package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// PortalLinkStore is the persistence of sign-in emails.
type PortalLinkStore interface {
	// IssuePortalLink runs one transaction: it locks the link, stores
	// p.TokenHash with an expiry p.Lifetime from now (the database's
	// clock), calls p.Send, and when it returns nil completes the job
	// (p.Complete) and commits. When p.Send fails, nothing is stored. A
	// link that needs no email any more (already sent, requested more than
	// p.Stale ago, its contact no longer allowed to sign in) only
	// completes the job, and the result is false.
	IssuePortalLink(ctx context.Context, p IssuePortalLinkParams) (bool, error)
}

// IssuePortalLinkParams are the arguments of PortalLinkStore.IssuePortalLink.
type IssuePortalLinkParams struct {
	LinkID    int64
	TokenHash []byte
	// Lifetime is how long the link works once sent; Stale is how long
	// after its request a link is still worth sending.
	Lifetime time.Duration
	Stale    time.Duration
	// Send sends the email, inside the transaction.
	Send func(ctx context.Context, m notifier.PortalLinkMail) error
	// Complete completes the job in the same transaction.
	Complete notifier.JobCompleter
}

// MemberMailStore is the persistence of membership mails: like
// IssuePortalLink, the send, its mark and the job's completion share one
// transaction; a mail already sent only completes the job (false).
type MemberMailStore interface {
	SendMemberMail(ctx context.Context, id int64, send func(context.Context, notifier.MemberMail) error, complete notifier.JobCompleter) (bool, error)
}

// MemberMailComposer renders a membership mail (portal.MemberMails).
type MemberMailComposer interface {
	Compose(m notifier.MemberMail) (*notifier.Message, error)
}

// PortalMailer sends sign-in links (the portal_link job's use case) and
// membership mails (portal_member_mail).
type PortalMailer struct {
	store    PortalLinkStore
	members  MemberMailStore
	compose  MemberMailComposer
	sender   Sender
	renderer *notifier.Renderer
	observer Observer
	logger   *slog.Logger
}

// PortalMailerConfig configures a PortalMailer.
type PortalMailerConfig struct {
	// Store issues the links (required).
	Store PortalLinkStore
	// MemberStore and MemberMails send membership mails (required for
	// SendMemberMail).
	MemberStore MemberMailStore
	MemberMails MemberMailComposer
	// Sender is the service's relay (the one the Engine uses).
	Sender Sender
	// Renderer renders the portal_link template.
	Renderer *notifier.Renderer
	// Observer counts sign-in emails the link firewall stops (metrics).
	Observer Observer
	// Logger logs what became of each link; nil logs nothing.
	Logger *slog.Logger
}

// NewPortalMailer builds a PortalMailer.
func NewPortalMailer(cfg PortalMailerConfig) *PortalMailer {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	return &PortalMailer{store: cfg.Store, members: cfg.MemberStore, compose: cfg.MemberMails, sender: cfg.Sender, renderer: cfg.Renderer, observer: cfg.Observer, logger: cfg.Logger}
}

// PermanentError is a failure that trying again cannot fix (a 5xx reply,
// a template that does not render): the queue gives up at once.
type PermanentError struct{ Err error }

// Error implements error.
func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *PermanentError) Unwrap() error { return e.Err }

// SendPortalLink makes a sign-in link's token and emails it.
//
// Where the token lives: nowhere but in the email. The queue's job
// arguments are stored in river_job, so they carry only the link's id; the
// token is made here, when the email is about to go, and only its hash is
// written, in the same transaction that sends the email and completes the
// job. If the send fails, the transaction rolls back: the hash is not
// stored, the token is forgotten, and the retry makes a new one. If the
// relay took the email but the commit failed, that email's link does not
// work and the retry sends another that does: a second email is better
// than a link that cannot be trusted to be single-use. The cost is a
// transaction held open during one SMTP send, which is fine for a rare,
// rate-limited email.
func (m *PortalMailer) SendPortalLink(ctx context.Context, linkID int64, complete notifier.JobCompleter) error {
	token, hash := notifier.NewPortalToken()
	sent, err := m.store.IssuePortalLink(ctx, IssuePortalLinkParams{
		LinkID: linkID, TokenHash: hash, Lifetime: notifier.PortalLinkLifetime, Stale: notifier.PortalLinkStale, Complete: complete,
		Send: func(ctx context.Context, pl notifier.PortalLinkMail) error {
			msg, err := m.renderer.PortalLinkMessage(pl, token)
			if be := (*notifier.BlockedError)(nil); errors.As(err, &be) {
				m.logger.ErrorContext(ctx, "portal sign-in email blocked by the link firewall", "portal_link_id", linkID, "reason", be.Error())
				m.observer.ObserveBlocked(be.Violation.Part)
			}
			if err != nil {
				return &PermanentError{Err: fmt.Errorf("render: %w", err)}
			}
			return m.send(ctx, msg)
		},
	})
	if err != nil {
		return fmt.Errorf("portal link %d: %w", linkID, err)
	}
	if sent {
		m.logger.InfoContext(ctx, "portal sign-in link sent", "portal_link_id", linkID)
	} else {
		m.logger.InfoContext(ctx, "portal sign-in link not sent: no longer needed", "portal_link_id", linkID)
	}
	return nil
}

// SendMemberMail composes and sends one membership mail, marked sent in
// the transaction that completes the job.
func (m *PortalMailer) SendMemberMail(ctx context.Context, id int64, complete notifier.JobCompleter) error {
	if m.members == nil || m.compose == nil {
		return &PermanentError{Err: errors.New("membership mails are not configured")}
	}
	sent, err := m.members.SendMemberMail(ctx, id, func(ctx context.Context, mm notifier.MemberMail) error {
		msg, err := m.compose.Compose(mm)
		if err != nil {
			return &PermanentError{Err: fmt.Errorf("render: %w", err)}
		}
		return m.send(ctx, msg)
	}, complete)
	if err != nil {
		return fmt.Errorf("membership mail %d: %w", id, err)
	}
	m.logger.InfoContext(ctx, "membership mail done", "portal_member_mail_id", id, "sent", sent)
	return nil
}

// send sends one message on a pooled connection, once more on a fresh
// one when the pooled one turns out dead before the relay took anything.
func (m *PortalMailer) send(ctx context.Context, msg *notifier.Message) error {
	for try := 0; ; try++ {
		conn, err := m.sender.Conn(ctx)
		if err != nil {
			return fmt.Errorf("relay unreachable: %w", err)
		}
		res := conn.Send(ctx, msg)
		conn.Release(res.Broken)
		switch {
		case res.Verdict == Accepted:
			return nil
		case res.NothingSent && try == 0:
			continue
		case res.Verdict == Rejected:
			return &PermanentError{Err: fmt.Errorf("relay refused the message: %d %s", res.Code, res.Reply)}
		}
		return fmt.Errorf("relay deferred the message: %d %s", res.Code, res.Reply)
	}
}

// IsPermanent reports whether err says trying again will not help.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
