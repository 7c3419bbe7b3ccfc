package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/templates"
	"github.com/breachnotify/breachnotify/templates/templatetest"
)

func testDeliveries(kind templates.Kind, n int) []notifier.OutgoingDelivery {
	notice := &notifier.NoticeContent{ID: 7, Kind: kind, IncidentTitle: "Mail breach", IncidentSlug: "mail-2026",
		OrgName: "Contoso", OrgRef: "contoso", ItemCount: 1, Items: []templates.Item{{Ref: "MSG-1", Kind: "email", Subject: "Quarterly plan"}}}
	var ds []notifier.OutgoingDelivery
	for i := range n {
		ds = append(ds, notifier.OutgoingDelivery{ID: int64(100 + i), WaveID: 3, Recipient: fmt.Sprintf("soc%d@contoso.example", i),
			ContactName: "SOC", ContactRole: "security", ContactLocale: "en", PortalAccess: true, MessageID: "m@notify.example",
			Reference: "BN-AAAA-BBBB-CCCC-DDDD", Notice: notice, AckToken: fmt.Sprintf("Tok3n%038d", i), LifetimeStart: time.Now()})
	}
	return ds
}

// TestFirewallStopsEveryBypass sends a chunk with each template of the
// bypass corpus, its upload checks switched off: no message leaves, the
// first delivery fails with the firewall's reason, the wave is paused and
// the chunk stops, and the block is counted.
func TestFirewallStopsEveryBypass(t *testing.T) {
	t.Parallel()
	for _, b := range templatetest.Bypasses {
		if b.TemplateKind() == templates.KindPortalLink {
			continue // a sign-in email is no wave: templates.TestBypassCorpus and app.TestFirewallPausesTheWave cover it
		}
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := templates.CompileUnchecked(b.TemplateKind(), "en", b.Source())
			if err != nil {
				t.Fatal(err)
			}
			// The chunk's deliveries are all of this kind and locale.
			bb := setup(t, templates.NewSet(tmpl), options{})
			store, sender, obs := bb.store, bb.sender, bb.observer
			store.claim = testDeliveries(b.TemplateKind(), 3)
			err = bb.deliver(context.Background(), 1)
			var snooze *notifier.SnoozeError
			if !errors.As(err, &snooze) || snooze.Reason != "wave_paused" {
				t.Errorf("Deliver = %v, want the chunk to stop with the wave paused", err)
			}
			if len(sender.sent) != 0 {
				t.Fatalf("%d messages left", len(sender.sent))
			}
			if len(store.outcomes) != 1 || store.outcomes[0].Status != notifier.DeliveryFailed ||
				!strings.HasPrefix(store.outcomes[0].Reply, "blocked by the link firewall: ") || store.outcomes[0].Event != delivery.EventBlocked {
				t.Fatalf("outcomes = %+v, want the first delivery failed by the firewall and nothing else", store.outcomes)
			}
			if !strings.HasPrefix(store.held, "blocked by the link firewall") || len(obs.blocked) != 1 {
				t.Errorf("wave held %q, blocks counted %v", store.held, obs.blocked)
			}
		})
	}
}

// TestFirewallPassesTheShippedTemplates is the other side: the shipped
// templates, with hostile data, go out.
func TestFirewallPassesTheShippedTemplates(t *testing.T) {
	t.Parallel()
	set, err := templates.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range templates.WaveKinds {
		dels := testDeliveries(kind, 3)
		dels[0].Notice.OrgName = "Evil https://phish.attacker.example/login www.evil.example"
		dels[0].Notice.Items[0].Subject = "Reset your password at ｈｔｔｐｓ://evil．example/x"
		dels[1].ContactName = `Mallory" <a@evil.example>, "x`
		bb := setup(t, set, options{})
		store, sender := bb.store, bb.sender
		store.claim = dels
		if err := bb.deliver(context.Background(), 1); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if len(sender.sent) != 3 || store.held != "" {
			t.Fatalf("%s: %d sent, held %q; outcomes %+v", kind, len(sender.sent), store.held, store.outcomes)
		}
		for _, m := range sender.sent {
			for _, part := range []string{m.Subject, m.Text, m.HTML} {
				if strings.Contains(part, "phish.attacker") || strings.Contains(part, "www.evil") || strings.Contains(part, "a@evil.example") {
					t.Errorf("%s: breach data reached a message as a link: %q", kind, part)
				}
			}
		}
	}
}

// BenchmarkMessage renders the messages of one notice as a chunk does:
// the shared parts once (checked by the firewall once), then per message
// the recipient's values filled in and the words they land in checked.
// Compare with BenchmarkMessageWithoutFirewall's figure for the cost.
func BenchmarkMessage(b *testing.B) {
	set, err := templates.Defaults()
	if err != nil {
		b.Fatal(err)
	}
	r := notifier.NewRenderer(set, mail.Address{Name: "Security Notices", Address: "security-notice@notify.example"}, "https://notify.example")
	dels := testDeliveries(templates.KindInitial, 100)
	for i := range dels {
		dels[i].ContactName = fmt.Sprintf("Contact Person %d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, err := r.Message(dels[i%len(dels)]); err != nil {
			b.Fatal(err)
		}
	}
}
