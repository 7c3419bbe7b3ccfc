package store

import (
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestStatusListsFollowTheDomain: the SQL lists are the domain's, and the
// domain's lists split the statuses as the statements assume: every
// status is final, pending, or 'sending' (a view of a claimed pending
// delivery, never stored).
func TestStatusListsFollowTheDomain(t *testing.T) {
	if pendingStatuses != "'queued', 'deferred'" {
		t.Errorf("pending = %s", pendingStatuses)
	}
	if finalStatuses != "'sent', 'failed', 'bounced', 'suppressed', 'cancelled'" {
		t.Errorf("final = %s", finalStatuses)
	}
	for _, st := range notifier.DeliveryStatuses {
		final, pending := st.Final(), false
		for _, p := range notifier.PendingDeliveryStatuses {
			pending = pending || p == st
		}
		switch {
		case st == notifier.DeliverySending:
			if final || pending {
				t.Errorf("sending: final %v, pending %v", final, pending)
			}
		case final == pending:
			t.Errorf("%s: final %v, pending %v; want exactly one", st, final, pending)
		}
	}
	if got := sqlList([]notifier.DeliveryStatus{"o'k"}); got != "'o''k'" {
		t.Errorf("sqlList quotes as %s", got)
	}
}
