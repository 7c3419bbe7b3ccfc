package templates

import (
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"text/template/parse"
)

// A genuine notice is told from phishing partly by where it points: only
// to the notice's own pages on the public URL, never to anything loaded
// from elsewhere (a tracking pixel, a remote image or style). Compile
// checks every template against that on sample data: an href must be one
// of the Links values, nothing may be loaded (no src, no CSS url()), and
// no other absolute URL may appear in any part, where a mail client would
// turn it into a link.

var (
	// loadingTags fetch or run something when the message is opened, or
	// send something when a button is pressed.
	loadingTags = regexp.MustCompile(`(?i)<\s*(img|image|script|iframe|frame|frameset|object|embed|applet|link|form|input|button|video|audio|source|track|picture|svg|math|base)\b`)
	// urlAttrs are the attributes that hold a URL.
	urlAttrs = regexp.MustCompile(`(?i)[\s"'/](href|src|srcset|background|action|formaction|poster|data|xlink:href|longdesc|lowsrc|dynsrc|ping|cite|manifest|icon)\s*=\s*("[^"]*"|'[^']*'|[^\s>"']+)`)
	// cssLoads load from a URL in CSS.
	cssLoads = regexp.MustCompile(`(?i)url\s*\(|@import|image-set\s*\(|image\s*\(|cross-fade\s*\(|element\s*\(|expression\s*\(`)
	// refresh redirects the reader somewhere else; any http-equiv is
	// refused (none is needed in a notice).
	refresh = regexp.MustCompile(`(?i)http-equiv`)
	// styles are style attributes and elements: a backslash there is a
	// CSS escape, which could spell url( past cssLoads.
	styles = regexp.MustCompile(`(?is)\bstyle\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)|<style\b[^>]*>.*?(</style|$)`)
	// schemeStart is the start of an absolute URL whose rest may come from
	// an action ("https://{{...}}") or a bare web address.
	schemeStart = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*:/|\bwww\.[a-z0-9-]`)
	// absoluteURL is an absolute URL as a mail client would link it.
	absoluteURL = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[A-Za-z0-9\-._~:/?#\[\]@!$&*+,;=%]+`)
)

// checkLinks reports the first thing in out that is a link, or a load,
// other than one of links' values.
func checkLinks(out Rendered, links Links) error {
	allowed := slices.DeleteFunc([]string{links.Ack, links.Portal, links.Verify}, func(s string) bool { return s == "" })
	for _, part := range []struct{ name, text string }{{"subject", out.Subject}, {"text", out.Text}, {"html", html.UnescapeString(out.HTML)}} {
		for _, u := range absoluteURL.FindAllString(part.text, -1) {
			if u = strings.TrimRight(u, ".,;:!?"); !slices.Contains(allowed, u) {
				return &PartError{Part: part.name, Err: fmt.Errorf("the URL %s is not one of the notice's links (.Links.Ack, .Links.Portal, .Links.Verify); a notice links to nothing else", u)}
			}
		}
	}
	fail := func(format string, args ...any) error {
		return &PartError{Part: "html", Err: fmt.Errorf(format, args...)}
	}
	if err := checkHTMLLoads(out.HTML); err != nil {
		return fail("%v", err)
	}
	for _, m := range urlAttrs.FindAllStringSubmatch(out.HTML, -1) {
		attr, val := strings.ToLower(m[1]), html.UnescapeString(strings.Trim(m[2], `"'`))
		if attr != "href" {
			return fail("the %s attribute is not allowed: a notice loads nothing from elsewhere", attr)
		}
		if !slices.Contains(allowed, val) {
			return fail("href %q is not one of the notice's links (.Links.Ack, .Links.Portal, .Links.Verify)", val)
		}
	}
	return nil
}

// checkHTMLLoads refuses in HTML (a whole part, or a piece of template
// text) the tags that load or send something, CSS loads, escapes in styles
// and http-equiv. Tags are found as written; the rest after character
// references are decoded, as the reader's browser would ("&#117;rl(" is
// "url(").
func checkHTMLLoads(raw string) error {
	if m := loadingTags.FindStringSubmatch(raw); m != nil {
		return fmt.Errorf("<%s> is not allowed: a notice loads nothing from elsewhere and has no forms", strings.ToLower(m[1]))
	}
	h := html.UnescapeString(raw)
	if m := cssLoads.FindString(h); m != "" {
		return fmt.Errorf("%q is not allowed in styles: a notice loads nothing from elsewhere", m)
	}
	for _, m := range styles.FindAllString(h, -1) {
		if strings.Contains(m, `\`) {
			return fmt.Errorf("escapes (\\) are not allowed in styles")
		}
	}
	if refresh.MatchString(h) {
		return fmt.Errorf("http-equiv (a refresh or redirect) is not allowed")
	}
	return nil
}

// checkSource checks what a template writes on its own, in every branch:
// the sample data takes one path through {{if}} and {{range}}, and a link
// or a load in a branch it does not take would otherwise go unchecked.
// Literal text may hold no URL, no start of one, no load and no link
// attribute with a literal value (hrefs come from .Links); string
// constants in actions may hold no URL or piece of one.
func checkSource(part string, tree *parse.Tree, isHTML bool) error {
	fail := func(format string, args ...any) error {
		return &PartError{Part: part, Err: fmt.Errorf(format, args...)}
	}
	var walk func(n parse.Node) error
	walk = func(n parse.Node) error {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return nil
			}
			for _, c := range n.Nodes {
				if err := walk(c); err != nil {
					return err
				}
			}
		case *parse.TextNode:
			text := string(n.Text)
			if isHTML {
				if err := checkHTMLLoads(text); err != nil {
					return fail("%v", err)
				}
				if m := urlAttrs.FindStringSubmatch(text); m != nil {
					return fail("the %s attribute may not be written out: a notice's only links are {{.Links.Ack}}, {{.Links.Portal}} and {{.Links.Verify}}", strings.ToLower(m[1]))
				}
				text = html.UnescapeString(text)
			}
			if m := schemeStart.FindString(text); m != "" {
				return fail("%q starts a URL: a notice links only to its own pages ({{.Links.Ack}}, {{.Links.Portal}}, {{.Links.Verify}})", m)
			}
		case *parse.ActionNode:
			return walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return nil
			}
			for _, c := range n.Cmds {
				for _, a := range c.Args {
					if err := walk(a); err != nil {
						return err
					}
				}
			}
		case *parse.StringNode:
			if strings.Contains(n.Text, ":/") || strings.Contains(n.Text, "//") || schemeStart.MatchString(n.Text) {
				return fail("the string %q looks like part of a URL: a notice links only to its own pages", n.Text)
			}
		case *parse.IfNode:
			return walkBranch(walk, &n.BranchNode)
		case *parse.RangeNode:
			return walkBranch(walk, &n.BranchNode)
		case *parse.WithNode:
			return walkBranch(walk, &n.BranchNode)
		case *parse.TemplateNode:
			return walk(n.Pipe)
		}
		return nil
	}
	if tree == nil {
		return nil
	}
	return walk(tree.Root)
}

func walkBranch(walk func(parse.Node) error, b *parse.BranchNode) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := walk(n); err != nil {
			return err
		}
	}
	return nil
}
