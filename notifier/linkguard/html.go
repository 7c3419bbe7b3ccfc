package linkguard

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// A notice's HTML is read with the HTML5 tokenizer a browser uses, and held
// to an allow-list: the tags and attributes of a formatted letter, nothing
// that loads, runs, submits or redirects. Anything not listed is refused,
// so a tag or attribute added to HTML tomorrow is refused too.

// allowedTags are the elements a notice may use.
var allowedTags = setOf("html", "head", "body", "meta", "title", "style",
	"p", "br", "hr", "div", "span", "center", "font", "section", "article", "header", "footer", "main", "address",
	"strong", "b", "em", "i", "u", "s", "small", "big", "sub", "sup", "code", "pre", "kbd", "samp", "var", "mark",
	"abbr", "bdi", "bdo", "q", "blockquote", "del", "ins", "wbr", "a",
	"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd",
	"table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td")

// inlineTags run on in the text a reader sees; every other tag breaks it,
// as a block or a line break does.
var inlineTags = setOf("a", "abbr", "b", "bdi", "bdo", "big", "code", "del", "em", "font", "i", "ins", "kbd", "mark", "q",
	"s", "samp", "small", "span", "strong", "sub", "sup", "u", "var", "wbr")

// allowedAttrs may appear on any allowed tag; href, target and rel only on
// <a>, charset, name and content only on <meta>.
var allowedAttrs = setOf("style", "class", "id", "lang", "dir", "title", "align", "valign", "width", "height", "border",
	"bgcolor", "color", "face", "size", "cellpadding", "cellspacing", "colspan", "rowspan", "role", "nowrap", "start",
	"type", "reversed", "span", "summary", "headers", "scope", "abbr", "translate", "hidden")

// textAttrs hold words a reader may see (a tooltip); they are scanned for
// links like the text.
var textAttrs = setOf("title", "summary", "abbr", "content")

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// htmlCheck is one reading of an HTML part.
type htmlCheck struct {
	policy *Policy
	// opaque are markers of data values filled in later: they may stand
	// in text, never in an href or a style.
	opaque []string
	// text is what a reader sees (and a client may link): the text, with
	// a line break for each block, and the readable attribute values.
	text strings.Builder
}

// checkHTML reads doc and returns the text a client could link, or the
// first violation.
func (p *Policy) checkHTML(doc string, opaque []string) (string, error) {
	c := &htmlCheck{policy: p, opaque: opaque}
	z := html.NewTokenizer(strings.NewReader(doc))
	inStyle := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				return c.text.String(), nil
			}
			return "", c.fail("unreadable HTML: %v", z.Err())
		case html.TextToken:
			if inStyle {
				css := string(z.Text())
				if err := c.checkStyle(css); err != nil {
					return "", err
				}
				continue
			}
			c.text.Write(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			if !allowedTags[tag] {
				return "", c.fail("<%s> is not allowed: a notice loads, runs and submits nothing, and links only to its own pages", defangShort(tag))
			}
			if !inlineTags[tag] {
				c.text.WriteByte('\n')
			}
			if tt == html.EndTagToken {
				if tag == "style" {
					inStyle = false
				}
				continue
			}
			if tag == "style" {
				// <style/> starts raw CSS too: the tokenizer, like a
				// browser, ignores the slash.
				inStyle = true
			}
			for hasAttr {
				var key, val []byte
				key, val, hasAttr = z.TagAttr()
				if err := c.checkAttr(tag, string(key), string(val)); err != nil {
					return "", err
				}
			}
		case html.CommentToken:
			// html/template drops comments, so none comes from a template;
			// and Outlook runs what a conditional comment holds.
			return "", c.fail("comments are not allowed (Outlook runs conditional comments)")
		case html.DoctypeToken:
		}
	}
}

func (c *htmlCheck) fail(format string, args ...any) error {
	return &Violation{Part: "html", Reason: fmt.Sprintf(format, args...)}
}

func (c *htmlCheck) checkAttr(tag, key, val string) error {
	switch {
	case key == "href" && tag == "a":
		if c.hasOpaque(val) {
			return c.fail("an href holds recipient data: hrefs are the notice's own links only")
		}
		if !c.policy.isOwnLink(val, nil) {
			return c.fail("href \"%s\" is not one of the notice's own links", defangShort(val))
		}
		return nil
	case (key == "target" || key == "rel") && tag == "a":
		return nil
	case (key == "charset" || key == "name" || key == "content") && tag == "meta":
	case key == "style":
		return c.checkStyle(val)
	case strings.HasPrefix(key, "aria-") && !strings.ContainsAny(key[5:], ":/"):
	case !allowedAttrs[key]:
		return c.fail("the %s attribute is not allowed on <%s>: a notice loads, runs and redirects nothing", defangShort(key), tag)
	}
	if textAttrs[key] || strings.HasPrefix(key, "aria-") {
		c.text.WriteByte('\n')
		c.text.WriteString(val)
		c.text.WriteByte('\n')
	}
	return nil
}

func (c *htmlCheck) hasOpaque(s string) bool {
	for _, m := range c.opaque {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// cssLoads are what CSS can load, run or import from elsewhere, written
// as they read once comments, escapes, case and spaces are gone.
var cssLoads = []string{"url(", "image(", "image-set(", "cross-fade(", "element(", "expression(", "paint(", "src(",
	"@import", "@font-face", "@namespace", "behavior:", "binding:", "javascript:", "vbscript:", "data:", "//", `\\`}

// checkStyle refuses CSS that loads anything, however it is spelled.
func (c *htmlCheck) checkStyle(css string) error {
	if c.hasOpaque(css) {
		return c.fail("a style holds recipient data")
	}
	plain := decodeCSS(css)
	for _, l := range cssLoads {
		if strings.Contains(plain, l) {
			return c.fail("CSS may not load or run anything (%s): a notice loads nothing from elsewhere", strings.TrimSuffix(l, "("))
		}
	}
	return nil
}

// decodeCSS reads CSS as a browser's tokenizer would before matching a
// function name: comments removed, escapes (\75, \u) decoded, lower case,
// and no white space, so "U\72 L ( " reads "url(".
func decodeCSS(css string) string {
	var b strings.Builder
	for i := 0; i < len(css); {
		switch {
		case strings.HasPrefix(css[i:], "/*"):
			end := strings.Index(css[i+2:], "*/")
			if end < 0 {
				i = len(css)
			} else {
				i += 2 + end + 2
			}
		case css[i] == '\\' && i+1 < len(css):
			j := i + 1
			for j < len(css) && j < i+7 && isHex(css[j]) {
				j++
			}
			if j > i+1 {
				var r rune
				fmt.Sscanf(css[i+1:j], "%x", &r)
				if j < len(css) && isCSSSpace(css[j]) {
					j++
				}
				if r == 0 || r > utf8.MaxRune {
					r = utf8.RuneError
				}
				writeCSSRune(&b, r)
				i = j
				continue
			}
			r, n := utf8.DecodeRuneInString(css[i+1:])
			if r != '\n' {
				writeCSSRune(&b, r)
			}
			i += 1 + n
		default:
			r, n := utf8.DecodeRuneInString(css[i:])
			writeCSSRune(&b, r)
			i += n
		}
	}
	return b.String()
}

func writeCSSRune(b *strings.Builder, r rune) {
	if isSpace(r) {
		return
	}
	if r >= 'A' && r <= 'Z' {
		r += 'a' - 'A'
	}
	if r >= 0xFF01 && r <= 0xFF5E {
		r -= 0xFEE0
	}
	b.WriteRune(r)
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isCSSSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
