package templates_test

import (
	"slices"
	"testing"

	"github.com/breachnotify/breachnotify/templates"
)

func TestKindLabel(t *testing.T) {
	t.Parallel()
	for k, want := range map[templates.Kind]string{
		templates.KindInitial: "Initial notice", templates.KindFollowUp: "Follow-up",
		templates.KindReminder: "Reminder", templates.KindEscalation: "Escalation",
		templates.KindPortalLink: "Sign-in link", "future_kind": "future_kind",
	} {
		if got := k.Label(); got != want {
			t.Errorf("%q.Label() = %q, want %q", k, got, want)
		}
	}
}

// TestWaveKinds: a wave sends every kind but the sign-in email.
func TestWaveKinds(t *testing.T) {
	t.Parallel()
	for _, k := range templates.Kinds {
		if want := k != templates.KindPortalLink; k.IsWave() != want || slices.Contains(templates.WaveKinds, k) != want {
			t.Errorf("%q: IsWave() = %v, want %v", k, k.IsWave(), want)
		}
	}
}
