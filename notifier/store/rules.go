package store

import (
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
)

// The delivery status lists the SQL statements test against, built from
// the domain's own lists so the two cannot drift apart.
var (
	// pendingStatuses: a delivery job still works it ('queued', 'deferred').
	pendingStatuses = sqlList(notifier.PendingDeliveryStatuses)
	// finalStatuses: nothing more is sent, and no outcome overwrites it.
	finalStatuses = sqlList(notifier.FinalDeliveryStatuses)
)

// sqlList renders statuses as the items of an SQL IN list: 'a', 'b'. The
// values are the domain's constants (lower-case words), never input.
func sqlList(statuses []notifier.DeliveryStatus) string {
	items := make([]string, len(statuses))
	for i, s := range statuses {
		items[i] = "'" + strings.ReplaceAll(string(s), "'", "''") + "'"
	}
	return strings.Join(items, ", ")
}
