package store

import (
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
)

// The status, kind and role lists the SQL statements test against, built
// from the Go constants so the two cannot drift apart.
var (
	// pendingStatuses: a delivery job still works it ('queued', 'deferred').
	pendingStatuses = sqlList(notifier.PendingDeliveryStatuses)
	// finalStatuses: nothing more is sent, and no outcome overwrites it.
	finalStatuses = sqlList(notifier.FinalDeliveryStatuses)
	// wentOutStatuses: the relay took the message (a bounce comes after).
	wentOutStatuses = sqlList([]notifier.DeliveryStatus{notifier.DeliverySent, notifier.DeliveryBounced})
	// reachingStatuses: the delivery reached, or may still reach, its
	// contact; a notice with none is unreachable.
	reachingStatuses = sqlList(append([]notifier.DeliveryStatus{notifier.DeliverySent}, notifier.PendingDeliveryStatuses...))
	// undeliveredStatuses: final without reaching the contact (what a
	// resend sends again; cancelled is left alone).
	undeliveredStatuses = sqlList([]notifier.DeliveryStatus{notifier.DeliveryFailed, notifier.DeliveryBounced, notifier.DeliverySuppressed})
	// failedStatuses: what the dashboard lists as failures.
	failedStatuses = sqlList([]notifier.DeliveryStatus{notifier.DeliveryFailed, notifier.DeliveryBounced})
	// finishingOutcomes: the outcomes the engine writes that finish a
	// delivery.
	finishingOutcomes = sqlList([]notifier.DeliveryStatus{notifier.DeliverySent, notifier.DeliveryFailed})
	// activeWaveStatuses: a launched wave not yet over.
	activeWaveStatuses = sqlList([]notifier.WaveStatus{notifier.WaveRunning, notifier.WavePaused})
	// chaseKinds: notices that chase an unacknowledged parent notice.
	chaseKinds = sqlList(notifier.ChaseKinds)
	// escalationRoles: the contacts an escalation goes to.
	escalationRoles = sqlList(notifier.EscalationRoles)
)

// sqlList renders values as the items of an SQL IN list: 'a', 'b'. The
// values are the domain's constants (lower-case words), never input.
func sqlList[S ~string](values []S) string {
	items := make([]string, len(values))
	for i, s := range values {
		items[i] = "'" + strings.ReplaceAll(string(s), "'", "''") + "'"
	}
	return strings.Join(items, ", ")
}

// sqlString renders one constant as an SQL string literal.
func sqlString[S ~string](value S) string { return sqlList([]S{value}) }
