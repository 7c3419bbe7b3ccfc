package review

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/textproto"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/evidence"
	"github.com/breachnotify/breachnotify/notifier/secrets"
	"github.com/breachnotify/breachnotify/notifier/vault"
)

// Blobs reads an incident's key and evidence back (notifier/store).
type Blobs interface {
	IncidentKey(ctx context.Context, incidentID int64) (vault.WrappedKey, bool, error)
	EvidenceReader(ctx context.Context, incidentID int64, name []byte) (io.Reader, error)
}

// ShownBytesDefault is how much of a message's text and of its HTML a
// page shows; the rest is in the original, offered for download.
const ShownBytesDefault = 256 << 10

// Config is a Reviewer's parts.
type Config struct {
	// Service checks and audits every use (PortalEvidence).
	Service *notifier.Service
	Blobs   Blobs
	// Keyring unwraps the incidents' data keys; Scope names the key of
	// an incident (ingest.Scope).
	Keyring *vault.Keyring
	Scope   func(incidentID int64) string
	// Secrets finds the findings' secrets again, to mask them (the
	// import's scanner, under the same fingerprint key); nil masks
	// nothing in the text, and the findings are still listed.
	Secrets *secrets.Scanner
	// ShownBytes is how much text and HTML a page shows; 0 means
	// ShownBytesDefault.
	ShownBytes int
}

// Reviewer reads stolen messages for the portal. It is safe for
// concurrent use.
type Reviewer struct {
	cfg       Config
	parser    *evidence.Parser
	sanitizer *Sanitizer
}

// TooLargePrefix starts the unparseable reason of a message the import
// did not keep, being too large (evidence.Parser): its page and download
// have no bytes to show.
const TooLargePrefix = "too large"

// ErrNoKey is returned when no master key is configured.
var ErrNoKey = notifier.Errorf(notifier.CodeConflict, "stolen mail cannot be shown: no evidence master key is configured")

// New returns a Reviewer.
func New(cfg Config) (*Reviewer, error) {
	if cfg.Service == nil || cfg.Blobs == nil || cfg.Scope == nil {
		return nil, errors.New("review: service, blobs and scope are required")
	}
	if cfg.ShownBytes <= 0 {
		cfg.ShownBytes = ShownBytesDefault
	}
	p, err := evidence.NewParser(evidence.ParserConfig{})
	if err != nil {
		return nil, err
	}
	return &Reviewer{cfg: cfg, parser: p, sanitizer: NewSanitizer()}, nil
}

// Header is one header of a message as a page shows it: decoded text.
type Header struct {
	Name, Value string
}

// Clear is a secret revealed on purpose: pages print it escaped but
// otherwise exactly (not defanged, unlike other stolen text), so that it
// can be checked and rotated.
type Clear string

// Segment is a piece of shown text: plain stolen text, or a secret,
// masked or (the one revealed) in clear.
type Segment struct {
	Text string
	// Secret marks a finding's place; Finding is its Seq.
	Secret   bool
	Finding  int
	Revealed Clear
}

// Finding is a finding as the page lists it.
type Finding struct {
	notifier.PortalFinding
	// Revealed is the secret, for the one finding revealed.
	Revealed Clear
}

// MessageView is what a message's page shows.
type MessageView struct {
	notifier.PortalMessageDetail
	Headers []Header
	Subject []Segment
	// Text is the text part, with its secrets masked.
	Text []Segment
	// TextSize is the text part's whole length; TextCut says only the
	// first ShownBytes of it are shown.
	TextSize int
	TextCut  bool
	// HasHTML says there is an HTML part (shown in its frame).
	HasHTML  bool
	HTMLSize int
	HTMLCut  bool
	// RawHeaders are the header lines of a message that could not be
	// parsed, as text.
	RawHeaders string
	Findings   []Finding
	// ShownKiB is how much of each part is shown.
	ShownKiB int
}

// Message reads a message for its page: reveal, when not negative,
// names the one finding shown in clear (audited as a reveal instead of
// a view).
func (rv *Reviewer) Message(ctx context.Context, sess notifier.PortalSession, ref notifier.MessageRef, reveal int) (MessageView, error) {
	use := notifier.EvidenceUse{Action: notifier.ActionEvidenceView, What: "message"}
	if reveal >= 0 {
		use = notifier.EvidenceUse{Action: notifier.ActionEvidenceReveal, What: "secret", Finding: reveal}
	}
	d, err := rv.cfg.Service.PortalEvidence(ctx, sess, ref, use)
	if err != nil {
		return MessageView{}, err
	}
	raw, err := rv.readAll(ctx, d)
	if err != nil {
		return MessageView{}, err
	}
	v := MessageView{PortalMessageDetail: d, ShownKiB: rv.cfg.ShownBytes >> 10}
	v.Headers = headers(raw)
	msg, perr := rv.parser.Parse(evidence.Raw{Bytes: raw, Size: int64(len(raw)), SHA256: ref.SHA256})
	if perr != nil || d.Unparseable != "" {
		v.RawHeaders = rawHeaders(raw)
		msg.Text, msg.HTML = "", ""
	}
	revealed := Clear("")
	if reveal >= 0 {
		revealed = rv.reveal(msg, d.Findings, reveal)
	}
	for _, f := range d.Findings {
		fv := Finding{PortalFinding: f}
		if f.Seq == reveal {
			fv.Revealed = revealed
		}
		v.Findings = append(v.Findings, fv)
	}
	headerText, _ := msg.TextPart("headers")
	rv.maskHeaders(&v, msg.Subject, headerText, reveal)
	v.Subject = rv.segments(msg.Subject, "subject", d.Findings, reveal, revealed)
	if msg.Subject == "" {
		v.Subject = []Segment{{Text: d.Subject}}
	}
	v.TextSize, v.HTMLSize, v.HasHTML = len(msg.Text), len(msg.HTML), msg.HTML != ""
	text, cut := prefix(msg.Text, rv.cfg.ShownBytes)
	v.Text, v.TextCut = rv.segments(text, "text", d.Findings, reveal, revealed), cut
	_, v.HTMLCut = prefix(msg.HTML, rv.cfg.ShownBytes)
	return v, nil
}

// HTML returns a message's HTML part made safe (Sanitize), its secrets
// masked, for the frame of its page; "" when it has none.
func (rv *Reviewer) HTML(ctx context.Context, sess notifier.PortalSession, ref notifier.MessageRef) (string, error) {
	d, err := rv.cfg.Service.PortalEvidence(ctx, sess, ref, notifier.EvidenceUse{Action: notifier.ActionEvidenceView, What: "html"})
	if err != nil {
		return "", err
	}
	raw, err := rv.readAll(ctx, d)
	if err != nil {
		return "", err
	}
	msg, perr := rv.parser.Parse(evidence.Raw{Bytes: raw, Size: int64(len(raw)), SHA256: ref.SHA256})
	if perr != nil {
		return "", nil
	}
	src, _ := prefix(msg.HTML, rv.cfg.ShownBytes)
	var b strings.Builder
	for _, s := range rv.segments(src, "html", d.Findings, -1, "") {
		if s.Secret {
			b.WriteString(html.EscapeString(s.Text))
			continue
		}
		b.WriteString(s.Text)
	}
	return rv.sanitizer.Sanitize(b.String()), nil
}

// Attachment returns file n of a message for download (audited).
func (rv *Reviewer) Attachment(ctx context.Context, sess notifier.PortalSession, ref notifier.MessageRef, n int) (notifier.EvidenceAttachment, []byte, error) {
	d, err := rv.cfg.Service.PortalEvidence(ctx, sess, ref, notifier.EvidenceUse{Action: notifier.ActionEvidenceDownload, What: "attachment", Attachment: n})
	if err != nil {
		return notifier.EvidenceAttachment{}, nil, err
	}
	raw, err := rv.readAll(ctx, d)
	if err != nil {
		return notifier.EvidenceAttachment{}, nil, err
	}
	// enmime reads a message whole; its parts are slices of what it read.
	msg, _ := rv.parser.Parse(evidence.Raw{Bytes: raw, Size: int64(len(raw)), SHA256: ref.SHA256})
	content, ok := msg.AttachmentContent(n)
	if !ok || n >= len(d.Files) {
		return notifier.EvidenceAttachment{}, nil, notifier.Errorf(notifier.CodeNotFound, "no such attachment")
	}
	return d.Files[n], content, nil
}

// Original returns the message's raw bytes as a stream (audited), for
// the download of its .eml: it is decrypted a segment at a time.
func (rv *Reviewer) Original(ctx context.Context, sess notifier.PortalSession, ref notifier.MessageRef) (notifier.PortalMessageDetail, io.Reader, error) {
	d, err := rv.cfg.Service.PortalEvidence(ctx, sess, ref, notifier.EvidenceUse{Action: notifier.ActionEvidenceDownload, What: "original"})
	if err != nil {
		return d, nil, err
	}
	r, err := rv.open(ctx, d)
	return d, r, err
}

// Detail returns a message's record without reading it, for the
// warning page before a download (audited as a view of that page).
func (rv *Reviewer) Detail(ctx context.Context, sess notifier.PortalSession, ref notifier.MessageRef, what string) (notifier.PortalMessageDetail, error) {
	return rv.cfg.Service.PortalEvidence(ctx, sess, ref, notifier.EvidenceUse{Action: notifier.ActionEvidenceView, What: what})
}

func (rv *Reviewer) open(ctx context.Context, d notifier.PortalMessageDetail) (io.Reader, error) {
	if rv.cfg.Keyring == nil {
		return nil, ErrNoKey
	}
	w, found, err := rv.cfg.Blobs.IncidentKey(ctx, d.Ref.IncidentID)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notifier.Errorf(notifier.CodeNotFound, "the evidence of this incident is gone")
	}
	key, err := rv.cfg.Keyring.Unwrap(rv.cfg.Scope(d.Ref.IncidentID), w)
	if err != nil {
		return nil, fmt.Errorf("review: data key of incident %d: %w", d.Ref.IncidentID, err)
	}
	src, err := rv.cfg.Blobs.EvidenceReader(ctx, d.Ref.IncidentID, d.Ref.SHA256[:])
	if err != nil {
		return nil, err
	}
	return key.Decrypt(src, string(d.Ref.SHA256[:]))
}

func (rv *Reviewer) readAll(ctx context.Context, d notifier.PortalMessageDetail) ([]byte, error) {
	r, err := rv.open(ctx, d)
	if err != nil {
		return nil, err
	}
	// d.Size is the message's size as found; a message too large to keep
	// has no bytes stored, so it only hints at the buffer's size.
	b := bytes.NewBuffer(make([]byte, 0, min(d.Size, 16<<20)+1))
	if _, err := b.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("review: read message %s: %w", d.Ref, err)
	}
	return b.Bytes(), nil
}

// maskHeaders masks, in the header lines shown (and the raw header block
// of an unreadable message), the secrets found in the subject and in the
// header block, but the one revealed: the lines shown are another
// spelling of both.
func (rv *Reviewer) maskHeaders(v *MessageView, subject, headers string, reveal int) {
	if rv.cfg.Secrets == nil {
		return
	}
	for _, f := range v.Findings {
		text := map[string]string{"subject": subject, "headers": headers}[f.Part]
		if text == "" || f.Seq == reveal {
			continue
		}
		secret := rv.cfg.Secrets.Reveal(text, toFinding(f.PortalFinding))
		if secret == "" {
			continue
		}
		for i := range v.Headers {
			v.Headers[i].Value = strings.ReplaceAll(v.Headers[i].Value, secret, f.Masked)
		}
		v.RawHeaders = strings.ReplaceAll(v.RawHeaders, secret, f.Masked)
	}
}

// reveal finds finding seq's secret again in the whole part it is in.
func (rv *Reviewer) reveal(msg evidence.Message, fs []notifier.PortalFinding, seq int) Clear {
	if rv.cfg.Secrets == nil {
		return ""
	}
	for _, f := range fs {
		if f.Seq != seq {
			continue
		}
		// The part's text as it was scanned at import: the subject, a
		// body, the header block, an attached message's, a file's.
		text, _ := msg.TextPart(f.Part)
		return Clear(rv.cfg.Secrets.Reveal(text, toFinding(f)))
	}
	return ""
}

func toFinding(f notifier.PortalFinding) secrets.Finding {
	return secrets.Finding{Type: secrets.Type(f.Type), RuleID: f.RuleID, Part: f.Part, Line: f.Line, Column: f.Column,
		Fingerprint: f.Fingerprint, Masked: f.Masked, Live: f.Live}
}

// segments cuts text into plain pieces and the secrets of the part's
// findings (masked, or in clear for the revealed one). Only a part with
// findings is scanned again.
func (rv *Reviewer) segments(text, part string, fs []notifier.PortalFinding, reveal int, revealed Clear) []Segment {
	var mine []notifier.PortalFinding
	for _, f := range fs {
		if f.Part == part {
			mine = append(mine, f)
		}
	}
	if len(mine) == 0 || rv.cfg.Secrets == nil || text == "" {
		if text == "" {
			return nil
		}
		return []Segment{{Text: text}}
	}
	list := make([]secrets.Finding, len(mine))
	for i, f := range mine {
		list[i] = toFinding(f)
	}
	spans := rv.cfg.Secrets.Locate(text, list)
	type placed struct {
		span secrets.Span
		f    notifier.PortalFinding
	}
	var ps []placed
	for i, sp := range spans {
		if sp.Start >= 0 {
			ps = append(ps, placed{sp, mine[i]})
		}
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].span.Start < ps[b].span.Start })
	var out []Segment
	at := 0
	for _, p := range ps {
		if p.span.Start < at {
			continue // overlapping: the first one covers it
		}
		if p.span.Start > at {
			out = append(out, Segment{Text: text[at:p.span.Start]})
		}
		s := Segment{Text: p.f.Masked, Secret: true, Finding: p.f.Seq}
		if p.f.Seq == reveal && revealed != "" {
			s.Revealed = revealed
		}
		out = append(out, s)
		at = p.span.End
	}
	if at < len(text) {
		out = append(out, Segment{Text: text[at:]})
	}
	return out
}

// prefix is the first n bytes of s, cut at a character boundary.
func prefix(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// shownHeaders are the headers a message's page lists, in this order.
var shownHeaders = []string{"From", "Sender", "Reply-To", "To", "Cc", "Date", "Subject", "Message-Id"}

// maxHeaderBlock bounds the header block read for display.
const maxHeaderBlock = 256 << 10

// headers reads the shown headers of raw, decoded (encoded words), as
// text; a header that repeats is listed once per value.
func headers(raw []byte) []Header {
	block := raw[:min(len(raw), maxHeaderBlock)]
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(block))).ReadMIMEHeader()
	var out []Header
	for _, name := range shownHeaders {
		for _, v := range h[textproto.CanonicalMIMEHeaderKey(name)] {
			v = strings.ToValidUTF8(enmime.DecodeRFC2047(strings.TrimSpace(v)), "\uFFFD")
			if len(v) > 4000 {
				v = v[:4000] + "…"
			}
			out = append(out, Header{Name: name, Value: v})
		}
	}
	return out
}

// rawHeaders is a message's header block as text, for one that could not
// be parsed.
func rawHeaders(raw []byte) string {
	block := raw[:min(len(raw), 64<<10)]
	if i := bytes.Index(block, []byte("\r\n\r\n")); i >= 0 {
		block = block[:i]
	} else if i := bytes.Index(block, []byte("\n\n")); i >= 0 {
		block = block[:i]
	}
	return strings.ToValidUTF8(strings.ReplaceAll(string(block), "\x00", "\uFFFD"), "\uFFFD")
}
