package smtp

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// sameAsGoMail builds m with the message writer and with go-mail at the
// same instant and fails unless the bytes are the same once go-mail's
// boundary is replaced by ours and its From and To are put in our order
// (it writes them from a map, in either order).
func sameAsGoMail(t *testing.T, m *notifier.Message) {
	t.Helper()
	now := time.Date(2026, 12, 7, 15, 4, 5, 0, time.FixedZone("", 3600))
	var ours, theirs bytes.Buffer
	raw, err := buildAt(&ours, m, now)
	if err != nil {
		if !validAddress(m.From.Address) || !validAddress(m.To.Address) {
			return // refused before either writer runs
		}
		t.Fatalf("build: %v", err)
	}
	if err := buildWithGoMail(&theirs, m, now, nil); err != nil {
		t.Fatalf("go-mail: %v", err)
	}
	want := theirs.Bytes()
	from := "From: " + formatAddress(m.From.Name, m.From.Address) + "\r\n"
	to := "To: " + formatAddress(m.To.Name, m.To.Address) + "\r\n"
	want = bytes.Replace(want, []byte("\r\n"+to+from), []byte("\r\n"+from+to), 1)
	if m.HTML != "" {
		ourBoundary, ok := boundaryOf(raw)
		theirBoundary, ok2 := boundaryOf(want)
		if !ok || !ok2 {
			t.Fatalf("no boundary found:\n%q\n%q", raw, want)
		}
		want = bytes.ReplaceAll(want, theirBoundary, ourBoundary)
	}
	if !bytes.Equal(raw, want) {
		t.Fatalf("message writer and go-mail differ\nours:   %q\ngo-mail: %q", raw, want)
	}
}

// boundaryOf returns the multipart boundary of raw: the 60 characters
// after the "--" that starts the body.
func boundaryOf(raw []byte) ([]byte, bool) {
	i := bytes.Index(raw, []byte("\r\n\r\n--"))
	if i < 0 || len(raw) < i+6+60 {
		return nil, false
	}
	return raw[i+6 : i+6+60], true
}

// hostileMessage is a notice whose every field an attacker wrote.
func hostileMessage() *notifier.Message {
	return &notifier.Message{
		MessageID:  "abc-123@notify.example",
		From:       mail.Address{Name: "Security Notices", Address: "notices@notify.example"},
		To:         mail.Address{Name: "Bob\r\nBcc: evil@x.example", Address: "bob@x.example"},
		Subject:    "Hello\r\nBcc: evil@x.example",
		Text:       "plain",
		HTML:       "<p>html</p>",
		InReplyTo:  "first@notify.example",
		References: []string{"first@notify.example", "second@notify.example"},
		Headers:    map[string]string{"X-Breachnotify-Reference": "BN-7K4Q-2M9D"},
	}
}

// TestMIMESameAsGoMail: for ordinary and hostile notices, the message
// writer writes what go-mail writes.
func TestMIMESameAsGoMail(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("All work and no play makes a notice. ", 40)
	word := strings.Repeat("x", 200)
	cases := map[string]func(m *notifier.Message){
		"as is":                 func(*notifier.Message) {},
		"text only":             func(m *notifier.Message) { m.HTML = "" },
		"empty text":            func(m *notifier.Message) { m.Text = "" },
		"empty text only":       func(m *notifier.Message) { m.Text, m.HTML = "", "" },
		"no threading":          func(m *notifier.Message) { m.InReplyTo, m.References = "", nil },
		"no names":              func(m *notifier.Message) { m.From.Name, m.To.Name = "", "" },
		"non-ASCII names":       func(m *notifier.Message) { m.From.Name, m.To.Name = "Sécurité 🔒", "Zoë Ünïcödé-Ångström" },
		"quoted name":           func(m *notifier.Message) { m.To.Name = `Mallory" <a@x.example>, "x \ y` },
		"encoded-word subject":  func(m *notifier.Message) { m.Subject = "=?utf-8?q?Bcc:_x@y?=" },
		"non-ASCII subject":     func(m *notifier.Message) { m.Subject = strings.Repeat("Données personnelles exposées ", 5) },
		"long subject":          func(m *notifier.Message) { m.Subject = long },
		"subject one long word": func(m *notifier.Message) { m.Subject = word },
		"subject spaces": func(m *notifier.Message) {
			m.Subject = "  a   b " + strings.Repeat("y", 71) + "  " + strings.Repeat("z", 75) + "   "
		},
		"NUL and DEL":         func(m *notifier.Message) { m.Subject, m.To.Name, m.Text = "a\x00b\x7fc", "\x00", "a\x00b\x7f" },
		"8-bit body":          func(m *notifier.Message) { m.Text, m.HTML = "caf\xe9 \xff\xfe", "<p>\x80\x81</p>" },
		"dot and From lines":  func(m *notifier.Message) { m.Text = ".\r\n..\r\nFrom me\r\n.end\n" },
		"boundary-like lines": func(m *notifier.Message) { m.Text, m.HTML = "--\r\n--\n----\r\n-- \r\n", "--" },
		"long body lines":     func(m *notifier.Message) { m.Text, m.HTML = long+"\n"+word, "<p>"+word+"</p>" },
		"trailing space":      func(m *notifier.Message) { m.Text, m.HTML = "end of line  \nlast \t", "x\t\r\n \r\n" },
		"CR, LF and equals":   func(m *notifier.Message) { m.Text = "a\rb\nc\r\r\n\n\r=\nd==?=" },
		"header CRLF value": func(m *notifier.Message) {
			m.Headers["X-Breachnotify-Reference"] = "BN\r\nBcc: evil@x.example"
		},
		"header non-ASCII": func(m *notifier.Message) { m.Headers["X-Note"] = "naïve " + strings.Repeat("ü", 60) },
		"header overrides": func(m *notifier.Message) {
			m.Headers["Date"], m.Headers["Subject"], m.Headers["MIME-Version"], m.Headers["subject"] = "yesterday", "other", "2.0", "lower"
		},
		"own Content-Type":           func(m *notifier.Message) { m.Headers["Content-Type"] = "text/plain" },
		"own Content-Type text only": func(m *notifier.Message) { m.Headers["Content-Type"], m.HTML = "text/plain", "" },
		"long header name":           func(m *notifier.Message) { m.Headers["X-"+strings.Repeat("N", 80)] = "v w" },
		"empty header value":         func(m *notifier.Message) { m.Headers["X-Empty"] = "" },
		"many references": func(m *notifier.Message) {
			for i := range 20 {
				m.References = append(m.References, strings.Repeat(string(rune('a'+i)), i*5)+"@notify.example")
			}
		},
		"quoted local part": func(m *notifier.Message) { m.To.Address = `"john doe"@x.example` },
		"UTF-8 address":     func(m *notifier.Message) { m.To.Address = "zoë@bücher.example" },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := hostileMessage()
			change(m)
			sameAsGoMail(t, m)
		})
	}
}

// TestMIMERefusesBadHeaderNames: a header name cannot end the header or
// start another field.
func TestMIMERefusesBadHeaderNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "X-A: b", "X-A\r\nBcc", "X A", "X-É"} {
		m := hostileMessage()
		m.Headers[name] = "v"
		if _, err := Build(m); err == nil {
			t.Errorf("%q: built", name)
		}
	}
}

// FuzzBuildSameAsGoMail: subjects, names, bodies and header values come
// from attacker-written mail, so any text.
func FuzzBuildSameAsGoMail(f *testing.F) {
	long := strings.Repeat("All work and no play makes a notice. ", 40)
	seeds := []struct {
		subject, name, text, html, value, inReplyTo string
		pick                                        uint8
	}{
		{"Hello\r\nBcc: evil@x.example", "Bob\r\nBcc: evil@x.example", "plain", "<p>html</p>", "BN-7K4Q", "first@notify.example", 0},
		{"=?utf-8?q?Bcc:_x@y?=", "=?utf-8?b?QWxpY2U=?=", "=?utf-8?q?x?= a=b ==\n", "", "=?x?=", "", 1},
		{long, long, long + "\n" + long, long, long, long, 2},
		{"caf\xe9", "Zoë \xff", "8-bit \x80\xff\r\n", "<p>\xc3\xa9</p>", "naïve", "ü@x", 3},
		{"a\x00b", "\x00", "NUL\x00here", "\x00", "\x00", "\x00", 4},
		{"x", "y", ".\r\n..\r\nFrom me\r\n.\n", "From \r\n.", "v", "", 5},
		{"--", "--", "--\r\n--\n--x--\r\n", "--", "--", "--", 6},
		{strings.Repeat("w", 300), strings.Repeat("n", 100), strings.Repeat("y", 300), strings.Repeat("z", 76), strings.Repeat("v", 90), strings.Repeat("r", 80), 7},
		{"Données personnelles exposées", "Ångström", "é€😀 ünïcödé", "<b>ü</b>", "é", "", 8},
		{"  a   b  ", " ", "end  \n \t\r\n", "\r\r\n\n\r=\n", " ", " ", 9},
	}
	for _, s := range seeds {
		f.Add(s.subject, s.name, s.text, s.html, s.value, s.inReplyTo, s.pick)
	}
	names := []string{"X-Breachnotify-Reference", "Subject", "Date", "MIME-Version", "Content-Type",
		"Content-Transfer-Encoding", "subject", "References", "X-" + strings.Repeat("L", 75), "From", "To"}
	f.Fuzz(func(t *testing.T, subject, name, text, html, value, inReplyTo string, pick uint8) {
		m := hostileMessage()
		m.Subject, m.To.Name, m.From.Name, m.Text, m.HTML, m.InReplyTo = subject, name, name, text, html, inReplyTo
		m.References = strings.Fields(inReplyTo)
		m.Headers[names[int(pick)%len(names)]] = value
		sameAsGoMail(t, m)
	})
}

// BenchmarkQuotedPrintable is the message writer's encoder alone, on a
// notice's kind of text (printable ASCII, long lines).
func BenchmarkQuotedPrintable(b *testing.B) {
	s := strings.Repeat("All work and no play makes a notice. ", 60)
	dst := make([]byte, 0, 8192)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		dst = appendQuotedPrintable(dst[:0], s)
	}
}

// TestMIMEPartsAsAReceiverReadsThem: a receiver's MIME parser finds the
// headers and exactly the two parts, decoding to the bodies as written,
// whatever lines the bodies hold: "--" lines, a line that is a delimiter
// of a boundary made of zeros (quoted-printable copies "-" and hex digits
// as they are; only the boundary's randomness keeps such a line from
// matching), "From " and "." lines, header-like lines.
func TestMIMEPartsAsAReceiverReadsThem(t *testing.T) {
	t.Parallel()
	fake := "--" + strings.Repeat("0", 60)
	m := hostileMessage()
	m.Text = "--\n" + fake + "\n" + fake + "--\n.\nFrom me\nBcc: evil@x.example\n\nContent-Type: text/html\n"
	m.HTML = "<p>" + fake + "</p>\n--\n" + fake + "--"
	raw, err := Build(m)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header["Bcc"]; got != nil {
		t.Errorf("a Bcc header appeared: %q", got)
	}
	media, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || media != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	for _, want := range []struct{ contentType, body string }{
		{"text/plain; charset=UTF-8", crlf(m.Text)},
		{"text/html; charset=UTF-8", crlf(m.HTML)},
	} {
		p, err := r.NextRawPart()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		if ct := p.Header.Get("Content-Type"); ct != want.contentType || string(body) != want.body {
			t.Errorf("part %s: %q, want %s: %q", ct, body, want.contentType, want.body)
		}
	}
	if _, err := r.NextRawPart(); err != io.EOF {
		t.Errorf("after the two parts: %v, want EOF", err)
	}
}
