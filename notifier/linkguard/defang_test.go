package linkguard

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDefang(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Reset your password at https://phish.attacker.example/login", "Reset your password at hxxps://phish[.]attacker[.]example/login"},
		{"https://item-ref.attacker.example/x", "hxxps://item-ref[.]attacker[.]example/x"},
		{"http://a.example ftp://b.example ftps://c.example", "hxxp://a[.]example fxp://b[.]example fxps://c[.]example"},
		{"www.evil.example", "www[.]evil[.]example"},
		{"evil.example/login", "evil[.]example/login"},
		{"mailto:x@evil.example", "mailto[:]x@evil[.]example"},
		{"ｈｔｔｐｓ://evil．example/login", "hxxps://evil[.]example/login"},
		{"evil。example", "evil[.]example"},
		{"\\\\evil\\share", "[\\\\]evil\\share"},
		{"1.2.3.4", "1[.]2[.]3[.]4"},
		{"ms-word:ofe|u|https://evil.example/x.docx", "ms-word[:]ofe|u|hxxps://evil[.]example/x[.]docx"},
		{"sftp://evil.example", "sftp[:]//evil[.]example"},
		{"evil\u200b.com", "evil\u200b[.]com"},
		{"invoice\u202efdp.exe", "invoicefdp[.]exe"},
		{"\u2066isolated\u2069", "isolated"},
		// Prose is kept as written.
		{"Contoso Ltd.", "Contoso Ltd."},
		{"e.g. a v2.0 of 3.5 MB, i.e. U.S.A.", "e.g. a v2.0 of 3.5 MB, i.e. U.S.A."},
		{"ありがとう。よろしく", "ありがとう。よろしく"},
		{"Dana O'Brien <\"&\">", "Dana O'Brien <\"&\">"},
		{"Re: rotation", "Re: rotation"},
		{"عربي\u200fنص", "عربي\u200fنص"},
	} {
		if got := Defang(tc.in); got != tc.want {
			t.Errorf("Defang(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzDefangLeavesNoLink holds Defang and Scan to each other: whatever the
// input, nothing a client would link survives Defang, and the text is kept
// (only brackets and the x spellings are added, bidi controls removed).
func FuzzDefangLeavesNoLink(f *testing.F) {
	for _, s := range []string{
		"https://phish.attacker.example/login", "www.evil.example", "x@y.example", "ｈｔｔｐｓ：／／evil．example",
		"\\\\host\\share", "1.2.3.4:80", "ms-msdt:x", "evil。com", "hxxps://evil.com", "a.b.c.d.e", "x@a.b",
		"https:\\\\x.com", "foo://bar", "e.g.", "\u202ex.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		d := Defang(s)
		if links := Scan(d); len(links) > 0 {
			t.Fatalf("Defang(%q) = %q, which still links %q", s, d, links[0].Text)
		}
		if !utf8.ValidString(d) {
			t.Fatalf("Defang(%q) = %q is not UTF-8", s, d)
		}
		if Scan(s) == nil && !strings.ContainsAny(s, ".:@\\") && !strings.ContainsFunc(s, bidiControl) && !hasLookAlike(s) && d != s {
			t.Fatalf("Defang(%q) = %q changed text with nothing to defang", s, d)
		}
	})
}

func hasLookAlike(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r >= 0xFF01 && r <= 0xFF5E || r == 0x2024 || r == 0xFE52 || r == 0x3002 || r == 0xFF61
	})
}
