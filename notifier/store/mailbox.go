package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// SaveCapturedMessage stores a message received by the embedded capture mailbox.
func (s *Store) SaveCapturedMessage(ctx context.Context, m notifier.CapturedMessage) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO mailbox_messages (mail_from, recipients, subject, message_id, raw)
		VALUES ($1, $2, $3, $4, $5)`, m.MailFrom, m.Recipients, m.Subject, m.MessageID, m.Raw)
	return wrap("save captured message", err)
}

// CapturedMessages lists captured messages newest first, without their
// bodies, before the id beforeID (0: from the newest).
func (s *Store) CapturedMessages(ctx context.Context, limit int, beforeID int64) ([]notifier.CapturedMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, mail_from, recipients, subject, message_id, received_at
		FROM mailbox_messages WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2`, beforeID, limit)
	if err != nil {
		return nil, wrap("list mailbox", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.CapturedMessage, error) {
		var m notifier.CapturedMessage
		err := r.Scan(&m.ID, &m.MailFrom, &m.Recipients, &m.Subject, &m.MessageID, &m.ReceivedAt)
		return m, err
	})
	return msgs, wrap("list mailbox", err)
}

// CapturedMessage returns one captured message with its raw bytes.
func (s *Store) CapturedMessage(ctx context.Context, id int64) (notifier.CapturedMessage, error) {
	var m notifier.CapturedMessage
	err := s.pool.QueryRow(ctx, `SELECT id, mail_from, recipients, subject, message_id, received_at, raw
		FROM mailbox_messages WHERE id = $1`, id).Scan(&m.ID, &m.MailFrom, &m.Recipients, &m.Subject, &m.MessageID, &m.ReceivedAt, &m.Raw)
	return m, wrap("get captured message", notFound(err, "no captured message %d", id))
}

// PurgeCapturedMessages deletes every message the embedded capture
// mailbox kept and returns how many there were. A process configured with
// a relay runs it, so nothing captured in development (with its live
// acknowledgement and sign-in links) survives into production; when there
// was something to delete, the purge is audited as by, in the same
// transaction.
func (s *Store) PurgeCapturedMessages(ctx context.Context, by notifier.Actor) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM mailbox_messages`)
		if err != nil {
			return err
		}
		if n = tag.RowsAffected(); n == 0 {
			return nil
		}
		return s.appendAudit(ctx, tx, by, auditEvent{action: "mailbox.purge", targetType: "mailbox",
			details: map[string]any{"messages": n, "reason": "a relay is configured (BREACHNOTIFY_SMTP_URL)"}})
	})
	return n, wrap("purge capture mailbox", err)
}
