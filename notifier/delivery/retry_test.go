package delivery_test

import (
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier/delivery"
)

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	p := delivery.RetryPolicy{Min: time.Minute, Max: time.Hour, Lifetime: 96 * time.Hour}
	first := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := time.Duration(0)
	for attempt := 1; attempt <= 12; attempt++ {
		now := first.Add(prev)
		at, ok := p.Next(attempt, first, now)
		if !ok {
			t.Fatalf("attempt %d: gave up early", attempt)
		}
		d := at.Sub(now)
		if d < p.Min || d > p.Max {
			t.Errorf("attempt %d: delay %s outside [%s, %s]", attempt, d, p.Min, p.Max)
		}
		prev += d
	}
	// Near the end of the lifetime the last try lands on the deadline.
	deadline := first.Add(p.Lifetime)
	at, ok := p.Next(40, first, deadline.Add(-time.Minute))
	if !ok || at.After(deadline) {
		t.Errorf("near the deadline: %s, %v; want at most %s", at, ok, deadline)
	}
	if _, ok := p.Next(41, first, deadline); ok {
		t.Error("retried after the lifetime")
	}
}
