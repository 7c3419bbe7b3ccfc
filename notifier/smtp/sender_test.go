package smtp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

func startSender(t *testing.T, script capture.Script, timeout time.Duration) (*smtp.Sender, *capture.Memory) {
	t.Helper()
	sink := &capture.Memory{}
	srv, err := capture.Start("127.0.0.1:0", capture.Options{Sink: sink, Script: script})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	host, port, _ := net.SplitHostPort(srv.Addr())
	p, _ := strconv.Atoi(port)
	s, err := smtp.New(smtp.Config{Host: host, Port: p, TLS: "none", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, sink
}

func message(to string) *notifier.Message {
	return &notifier.Message{
		MessageID:  "abc-123@notify.example",
		From:       mail.Address{Name: "Security Notices", Address: "notices@notify.example"},
		To:         mail.Address{Name: "Bob\r\nBcc: evil@x.example", Address: to},
		Subject:    "Hello\r\nBcc: evil@x.example",
		Text:       "plain",
		HTML:       "<p>html</p>",
		InReplyTo:  "first@notify.example",
		References: []string{"first@notify.example"},
	}
}

func TestSendClassifiesReplies(t *testing.T) {
	t.Parallel()
	faults := map[string]capture.Fault{
		"r421@x.example":  {Code: 421, Message: "4.7.0 Too many connections, closing"},
		"r450@x.example":  {Code: 450, Message: "4.2.1 Mailbox busy"},
		"r451@x.example":  {Code: 451, Message: "4.7.1 Greylisted"},
		"r452@x.example":  {Code: 452, Message: "4.5.3 Too many recipients"},
		"r454@x.example":  {Code: 454, Message: "4.7.0 TLS not available"},
		"r550@x.example":  {Code: 550, Message: "5.1.1 User unknown"},
		"r551@x.example":  {Code: 551, Message: "5.1.6 User not local"},
		"r553@x.example":  {Code: 553, Message: "5.1.3 Bad address syntax"},
		"r554@x.example":  {Code: 554, Message: "5.7.1 Rejected by policy"},
		"drop@x.example":  {Drop: true},
		"slow@x.example":  {Delay: 1500 * time.Millisecond},
		"data4@x.example": {Code: 451, Message: "4.3.0 Queue full"},
	}
	step := func(rcpt string) capture.Step {
		if rcpt == "data4@x.example" {
			return capture.StepData
		}
		return capture.StepRcpt
	}
	s, sink := startSender(t, func(st capture.Step, rcpt string) *capture.Fault {
		if f, ok := faults[rcpt]; ok && st == step(rcpt) {
			return &f
		}
		return nil
	}, 500*time.Millisecond)
	cases := []struct {
		rcpt      string
		accepted  bool
		permanent bool
		broken    bool
		code      int
		enhanced  string
	}{
		{"ok@x.example", true, false, false, 250, "2.0.0"},
		{"r421@x.example", false, false, true, 421, "4.7.0"},
		{"r450@x.example", false, false, false, 450, "4.2.1"},
		{"r451@x.example", false, false, false, 451, "4.7.1"},
		{"r452@x.example", false, false, false, 452, "4.5.3"},
		{"r454@x.example", false, false, false, 454, "4.7.0"},
		{"r550@x.example", false, true, false, 550, "5.1.1"},
		{"r551@x.example", false, true, false, 551, "5.1.6"},
		{"r553@x.example", false, true, false, 553, "5.1.3"},
		{"r554@x.example", false, true, false, 554, "5.7.1"},
		{"drop@x.example", false, false, true, 0, ""},
		{"slow@x.example", false, false, true, 0, ""},
		{"data4@x.example", false, false, false, 451, "4.3.0"},
		{"ok2@x.example", true, false, false, 250, "2.0.0"},
	}
	ctx := context.Background()
	for _, c := range cases {
		conn, err := s.Conn(ctx)
		if err != nil {
			t.Fatalf("%s: conn: %v", c.rcpt, err)
		}
		r := conn.Send(ctx, message(c.rcpt))
		conn.Release(r.Broken)
		if (r.Verdict == delivery.Accepted) != c.accepted || (r.Verdict == delivery.Rejected) != c.permanent || r.Broken != c.broken || r.Code != c.code || r.Detail != c.enhanced || r.Reply == "" {
			t.Errorf("%s: %+v", c.rcpt, r)
		}
	}
	msgs := sink.Messages()
	if len(msgs) != 2 {
		t.Fatalf("sink has %d messages, want the 2 accepted", len(msgs))
	}
	raw := msgs[0].Raw
	for _, want := range []string{"Message-ID: <abc-123@notify.example>", "In-Reply-To: <first@notify.example>", "References: <first@notify.example>", "Auto-Submitted: auto-generated", "text/plain", "text/html"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("message lacks %q", want)
		}
	}
	if bytes.Contains(raw, []byte("\r\nBcc:")) || strings.Contains(strings.ToLower(string(raw)), "\nbcc:") {
		t.Error("CRLF in a name or subject injected a header")
	}
}

func TestSendRecordsTheHashOfTheExactBytes(t *testing.T) {
	t.Parallel()
	s, sink := startSender(t, nil, time.Second)
	conn, err := s.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release(false)
	for i := 0; i < 3; i++ { // one connection, several messages
		r := conn.Send(context.Background(), message("ok@x.example"))
		if r.Verdict != delivery.Accepted {
			t.Fatalf("send %d: %+v", i, r)
		}
		sum := sha256.Sum256(sink.Messages()[i].Raw)
		if !bytes.Equal(sum[:], r.SHA256) {
			t.Errorf("send %d: hash differs from the received bytes", i)
		}
	}
}

func TestUnreachableRelay(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close() // nothing listens there now
	s, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: addr.Port, TLS: "none", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Conn(context.Background()); err == nil || !strings.Contains(err.Error(), "connect to relay") {
		t.Fatalf("err = %v, want a connect error", err)
	}
}

// TestBeforeContentGatesTheMessage: the gate runs once the relay is ready
// for the content; when it refuses, the connection is dropped mid-DATA and
// the relay keeps nothing; when it lets the message through, it is sent.
func TestBeforeContentGatesTheMessage(t *testing.T) {
	t.Parallel()
	s, sink := startSender(t, nil, time.Second)
	conn, err := s.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("no slot")
	m := message("ok@x.example")
	m.BeforeContent = func(context.Context) error { return refused }
	r := conn.Send(context.Background(), m)
	if r.Verdict == delivery.Accepted || !r.Broken || !r.NothingSent || !strings.Contains(r.Reply, "no slot") {
		t.Errorf("refused gate: %+v, want a broken connection and nothing sent", r)
	}
	conn.Release(true)
	conn, err = s.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release(false)
	calls := 0
	m.BeforeContent = func(context.Context) error { calls++; return nil }
	if r := conn.Send(context.Background(), m); r.Verdict != delivery.Accepted || calls != 1 {
		t.Errorf("open gate: %+v after %d calls, want accepted after one", r, calls)
	}
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("the relay kept %d messages, want 1 (the refused one dropped)", n)
	}
}
