package store

import (
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestStatusListsFollowTheDomain: the SQL lists are the domain's (and
// read as the literals the statements had), and the domain's lists split
// the statuses as the statements assume: every status is final, pending,
// or 'sending' (a view of a claimed pending delivery, never stored).
func TestStatusListsFollowTheDomain(t *testing.T) {
	for name, c := range map[string]struct{ got, want string }{
		"pending":     {pendingStatuses, "'queued', 'deferred'"},
		"final":       {finalStatuses, "'sent', 'failed', 'bounced', 'suppressed', 'cancelled'"},
		"went out":    {wentOutStatuses, "'sent', 'bounced'"},
		"reaching":    {reachingStatuses, "'sent', 'queued', 'deferred'"},
		"undelivered": {undeliveredStatuses, "'failed', 'bounced', 'suppressed'"},
		"failed":      {failedStatuses, "'failed', 'bounced'"},
		"finishing":   {finishingOutcomes, "'sent', 'failed'"},
		"active wave": {activeWaveStatuses, "'running', 'paused'"},
		"chase kinds": {chaseKinds, "'reminder', 'escalation'"},
		"escalation":  {escalationRoles, "'legal', 'executive'"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", name, c.got, c.want)
		}
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
