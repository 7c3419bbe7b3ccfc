package smtp

import (
	"bytes"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// encodeWhole and encodeChunked are the quoted-printable body of s as
// go-mail's SetBodyString writes it (one Write) and as buildWithGoMail
// (S/MIME) writes it (stringBody, bodyChunk bytes at a time).
func encodeWhole(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.String()
}

func encodeChunked(t testing.TB, s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	n, err := stringBody(s, make([]byte, bodyChunk))(w)
	if err != nil || n != int64(len(s)) {
		t.Fatalf("wrote %d of %d bytes: %v", n, len(s), err)
	}
	_ = w.Close()
	return b.String()
}

// TestStringBodyEncodesAsOneWrite: a body handed over in pieces encodes
// exactly as in one piece, whatever falls on a piece's edge, and
// appendQuotedPrintable (the message writer's) encodes as both.
func TestStringBodyEncodesAsOneWrite(t *testing.T) {
	t.Parallel()
	edge := func(tail string) string { return strings.Repeat("a", bodyChunk-len(tail)/2) + tail }
	cases := map[string]string{
		"empty":               "",
		"short":               "hello",
		"CRLF on the edge":    strings.Repeat("x", bodyChunk-1) + "\r\nnext",
		"space on the edge":   strings.Repeat("x", bodyChunk-1) + " \r\nnext",
		"trailing spaces":     edge("end of line   \nnext line\t\n"),
		"long line":           strings.Repeat("All work and no play makes a notice. ", 200),
		"non-ASCII on edge":   strings.Repeat("x", bodyChunk-1) + "é€😀 ünïcödé",
		"equals signs":        edge("=?utf-8?q?x?= a=b ==\n"),
		"bare CR and LF":      edge("a\rb\nc\r\r\n\n"),
		"exactly two chunks":  strings.Repeat("y", 2*bodyChunk),
		"a dot starting line": edge("\n.\n..\n"),
	}
	cases["soft break before escape"] = strings.Repeat("x", 73) + "é"
	cases["space at the line's end"] = strings.Repeat("x", 74) + " \nz"
	cases["CR then escape then LF"] = "a\r=\nb\r\xff\n"
	for name, s := range cases {
		want := encodeWhole(s)
		if got := encodeChunked(t, s); got != want {
			t.Errorf("%s: chunked %q, whole %q", name, got, want)
		}
		if got := string(appendQuotedPrintable(nil, s)); got != want {
			t.Errorf("%s: appendQuotedPrintable %q, mime/quotedprintable %q", name, got, want)
		}
	}
	// go-mail may call a body writer more than once: each call writes all.
	f := stringBody("twice", make([]byte, bodyChunk))
	var a, b bytes.Buffer
	_, _ = f(&a)
	_, _ = f(&b)
	if a.String() != "twice" || b.String() != "twice" {
		t.Errorf("second call wrote %q after %q", b.String(), a.String())
	}
}

// FuzzStringBody: templates carry breach data into the body, so any text;
// the message writer's own encoder must encode it as mime/quotedprintable
// does.
func FuzzStringBody(f *testing.F) {
	f.Add(strings.Repeat("x", bodyChunk-1) + " \r\n=é")
	f.Add("plain")
	f.Fuzz(func(t *testing.T, s string) {
		want := encodeWhole(s)
		if got := encodeChunked(t, s); got != want {
			t.Fatalf("chunked %q, whole %q", got, want)
		}
		if got := string(appendQuotedPrintable([]byte("head"), s)); got != "head"+want {
			t.Fatalf("appendQuotedPrintable %q, mime/quotedprintable %q", got, "head"+want)
		}
	})
}

// TestQuotedPrintableEveryByte: every byte value, at every place in the
// words appendQuotedPrintable checks eight bytes at a time, is encoded as
// mime/quotedprintable encodes it.
func TestQuotedPrintableEveryByte(t *testing.T) {
	t.Parallel()
	for b := range 256 {
		for at := range 17 {
			s := []byte(strings.Repeat("a", 24))
			s[at] = byte(b)
			if got, want := string(appendQuotedPrintable(nil, string(s))), encodeWhole(string(s)); got != want {
				t.Errorf("byte %#x at %d: %q, want %q", b, at, got, want)
			}
		}
	}
}
