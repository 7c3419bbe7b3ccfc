package notifier_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestRecoveryCodes: ten distinct codes, each hashing the same however
// it is typed, and nothing else hashing like them.
func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	codes, hashes := notifier.NewRecoveryCodes()
	if len(codes) != notifier.RecoveryCodeCount || len(hashes) != len(codes) {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if seen[c] || len(c) != 11 || c[5] != '-' {
			t.Errorf("code %q: duplicate or malformed", c)
		}
		seen[c] = true
		for _, typed := range []string{c, " " + c + " ", c[:5] + c[6:], c[:5] + " " + c[6:]} {
			if !bytes.Equal(notifier.HashRecoveryCode(typed), hashes[i]) {
				t.Errorf("%q typed as %q hashes differently", c, typed)
			}
		}
	}
	for _, bad := range []string{"", "12345", "AAAAA-BBBB0", "AAAAA-BBBBBB", "AAAAA_BBBBB", "123456"} {
		if n := notifier.NormalizeRecoveryCode(bad); n != "" {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want refused", bad, n)
		}
	}
	if n := notifier.NormalizeRecoveryCode("abcde-fghjk"); n != "ABCDEFGHJK" {
		t.Errorf("lower case: %q", n)
	}
}

// TestFactorFresh: a verification opens stolen mail for 12 hours, not
// longer, and one dated in the future does not count.
func TestFactorFresh(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	for _, tc := range []struct {
		at   *time.Time
		want bool
	}{
		{nil, false},
		{at(0), true},
		{at(-11*time.Hour - 59*time.Minute), true},
		{at(-12 * time.Hour), false},
		{at(time.Hour), false},
	} {
		if got := (notifier.PortalSession{FactorVerifiedAt: tc.at}).FactorFresh(now); got != tc.want {
			t.Errorf("verified at %v: fresh %v, want %v", tc.at, got, tc.want)
		}
	}
}
