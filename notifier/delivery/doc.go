// Package delivery is the delivery engine: it works the delivery jobs of
// running waves, sending each claimed delivery's message through a channel
// (a Sender; notifier/smtp is the email channel) within the politeness
// limits, recording each outcome through a group commit (Writer), and
// planning the retries of deferred deliveries (RetryPolicy). It also sends
// the portal's sign-in emails (PortalMailer). The domain types and the use
// cases stay in notifier; this package declares the small ports it needs
// (Store, OutcomeStore, LeaseStore, PortalLinkStore, Sender, Politeness,
// Observer) and imports no adapter.
//
// Its guarantees:
//   - Duplicate bound: at most Writer.MaxUnrecorded messages of a process
//     (MaxUnrecordedDefault, 50) can have been sent without their outcome
//     committed; a process killed at any instant re-sends at most those. A
//     lost database connection re-sends nothing: the writer retries.
//   - Claim ownership: a chunk's claim names the process's lease; the chunk
//     sends only while the lease holds, and a lapsed lease's claims are
//     taken over by a live process within about a minute (Lease). A
//     delivery in another job's claim is never sent by this one.
//   - Deadlines: no send starts without time for it in the job (timeToSend),
//     and the outcomes of sent messages are recorded even when the job's
//     context ends.
package delivery
