package templates

import (
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
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
	urlAttrs = regexp.MustCompile(`(?i)[\s"'/](href|src|srcset|background|action|formaction|poster|data|xlink:href|longdesc|lowsrc|dynsrc|ping|cite|manifest|icon)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	// cssLoads load from a URL in CSS.
	cssLoads = regexp.MustCompile(`(?i)url\s*\(|@import|image-set\s*\(|expression\s*\(`)
	// refresh redirects the reader somewhere else.
	refresh = regexp.MustCompile(`(?i)http-equiv\s*=\s*["']?\s*refresh`)
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
	if m := loadingTags.FindStringSubmatch(out.HTML); m != nil {
		return fail("<%s> is not allowed: a notice loads nothing from elsewhere and has no forms", strings.ToLower(m[1]))
	}
	if m := cssLoads.FindString(out.HTML); m != "" {
		return fail("%q is not allowed in styles: a notice loads nothing from elsewhere", m)
	}
	if refresh.MatchString(out.HTML) {
		return fail("a refresh (redirect) is not allowed")
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
