package i18n_test

import (
	"html/template"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/breachnotify/breachnotify/notifier/i18n"
)

// FuzzChoose: whatever a browser sends as Accept-Language or a lang
// cookie, and whatever locale a contact row holds, the choice is one of
// the supported languages, without a panic.
func FuzzChoose(f *testing.F) {
	cat, err := i18n.Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "de", "de-CH,de;q=0.9,en;q=0.8", "*", "ja;q=0", "x-klingon", "fr;q=abc", strings.Repeat("en-US,", 500), "ar-EG-u-nu-arab", "zh-Hant-TW"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, choice, locale, accept string) {
		got := cat.Choose(choice, locale, locale, accept)
		ok := false
		for _, s := range i18n.Supported {
			ok = ok || got == s
		}
		if !ok {
			t.Fatalf("Choose(%q, %q, %q) = %s, not a supported language", choice, locale, accept, got)
		}
		if tag, ok := cat.Supported(choice); ok && cat.Choose(choice, "", "", accept) != tag {
			t.Fatalf("a supported choice %q did not win", choice)
		}
	})
}

// FuzzHTML: a message's data argument, whatever it holds, comes out
// escaped and inside one <bdi>.
func FuzzHTML(f *testing.F) {
	cat, err := i18n.Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"شركة المثال", "<script>alert(1)</script>", "\u202eevil", "%s %d %!", "\uE0000\uE001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		out := string(cat.HTML(language.French, "verify.unknown_code", s))
		if strings.Count(out, "<bdi>") != 1 || strings.Count(out, "</bdi>") != 1 || strings.Contains(strings.TrimSuffix(strings.SplitN(out, "<bdi>", 2)[1], "</bdi>."), "<") {
			t.Fatalf("%q: %s", s, out)
		}
		_ = template.HTML(out)
		// Two data arguments: neither takes the other's place.
		two := string(cat.HTML(language.English, "layout.signed_in_as", s, "<b>x</b>"))
		if !strings.HasSuffix(two, " for <bdi>&lt;b&gt;x&lt;/b&gt;</bdi>") {
			t.Fatalf("%q: %s", s, two)
		}
	})
}
