// Package imaptest runs a real IMAP server for tests: go-imap's server
// over its in-memory backend, on a loopback listener, without TLS.
package imaptest

import (
	"bytes"
	"io"
	"log"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/backend/memory"
	"github.com/emersion/go-imap/client"
	"github.com/emersion/go-imap/server"

	"github.com/breachnotify/breachnotify/notifier/bounceinbox"
)

// The in-memory backend's only user.
const (
	User     = "username"
	Password = "password"
)

// Server is a running IMAP server.
type Server struct {
	// Addr is its loopback host:port.
	Addr string
	// URL reaches it with the backend's credentials, without TLS.
	URL string
}

// Start runs a server until the test ends. Its INBOX holds one message
// already \Seen (the backend's own sample), which a poll must leave alone.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := server.New(lockedBackend{mu: new(sync.Mutex), next: memory.New()})
	s.AllowInsecureAuth = true
	s.ErrorLog = log.New(io.Discard, "", 0)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	addr := ln.Addr().String()
	return &Server{Addr: addr, URL: "imap://" + User + ":" + Password + "@" + addr + "?tls=none"}
}

// Server returns the poller's view of the server: the backend's user,
// without TLS.
func (s *Server) Server() bounceinbox.Server {
	return bounceinbox.Server{Addr: s.Addr, Username: User, Password: Password, TLS: "none"}
}

// Message is a message in a folder as a test sees it.
type Message struct {
	UID   uint32
	Flags []string
	Body  []byte
}

// Append puts raw into folder, unseen.
func (s *Server) Append(t testing.TB, folder string, raw []byte) {
	t.Helper()
	c := s.login(t)
	defer func() { _ = c.Logout() }()
	if err := c.Append(folder, nil, time.Now(), bytes.NewReader(raw)); err != nil {
		t.Fatalf("append to %s: %v", folder, err)
	}
}

// Messages lists folder's messages with their flags (sorted) and bodies,
// without changing them; nil when the folder does not exist.
func (s *Server) Messages(t testing.TB, folder string) []Message {
	t.Helper()
	c := s.login(t)
	defer func() { _ = c.Logout() }()
	mb, err := c.Select(folder, true)
	if err != nil {
		return nil
	}
	if mb.Messages == 0 {
		return []Message{}
	}
	set := new(imap.SeqSet)
	set.AddRange(1, mb.Messages)
	section := &imap.BodySectionName{Peek: true}
	ch := make(chan *imap.Message, mb.Messages)
	if err := c.Fetch(set, []imap.FetchItem{imap.FetchUid, imap.FetchFlags, section.FetchItem()}, ch); err != nil {
		t.Fatalf("fetch %s: %v", folder, err)
	}
	var out []Message
	for m := range ch {
		var body bytes.Buffer
		if lit := m.GetBody(section); lit != nil {
			_, _ = body.ReadFrom(lit)
		}
		flags := append([]string(nil), m.Flags...)
		sort.Strings(flags)
		out = append(out, Message{UID: m.Uid, Flags: flags, Body: body.Bytes()})
	}
	return out
}

func (s *Server) login(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.ErrorLog = log.New(io.Discard, "", 0)
	if err := c.Login(User, Password); err != nil {
		t.Fatal(err)
	}
	return c
}
