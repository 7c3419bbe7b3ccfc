package smtp_test

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

// readHeaders parses a built message the way a mail client does: the To
// address list, and the subject with its encoded words decoded.
func readHeaders(t testing.TB, raw []byte) (to []*mail.Address, subject string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	if to, err = msg.Header.AddressList("To"); err != nil {
		t.Fatalf("To %q: %v", msg.Header.Get("To"), err)
	}
	if subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	return to, subject
}

// TestHeadersArriveLiteral sends names and subjects written to be read as
// something else: a second address, an encoded word a client would decode
// into a Bcc line, quotes and backslashes, right-to-left and CJK text, and
// values long enough to be folded. Each is sent (none fails the delivery)
// and reads back exactly as given.
func TestHeadersArriveLiteral(t *testing.T) {
	t.Parallel()
	for _, v := range []string{
		`Mallory" <a@x>, "x`,
		`=?utf-8?q?Bcc:_x@y?=`,
		`Evil Corp =?utf-8?b?QmNjOiB4QHk=?= Ltd`,
		`Back\slash "quoted" (comment) <angle> ;:,`,
		`محمد الأحمد`,
		`株式会社サンプル情報セキュリティ部門の皆様へのお知らせと今後の対応について`,
		strings.Repeat("Ω-very-long-name ", 20),
		"Dana O'Brien",
		"soc@evil.example",
	} {
		m := message("soc@contoso.example")
		m.To.Name = v
		m.Subject = "Security notice for " + v + " [BN-AAAA-BBBB-CCCC-DDDD]"
		raw, err := smtp.Build(m)
		if err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		to, subject := readHeaders(t, raw)
		if len(to) != 1 || to[0].Address != "soc@contoso.example" || to[0].Name != v {
			t.Errorf("%q: To reads %v", v, to)
		}
		if collapse(subject) != collapse(m.Subject) {
			t.Errorf("%q: Subject reads %q", v, subject)
		}
	}
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// FuzzHeadersArriveLiteral: whatever the name and subject (without line
// breaks, which imports refuse), the message builds, has one recipient,
// and both read back as given.
func FuzzHeadersArriveLiteral(f *testing.F) {
	f.Add(`Mallory" <a@x>, "x`, `=?utf-8?q?Bcc:_x@y?=`)
	f.Add("محمد", "株式会社")
	f.Add(`\"`, "=?")
	f.Fuzz(func(t *testing.T, name, subject string) {
		for _, s := range []string{name, subject} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) || strings.ContainsRune(s, utf8.RuneError) {
				return
			}
		}
		if collapse(subject) == "" {
			return
		}
		m := &notifier.Message{MessageID: "id@notify.example", From: mail.Address{Name: "Security Notices", Address: "security-notice@notify.example"},
			To: mail.Address{Name: name, Address: "soc@contoso.example"}, Subject: collapse(subject), Text: "x"}
		raw, err := smtp.Build(m)
		if err != nil {
			t.Fatal(err)
		}
		to, got := readHeaders(t, raw)
		if len(to) != 1 || to[0].Address != "soc@contoso.example" || collapse(to[0].Name) != collapse(name) {
			t.Fatalf("name %q: To reads %v", name, to)
		}
		if collapse(got) != collapse(subject) {
			t.Fatalf("subject %q reads %q", subject, got)
		}
	})
}
