package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// QueuePortal is the queue of sign-in emails, kept apart so a contact
// waiting at the sign-in page never waits behind a wave.
const QueuePortal = "portal"

// PortalLinkMaxAttempts bounds the retries of a sign-in email: with
// River's attempt⁴-second backoff, five attempts span about six minutes,
// well inside notifier.PortalLinkStale; after that the contact has asked
// again or given up.
const PortalLinkMaxAttempts = 5

// PortalLinkTimeout bounds one attempt: one SMTP transaction.
const PortalLinkTimeout = 2 * time.Minute

// PortalLinkArgs sends the sign-in email of one portal link. The id only:
// the token is made by the worker and never stored (see
// delivery.PortalMailer.SendPortalLink).
type PortalLinkArgs struct {
	LinkID int64 `json:"link_id"`
}

// Kind implements river.JobArgs.
func (PortalLinkArgs) Kind() string { return "portal_link" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (PortalLinkArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueuePortal, MaxAttempts: PortalLinkMaxAttempts}
}

// EnqueuePortalLinksTx inserts one sign-in email job per link, in tx
// (store.PortalLinkEnqueuer).
func (i *Inserter) EnqueuePortalLinksTx(ctx context.Context, tx pgx.Tx, linkIDs []int64) error {
	return i.enqueueMails(ctx, tx, linkIDs, "sign-in emails", func(id int64) river.JobArgs { return PortalLinkArgs{LinkID: id} })
}

// enqueueMails inserts, in tx, one job per mail id with the args newArgs
// makes; what names the mails in an error.
func (i *Inserter) enqueueMails(ctx context.Context, tx pgx.Tx, ids []int64, what string, newArgs func(id int64) river.JobArgs) error {
	params := make([]river.InsertManyParams, len(ids))
	for n, id := range ids {
		params[n] = river.InsertManyParams{Args: newArgs(id)}
	}
	if _, err := i.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %d %s: %w", len(ids), what, err)
	}
	return nil
}

// PortalLinkWorker sends sign-in emails with a delivery.PortalMailer.
type PortalLinkWorker struct {
	river.WorkerDefaults[PortalLinkArgs]
	Mailer *delivery.PortalMailer
	// MaxTimeout caps PortalLinkTimeout (zero: no cap): a job must time out
	// well before River would rescue it as stuck, or a live send is sent
	// again by the rescued job.
	MaxTimeout time.Duration
}

// Timeout implements river.Worker.
func (w *PortalLinkWorker) Timeout(*river.Job[PortalLinkArgs]) time.Duration {
	return portalMailTimeout(w.MaxTimeout)
}

// portalMailTimeout is PortalLinkTimeout capped at maxTimeout (zero: no cap).
func portalMailTimeout(maxTimeout time.Duration) time.Duration {
	if maxTimeout > 0 {
		return min(PortalLinkTimeout, maxTimeout)
	}
	return PortalLinkTimeout
}

// Work implements river.Worker: the link's hash, the send and the job's
// completion share one transaction. A temporary failure is retried by
// River; a permanent one (5xx, a template that cannot render) is not.
func (w *PortalLinkWorker) Work(ctx context.Context, job *river.Job[PortalLinkArgs]) error {
	return sendCompleting(ctx, job, job.Args.LinkID, w.Mailer.SendPortalLink)
}

// sendCompleting sends the mail id with send, which completes job in the
// transaction that records the send; a permanent failure cancels the job
// (retrying cannot help), a temporary one is River's to retry.
func sendCompleting[T river.JobArgs](ctx context.Context, job *river.Job[T], id int64,
	send func(ctx context.Context, id int64, complete notifier.JobCompleter) error) error {
	err := send(ctx, id, completeIn(job))
	if delivery.IsPermanent(err) {
		return river.JobCancel(err)
	}
	return err
}

// PortalMemberMailArgs sends one membership mail (an invitation, a
// request to the approvers, an answer). The id only, like PortalLinkArgs.
type PortalMemberMailArgs struct {
	MailID int64 `json:"mail_id"`
}

// Kind implements river.JobArgs.
func (PortalMemberMailArgs) Kind() string { return "portal_member_mail" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (PortalMemberMailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueuePortal, MaxAttempts: PortalLinkMaxAttempts}
}

// EnqueuePortalMemberMailsTx inserts one job per membership mail, in tx
// (store.PortalMemberMailEnqueuer).
func (i *Inserter) EnqueuePortalMemberMailsTx(ctx context.Context, tx pgx.Tx, mailIDs []int64) error {
	return i.enqueueMails(ctx, tx, mailIDs, "membership mails", func(id int64) river.JobArgs { return PortalMemberMailArgs{MailID: id} })
}

// PortalMemberMailWorker sends membership mails with the sign-in
// emails' mailer and limits.
type PortalMemberMailWorker struct {
	river.WorkerDefaults[PortalMemberMailArgs]
	Mailer     *delivery.PortalMailer
	MaxTimeout time.Duration
}

// Timeout implements river.Worker.
func (w *PortalMemberMailWorker) Timeout(*river.Job[PortalMemberMailArgs]) time.Duration {
	return portalMailTimeout(w.MaxTimeout)
}

// Work implements river.Worker.
func (w *PortalMemberMailWorker) Work(ctx context.Context, job *river.Job[PortalMemberMailArgs]) error {
	return sendCompleting(ctx, job, job.Args.MailID, w.Mailer.SendMemberMail)
}
