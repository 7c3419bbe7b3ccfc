package smtp_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

// TestInternationalizedRecipients sends to an address with a Unicode
// domain and to one with a Unicode local part (RFC 6531), through a relay
// that offers SMTPUTF8 and through one that does not.
func TestInternationalizedRecipients(t *testing.T) {
	t.Parallel()
	const idn, eai = "soc@bücher.example", "sécurité@exämple.de"
	cases := []struct {
		name     string
		smtputf8 bool
		to       string
		wantRcpt string // empty: refused, nothing sent
	}{
		{"IDN domain, relay with SMTPUTF8", true, idn, idn},
		{"EAI address, relay with SMTPUTF8", true, eai, eai},
		{"IDN domain, relay without SMTPUTF8: punycode", false, idn, "soc@xn--bcher-kva.example"},
		{"EAI address, relay without SMTPUTF8: refused", false, eai, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sink := &capture.Memory{}
			srv, err := capture.Start("127.0.0.1:0", capture.Options{Sink: sink, SMTPUTF8: c.smtputf8})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			host, port, _ := net.SplitHostPort(srv.Addr())
			p, _ := strconv.Atoi(port)
			s, err := smtp.New(smtp.Config{Host: host, Port: p, TLS: "none", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			conn, err := s.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release(false)
			res := conn.Send(context.Background(), message(c.to))
			if c.wantRcpt == "" {
				if res.Verdict != delivery.Rejected || res.Detail != "5.6.7" || !strings.Contains(res.Reply, "SMTPUTF8") {
					t.Fatalf("result %+v, want a permanent refusal saying the relay lacks SMTPUTF8", res)
				}
				if n := len(sink.Messages()); n != 0 {
					t.Fatalf("%d messages reached the relay", n)
				}
				// The connection is still good for the next recipient.
				if res := conn.Send(context.Background(), message("ok@x.example")); res.Verdict != delivery.Accepted {
					t.Fatalf("next send: %+v", res)
				}
				return
			}
			if res.Verdict != delivery.Accepted {
				t.Fatalf("result %+v, want accepted", res)
			}
			msgs := sink.Messages()
			if len(msgs) != 1 || len(msgs[0].Recipients) != 1 || msgs[0].Recipients[0] != c.wantRcpt {
				t.Fatalf("relay got %+v, want RCPT %s", msgs, c.wantRcpt)
			}
			if !strings.Contains(string(msgs[0].Raw), "<"+c.wantRcpt+">") {
				t.Errorf("the To header does not name %s:\n%s", c.wantRcpt, msgs[0].Raw)
			}
		})
	}
}
