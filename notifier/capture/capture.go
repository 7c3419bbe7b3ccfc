// Package capture is an SMTP server (go-smtp) that receives what
// breachnotify sends when no relay is configured: it keeps every message in
// a Sink (PostgreSQL for the embedded mailbox, memory for tests, nothing for
// benchmarks). A Script can answer any step with a scripted reply, a drop
// or a delay, which is how tests and fault runs inject relay failures.
package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/breachnotify/breachnotify/notifier"
)

// Sink keeps received messages.
type Sink interface {
	SaveCapturedMessage(ctx context.Context, m notifier.CapturedMessage) error
}

// Step is the SMTP command a Script is asked about.
type Step string

// The scripted steps.
const (
	StepMail Step = "MAIL"
	StepRcpt Step = "RCPT"
	StepData Step = "DATA" // after the message body was received
)

// Fault is a scripted answer to one step.
type Fault struct {
	// Code and Message make an SMTP error reply (for example 451, "4.7.1
	// Try later"); zero Code means no error reply.
	Code    int
	Message string
	// Drop closes the connection without answering.
	Drop bool
	// Delay waits before answering (to exceed a client's timeout).
	Delay time.Duration
}

// Script decides how a step is answered for a recipient (empty at MAIL).
// A nil Fault means the normal answer.
type Script func(step Step, rcpt string) *Fault

// Options configure a Server.
type Options struct {
	// Sink keeps messages; nil discards them (a benchmark sink).
	Sink Sink
	// Script injects faults; nil never does.
	Script Script
	// Domain is the name the server greets with.
	Domain string
	// ErrorLog receives server errors; nil discards them.
	ErrorLog *log.Logger
	// SMTPUTF8 advertises RFC 6531's SMTPUTF8, so internationalized
	// addresses (sécurité@exämple.de) are taken; without it the server is
	// a relay that cannot take them, as many still are.
	SMTPUTF8 bool
}

// Server is a running capture SMTP server.
type Server struct {
	srv      *gosmtp.Server
	ln       net.Listener
	opts     Options
	accepted atomic.Int64
	done     chan struct{}
}

// Start listens on addr (host:port, port 0 for any) and serves until Close.
func Start(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("capture mailbox: listen on %s: %w", addr, err)
	}
	if opts.Domain == "" {
		opts.Domain = "capture.breachnotify.invalid"
	}
	s := &Server{ln: ln, opts: opts, done: make(chan struct{})}
	s.srv = gosmtp.NewServer(s)
	s.srv.Domain = opts.Domain
	s.srv.MaxMessageBytes = 25 << 20
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout = 5 * time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.AllowInsecureAuth = true
	s.srv.EnableSMTPUTF8 = opts.SMTPUTF8
	if opts.ErrorLog != nil {
		s.srv.ErrorLog = opts.ErrorLog
	} else {
		s.srv.ErrorLog = log.New(io.Discard, "", 0)
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Accepted counts messages accepted since Start.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Close stops the server and waits for it.
func (s *Server) Close() error {
	// Close the listener too: right after Start, Serve may not have
	// registered it with the server yet, and the server's Close alone would
	// leave Serve running (and this call waiting) for good.
	_ = s.ln.Close()
	err := s.srv.Close()
	<-s.done
	if errors.Is(err, gosmtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// NewSession implements gosmtp.Backend.
func (s *Server) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return &session{srv: s, conn: c}, nil
}

type session struct {
	srv  *Server
	conn *gosmtp.Conn
	from string
	rcpt []string
}

// apply runs the script for a step; a non-nil error is the reply to give.
func (s *session) apply(step Step, rcpt string) error {
	if s.srv.opts.Script == nil {
		return nil
	}
	f := s.srv.opts.Script(step, rcpt)
	if f == nil {
		return nil
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	if f.Drop {
		_ = s.conn.Conn().Close()
		return errors.New("connection dropped by script")
	}
	if f.Code != 0 {
		return &gosmtp.SMTPError{Code: f.Code, EnhancedCode: gosmtp.NoEnhancedCode, Message: f.Message}
	}
	return nil
}

func (s *session) Reset()        { s.from, s.rcpt = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) AuthMechanisms() []string { return []string{"PLAIN"} }

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if err := s.apply(StepMail, ""); err != nil {
		return err
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if err := s.apply(StepRcpt, to); err != nil {
		return err
	}
	s.rcpt = append(s.rcpt, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, rcpt := range s.rcpt {
		if err := s.apply(StepData, rcpt); err != nil {
			return err
		}
	}
	m := notifier.CapturedMessage{MailFrom: s.from, Recipients: s.rcpt, Raw: raw}
	if s.srv.opts.Sink != nil {
		if hdr, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
			dec := new(mime.WordDecoder)
			m.Subject = hdr.Header.Get("Subject")
			if d, err := dec.DecodeHeader(m.Subject); err == nil {
				m.Subject = d
			}
			m.MessageID = strings.Trim(hdr.Header.Get("Message-Id"), "<> ")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.srv.opts.Sink.SaveCapturedMessage(ctx, m); err != nil {
			return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "capture mailbox cannot store the message now"}
		}
	}
	s.srv.accepted.Add(1)
	return nil
}

// Memory is a Sink that keeps messages in memory, for tests.
type Memory struct {
	mu   sync.Mutex
	msgs []notifier.CapturedMessage
}

// SaveCapturedMessage implements Sink.
func (m *Memory) SaveCapturedMessage(_ context.Context, msg notifier.CapturedMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg.ID = int64(len(m.msgs) + 1)
	msg.ReceivedAt = time.Now()
	m.msgs = append(m.msgs, msg)
	return nil
}

// Messages returns a copy of what was received, in order.
func (m *Memory) Messages() []notifier.CapturedMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notifier.CapturedMessage(nil), m.msgs...)
}
