package smtp_test

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

// fakeRelay is a scripted SMTP server that records how the client talks:
// which commands arrived, and whether a command came before the reply to
// the one before it (pipelined).
type fakeRelay struct {
	pipelining bool
	// replies maps a command verb (MAIL, RCPT, DATA, END for the end of
	// the message) to the reply to give instead of the normal one.
	replies map[string]string

	mu        sync.Mutex
	commands  []string
	pipelined int // commands that arrived while an earlier one was unanswered
	messages  int
}

func (f *fakeRelay) start(t *testing.T) *smtp.Sender {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	s, err := smtp.New(smtp.Config{Host: host, Port: p, TLS: "none", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func (f *fakeRelay) serve(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	say := func(s string) {
		w.WriteString(s + "\r\n")
		w.Flush()
	}
	scripted := func(verb string) (string, bool) {
		f.mu.Lock()
		defer f.mu.Unlock()
		s, ok := f.replies[verb]
		return s, ok
	}
	reply := func(verb, normal string) {
		if s, ok := scripted(verb); ok {
			normal = s
		}
		say(normal)
	}
	say("220 fake ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		f.mu.Lock()
		f.commands = append(f.commands, verb)
		if r.Buffered() > 0 {
			f.pipelined++
		}
		f.mu.Unlock()
		switch verb {
		case "EHLO":
			if f.pipelining {
				say("250-fake\r\n250-PIPELINING\r\n250 8BITMIME")
			} else {
				say("250-fake\r\n250 8BITMIME")
			}
		case "MAIL", "RCPT":
			reply(verb, "250 2.0.0 OK")
		case "DATA":
			reply(verb, "354 go ahead")
			if s, ok := scripted("DATA"); ok && !strings.HasPrefix(s, "354") {
				continue
			}
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			f.mu.Lock()
			f.messages++
			f.mu.Unlock()
			reply("END", "250 2.0.0 queued")
		case "RSET", "NOOP":
			say("250 2.0.0 OK")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 5.5.2 no")
		}
	}
}

func (f *fakeRelay) log() (string, int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.commands, " "), f.pipelined, f.messages
}

func TestSendPipelinesTheEnvelope(t *testing.T) {
	t.Parallel()
	for _, pipelining := range []bool{true, false} {
		f := &fakeRelay{pipelining: pipelining}
		s := f.start(t)
		conn, err := s.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if r := conn.Send(context.Background(), message("ok@x.example")); r.Verdict != delivery.Accepted || r.Reply != "250 2.0.0 queued" {
				t.Fatalf("pipelining %v, send %d: %+v", pipelining, i, r)
			}
		}
		conn.Release(false)
		cmds, pipelined, msgs := f.log()
		// No RSET between two good transactions, no NOOP before each.
		if cmds != "EHLO MAIL RCPT DATA MAIL RCPT DATA" || msgs != 2 {
			t.Errorf("pipelining %v: commands %q, %d messages", pipelining, cmds, msgs)
		}
		if want := map[bool]int{true: 4, false: 0}[pipelining]; pipelined != want {
			// MAIL and RCPT arrive with the commands after them, twice.
			t.Errorf("pipelining %v: %d commands arrived before the previous reply, want %d", pipelining, pipelined, want)
		}
	}
}

func TestSendPipelinedFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		replies   map[string]string
		code      int
		permanent bool
		step      string
		// commands after the failed transaction's EHLO: the next send
		// starts with RSET.
		cmds string
	}{
		{"mail refused", map[string]string{"MAIL": "550 5.7.1 sender refused", "RCPT": "503 5.5.1 need MAIL", "DATA": "503 5.5.1 need RCPT"},
			550, true, "MAIL FROM", "EHLO MAIL RCPT DATA RSET MAIL RCPT DATA"},
		{"recipient deferred", map[string]string{"RCPT": "450 4.2.1 busy", "DATA": "554 5.5.1 no valid recipients"},
			450, false, "RCPT TO", "EHLO MAIL RCPT DATA RSET MAIL RCPT DATA"},
		// A relay that takes DATA although RCPT failed gets an empty
		// message, ended at once.
		{"data taken anyway", map[string]string{"RCPT": "550 5.1.1 unknown", "END": "250 2.0.0 queued"},
			550, true, "RCPT TO", "EHLO MAIL RCPT DATA RSET MAIL RCPT DATA"},
		{"message refused", map[string]string{"END": "554 5.7.1 spam"},
			554, true, "end of DATA", "EHLO MAIL RCPT DATA RSET MAIL RCPT DATA"},
	}
	for _, c := range cases {
		f := &fakeRelay{pipelining: true, replies: c.replies}
		s := f.start(t)
		conn, err := s.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r := conn.Send(context.Background(), message("ok@x.example"))
		if r.Verdict == delivery.Accepted || r.Broken || r.Code != c.code || (r.Verdict == delivery.Rejected) != c.permanent || !strings.HasPrefix(r.Reply, c.step+": ") {
			t.Errorf("%s: %+v", c.name, r)
		}
		// The session is still in step: the next transaction works.
		f.mu.Lock()
		f.replies = nil
		f.mu.Unlock()
		if r := conn.Send(context.Background(), message("ok@x.example")); r.Verdict != delivery.Accepted {
			t.Errorf("%s: next send on the same connection: %+v", c.name, r)
		}
		conn.Release(false)
		if cmds, _, _ := f.log(); cmds != c.cmds {
			t.Errorf("%s: commands %q, want %q", c.name, cmds, c.cmds)
		}
	}
}

// TestSendPipelinedFailureThenClosing: RCPT is refused, then the relay
// answers DATA with 421 (it is closing the connection). The result is the
// refusal, and it says the connection is gone, so it is not reused.
func TestSendPipelinedFailureThenClosing(t *testing.T) {
	t.Parallel()
	f := &fakeRelay{pipelining: true, replies: map[string]string{"RCPT": "550 5.1.1 unknown", "DATA": "421 4.3.0 closing"}}
	s := f.start(t)
	conn, err := s.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := conn.Send(context.Background(), message("ok@x.example"))
	conn.Release(r.Broken)
	if r.Verdict == delivery.Accepted || r.Code != 550 || r.Verdict != delivery.Rejected || !r.Broken {
		t.Errorf("result %+v, want the 550, permanent, and the connection broken", r)
	}
}
