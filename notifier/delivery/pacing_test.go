package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/templates"
)

// scriptedPoliteness answers Admit per domain from a script; every other
// limit lets everything through.
type scriptedPoliteness struct {
	mu sync.Mutex
	// answers per domain, taken in order; a domain without answers left
	// is admitted at once.
	answers map[string][]admitAnswer
	asked   []string
}

type admitAnswer struct {
	admit  bool
	wait   time.Duration
	reason string
}

func (p *scriptedPoliteness) Admit(_ context.Context, domain string) (func(), time.Duration, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, domain)
	a := admitAnswer{admit: true}
	if q := p.answers[domain]; len(q) > 0 {
		a, p.answers[domain] = q[0], q[1:]
	}
	if !a.admit {
		return nil, a.wait, a.reason, nil
	}
	return func() {}, a.wait, "", nil
}
func (p *scriptedPoliteness) Throttled(string) time.Duration { return time.Minute }
func (p *scriptedPoliteness) Delivered(string)               {}
func (p *scriptedPoliteness) RelayWait() time.Duration       { return 0 }
func (p *scriptedPoliteness) RelayFailed() time.Duration     { return time.Minute }
func (p *scriptedPoliteness) RelayOK()                       {}

// pacingSetup is an Engine over deliveries to the given domains, with
// scripted limits.
func pacingSetup(t *testing.T, domains []string, answers map[string][]admitAnswer) (*bundle, *scriptedPoliteness) {
	t.Helper()
	polite := &scriptedPoliteness{answers: answers}
	bb := setup(t, nil, options{polite: polite})
	dels := testDeliveries(templates.KindInitial, len(domains))
	for i, d := range domains {
		dels[i].Recipient = fmt.Sprintf("soc%d@%s", i, d)
	}
	bb.store.claim = dels
	return bb, polite
}

// TestDeliverSnoozesTheChunkForTheGlobalRate: sends admitted with a slot
// ahead wait for it and go; when the global rate is booked too far
// ahead, the chunk records what it sent and snoozes for exactly the time
// the limit said, without asking once per remaining domain.
func TestDeliverSnoozesTheChunkForTheGlobalRate(t *testing.T) {
	t.Parallel()
	bb, polite := pacingSetup(t, []string{"a.example", "b.example", "c.example", "d.example", "e.example"},
		map[string][]admitAnswer{
			"b.example": {{admit: true, wait: time.Millisecond}},
			"c.example": {{wait: 3 * time.Second, reason: delivery.HoldGlobalRate}},
		})
	store, sender := bb.store, bb.sender
	err := bb.deliver(context.Background(), 1)
	var snooze *notifier.SnoozeError
	if !errors.As(err, &snooze) || snooze.After != 3*time.Second || snooze.Reason != delivery.HoldGlobalRate {
		t.Fatalf("Deliver = %v, want a snooze of exactly 3s for the global rate", err)
	}
	if len(sender.sent) != 2 || len(store.outcomes) != 2 || !store.released {
		t.Errorf("%d sent, %d outcomes recorded, claim released %v; want 2, 2, true", len(sender.sent), len(store.outcomes), store.released)
	}
	if want := []string{"a.example", "b.example", "c.example"}; !slices.Equal(polite.asked, want) {
		t.Errorf("asked for %v, want %v", polite.asked, want)
	}
}

// TestDeliverHoldsADomainForItsRate: a domain booked too far ahead waits
// for its slot in a new job, scheduled for exactly then; the other
// domains of the chunk go on.
func TestDeliverHoldsADomainForItsRate(t *testing.T) {
	t.Parallel()
	bb, polite := pacingSetup(t, []string{"a.example", "b.example", "a.example", "c.example"},
		map[string][]admitAnswer{"a.example": {{wait: 2 * time.Second, reason: "domain_rate"}}})
	store, sender := bb.store, bb.sender
	before := time.Now()
	if err := bb.deliver(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if len(sender.sent) != 2 {
		t.Errorf("%d sent, want 2 (b and c)", len(sender.sent))
	}
	if want := []string{"a.example", "b.example", "c.example"}; !slices.Equal(polite.asked, want) {
		t.Errorf("asked for %v, want %v (a once)", polite.asked, want)
	}
	last := store.batches[len(store.batches)-1]
	if last.Requeue == nil || !slices.Equal(last.Requeue.DeliveryIDs, []int64{100, 102}) {
		t.Fatalf("requeue = %+v, want deliveries 100 and 102", last.Requeue)
	}
	// RunAt is the claim's clock plus the chunk's time plus the wait.
	if at := last.Requeue.RunAt.Sub(before); at < 2*time.Second {
		t.Errorf("requeued %v after the start, want at least the 2s the limit said", at)
	}
}
