package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/bounceinbox/imaptest"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

// TestBounceMailboxPolled runs the service with a bounce mailbox on a real
// IMAP server: the worker's periodic poll records the hard bounce of a
// notice (the delivery and its contact bounced, audited as the mailbox),
// files it in the processed folder, flags a message that is not a report,
// and a copy of the same bounce changes nothing more. The metric counts
// each by source and outcome.
func TestBounceMailboxPolled(t *testing.T) {
	t.Parallel()
	mailbox := imaptest.Start(t)
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		s := mailbox.Server()
		c.Bounces.IMAP = &config.IMAP{Addr: s.Addr, Username: s.Username, Password: s.Password, TLS: config.IMAPNoTLS,
			Mailbox: "INBOX", Processed: "Processed", Interval: time.Second}
	}})
	ctx := context.Background()
	w := e.LaunchInitial(t, e.LoadSample(t, "mailbox"))
	tailspin := findDelivery(t, e, w.ID, "secops@tailspin.example")

	dsn := bytes.ReplaceAll(sampledata.File(sampledata.HardBounce), []byte("REPLACE-WITH-DELIVERY-MESSAGE-ID@notify.example"), []byte(tailspin.MessageID))
	dsn = bytes.ReplaceAll(dsn, []byte("\n"), []byte("\r\n"))
	mailbox.Append(t, "INBOX", dsn)
	mailbox.Append(t, "INBOX", []byte("From: colleague@notify.example\r\nSubject: lunch?\r\n\r\nnoon\r\n"))

	eventually(t, "the bounce recorded and filed, the other message flagged", func() bool {
		done := mailbox.Messages(t, "Processed")
		inbox := mailbox.Messages(t, "INBOX")
		return len(done) == 1 && len(inbox) == 3 && strings.Join(inbox[2].Flags, " ") == `\Flagged`
	})
	d, err := e.App.Store.Delivery(ctx, tailspin.ID)
	if err != nil || d.Status != notifier.DeliveryBounced {
		t.Fatalf("delivery after the poll: %s, %v; want bounced", d.Status, err)
	}
	if c, _ := e.App.Store.Contact(ctx, d.ContactID); c.Status != notifier.ContactBounced {
		t.Errorf("contact after the poll: %s, want bounced", c.Status)
	}
	var actor string
	if err := e.App.Pool.QueryRow(ctx, `SELECT actor_name FROM audit_log WHERE action = 'bounce.record' ORDER BY id DESC LIMIT 1`).Scan(&actor); err != nil || actor != "bounce mailbox (imap)" {
		t.Errorf("audited as %q, %v; want the bounce mailbox", actor, err)
	}

	// The same bounce again (a relay that sent it twice) is filed but
	// recorded once.
	mailbox.Append(t, "INBOX", dsn)
	eventually(t, "the copy filed", func() bool { return len(mailbox.Messages(t, "Processed")) == 2 })
	var recorded int
	if err := e.App.Pool.QueryRow(ctx, `SELECT count(*) FROM bounces WHERE source = 'imap' AND kind = 'permanent'`).Scan(&recorded); err != nil || recorded != 1 {
		t.Errorf("imap bounces recorded: %d, %v; want 1", recorded, err)
	}
	_, body := scrape(t, e.App.URL(), "")
	for _, want := range []string{
		`breachnotify_bounces_ingested_total{outcome="applied",source="imap"} 1`,
		`breachnotify_bounces_ingested_total{outcome="duplicate",source="imap"} 1`,
		`breachnotify_bounces_ingested_total{outcome="unparsed",source="imap"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
