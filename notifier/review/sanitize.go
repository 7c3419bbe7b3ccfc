package review

import (
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"

	"github.com/breachnotify/breachnotify/notifier/linkguard"
)

// Stolen HTML is shown in two steps. First a pass over its tokens turns
// what could reach out or act into text a reader can still judge: a
// link's target is written out defanged after its text (the link itself
// is gone), an image becomes a placeholder naming its alt text and
// defanged source, the text is defanged, and what a browser would run or
// load (script, style, head, frames, objects, forms) is dropped with its
// content. Then bluemonday, with a policy that allows a handful of
// formatting elements and no attribute at all, makes sure of the result:
// whatever the first pass missed, no link, source, style, event handler
// or URL survives. The frame that shows it adds a CSP that loads nothing
// and a sandbox that runs nothing, in case both missed something.

// formatting are the only elements the policy lets through, with no
// attribute: structure and emphasis, enough to read a message.
var formatting = []string{
	"p", "br", "div", "span", "b", "i", "u", "s", "strong", "em", "small", "big", "sub", "sup", "mark",
	"h1", "h2", "h3", "h4", "h5", "h6", "hr", "blockquote", "pre", "code", "tt", "q", "cite",
	"ul", "ol", "li", "dl", "dt", "dd",
	"table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
	"center", "font", "address",
}

// dropped are elements removed with everything inside them: what runs,
// styles, loads or submits, and the document head.
var dropped = map[string]bool{
	"script": true, "style": true, "head": true, "title": true, "iframe": true, "frame": true, "frameset": true,
	"object": true, "embed": true, "applet": true, "noscript": true, "noembed": true, "noframes": true,
	"template": true, "svg": true, "math": true, "form": true, "select": true, "textarea": true, "button": true,
	"audio": true, "video": true, "canvas": true, "xmp": true, "plaintext": true, "listing": true,
}

// newPolicy is the second step's policy: formatting elements without
// attributes; everything else is dropped, keeping its text.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements(formatting...)
	p.SkipElementsContent("script", "style", "title", "head", "iframe", "object", "embed", "applet", "noscript",
		"template", "svg", "math", "form", "select", "textarea", "button")
	p.AddSpaceWhenStrippingTag(true)
	return p
}

// Sanitizer makes stolen HTML safe to show (see above). It is safe for
// concurrent use.
type Sanitizer struct {
	policy *bluemonday.Policy
}

// NewSanitizer returns a Sanitizer.
func NewSanitizer() *Sanitizer { return &Sanitizer{policy: newPolicy()} }

// Sanitize returns src, stolen HTML, as markup that links nowhere, loads
// nothing and runs nothing, with every visible text defanged.
func (s *Sanitizer) Sanitize(src string) string {
	return s.policy.Sanitize(neutralise(src))
}

// cssURL finds what a style could load, to name it in a placeholder.
var cssURL = regexp.MustCompile(`(?i)url\s*\(|@import`)

// neutralise is the first step: it rewrites links, images and text, and
// drops what must not be shown at all.
func neutralise(src string) string {
	var b strings.Builder
	b.Grow(len(src) + len(src)/8)
	z := html.NewTokenizer(strings.NewReader(src))
	// skip counts the dropped elements we are inside.
	skip := 0
	var skipping []string
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return b.String()
		}
		tok := z.Token()
		name := tok.Data
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			if dropped[name] {
				if tt == html.StartTagToken && !voidDropped(name) {
					skip++
					skipping = append(skipping, name)
				}
				if skip <= 1 {
					b.WriteString(placeholder(droppedLabel(name, tok)))
				}
				continue
			}
			if skip > 0 {
				continue
			}
			switch name {
			case "a", "area":
				if href := attr(tok, "href"); href != "" {
					b.WriteString(placeholder("link: " + href))
				}
			case "img", "image", "input":
				if name == "input" && !strings.EqualFold(attr(tok, "type"), "image") {
					continue
				}
				b.WriteString(placeholder(imageLabel(tok)))
			case "link":
				if href := attr(tok, "href"); href != "" {
					b.WriteString(placeholder("not loaded: " + href))
				}
			case "meta", "base", "body", "html":
				// Nothing of a meta refresh or a base is kept; body and
				// html only frame the text.
			default:
				if cssURL.MatchString(attr(tok, "style")) || attr(tok, "background") != "" {
					b.WriteString(placeholder("a background image, not loaded"))
				}
				b.WriteString("<" + name + ">")
			}
		case html.EndTagToken:
			if skip > 0 {
				if n := len(skipping); n > 0 && skipping[n-1] == name {
					skipping, skip = skipping[:n-1], skip-1
				}
				continue
			}
			switch name {
			case "a", "area", "img", "link", "meta", "base", "body", "html":
			default:
				b.WriteString("</" + name + ">")
			}
		case html.TextToken:
			if skip > 0 {
				continue
			}
			b.WriteString(html.EscapeString(linkguard.Defang(tok.Data)))
		}
	}
}

// voidDropped are dropped elements that have no content to skip.
func voidDropped(name string) bool { return name == "embed" }

func attr(tok html.Token, key string) string {
	for _, a := range tok.Attr {
		if a.Key == key {
			return strings.TrimSpace(a.Val)
		}
	}
	return ""
}

// placeholder is the text that stands for what is not shown, escaped and
// defanged: it names a link or a source without being one.
func placeholder(label string) string {
	label = strings.Join(strings.Fields(label), " ")
	if label == "" {
		return ""
	}
	if n := len([]rune(label)); n > 300 {
		label = string([]rune(label)[:300]) + "…"
	}
	return " [" + html.EscapeString(linkguard.Defang(label)) + "] "
}

func imageLabel(tok html.Token) string {
	l := "image"
	if alt := attr(tok, "alt"); alt != "" {
		l += " “" + alt + "”"
	}
	if src := attr(tok, "src"); src != "" {
		if strings.HasPrefix(strings.ToLower(src), "data:") {
			src = "inline data"
		}
		l += ", not loaded: " + src
	}
	return l
}

func droppedLabel(name string, tok html.Token) string {
	switch name {
	case "script", "noscript":
		return "a script, removed"
	case "style":
		return "a style sheet, removed"
	case "iframe", "frame", "object", "embed", "applet":
		if src := attr(tok, "src"); src != "" {
			return "embedded content, not loaded: " + src
		}
		if data := attr(tok, "data"); data != "" {
			return "embedded content, not loaded: " + data
		}
		return "embedded content, removed"
	case "form":
		if act := attr(tok, "action"); act != "" {
			return "a form, removed (it sent to " + act + ")"
		}
		return "a form, removed"
	case "head", "title":
		return ""
	}
	return name + ", removed"
}
