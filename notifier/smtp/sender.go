// Package smtp sends notices through an SMTP relay with go-mail's SMTP
// client: a pool of reused connections (one per sending goroutine),
// messages built once (by our own MIME writer, mime.go, which writes what
// go-mail's would) and hashed exactly as sent, and replies classified as
// accepted, temporary or permanent, each annotated with the SMTP step that
// produced it.
package smtp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
	mailsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
)

// Defaults for Config.
const (
	TimeoutDefault = 30 * time.Second
	MaxIdleDefault = 64
	// idleCheckAfter is how long a pooled connection may sit before it is
	// checked with NOOP: relays close idle sessions, and a delivery must not
	// be deferred because its connection had silently died.
	idleCheckAfter = 15 * time.Second
)

// Config describes the relay and how to talk to it.
type Config struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLS is "starttls" (required), "tls" (implicit TLS) or "none".
	TLS        string
	SkipVerify bool
	// Auth is the SASL mechanism to log in with when Username is set:
	// AuthPlain, AuthLogin, AuthCramMD5 or AuthNone; empty means the best
	// of PLAIN, LOGIN and CRAM-MD5 the relay offers, over TLS only.
	Auth string
	// InsecureAuth allows PLAIN and LOGIN without TLS.
	InsecureAuth bool
	// Timeout bounds the dial and each SMTP exchange.
	Timeout time.Duration
	// HELO is the name to greet with; empty means the host name.
	HELO string
	// MaxIdle is how many idle connections are kept for reuse.
	MaxIdle int
	// DKIM signs every message when set.
	DKIM *DKIM
	// DKIMEd25519, with DKIM set to an RSA key, adds a second signature
	// with an Ed25519 key (RFC 8463 dual signing): receivers that know
	// Ed25519 check the strong, short one, the others the RSA one.
	DKIMEd25519 *DKIM
	// SMIME, when set, S/MIME-signs every message with this key and
	// certificate (chain).
	SMIME *tls.Certificate
}

// Sender implements delivery.Sender.
type Sender struct {
	dialer *mail.Client
	// auth is the relay's name and the credentials and mechanism to log
	// in with (authenticate); go-mail's own AUTH is not used, so that a
	// refusal can say what the relay offered and what was tried.
	auth    Config
	timeout time.Duration
	idle    chan *conn
	// build are the Build options every message gets (signing).
	build []Option
}

// New validates cfg and returns a Sender. It does not connect yet.
func New(cfg Config) (*Sender, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = TimeoutDefault
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = MaxIdleDefault
	}
	opts := []mail.Option{
		mail.WithPort(cfg.Port),
		mail.WithTimeout(cfg.Timeout),
		mail.WithTLSConfig(&tls.Config{ServerName: cfg.Host, InsecureSkipVerify: cfg.SkipVerify, MinVersion: tls.VersionTLS12}), //nolint:gosec // opt-in for test relays
	}
	switch cfg.TLS {
	case "starttls", "":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return nil, fmt.Errorf("smtp: unknown TLS mode %q", cfg.TLS)
	}
	switch cfg.Auth {
	case "", AuthPlain, AuthLogin, AuthCramMD5, AuthNone:
	default:
		return nil, fmt.Errorf("smtp: unknown AUTH mechanism %q (plain, login, cram-md5 or none)", cfg.Auth)
	}
	if cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(cfg.HELO))
	}
	c, err := mail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	build, err := signing(cfg)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	auth := Config{Host: cfg.Host, Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth, InsecureAuth: cfg.InsecureAuth}
	return &Sender{dialer: c, auth: auth, timeout: cfg.Timeout, idle: make(chan *conn, cfg.MaxIdle), build: build}, nil
}

// Conn returns a pooled connection that still answers, or dials a new one.
// A dial or TLS failure means the relay is unreachable; a refused login
// is an *AuthError (errors.Is delivery.ErrRelayAuth).
func (s *Sender) Conn(ctx context.Context) (delivery.SenderConn, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Sender) conn(ctx context.Context) (*conn, error) {
	for {
		select {
		case c := <-s.idle:
			if time.Since(c.lastUsed) < idleCheckAfter || c.alive() {
				return c, nil
			}
			c.close()
		default:
			client, err := s.dialer.DialToSMTPClientWithContext(ctx)
			if err != nil {
				return nil, fmt.Errorf("connect to relay %s: %w", s.dialer.ServerAddr(), err)
			}
			mech, err := authenticate(client, &s.auth)
			if err != nil {
				_ = client.Close()
				return nil, fmt.Errorf("log in to relay %s as %s: %w", s.dialer.ServerAddr(), s.auth.Username, err)
			}
			c := newConn(s, client)
			c.mechanism = mech
			return c, nil
		}
	}
}

// Close closes every idle connection.
func (s *Sender) Close() {
	for {
		select {
		case c := <-s.idle:
			c.close()
		default:
			return
		}
	}
}

// conn is one SMTP session.
type conn struct {
	sender   *Sender
	client   *mailsmtp.Client
	lastUsed time.Time
	// dirty means a transaction ended without a 250 to DATA, so the next
	// one must start with RSET.
	dirty bool
	// pipelining is the relay's PIPELINING (RFC 2920); mailParams are the
	// MAIL FROM parameters its extensions call for. Both are read once,
	// from the EHLO reply.
	pipelining bool
	mailParams string
	// smtputf8 is the relay's SMTPUTF8 (RFC 6531): without it an address
	// whose local part is not ASCII cannot be sent.
	smtputf8 bool
	// msg holds the message as built, and buf the message dot-stuffed as
	// it is sent; both are reused between sends.
	msg bytes.Buffer
	buf []byte
	// mechanism is the SASL mechanism the session logged in with; empty
	// when it did not.
	mechanism string
}

func newConn(s *Sender, client *mailsmtp.Client) *conn {
	c := &conn{sender: s, client: client, lastUsed: time.Now()}
	c.pipelining, _ = client.Extension("PIPELINING")
	// The parameters go-mail's own MAIL command adds.
	if ok, _ := client.Extension("8BITMIME"); ok {
		c.mailParams += " BODY=8BITMIME"
	}
	if c.smtputf8, _ = client.Extension("SMTPUTF8"); c.smtputf8 {
		c.mailParams += " SMTPUTF8"
	}
	return c
}

func (c *conn) alive() bool {
	_ = c.client.UpdateDeadline(c.sender.timeout)
	return c.client.Noop() == nil
}

func (c *conn) close() {
	_ = c.client.UpdateDeadline(time.Second)
	if err := c.client.Quit(); err != nil {
		_ = c.client.Close()
	}
}

// Release returns the connection to the pool, or closes it when broken or
// when the pool is full.
func (c *conn) Release(broken bool) {
	if broken {
		_ = c.client.Close()
		return
	}
	c.lastUsed = time.Now()
	select {
	case c.sender.idle <- c:
	default:
		c.close()
	}
}

// Send runs one SMTP transaction: MAIL, RCPT, DATA. The message is built
// once, so the SHA-256 recorded is of exactly the bytes the relay accepted.
// The reply becomes the engine's verdict here: a temporary reply that asks
// us to slow down is Throttled.
func (c *conn) Send(ctx context.Context, m *notifier.Message) delivery.SendResult {
	start := time.Now()
	res := c.send(ctx, m)
	if isThrottling(res) {
		res.Verdict = delivery.Throttled
	}
	res.Duration = time.Since(start)
	return res
}

// send runs the transaction in as few writes and round trips as the relay
// allows: with PIPELINING (RFC 2920), MAIL, RCPT and DATA go out in one
// write and their three replies are read after it; the message, already
// dot-stuffed, goes out in one more write with its terminating dot. That
// is two round trips per message instead of four, and two writes instead
// of five or more (each SMTP command, and each 4 KB of message, was a
// write system call of its own, on both ends). A relay without PIPELINING
// gets one command at a time.
//
// A transaction that ended badly leaves the session dirty and the next
// one starts with RSET. After a 250 to the message no RSET is sent: MAIL
// starts a new transaction and clears the old one's state (RFC 5321
// §4.1.1.2), so an RSET there would only cost a round trip. Nor is there
// a NOOP before each message: a pooled connection is checked only when it
// sat idle for idleCheckAfter.
func (c *conn) send(ctx context.Context, m *notifier.Message) delivery.SendResult {
	if !c.smtputf8 {
		var refused *delivery.SendResult
		if m, refused = asciiRecipient(m); refused != nil {
			return *refused
		}
	}
	raw, err := build(&c.msg, m, c.sender.build...)
	if c.msg.Cap() > maxKeptBuffer {
		c.msg = bytes.Buffer{}
	}
	if err != nil {
		return delivery.SendResult{Verdict: delivery.Rejected, Reply: "build message: " + err.Error()}
	}
	sum := sha256.Sum256(raw)
	from, to := envelope(m.From.Address), envelope(m.To.Address)
	if strings.ContainsAny(from+to, "\r\n") {
		return delivery.SendResult{Verdict: delivery.Rejected, Reply: "envelope address contains a line break"}
	}
	deadline := time.Now().Add(c.sender.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.client.UpdateDeadline(time.Until(deadline)); err != nil {
		return classify("deadline", err)
	}
	if c.dirty {
		if err := c.client.Reset(); err != nil {
			r := classify("RSET", err)
			r.Broken, r.NothingSent = true, true
			return r
		}
		c.dirty = false
	}
	c.dirty = true
	if r, ok := c.envelope(from, to); !ok {
		return r
	}
	if m.BeforeContent != nil {
		if err := m.BeforeContent(ctx); err != nil {
			// Closing the connection in the middle of DATA makes the relay
			// drop the transaction (RFC 5321 §4.1.1.4: only the final dot
			// commits it).
			return delivery.SendResult{Broken: true, NothingSent: true, Reply: "not sent: " + err.Error()}
		}
	}
	text := c.client.Text
	c.buf = dotStuff(c.buf[:0], raw)
	_, err = text.W.Write(c.buf)
	if err == nil {
		err = text.W.Flush()
	}
	if err != nil {
		r := classify("DATA write", err)
		r.Broken = true
		return r
	}
	if cap(c.buf) > maxKeptBuffer {
		c.buf = nil
	}
	_, msg, err := text.ReadResponse(250)
	if err != nil {
		return classify("end of DATA", err)
	}
	c.dirty = false
	reply := "250"
	if msg != "" {
		reply = "250 " + msg
	}
	return delivery.SendResult{Verdict: delivery.Accepted, Code: 250, Detail: enhancedCode(reply[3:]), Reply: reply, SHA256: sum[:]}
}

// maxKeptBuffer is the largest message buffer a connection keeps for the
// next message; a larger one (a message with big attachments) is dropped.
const maxKeptBuffer = 1 << 20

// envelope sends MAIL FROM, RCPT TO and DATA, and reads their replies. It
// returns ok when the relay is ready for the message (354); otherwise the
// result is that of the first command that failed.
func (c *conn) envelope(from, to string) (delivery.SendResult, bool) {
	text := c.client.Text
	steps := [...]struct {
		name string
		line string
		code int
	}{
		{"MAIL FROM", "MAIL FROM:" + from + c.mailParams, 250},
		{"RCPT TO", "RCPT TO:" + to, 25},
		{"DATA", "DATA", 354},
	}
	// A write error sticks to the buffered writer and comes back from
	// the Flush after it.
	write := func(line string) {
		_, _ = text.W.WriteString(line)
		_, _ = text.W.WriteString("\r\n")
	}
	var failed *delivery.SendResult
	for i, st := range steps {
		// Without pipelining each command is written alone; with it, all
		// three are written before the first reply is read.
		if i == 0 || !c.pipelining {
			todo := steps[i : i+1]
			if c.pipelining {
				todo = steps[:]
			}
			for _, s := range todo {
				write(s.line)
			}
			if err := text.W.Flush(); err != nil {
				r := classify(st.name, err)
				r.NothingSent = i == 0
				return r, false
			}
		}
		_, _, err := text.ReadResponse(st.code)
		if err == nil {
			if i == len(steps)-1 && failed != nil {
				// A relay that takes DATA although MAIL or RCPT failed
				// gets an empty message, ended at once, then RSET.
				write(".")
				if err := text.W.Flush(); err != nil {
					failed.Broken = true
				} else if _, _, err := text.ReadResponse(0); err != nil {
					failed.Broken = failed.Broken || !isReply(err)
				}
			}
			continue
		}
		r := classify(st.name, err)
		if i == 0 {
			r.NothingSent = r.Code == 0
		}
		if failed == nil {
			failed = &r
		} else if r.Broken {
			// An earlier command failed, and now the connection is gone
			// too (no reply, or 421): the result says both.
			failed.Broken = true
		}
		if r.Code == 0 || !c.pipelining {
			// No reply (the connection is gone), or nothing more was sent.
			break
		}
	}
	if failed != nil {
		return *failed, false
	}
	return delivery.SendResult{}, true
}

// isReply reports whether err is an SMTP reply rather than a failure to
// talk to the relay.
func isReply(err error) bool {
	var tpErr *textproto.Error
	return errors.As(err, &tpErr)
}

// dotStuff appends to dst the message as DATA carries it (RFC 5321
// §4.5.2), ending with the terminating "." line: a line starting with a
// dot gets one more, bare line feeds become CRLF, and a last line without
// one gets it. It is what net/textproto's DotWriter writes, byte for
// byte, in one pass over a buffer instead of one buffered write call per
// byte.
func dotStuff(dst, src []byte) []byte {
	dst = slices.Grow(dst, len(src)+len(src)/64+8)
	const (
		begin = iota // nothing written yet
		beginLine
		data
		cr // wrote a CR
	)
	state := begin
	for len(src) > 0 {
		switch state {
		case begin, beginLine:
			if src[0] == '.' {
				dst = append(dst, '.')
			}
		case cr:
			// The byte after a CR is copied as it is.
			state = data
			if src[0] == '\n' {
				state = beginLine
			}
			dst = append(dst, src[0])
			src = src[1:]
			continue
		}
		// The rest of the line, and whether a line feed ends it.
		line, ends := src, false
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, ends = src[:i], true
		}
		text := line
		if ends && len(text) > 0 && text[len(text)-1] == '\r' {
			text = text[:len(text)-1]
		}
		if j := bytes.IndexByte(text, '\r'); j >= 0 {
			// A CR inside the line: copy up to it, then go byte by byte.
			dst = append(dst, src[:j+1]...)
			src = src[j+1:]
			state = cr
			continue
		}
		dst = append(dst, text...)
		if !ends {
			state = data
			break
		}
		dst = append(dst, '\r', '\n')
		src = src[len(line)+1:]
		state = beginLine
	}
	switch state {
	case begin, data:
		dst = append(dst, '\r', '\n')
	case cr:
		dst = append(dst, '\n')
	}
	return append(dst, '.', '\r', '\n')
}

var enhancedPattern = regexp.MustCompile(`^\s*([245]\.\d{1,3}\.\d{1,3})\b`)

func enhancedCode(text string) string {
	if m := enhancedPattern.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}

// classify turns an error from one SMTP step into a result. A reply code
// decides: 5xx is rejected, 4xx deferred (or throttled, see isThrottling),
// and 421 also means the server is closing the session. Anything without a reply (a dropped connection, a
// timeout) is temporary and leaves the connection unusable.
func classify(step string, err error) delivery.SendResult {
	var tpErr *textproto.Error
	if errors.As(err, &tpErr) {
		r := delivery.SendResult{
			Code:   tpErr.Code,
			Detail: enhancedCode(tpErr.Msg),
			Reply:  fmt.Sprintf("%s: %d %s", step, tpErr.Code, strings.ReplaceAll(tpErr.Msg, "\n", " ")),
			Broken: tpErr.Code == 421,
		}
		if tpErr.Code >= 500 {
			r.Verdict = delivery.Rejected
		}
		return r
	}
	return delivery.SendResult{Reply: step + ": " + err.Error(), Broken: true}
}

// Build renders m as the exact bytes to send: text and HTML alternatives,
// a stable Message-ID, threading headers and Auto-Submitted (RFC 3834) so
// out-of-office robots do not answer, and whatever opts add (WithSMIME,
// WithDKIM: the signatures are part of the bytes returned). Names and the
// subject are encoded so they arrive exactly as given (see headers.go).
func Build(m *notifier.Message, opts ...Option) ([]byte, error) {
	var buf bytes.Buffer
	return build(&buf, m, opts...)
}

// build is Build writing into buf, which a connection reuses from one
// message to the next (the message is about 9 KB, allocated anew each
// time otherwise). The result aliases buf unless the message is signed.
func build(buf *bytes.Buffer, m *notifier.Message, opts ...Option) ([]byte, error) {
	return buildAt(buf, m, time.Now(), opts...)
}

// buildAt is build dated now, which a test sets to compare messages.
func buildAt(buf *bytes.Buffer, m *notifier.Message, now time.Time, opts ...Option) ([]byte, error) {
	if !validAddress(m.From.Address) {
		return nil, fmt.Errorf("from: %q is not an address", m.From.Address)
	}
	if !validAddress(m.To.Address) {
		return nil, fmt.Errorf("to: %q is not an address", m.To.Address)
	}
	for name := range m.Headers {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("header: %q is not a header name", name)
		}
	}
	var b builder
	for _, opt := range opts {
		if err := opt(&b); err != nil {
			return nil, err
		}
	}
	// Room for both parts quoted-printable encoded and the headers, so the
	// buffer is not grown (and copied) several times per message.
	buf.Reset()
	buf.Grow(len(m.Text)*9/8 + len(m.HTML)*9/8 + 4096)
	if b.smime != nil {
		if err := buildWithGoMail(buf, m, now, b.smime); err != nil {
			return nil, err
		}
	} else {
		var boundary [60]byte
		if m.HTML != "" {
			boundary = newBoundary()
		}
		// Appended to the buffer's free space, which Write then takes in
		// place (the slices are the same memory unless it had to grow).
		_, _ = buf.Write(appendMessage(buf.AvailableBuffer(), m, now, boundary[:]))
	}
	if len(b.dkim) == 0 {
		return buf.Bytes(), nil
	}
	return signAll(b.dkim, buf.Bytes())
}

// buildWithGoMail writes m into buf with go-mail's message writer, as
// build did before it had its own (mime.go): what an S/MIME signature
// needs (go-mail signs the body as it writes it), and what the tests
// compare the writer with. smime may be nil.
func buildWithGoMail(buf *bytes.Buffer, m *notifier.Message, now time.Time, smime *tls.Certificate) error {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	msg.SetGenHeaderPreformatted(mail.Header(mail.HeaderFrom), formatAddress(m.From.Name, m.From.Address))
	msg.SetGenHeaderPreformatted(mail.Header(mail.HeaderTo), formatAddress(m.To.Name, m.To.Address))
	// go-mail leaves ASCII alone and folds at spaces, which is where the
	// encoded words are separated.
	msg.Subject(headerText(m.Subject))
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(now)
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	if m.InReplyTo != "" {
		msg.SetGenHeader(mail.HeaderInReplyTo, "<"+m.InReplyTo+">")
	}
	if len(m.References) > 0 {
		msg.SetGenHeader(mail.HeaderReferences, "<"+strings.Join(m.References, "> <")+">")
	}
	for k, v := range m.Headers {
		msg.SetGenHeader(mail.Header(k), v)
	}
	// SetBodyString and AddAlternativeString would copy each body whole
	// before encoding it; the parts are written one after the other, so
	// one small buffer serves both.
	scratch := make([]byte, bodyChunk)
	msg.SetBodyWriter(mail.TypeTextPlain, stringBody(m.Text, scratch))
	if m.HTML != "" {
		msg.AddAlternativeWriter(mail.TypeTextHTML, stringBody(m.HTML, scratch))
	}
	if smime != nil {
		if err := msg.SignWithTLSCertificate(smime); err != nil {
			return fmt.Errorf("s/mime: %w", err)
		}
	}
	_, err := msg.WriteTo(buf)
	return err
}

// bodyChunk is how much of a body is handed to the encoder at a time.
const bodyChunk = 1024

// stringBody is a go-mail body writer that hands s to the encoder in
// pieces copied through scratch. The quoted-printable encoder keeps its
// state (line length, a CR before LF) across writes, so the encoding is
// the same as of s in one piece.
func stringBody(s string, scratch []byte) func(io.Writer) (int64, error) {
	return func(w io.Writer) (int64, error) {
		var n int64
		for rest := s; len(rest) > 0; {
			k := copy(scratch, rest)
			written, err := w.Write(scratch[:k])
			n += int64(written)
			if err != nil {
				return n, err
			}
			rest = rest[k:]
		}
		return n, nil
	}
}

// validAddress reports an address that can go in a header and an envelope
// as it is: no line breaks, no angle brackets or commas that would end it
// early.
func validAddress(addr string) bool {
	return strings.Contains(addr, "@") && !strings.ContainsAny(addr, "\r\n<>,\x00")
}

// oneLine folds any control characters into spaces. Imports already refuse
// them; this keeps a header value one line whatever reaches here.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s // as FieldsFunc and Join would return it, without their copies
	}
	return strings.Join(strings.FieldsFunc(s, isControl), " ")
}

// isControl reports the characters oneLine folds.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f
}

// asciiRecipient readies a message for a relay without SMTPUTF8: an
// internationalized domain goes as punycode, in the envelope and the To
// header alike; an address whose local part is not ASCII cannot go at all,
// and the result says so for good (RFC 6531's 5.6.7), since retrying
// through the same relay will not help.
func asciiRecipient(m *notifier.Message) (*notifier.Message, *delivery.SendResult) {
	ascii, utf8Local, err := notifier.AddressASCII(m.To.Address)
	switch {
	case err != nil:
		return m, nil // build refuses it with its own message
	case utf8Local:
		return m, &delivery.SendResult{Verdict: delivery.Rejected, Detail: "5.6.7",
			Reply: "not sent: the address has a non-ASCII local part (RFC 6531), which needs SMTPUTF8, and the relay does not offer SMTPUTF8; send through a relay that does"}
	case ascii == m.To.Address:
		return m, nil
	}
	out := *m
	out.To.Address = ascii
	return &out, nil
}

// envelope formats an address for MAIL FROM and RCPT TO: in angle brackets,
// with the local part quoted when it needs to be (RFC 5321 §4.1.2).
func envelope(addr string) string {
	return (&netmail.Address{Address: addr}).String()
}
