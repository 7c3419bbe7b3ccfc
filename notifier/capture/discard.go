package capture

import (
	"bufio"
	"bytes"
	"net"
	"sync"
	"time"
)

// Discard is a minimal SMTP server that accepts every message and keeps
// nothing. It exists so that `bench` measures breachnotify, not its sink:
// it speaks just enough SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
// QUIT) and reads message bodies in bulk, spending far less CPU per
// message than a full server.
type Discard struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
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
	// send writes a reply and, unless later is set and the client has more
	// commands waiting, flushes the replies written so far: the replies to
	// pipelined commands (RFC 2920) leave in one write.
	send := func(s string, later bool) bool {
		w.WriteString(s)
		w.WriteString("\r\n")
		if later && r.Buffered() > 0 {
			return true
		}
		_ = c.SetWriteDeadline(time.Now().Add(time.Minute))
		return w.Flush() == nil
	}
	reply := func(s string) bool { return send(s, true) }
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
			// The client waits for this reply before it sends the body.
			if !send("354 go ahead", false) || skipData(r) != nil {
				return
			}
			if !reply("250 2.0.0 OK: discarded") {
				return
			}
		case "QUIT":
			send("221 2.0.0 bye", false)
			return
		default:
			if !reply("502 5.5.2 command not implemented") {
				return
			}
		}
	}
}

// dataEnd ends a message body: the "." line.
var dataEnd = []byte("\n.\r\n")

// skipData reads a message body up to the terminating "." line, a
// buffer at a time rather than a line at a time.
func skipData(r *bufio.Reader) error {
	// The body's first line may be the "." line; after that, the end is a
	// line feed followed by ".\r\n". seen keeps the last bytes of the
	// buffer discarded before, so an end split between reads is found.
	if b, err := r.Peek(3); err == nil && string(b) == ".\r\n" {
		_, err = r.Discard(3)
		return err
	}
	var seen []byte
	for {
		if _, err := r.Peek(1); err != nil {
			return err
		}
		buf, _ := r.Peek(r.Buffered())
		if len(seen) > 0 {
			// An end split between the previous buffer and this one.
			joined := append(seen, buf[:min(len(buf), len(dataEnd)-1)]...)
			if i := bytes.Index(joined, dataEnd); i >= 0 {
				_, err := r.Discard(i + len(dataEnd) - len(seen))
				return err
			}
		}
		if i := bytes.Index(buf, dataEnd); i >= 0 {
			_, err := r.Discard(i + len(dataEnd))
			return err
		}
		seen = append(seen, buf[max(0, len(buf)-(len(dataEnd)-1)):]...)
		seen = append(seen[:0], seen[max(0, len(seen)-(len(dataEnd)-1)):]...)
		if _, err := r.Discard(len(buf)); err != nil {
			return err
		}
	}
}
