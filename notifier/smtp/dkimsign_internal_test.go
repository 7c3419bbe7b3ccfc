package smtp

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// sameAsGoMsgauth checks that the one-pass signer writes for raw exactly
// the DKIM-Signature field go-msgauth's signer writes (both are
// deterministic for RSA PKCS #1 v1.5 and Ed25519, given the same t=).
func sameAsGoMsgauth(t *testing.T, d *DKIM, raw []byte) {
	t.Helper()
	m, ok := parseForDKIM(raw)
	if !ok {
		return // go-msgauth signs it: nothing to compare
	}
	// go-msgauth reads the clock itself: try again if the second turned
	// between the two.
	for range 3 {
		want, err := d.signature(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, after, _ := strings.Cut(want, " t=")
		stamp, _, _ := strings.Cut(after, ";")
		got, err := d.sign(m, timeOf(t, stamp))
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if !strings.Contains(got, " t="+stamp+";") {
			continue
		}
		t.Fatalf("signature differs from go-msgauth's for\n%q\ngot  %q\nwant %q", raw, got, want)
	}
	t.Fatal("the clock kept turning")
}

// TestDKIMSameAsGoMsgauth: for messages the builder writes and for hand
// written ones (white space runs, folded fields, repeated and missing
// fields, empty lines at the end, an empty body), with RSA and Ed25519
// keys.
func TestDKIMSameAsGoMsgauth(t *testing.T) {
	t.Parallel()
	rsaK, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edK, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	built := func(opts ...Option) []byte {
		m := &notifier.Message{
			MessageID: "abc-123@notify.example", Subject: "Über: a notice  with  spaces\t",
			From: mail.Address{Name: "Security Notices", Address: "notices@notify.example"},
			To:   mail.Address{Name: "Zoë Müller", Address: "zoe@x.example"}, InReplyTo: "first@notify.example",
			References: []string{"first@notify.example"}, Headers: map[string]string{"X-Breachnotify-Reference": "BN-7K4Q-2M9D"},
			Text: strings.Repeat("Line with trailing space \r\n\t tabbed\r\n\r\n", 40), HTML: "<p>html</p>",
		}
		raw, err := Build(m, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	raws := [][]byte{
		built(),
		[]byte("From: a@x.example\r\nTo: b@x.example\r\nSubject: hi\r\n\r\nbody\r\n"),
		[]byte("From:  a@x.example \r\nSubject: folded\r\n  over \t two\r\n\tlines\r\nFROM: second@x.example\r\nto:b\r\n\r\n  lead\t and  trail  \r\n\r\n\r\n\r\n"),
		[]byte("From: a@x.example\r\nNoColonField\r\nSubject:\r\n\r\n"),
		[]byte("From: a@x.example\r\n\r\n\r\n\r\n"),
		[]byte("From: a@x.example\r\n\r\nno final line break"),
		[]byte("From: a@x.example\r\n\r\na lone \r carriage return\r\n"),
		[]byte(" From: starts folded\r\nFrom: a@x.example\r\n\r\nx\r\n"),
		// A name that matches h= only under Unicode case folding (ſ, U+017F).
		[]byte("\u017fubject: long s\r\nFrom: a@x.example\r\n\r\nx\r\n"),
	}
	for _, d := range []*DKIM{
		{Domain: "notify.example", Selector: "rsa", Key: rsaK},
		{Domain: "breach-notifications.incident-response.security-operations.example-corporation.example",
			Selector: "breachnotify-2026-rotation-one-with-a-selector-name-that-is-far-too-long-for-one-line", Key: edK},
	} {
		for _, raw := range raws {
			sameAsGoMsgauth(t, d, raw)
		}
	}
}

// FuzzDKIMSameAsGoMsgauth: any message the one-pass signer takes gets
// go-msgauth's signature (Ed25519, which is fast).
func FuzzDKIMSameAsGoMsgauth(f *testing.F) {
	f.Add([]byte("From: a@x.example\r\nSubject: x\r\n y\r\n\r\nbody  \t\r\n\r\n"))
	f.Add([]byte("From: a@x.example\r\n\r\n"))
	f.Add([]byte("X\r\n\r\n\r\r\n"))
	_, edK, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	d := &DKIM{Domain: "notify.example", Selector: "ed", Key: edK}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameAsGoMsgauth(t, d, raw)
	})
}

// timeOf is the time of a t= tag.
func timeOf(t *testing.T, stamp string) time.Time {
	t.Helper()
	s, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		t.Fatalf("t=%q: %v", stamp, err)
	}
	return time.Unix(s, 0)
}
