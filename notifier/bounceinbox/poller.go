// Package bounceinbox takes bounces in from a mailbox over IMAP: the
// address the notices' bounces go to is read on a schedule, each new
// message is recorded through the same path as a report uploaded by hand
// (notifier.Service.RecordReport), then marked \Seen and, when a processed
// folder is configured, moved there. A message that is not a bounce report
// is flagged (\Flagged) and left where it is for a person to look at:
// nothing is ever deleted.
package bounceinbox

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"

	"github.com/breachnotify/breachnotify/notifier"
)

// Defaults for Config.
const (
	// BatchDefault bounds the messages one poll takes in: a flood of
	// bounces is worked through over several polls, each short.
	BatchDefault = 200
	// MaxMessageBytesDefault is the largest message read: a DSN is a few
	// kilobytes plus the returned message, which the parser reads up to
	// 10 MiB of. A larger message is flagged unread.
	MaxMessageBytesDefault = 10 << 20
	// TimeoutDefault bounds each IMAP command.
	TimeoutDefault = time.Minute
)

// Server is an IMAP server and the mailbox's credentials (as
// config.ParseIMAPURL reads them).
type Server struct {
	// Addr is host:port.
	Addr               string
	Username, Password string
	// TLS is "tls" (TLS from the first byte), "starttls" (required before
	// logging in) or "none" (a test server on loopback).
	TLS string
}

// Actor is who the mailbox's bounces are recorded and audited as.
var Actor = notifier.Actor{Name: "bounce mailbox (imap)", Role: notifier.RoleOperator}

// Recorder records one bounce message (notifier.Service).
type Recorder interface {
	RecordReport(ctx context.Context, by notifier.Actor, in notifier.BounceReport) ([]notifier.BounceResult, error)
}

// Config configures a Poller.
type Config struct {
	// Server is the mailbox's server and credentials (see ParseURL).
	Server Server
	// Mailbox is the folder read (INBOX when empty).
	Mailbox string
	// Processed is the folder a recorded message moves to, created when
	// missing; empty leaves it in Mailbox, marked \Seen.
	Processed string
	// TLSConfig is the TLS configuration (nil: the system's roots, the
	// server's host name); tests give their own roots.
	TLSConfig *tls.Config
	// Batch bounds the messages taken in by one poll (BatchDefault when zero).
	Batch int
	// MaxMessageBytes is the largest message read (MaxMessageBytesDefault when zero).
	MaxMessageBytes uint32
	// Timeout bounds each IMAP command (TimeoutDefault when zero).
	Timeout  time.Duration
	Recorder Recorder
	Logger   *slog.Logger
}

// Poller reads the bounce mailbox.
type Poller struct {
	cfg Config
}

// New returns a Poller for cfg.
func New(cfg Config) (*Poller, error) {
	if cfg.Recorder == nil {
		return nil, errors.New("bounce mailbox: no recorder")
	}
	switch cfg.Server.TLS {
	case "tls", "starttls", "none":
	default:
		return nil, fmt.Errorf("bounce mailbox: TLS mode %q is none of tls, starttls, none", cfg.Server.TLS)
	}
	if cfg.Mailbox == "" {
		cfg.Mailbox = "INBOX"
	}
	if cfg.Batch <= 0 {
		cfg.Batch = BatchDefault
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = MaxMessageBytesDefault
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = TimeoutDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Poller{cfg: cfg}, nil
}

// Result is what one poll did.
type Result struct {
	// Recorded messages were bounce reports, recorded (or recorded before:
	// Duplicates counts those among them) and marked \Seen.
	Recorded, Duplicates int
	// Unparsed messages were not bounce reports: flagged and left.
	Unparsed int
	// More is true when the batch was full: more messages wait.
	More bool
}

// Poll takes in the mailbox's new messages: those neither \Seen nor
// \Flagged, oldest first, at most Batch of them. A failure to record stops
// the poll and leaves the message unseen, so the next poll takes it again
// (recording is idempotent: a message recorded before is not recorded twice).
func (p *Poller) Poll(ctx context.Context) (Result, error) {
	var res Result
	c, err := p.connect(ctx)
	if err != nil {
		return res, err
	}
	// go-imap v1 takes no context: closing the connection ends a command
	// in flight when ctx is cancelled.
	stop := context.AfterFunc(ctx, func() { _ = c.Terminate() })
	defer func() {
		stop()
		_ = c.Logout()
	}()
	if _, err := c.Select(p.cfg.Mailbox, false); err != nil {
		return res, fmt.Errorf("bounce mailbox: select %q: %w", p.cfg.Mailbox, err)
	}
	if p.cfg.Processed != "" {
		if err := p.ensureFolder(c, p.cfg.Processed); err != nil {
			return res, err
		}
	}
	criteria := imap.NewSearchCriteria()
	criteria.WithoutFlags = []string{imap.SeenFlag, imap.FlaggedFlag, imap.DeletedFlag}
	uids, err := c.UidSearch(criteria)
	if err != nil {
		return res, fmt.Errorf("bounce mailbox: search: %w", err)
	}
	if len(uids) > p.cfg.Batch {
		uids, res.More = uids[:p.cfg.Batch], true
	}
	for _, uid := range uids {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := p.takeIn(ctx, c, uid, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// takeIn reads, records and files one message.
func (p *Poller) takeIn(ctx context.Context, c *client.Client, uid uint32, res *Result) error {
	raw, err := p.fetch(c, uid)
	if err != nil {
		return err
	}
	if raw == nil {
		p.cfg.Logger.WarnContext(ctx, "bounce mailbox: message too large to be a bounce report; flagged", "uid", uid, "max_bytes", p.cfg.MaxMessageBytes)
		res.Unparsed++
		return p.flag(c, uid, imap.FlaggedFlag)
	}
	// The message's own bytes key it: the same message seen twice (a
	// poll interrupted after recording, a copy in the folder) records once.
	sum := sha256.Sum256(raw)
	results, err := p.cfg.Recorder.RecordReport(ctx, Actor, notifier.BounceReport{Source: notifier.SourceIMAP, Key: hex.EncodeToString(sum[:]), Raw: raw})
	if err != nil {
		return fmt.Errorf("bounce mailbox: record message %d: %w", uid, err)
	}
	if len(results) == 1 && results[0].Bounce.Kind == notifier.BounceUnknown {
		res.Unparsed++
		p.cfg.Logger.WarnContext(ctx, "bounce mailbox: message is not a bounce report; flagged and left", "uid", uid, "bounce_id", results[0].Bounce.ID)
		return p.flag(c, uid, imap.FlaggedFlag)
	}
	res.Recorded++
	if len(results) > 0 && results[0].Duplicate {
		res.Duplicates++
	}
	if err := p.flag(c, uid, imap.SeenFlag); err != nil {
		return err
	}
	if p.cfg.Processed == "" {
		return nil
	}
	return p.file(ctx, c, uid)
}

// file moves a recorded message to the processed folder. A server that
// cannot MOVE (RFC 6851) gets a COPY and keeps the original, seen: the
// fallback of COPY, \Deleted and EXPUNGE would also expunge whatever else
// someone marked deleted in the folder, and nothing here deletes mail.
func (p *Poller) file(ctx context.Context, c *client.Client, uid uint32) error {
	set := new(imap.SeqSet)
	set.AddNum(uid)
	if canMove, _ := c.Support("MOVE"); canMove {
		err := c.UidMove(set, p.cfg.Processed)
		if err == nil {
			return nil
		}
		p.cfg.Logger.DebugContext(ctx, "bounce mailbox: MOVE refused; copying instead", "uid", uid, "error", err)
	}
	if err := c.UidCopy(set, p.cfg.Processed); err != nil {
		return fmt.Errorf("bounce mailbox: copy message %d to %q: %w", uid, p.cfg.Processed, err)
	}
	return nil
}

// fetch reads a message whole without marking it \Seen (BODY.PEEK[]);
// nil when it is larger than MaxMessageBytes.
func (p *Poller) fetch(c *client.Client, uid uint32) ([]byte, error) {
	set := new(imap.SeqSet)
	set.AddNum(uid)
	size, err := fetchOne(c, set, []imap.FetchItem{imap.FetchUid, imap.FetchRFC822Size})
	if err != nil || size == nil || size.Size > p.cfg.MaxMessageBytes {
		return nil, err
	}
	section := &imap.BodySectionName{Peek: true}
	m, err := fetchOne(c, set, []imap.FetchItem{imap.FetchUid, section.FetchItem()})
	if err != nil || m == nil {
		return nil, err
	}
	lit := m.GetBody(section)
	if lit == nil {
		return nil, fmt.Errorf("bounce mailbox: the server sent no body for message %d", uid)
	}
	return io.ReadAll(io.LimitReader(lit, int64(p.cfg.MaxMessageBytes)))
}

// fetchOne runs one UID FETCH and returns its message (nil when the
// server has none by that UID).
func fetchOne(c *client.Client, set *imap.SeqSet, items []imap.FetchItem) (*imap.Message, error) {
	ch := make(chan *imap.Message, 1)
	done := make(chan error, 1)
	go func() { done <- c.UidFetch(set, items, ch) }()
	var got *imap.Message
	for m := range ch {
		got = m
	}
	if err := <-done; err != nil {
		return nil, fmt.Errorf("bounce mailbox: fetch: %w", err)
	}
	return got, nil
}

// flag adds flag to one message.
func (p *Poller) flag(c *client.Client, uid uint32, flag string) error {
	set := new(imap.SeqSet)
	set.AddNum(uid)
	if err := c.UidStore(set, imap.FormatFlagsOp(imap.AddFlags, true), []any{flag}, nil); err != nil {
		return fmt.Errorf("bounce mailbox: flag message %d %s: %w", uid, flag, err)
	}
	return nil
}

// ensureFolder creates name unless the server lists it.
func (p *Poller) ensureFolder(c *client.Client, name string) error {
	ch := make(chan *imap.MailboxInfo, 8)
	done := make(chan error, 1)
	go func() { done <- c.List("", name, ch) }()
	found := false
	for mb := range ch {
		found = found || mb.Name == name
	}
	if err := <-done; err != nil {
		return fmt.Errorf("bounce mailbox: list %q: %w", name, err)
	}
	if found {
		return nil
	}
	if err := c.Create(name); err != nil {
		return fmt.Errorf("bounce mailbox: create the processed folder %q: %w", name, err)
	}
	return nil
}

// connect dials, secures and logs in.
func (p *Poller) connect(ctx context.Context) (*client.Client, error) {
	s := p.cfg.Server
	tlsConfig := p.cfg.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	tlsConfig = tlsConfig.Clone()
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName, _, _ = net.SplitHostPort(s.Addr)
	}
	dialer := &net.Dialer{Timeout: p.cfg.Timeout}
	var c *client.Client
	var err error
	if s.TLS == "tls" {
		c, err = client.DialWithDialerTLS(dialer, s.Addr, tlsConfig)
	} else {
		c, err = client.DialWithDialer(dialer, s.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("bounce mailbox: connect to %s: %w", s.Addr, err)
	}
	c.Timeout = p.cfg.Timeout
	// The client logs a read on a connection closed by Logout or a
	// cancelled poll as an error; it is not one.
	c.ErrorLog = slog.NewLogLogger(p.cfg.Logger.Handler(), slog.LevelDebug)
	if s.TLS == "starttls" {
		if err := c.StartTLS(tlsConfig); err != nil {
			_ = c.Terminate()
			return nil, fmt.Errorf("bounce mailbox: STARTTLS with %s: %w", s.Addr, err)
		}
	}
	if err := ctx.Err(); err != nil {
		_ = c.Terminate()
		return nil, err
	}
	if err := c.Login(s.Username, s.Password); err != nil {
		_ = c.Terminate()
		return nil, fmt.Errorf("bounce mailbox: log in to %s as %q: %w", s.Addr, s.Username, err)
	}
	return c, nil
}
