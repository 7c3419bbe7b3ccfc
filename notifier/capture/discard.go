package capture

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Discard is a minimal SMTP server that accepts every message and keeps
// nothing. It exists so that `bench` measures breachnotify, not its sink:
// it speaks just enough SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
// QUIT) and reads message bodies in bulk, spending far less CPU per
// message than a full server.
type Discard struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
}

// StartDiscard listens on addr and serves until Close.
func StartDiscard(addr string) (*Discard, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	d := &Discard{ln: ln, conns: map[net.Conn]struct{}{}}
	d.wg.Add(1)
	go d.serve()
	return d, nil
}

// Addr is the listening address.
func (d *Discard) Addr() string { return d.ln.Addr().String() }

// Accepted counts messages accepted.
func (d *Discard) Accepted() int64 { return d.accepted.Load() }

// Close stops the server and its connections.
func (d *Discard) Close() error {
	d.mu.Lock()
	d.closed = true
	for c := range d.conns {
		_ = c.Close()
	}
	d.mu.Unlock()
	err := d.ln.Close()
	d.wg.Wait()
	return err
}

func (d *Discard) serve() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			_ = c.Close()
			return
		}
		d.conns[c] = struct{}{}
		d.mu.Unlock()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.session(c)
			d.mu.Lock()
			delete(d.conns, c)
			d.mu.Unlock()
			_ = c.Close()
		}()
	}
}

func (d *Discard) session(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriter(c)
	reply := func(s string) bool {
		_ = c.SetWriteDeadline(time.Now().Add(time.Minute))
		w.WriteString(s)
		w.WriteString("\r\n")
		return w.Flush() == nil
	}
	if !reply("220 discard ESMTP") {
		return
	}
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		cmd := bytes.ToUpper(bytes.TrimSpace(line))
		if len(cmd) > 4 {
			cmd = cmd[:4]
		}
		switch string(cmd) {
		case "EHLO":
			if !reply("250-discard\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SMTPUTF8") {
				return
			}
		case "HELO", "MAIL", "RCPT", "RSET", "NOOP":
			if !reply("250 2.0.0 OK") {
				return
			}
		case "DATA":
			if !reply("354 go ahead") || skipData(r) != nil {
				return
			}
			d.accepted.Add(1)
			if !reply("250 2.0.0 OK: discarded") {
				return
			}
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			if !reply("502 5.5.2 command not implemented") {
				return
			}
		}
	}
}

// skipData reads a message body up to the terminating "." line.
func skipData(r *bufio.Reader) error {
	lineStart := true
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			lineStart = false // the rest of a long line follows
			continue
		}
		if err != nil {
			return err
		}
		if lineStart && len(line) <= 3 && (string(line) == ".\r\n" || string(line) == ".\n") {
			return nil
		}
		lineStart = true
	}
}
