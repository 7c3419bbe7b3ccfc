package notifier_test

import (
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestWaveKindLabel(t *testing.T) {
	t.Parallel()
	for k, want := range map[notifier.WaveKind]string{
		notifier.WaveInitial: "Initial notice", notifier.WaveFollowUp: "Follow-up",
		notifier.WaveReminder: "Reminder", notifier.WaveEscalation: "Escalation", "future_kind": "future_kind",
	} {
		if got := k.Label(); got != want {
			t.Errorf("%q.Label() = %q, want %q", k, got, want)
		}
	}
}
