package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

const deliveryColumns = `d.id, d.notice_id, d.wave_id, d.contact_id, d.recipient, d.status, d.message_id, d.reference_code,
	d.template_version, coalesce(encode(d.message_sha256, 'hex'), ''), d.attempts, d.smtp_code, d.smtp_reply,
	d.queued_at, d.first_attempt_at, d.last_attempt_at, d.sent_at, d.finished_at`

func scanDelivery(row pgx.CollectableRow) (notifier.Delivery, error) {
	var d notifier.Delivery
	err := row.Scan(&d.ID, &d.NoticeID, &d.WaveID, &d.ContactID, &d.Recipient, &d.Status, &d.MessageID, &d.Reference,
		&d.TemplateVersion, &d.MessageSHA256, &d.Attempts, &d.SMTPCode, &d.SMTPReply,
		&d.QueuedAt, &d.FirstAttemptAt, &d.LastAttemptAt, &d.SentAt, &d.FinishedAt)
	return d, err
}

// WaveDeliveries lists all of a wave's deliveries in id order.
func (s *Store) WaveDeliveries(ctx context.Context, waveID int64) ([]notifier.Delivery, error) {
	return s.Deliveries(ctx, notifier.DeliveryFilter{WaveID: waveID}, notifier.Page{Limit: 1 << 30})
}

// Deliveries lists deliveries by id.
func (s *Store) Deliveries(ctx context.Context, f notifier.DeliveryFilter, p notifier.Page) ([]notifier.Delivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries d
		WHERE d.id > $1
		  AND ($2 = 0 OR d.notice_id IN (SELECT n.id FROM notices n WHERE n.wave_id = $2))
		  AND ($3 = 0 OR d.notice_id = $3) AND ($4 = '' OR d.status = $4)
		ORDER BY d.id LIMIT $5`, p.After, f.WaveID, f.NoticeID, f.Status, p.Limit+1)
	if err != nil {
		return nil, wrap("list deliveries", err)
	}
	ds, err := pgx.CollectRows(rows, scanDelivery)
	return ds, wrap("list deliveries", err)
}

// Delivery returns one delivery with its events.
func (s *Store) Delivery(ctx context.Context, id int64) (notifier.DeliveryDetail, error) {
	var d notifier.DeliveryDetail
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries d WHERE d.id = $1`, id)
	if err != nil {
		return d, wrap("get delivery", err)
	}
	if d.Delivery, err = pgx.CollectExactlyOneRow(rows, scanDelivery); err != nil {
		return d, wrap("get delivery", notFound(err, "no delivery %d", id))
	}
	d.Events, err = s.DeliveryEvents(ctx, id)
	return d, err
}

// DeliveryEvents returns a delivery's timeline, oldest first.
func (s *Store) DeliveryEvents(ctx context.Context, deliveryID int64) ([]notifier.DeliveryEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, delivery_id, type, smtp_code, enhanced_code, detail, at
		FROM delivery_events WHERE delivery_id = $1 ORDER BY id`, deliveryID)
	if err != nil {
		return nil, wrap("delivery events", err)
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.DeliveryEvent, error) {
		var e notifier.DeliveryEvent
		err := r.Scan(&e.ID, &e.DeliveryID, &e.Type, &e.SMTPCode, &e.EnhancedCode, &e.Detail, &e.At)
		return e, err
	})
	return evs, wrap("delivery events", err)
}
