package politeness

import (
	"testing"
	"time"
)

// TestBreakerProbeIsALease: after the relay failed and the cooldown passed,
// one caller is let through to probe while the others wait. A probe that
// never reports (its job did not dial) must not hold the others back for
// good: once its lease runs out, the next caller probes.
func TestBreakerProbeIsALease(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := New(Config{BreakerCooldown: 5 * time.Second, Now: func() time.Time { return now }})
	if w := l.RelayWait(); w != 0 {
		t.Fatalf("closed circuit: wait %v", w)
	}
	open := l.RelayFailed()
	if w := l.RelayWait(); w <= 0 || w > open {
		t.Fatalf("open circuit: wait %v, want (0, %v]", w, open)
	}
	now = now.Add(open)
	if w := l.RelayWait(); w != 0 {
		t.Fatalf("after the cooldown: wait %v, want 0 (the probe)", w)
	}
	if w := l.RelayWait(); w <= 0 {
		t.Fatal("a second caller went through while the probe is out")
	}
	// The probe never reports.
	now = now.Add(time.Hour)
	if w := l.RelayWait(); w != 0 {
		t.Fatalf("a silent probe still holds the others back after an hour: wait %v", w)
	}
	// The new probe fails: the circuit opens again, for longer.
	if again := l.RelayFailed(); again <= open {
		t.Errorf("failed probe: open %v, want longer than %v", again, open)
	}
	now = now.Add(time.Hour)
	if w := l.RelayWait(); w != 0 {
		t.Fatalf("after the second cooldown: wait %v", w)
	}
	l.RelayOK()
	if w := l.RelayWait(); w != 0 {
		t.Fatalf("after RelayOK: wait %v", w)
	}
	if w := l.RelayWait(); w != 0 {
		t.Fatalf("closed circuit, second caller: wait %v", w)
	}
}

// TestBreakerProbeLeaseCoversADial: a probe dialling a relay that lets
// connections hang may take the whole SMTP timeout; no second probe is let
// through meanwhile, even when the cooldown is shorter.
func TestBreakerProbeLeaseCoversADial(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := New(Config{BreakerCooldown: 5 * time.Second, ProbeTimeout: time.Minute, Now: func() time.Time { return now }})
	now = now.Add(l.RelayFailed())
	if w := l.RelayWait(); w != 0 {
		t.Fatalf("after the cooldown: wait %v, want 0 (the probe)", w)
	}
	now = now.Add(30 * time.Second)
	if w := l.RelayWait(); w == 0 {
		t.Fatal("a second probe went out while the first may still be dialling")
	}
	now = now.Add(31 * time.Second)
	if w := l.RelayWait(); w != 0 {
		t.Fatalf("after the probe's lease: wait %v, want 0", w)
	}
}
