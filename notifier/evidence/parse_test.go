package evidence

import (
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"
)

func rawOf(s string) Raw {
	b := []byte(s)
	return Raw{Source: "test", Bytes: b, Size: int64(len(b)), SHA256: sha256.Sum256(b)}
}

func newTestParser(t testing.TB) *Parser {
	t.Helper()
	p, err := NewParser(ParserConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseSubjectCharsets(t *testing.T) {
	t.Parallel()
	p := newTestParser(t)
	tests := []struct{ header, want string }{
		{"=?ISO-8859-1?Q?Caf=E9?=", "Café"},
		{"=?iso-8859-2?B?r/Ozdw==?=", "Żółw"},
		{"=?ISO-8859-15?Q?=A4uro?=", "€uro"},
		{"=?iso-8859-7?B?yuHr5+zd8eE=?=", "Καλημέρα"},
		{"=?windows-1252?Q?=80_price?=", "€ price"},
		{"=?windows-1251?B?z/Do4uXy?=", "Привет"},
		{"=?Shift_JIS?B?k/qWe4zq?=", "日本語"},
		{"=?GB18030?B?1tDOxA==?=", "中文"},
		{"=?utf-8?q?split?= =?utf-8?q?_word?=", "split word"},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		msg, err := p.Parse(rawOf("From: a@example.com\r\nSubject: " + tt.header + "\r\n\r\nbody\r\n"))
		if err != nil || msg.Subject != tt.want {
			t.Errorf("Subject %q read as %q (%v), want %q", tt.header, msg.Subject, err, tt.want)
		}
	}
}

func TestParseBodyCharset(t *testing.T) {
	t.Parallel()
	p := newTestParser(t)
	msg, err := p.Parse(rawOf("From: a@example.jp\r\nContent-Type: text/plain; charset=Shift_JIS\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nk1mVdIN0g0CDQ4OLgsyDZYNYg2c=\r\n"))
	if err != nil || strings.TrimSpace(msg.Text) != "添付ファイルのテスト" {
		t.Errorf("Shift_JIS body read as %q (%v)", msg.Text, err)
	}
}

const forwarded = "From: Boss <boss@contoso.com>\r\n" +
	"To: =?utf-8?q?Ren=C3=A9?= <rene@fabrikam.example>, broken@@, \"Last, First\" <lf@Bücher.example>\r\n" +
	"Cc: undisclosed-recipients:;\r\n" +
	"Delivered-To: inbox@contoso.com\r\n" +
	"Message-ID: <id-1@contoso.com>\r\n" +
	"In-Reply-To: <id-0@contoso.com>\r\n" +
	"References: <id-a@x> <id-0@contoso.com>\r\n" +
	"Date: Mon, 7 Dec 2026 06:00:00 +0000\r\n" +
	"Subject: Fwd: keys\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=b1\r\n\r\n" +
	"--b1\r\nContent-Type: text/plain\r\n\r\nsee below\r\n" +
	"--b1\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n" +
	"--b1\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\nContent-Disposition: attachment; filename=winmail.dat\r\n\r\nxx\r\n" +
	"--b1\r\nContent-Type: message/rfc822\r\n\r\n" +
	"From: partner@northwind.example\r\nTo: boss@contoso.com\r\nReply-To: reply@tailspin.example\r\nSubject: inner\r\n" +
	"Content-Type: multipart/mixed; boundary=b2\r\n\r\n" +
	"--b2\r\nContent-Type: text/plain\r\n\r\ninner text\r\n" +
	"--b2\r\nContent-Type: text/csv; name=data.csv\r\nContent-Disposition: attachment; filename=data.csv\r\n\r\na,b\r\n" +
	"--b2--\r\n" +
	"--b1--\r\n"

func TestParseForwarded(t *testing.T) {
	t.Parallel()
	p := newTestParser(t)
	msg, err := p.Parse(rawOf(forwarded))
	if err != nil {
		t.Fatal(err)
	}
	if msg.MessageID != "id-1@contoso.com" || !slices.Equal(msg.InReplyTo, []string{"id-0@contoso.com"}) ||
		!slices.Equal(msg.References, []string{"id-a@x", "id-0@contoso.com"}) {
		t.Errorf("ids: %q %q %q", msg.MessageID, msg.InReplyTo, msg.References)
	}
	if msg.Date.IsZero() || msg.Subject != "Fwd: keys" || !strings.Contains(msg.Text, "see below") {
		t.Errorf("date %v subject %q text %q", msg.Date, msg.Subject, msg.Text)
	}
	var got []string
	for _, pt := range msg.Participants {
		got = append(got, pt.Header+":"+pt.Address+":"+pt.Domain+":"+string(rune('0'+pt.Depth)))
	}
	want := []string{
		"From:boss@contoso.com:contoso.com:0",
		"To:rene@fabrikam.example:fabrikam.example:0",
		"To:lf@xn--bcher-kva.example:xn--bcher-kva.example:0",
		"Delivered-To:inbox@contoso.com:contoso.com:0",
		"From:partner@northwind.example:northwind.example:1",
		"Reply-To:reply@tailspin.example:tailspin.example:1",
		"To:boss@contoso.com:contoso.com:1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("participants:\n got %q\nwant %q", got, want)
	}
	if msg.Participants[1].Name != "René" {
		t.Errorf("encoded display name read as %q", msg.Participants[1].Name)
	}
	var atts []string
	for _, a := range msg.Attachments {
		atts = append(atts, a.Name+":"+a.ContentType+":"+string(rune('0'+a.Depth)))
	}
	wantAtts := []string{"report.pdf:application/pdf:0", "winmail.dat:application/ms-tnef:0", "data.csv:text/csv:1"}
	if !slices.Equal(atts, wantAtts) {
		t.Errorf("attachments %q, want %q", atts, wantAtts)
	}
	problems := strings.Join(msg.Problems, "\n")
	for _, want := range []string{"winmail.dat (TNEF) is not decoded", "To header at depth 0 not well formed"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems do not report %q:\n%s", want, problems)
		}
	}
}

func TestParseDepthLimit(t *testing.T) {
	t.Parallel()
	p, err := NewParser(ParserConfig{MaxDepth: 1})
	if err != nil {
		t.Fatal(err)
	}
	inner := "From: deep@deep.example\r\n\r\nx\r\n"
	mid := "From: mid@mid.example\r\nContent-Type: message/rfc822\r\n\r\n" + inner
	top := "From: top@top.example\r\nContent-Type: message/rfc822\r\n\r\n" + mid
	msg, err := p.Parse(rawOf(top))
	if err != nil {
		t.Fatal(err)
	}
	top0, nested := domainsByDepth(msg)
	if !slices.Equal(top0, []string{"top.example"}) || !slices.Equal(nested, []string{"mid.example"}) {
		t.Errorf("domains %q nested %q", top0, nested)
	}
	if !strings.Contains(strings.Join(msg.Problems, "\n"), "deeper than 1 levels not opened") {
		t.Errorf("depth limit not reported: %q", msg.Problems)
	}
}

func TestParseDigest(t *testing.T) {
	t.Parallel()
	p := newTestParser(t)
	msg, err := p.Parse(rawOf("From: list@lists.example\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n" +
		"--d\r\n\r\nFrom: implicit@one.example\r\nSubject: 1\r\n\r\ntext\r\n" +
		"--d\r\nContent-Type: message/rfc822\r\n\r\nFrom: explicit@two.example\r\n\r\ntext\r\n--d--\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	top, nested := domainsByDepth(msg)
	if !slices.Equal(top, []string{"lists.example"}) || !slices.Equal(nested, []string{"one.example", "two.example"}) {
		t.Errorf("digest: domains %q nested %q, want the list's and both members'", top, nested)
	}
}

func TestParseUnparseable(t *testing.T) {
	t.Parallel()
	p := newTestParser(t)
	raw := Raw{Source: "big", Size: 100 << 20, TooLarge: true, SHA256: [32]byte{1}}
	msg, err := p.Parse(raw)
	var ue *UnparseableError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnparseable) || !strings.Contains(ue.Reason, "too large: 104857600 bytes") {
		t.Errorf("too large: %v", err)
	}
	if msg.Source != "big" || msg.SHA256 != raw.SHA256 || msg.Size != raw.Size {
		t.Errorf("unparseable message lost its identity: %+v", msg)
	}
	if _, err := p.Parse(rawOf("no header at all, only text\r\n")); !errors.Is(err, ErrUnparseable) {
		t.Errorf("a message without a header: %v, want unparseable", err)
	}
}

func TestParseRecoversFromPanic(t *testing.T) {
	t.Parallel()
	p := newTestParser(t)
	p.afterRead = func(*enmime.Envelope) { panic("boom") }
	raw := rawOf(forwarded)
	msg, err := p.Parse(raw)
	if !errors.Is(err, ErrUnparseable) || !strings.Contains(err.Error(), "panic: boom") || msg.SHA256 != raw.SHA256 {
		t.Errorf("a panic while parsing: %v, identity kept=%v", err, msg.SHA256 == raw.SHA256)
	}
}

// FuzzParse checks that no input makes Parse panic (the library's panics
// are recovered too, but none should reach there) or lose the message's
// identity.
func FuzzParse(f *testing.F) {
	f.Add([]byte(forwarded))
	f.Add([]byte("From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\n--x--"))
	f.Add([]byte("To: \"unterminated <x@y\r\nContent-Type: message/rfc822\r\n\r\nFrom: z@[1.2.3.4]\r\n\r\n"))
	f.Add([]byte("Subject: =?gb18030?B?1tDOxA==?=\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n\xff\xfe"))
	p := newTestParser(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		raw := Raw{Source: "fuzz", Bytes: b, Size: int64(len(b)), SHA256: sha256.Sum256(b)}
		msg, err := p.Parse(raw)
		if err != nil && !errors.Is(err, ErrUnparseable) {
			t.Fatalf("error that is not ErrUnparseable: %v", err)
		}
		if msg.SHA256 != raw.SHA256 || msg.Size != raw.Size || msg.Source != raw.Source {
			t.Fatalf("message identity lost")
		}
	})
}

// TestParseTextParts lists every text a secret can hide in, named for
// where it is: the header block, the bodies, an attached message's
// parts, and text-like files (by media type, or by name when sent as
// application/octet-stream), but not a binary mislabelled as text.
func TestParseTextParts(t *testing.T) {
	t.Parallel()
	p, err := NewParser(ParserConfig{MaxScanBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := p.Parse(rawOf("From: a@contoso.com\r\nX-Api-Key: hdr-secret\r\nSubject: s\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nbody\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"prod.env\"\r\n\r\nDB_PASSWORD=x\r\n" +
		"--b1\r\nContent-Type: text/plain; name=bin.txt\r\nContent-Disposition: attachment; filename=bin.txt\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n" +
		"--b1\r\nContent-Type: application/octet-stream; name=big.log\r\nContent-Disposition: attachment; filename=big.log\r\n\r\n" +
		"0123456789abcdefTAIL\r\n" +
		"--b1\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\n\r\n%PDF\r\n" +
		"--b1\r\nContent-Type: message/rfc822\r\n\r\n" +
		"From: b@fabrikam.example\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=b2\r\n\r\n" +
		"--b2\r\nContent-Type: text/plain\r\n\r\ninner body\r\n" +
		"--b2\r\nContent-Type: application/json; name=k.json\r\nContent-Disposition: attachment; filename=k.json\r\n\r\n{}\r\n" +
		"--b2--\r\n" +
		"--b1--\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tp := range msg.TextParts {
		names = append(names, tp.Name)
	}
	want := []string{"subject", "text", "headers", "attachment 2", "attachment 4", "message 6 text", "message 6 headers", "attachment 6/2"}
	if !slices.Equal(names, want) {
		t.Fatalf("text parts\n got %q\nwant %q", names, want)
	}
	for name, want := range map[string]string{
		"headers": "X-Api-Key: hdr-secret", "attachment 2": "DB_PASSWORD=x", "attachment 4": "0123456789abcdef",
		"message 6 text": "inner body", "message 6 headers": "Subject: inner", "attachment 6/2": "{}",
	} {
		if text, ok := msg.TextPart(name); !ok || !strings.Contains(text, want) || strings.Contains(text, "TAIL") {
			t.Errorf("part %q: %q, want it to hold %q", name, text, want)
		}
	}
	var parts []string
	for _, a := range msg.Attachments {
		parts = append(parts, a.Part+" "+a.Name)
	}
	if wantParts := []string{"2 prod.env", "3 bin.txt", "4 big.log", "5 r.pdf", "6/2 k.json"}; !slices.Equal(parts, wantParts) {
		t.Errorf("attachment parts %q, want %q", parts, wantParts)
	}
	if !strings.Contains(strings.Join(msg.Problems, "\n"), "part 4: only the first 16 of 20 bytes scanned") {
		t.Errorf("the cut attachment is not reported: %q", msg.Problems)
	}
}
