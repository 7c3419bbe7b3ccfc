package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jhillyerd/enmime/v2"
)

// MaxDepthDefault is how deep attached messages are opened unless
// ParserConfig.MaxDepth says otherwise.
const MaxDepthDefault = 5

// ParserConfig sets how a Parser reads messages.
type ParserConfig struct {
	// MaxDepth is how many levels of attached messages (message/rfc822
	// inside message/rfc822 ...) are opened for their participants; deeper
	// ones are reported in Problems. Zero means MaxDepthDefault.
	MaxDepth int
	// MaxScanBytes is how much of each text-like attachment becomes a
	// TextPart for secret scanning; the rest is reported in Problems.
	// Zero means MaxScanBytesDefault.
	MaxScanBytes int
}

// MaxScanBytesDefault is how much of a text-like attachment is scanned
// unless ParserConfig.MaxScanBytes says otherwise: configuration and key
// files are small, and a 40 MB log would cost seconds of CPU.
const MaxScanBytesDefault = 1 << 20

// Parser reads raw messages with enmime (see the package comment for why
// enmime). It holds no state between messages and is safe for concurrent
// use.
type Parser struct {
	cfg    ParserConfig
	enmime *enmime.Parser
	// afterRead, when set (in tests), runs on each envelope read: it
	// stands in for a library that panics.
	afterRead func(*enmime.Envelope)
}

// NewParser returns a Parser for cfg.
func NewParser(cfg ParserConfig) (*Parser, error) {
	if cfg.MaxDepth < 0 {
		return nil, fmt.Errorf("evidence: MaxDepth %d is negative", cfg.MaxDepth)
	}
	if cfg.MaxDepth == 0 {
		cfg.MaxDepth = MaxDepthDefault
	}
	if cfg.MaxScanBytes < 0 {
		return nil, fmt.Errorf("evidence: MaxScanBytes %d is negative", cfg.MaxScanBytes)
	}
	if cfg.MaxScanBytes == 0 {
		cfg.MaxScanBytes = MaxScanBytesDefault
	}
	return &Parser{
		cfg: cfg,
		// The declared charset is trusted when there is one: statistical
		// detection overrides it on a guess, and costs 40 % of the parsing
		// time (see the package comment). Parts without one are still
		// detected.
		enmime: enmime.NewParser(
			enmime.DisableCharacterDetection(true),
			// Stolen mail is often broken: a part whose header or
			// encoding cannot be read is skipped and reported in the
			// envelope's Errors instead of failing the whole message, and a
			// text part with corrupt base64 keeps what decoded.
			enmime.SkipMalformedParts(true),
			enmime.SetReadPartErrorPolicy(enmime.AllowCorruptTextPartErrorPolicy),
			enmime.MultipartWOBoundaryAsSinglePart(true),
		),
	}, nil
}

// Message is what a message says about itself, as far as it could be read.
type Message struct {
	// Source, SHA256 and Size are the Raw's: where the message was found,
	// what identifies it, how long it is.
	Source string   `json:"source"`
	SHA256 [32]byte `json:"-"`
	Size   int64    `json:"size"`

	// MessageID, InReplyTo and References are message ids without their
	// angle brackets, for threading.
	MessageID  string   `json:"message_id,omitempty"`
	InReplyTo  []string `json:"in_reply_to,omitempty"`
	References []string `json:"references,omitempty"`
	// Date is the Date header; zero when missing or unreadable.
	Date time.Time `json:"date,omitzero"`
	// Subject is decoded (encoded words, charsets) to UTF-8.
	Subject string `json:"subject,omitempty"`
	// Participants are the addresses of the participant headers, of the
	// message and of the messages attached to it (see Participant.Depth).
	Participants []Participant `json:"participants,omitempty"`
	// Attachments are the message's attached and inline files, and those
	// of attached messages.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Text and HTML are the message's own text and HTML bodies, in UTF-8;
	// Text is made from HTML when the message has no text part.
	Text string `json:"-"`
	HTML string `json:"-"`
	// TextParts are all the text of the message a secret can hide in, by
	// name (see TextPart): subject, text, HTML and header block, the text
	// of attached messages and text-like attachments. Secret findings
	// name their part, and a reveal finds its text again by that name.
	TextParts []TextPart `json:"-"`
	// Problems are what the MIME library reported as malformed and what
	// this package does not read (TNEF, encrypted parts, depth limit).
	Problems []string `json:"problems,omitempty"`
	// files are the decoded contents of Attachments, index for index.
	files [][]byte
}

// AttachmentContent returns the decoded content of Attachments[i], for
// the portal's download of one file; false when there is no such file.
func (m *Message) AttachmentContent(i int) ([]byte, bool) {
	if i < 0 || i >= len(m.files) {
		return nil, false
	}
	return m.files[i], true
}

// Attachment is a file carried by a message.
type Attachment struct {
	// Name is the file name the message gives it, decoded; may be empty.
	Name string `json:"name,omitempty"`
	// ContentType is its media type without parameters.
	ContentType string `json:"content_type"`
	// Size is the decoded size in bytes.
	Size int `json:"size"`
	// Depth is 0 for the message's own files, 1 for those of an attached
	// message, and so on (as Participant.Depth).
	Depth int `json:"depth"`
	// Part is where it is in the message: the MIME part id, prefixed for
	// the parts of an attached message by that message's part id and "/"
	// ("2/1.2"). It names the part in TextParts ("attachment 2/1.2") and
	// for a download.
	Part string `json:"part,omitempty"`
}

// TextPart is a piece of a message's text, named for where it is:
// "subject", "text", "html" and "headers" (the raw header block) of the
// message itself; "message P text", "message P html" and "message P
// headers" of the message attached as part P; "attachment P" of a
// text-like file.
type TextPart struct {
	Name string
	Text string
}

// TextPart returns the text of the part named name, and whether there is
// one.
func (m *Message) TextPart(name string) (string, bool) {
	for _, p := range m.TextParts {
		if p.Name == name {
			return p.Text, true
		}
	}
	return "", false
}

// ErrUnparseable is wrapped by every error Parse returns.
var ErrUnparseable = errors.New("unparseable")

// UnparseableError says why a message could not be read. The message is
// kept (its Raw stays the evidence); what could be salvaged of its headers
// is in the Message returned with it.
type UnparseableError struct {
	Reason string
}

// Error says "unparseable: " and the reason.
func (e *UnparseableError) Error() string { return "unparseable: " + e.Reason }

// Unwrap makes errors.Is(err, ErrUnparseable) true.
func (e *UnparseableError) Unwrap() error { return ErrUnparseable }

// Parse reads one raw message. It always returns the Message with the
// raw's Source, SHA256 and Size; the error, an *UnparseableError, says the
// MIME structure could not be read at all (too large, no header, a library
// failure), in which case the Message holds what a plain header read
// salvaged (participants included) and no bodies. A panic in the library
// is recovered and reported the same way.
func (p *Parser) Parse(raw Raw) (msg Message, err error) {
	msg = Message{Source: raw.Source, SHA256: raw.SHA256, Size: raw.Size}
	if raw.TooLarge {
		return msg, &UnparseableError{Reason: fmt.Sprintf("too large: %d bytes", raw.Size)}
	}
	defer func() {
		if r := recover(); r != nil {
			msg = Message{Source: raw.Source, SHA256: raw.SHA256, Size: raw.Size}
			err = &UnparseableError{Reason: fmt.Sprintf("the MIME library failed (panic: %v)", r)}
		}
	}()
	env, err := p.enmime.ReadEnvelope(bytes.NewReader(raw.Bytes))
	if err != nil {
		salvageHeaders(&msg, raw.Bytes)
		// What could be read is still scanned for secrets.
		msg.addText("subject", msg.Subject)
		hdr := headerBlock(raw.Bytes)
		msg.addText("headers", string(hdr[:min(len(hdr), p.cfg.MaxScanBytes)]))
		return msg, &UnparseableError{Reason: err.Error()}
	}
	if p.afterRead != nil {
		p.afterRead(env)
	}
	p.fill(&msg, env, 0, "", raw.Bytes)
	return msg, nil
}

// fill copies what env says into msg; depth is 0 for the message itself,
// prefix "" for it and "P/" for a message attached as part P; raw is the
// message's bytes, for its header block.
func (p *Parser) fill(msg *Message, env *enmime.Envelope, depth int, prefix string, raw []byte) {
	header := func(name string) []string { return env.GetHeaderValues(name) }
	if depth == 0 {
		msg.MessageID = firstID(env.GetHeader("Message-ID"))
		msg.InReplyTo = messageIDs(env.GetHeader("In-Reply-To"))
		msg.References = messageIDs(strings.Join(header("References"), " "))
		msg.Subject = env.GetHeader("Subject")
		if env.GetHeader("Date") != "" {
			if d, err := env.Date(); err == nil {
				msg.Date = d
			} else {
				msg.Problems = append(msg.Problems, fmt.Sprintf("date unreadable: %v", err))
			}
		}
		msg.Text, msg.HTML = env.Text, env.HTML
		for _, e := range env.Errors {
			msg.Problems = append(msg.Problems, e.Error())
		}
	}
	name := func(what string) string {
		if prefix == "" {
			return what
		}
		return "message " + strings.TrimSuffix(prefix, "/") + " " + what
	}
	if depth == 0 {
		msg.addText("subject", msg.Subject)
	}
	msg.addText(name("text"), env.Text)
	msg.addText(name("html"), env.HTML)
	msg.addText(name("headers"), string(headerBlock(raw)))
	addParticipants(msg, header, depth)
	if env.Root != nil {
		p.walkParts(msg, env.Root, depth, prefix)
	}
}

// addText adds a TextPart unless it is empty, in valid UTF-8 (a scanner
// and a page both need it).
func (m *Message) addText(name, text string) {
	if text != "" {
		m.TextParts = append(m.TextParts, TextPart{Name: name, Text: strings.ToValidUTF8(text, "\uFFFD")})
	}
}

// headerBlock is raw's header block, up to the first empty line (CRLF or
// LF, whichever comes first).
func headerBlock(raw []byte) []byte {
	end := len(raw)
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(raw, []byte(sep)); i >= 0 && i < end {
			end = i
		}
	}
	return raw[:end]
}

// addParticipants adds the addresses of every participant header.
func addParticipants(msg *Message, values func(string) []string, depth int) {
	for _, h := range participantHeaders {
		for _, v := range values(h) {
			addrs, problem := addressesOf(v)
			if problem != "" {
				msg.Problems = append(msg.Problems, fmt.Sprintf("%s header at depth %d not well formed (%s): read %d address(es) leniently", h, depth, problem, len(addrs)))
			}
			for _, a := range addrs {
				msg.Participants = append(msg.Participants, participant(h, depth, a))
			}
		}
	}
}

// walkParts lists attachments and opens attached messages.
func (p *Parser) walkParts(msg *Message, part *enmime.Part, depth int, prefix string) {
	for ; part != nil; part = part.NextSibling {
		ct := strings.ToLower(part.ContentType)
		switch {
		case ct == "message/rfc822" || ct == "message/global" || implicitDigestMessage(part):
			p.nested(msg, part, depth, prefix)
		case ct == "text/rfc822-headers" || ct == "message/rfc822-headers":
			p.nestedHeaders(msg, part, depth)
		case ct == "application/ms-tnef" || ct == "application/vnd.ms-tnef" || strings.EqualFold(part.FileName, "winmail.dat"):
			msg.Problems = append(msg.Problems, fmt.Sprintf("part %s: winmail.dat (TNEF) is not decoded: the files inside it are not listed", part.PartID))
		case ct == "application/pkcs7-mime" || ct == "application/x-pkcs7-mime" || ct == "multipart/encrypted":
			msg.Problems = append(msg.Problems, fmt.Sprintf("part %s: encrypted content (%s) is not readable", part.PartID, ct))
		case ct == "message/partial":
			msg.Problems = append(msg.Problems, fmt.Sprintf("part %s: message/partial fragments are not reassembled", part.PartID))
		}
		if isAttachment(part) {
			a := Attachment{Name: part.FileName, ContentType: part.ContentType, Size: len(part.Content), Depth: depth, Part: prefix + part.PartID}
			msg.Attachments = append(msg.Attachments, a)
			p.scanAttachment(msg, a, part.Content)
			msg.files = append(msg.files, part.Content)
		}
		if part.FirstChild != nil {
			p.walkParts(msg, part.FirstChild, depth, prefix)
		}
	}
}

// implicitDigestMessage reports whether part is a member of a
// multipart/digest without a Content-Type of its own: RFC 2046 5.1.5 makes
// it message/rfc822, where enmime reads it as text.
func implicitDigestMessage(part *enmime.Part) bool {
	return part.Parent != nil && strings.EqualFold(part.Parent.ContentType, "multipart/digest") &&
		part.Header.Get("Content-Type") == "" && part.FirstChild == nil
}

// isAttachment reports whether a part is a file rather than a body: it
// has a file name or an attachment disposition, or is a leaf that is
// neither text nor a multipart.
func isAttachment(part *enmime.Part) bool {
	if part.FirstChild != nil {
		return false
	}
	if part.FileName != "" || strings.EqualFold(part.Disposition, "attachment") {
		return true
	}
	ct := strings.ToLower(part.ContentType)
	return part.Parent != nil && ct != "" && !strings.HasPrefix(ct, "text/") && !strings.HasPrefix(ct, "multipart/") &&
		!strings.HasPrefix(ct, "message/")
}

// scanAttachment makes a text-like attachment a TextPart, up to
// MaxScanBytes.
func (p *Parser) scanAttachment(msg *Message, a Attachment, content []byte) {
	if !textLike(a, content) {
		return
	}
	if len(content) > p.cfg.MaxScanBytes {
		msg.Problems = append(msg.Problems, fmt.Sprintf("part %s: only the first %d of %d bytes scanned for secrets", a.Part, p.cfg.MaxScanBytes, len(content)))
		content = content[:p.cfg.MaxScanBytes]
	}
	msg.addText("attachment "+a.Part, string(content))
}

// nested opens an attached message for its participants and attachments.
func (p *Parser) nested(msg *Message, part *enmime.Part, depth int, prefix string) {
	if depth+1 > p.cfg.MaxDepth {
		msg.Problems = append(msg.Problems, fmt.Sprintf("part %s: attached message deeper than %d levels not opened", part.PartID, p.cfg.MaxDepth))
		return
	}
	env, err := p.enmime.ReadEnvelope(bytes.NewReader(part.Content))
	if err != nil {
		msg.Problems = append(msg.Problems, fmt.Sprintf("part %s: attached message unreadable: %v", part.PartID, err))
		inner := Message{}
		salvageHeaders(&inner, part.Content)
		for _, pt := range inner.Participants {
			pt.Depth = depth + 1
			msg.Participants = append(msg.Participants, pt)
		}
		return
	}
	for _, e := range env.Errors {
		msg.Problems = append(msg.Problems, fmt.Sprintf("part %s (attached message): %v", part.PartID, e))
	}
	p.fill(msg, env, depth+1, prefix+part.PartID+"/", part.Content)
}

// nestedHeaders reads the header block of a returned message (bounce and
// abuse reports carry it as text/rfc822-headers).
func (p *Parser) nestedHeaders(msg *Message, part *enmime.Part, depth int) {
	content := part.Content
	if !bytes.Contains(content, []byte("\n\n")) && !bytes.Contains(content, []byte("\r\n\r\n")) {
		content = append(append([]byte(nil), content...), "\r\n\r\n"...)
	}
	m, err := mail.ReadMessage(bytes.NewReader(content))
	if err != nil {
		msg.Problems = append(msg.Problems, fmt.Sprintf("part %s: returned message headers unreadable: %v", part.PartID, err))
		return
	}
	addParticipants(msg, func(name string) []string { return m.Header[name] }, depth+1)
}

// salvageHeaders reads the header block alone with net/mail, for a
// message whose MIME structure enmime could not read.
func salvageHeaders(msg *Message, b []byte) {
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		// A header block whose first line is indented (a continuation of
		// nothing) is refused whole; its fields are still there.
		if m, err = mail.ReadMessage(bytes.NewReader(bytes.TrimLeft(b, " \t"))); err != nil {
			return
		}
	}
	h := m.Header
	msg.MessageID = firstID(h.Get("Message-ID"))
	msg.InReplyTo = messageIDs(h.Get("In-Reply-To"))
	msg.References = messageIDs(strings.Join(h["References"], " "))
	msg.Subject = enmime.DecodeRFC2047(h.Get("Subject"))
	if d, err := h.Date(); err == nil {
		msg.Date = d
	}
	addParticipants(msg, func(name string) []string { return h[name] }, 0)
}

// messageIDs returns the <...> ids of a header value, without brackets;
// a value with no brackets at all is taken as whitespace-separated ids.
func messageIDs(v string) []string {
	var ids []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.TrimSpace(v[i+1 : i+j]); id != "" {
			ids = append(ids, id)
		}
		v = v[i+j+1:]
	}
	if ids == nil {
		ids = strings.Fields(v)
	}
	return ids
}

func firstID(v string) string {
	if ids := messageIDs(v); len(ids) > 0 {
		return ids[0]
	}
	return ""
}
