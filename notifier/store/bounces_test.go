package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// A report its source delivers again, even at the same moment (a
// provider's retry racing its first attempt), is recorded once: the
// second call waits for the first and returns its bounce as a duplicate.
// The same key from another source is another report.
func TestRecordBounceOncePerSourceKey(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	id := b.deliveries[b.waves[0]][0]
	b.exec(t, `UPDATE deliveries SET status = 'sent' WHERE id = $1`, id)
	var messageID, recipient string
	if err := b.pool.QueryRow(ctx, `SELECT message_id, recipient FROM deliveries WHERE id = $1`, id).Scan(&messageID, &recipient); err != nil {
		t.Fatal(err)
	}
	rec := notifier.BounceRecord{Notice: notifier.ProviderNotice(notifier.BouncePermanent, messageID, recipient, "5.1.1", "no such user"),
		Source: notifier.SourceMailgun, Key: "event-1"}
	by := notifier.Actor{Name: "bounce webhook (mailgun)", Role: notifier.RoleOperator}

	var wg sync.WaitGroup
	results := make([]notifier.Bounce, 4)
	dups := make([]bool, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Go(func() { results[i], dups[i], errs[i] = st.RecordBounce(ctx, by, rec) })
	}
	wg.Wait()
	recorded := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !dups[i] {
			recorded++
			if !results[i].Applied || results[i].DeliveryID == nil || *results[i].DeliveryID != id {
				t.Errorf("the recorded bounce: %+v, want applied to delivery %d", results[i], id)
			}
		}
		if results[i].ID != results[0].ID {
			t.Errorf("call %d returned bounce %d, call 0 bounce %d", i, results[i].ID, results[0].ID)
		}
	}
	if recorded != 1 {
		t.Fatalf("%d of 4 concurrent calls recorded the bounce, want 1", recorded)
	}
	if n := b.ids(t, `SELECT count(*) FROM delivery_events WHERE delivery_id = $1 AND type = 'bounced'`, id); n[0] != 1 {
		t.Errorf("bounced events: %d, want 1", n[0])
	}
	rec.Source = notifier.SourceSendGrid
	if _, dup, err := st.RecordBounce(ctx, by, rec); err != nil || dup {
		t.Errorf("the same key from another source: duplicate %v, %v; want recorded", dup, err)
	}
	// Without a key (an upload by hand) nothing is deduplicated.
	rec.Key = ""
	for range 2 {
		if _, dup, err := st.RecordBounce(ctx, by, rec); err != nil || dup {
			t.Errorf("a report without a key: duplicate %v, %v", dup, err)
		}
	}
}
