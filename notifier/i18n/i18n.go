// Package i18n is the message catalogue of the customer pages and the
// choice of a visitor's language.
//
// It uses golang.org/x/text/message (with x/text/language for matching)
// rather than go-i18n: x/text is already in the module graph (x/net
// needs it), its Printer formats numbers per locale (1,234 / 1.234 /
// 1 234) with the same Sprintf the messages use, and its matcher reads
// Accept-Language as browsers send it. The pages need no plural rules
// beyond what a message with a count states, so go-i18n's CLDR plural
// forms would buy nothing for a second dependency.
//
// The catalogue is one JSON file per language in messages/, embedded in
// the binary: a flat object of key to message. Messages are trusted HTML
// fragments (ours, reviewed like a page template); their %s/%d
// arguments are not: Catalog.HTML escapes every string argument and
// isolates it in <bdi>, since it is breach or customer data.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"

	"github.com/breachnotify/breachnotify/notifier/linkguard"
)

//go:embed messages/*.json
var files embed.FS

// Supported are the page languages, English first: it is the fallback.
var Supported = []language.Tag{language.English, language.German, language.French, language.Japanese}

// Catalog holds the pages' messages in every supported language.
type Catalog struct {
	builder *catalog.Builder
	msgs    map[language.Tag]map[string]string
	matcher language.Matcher
}

// Load reads the embedded catalogue; a message file that does not parse
// stops the server from starting.
func Load() (*Catalog, error) {
	c := &Catalog{builder: catalog.NewBuilder(catalog.Fallback(language.English)), msgs: map[language.Tag]map[string]string{},
		matcher: language.NewMatcher(Supported)}
	for _, tag := range Supported {
		b, err := files.ReadFile("messages/" + tag.String() + ".json")
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("i18n: messages/%s.json: %w", tag, err)
		}
		for k, v := range m {
			if err := c.builder.SetString(tag, k, v); err != nil {
				return nil, fmt.Errorf("i18n: %s %s: %w", tag, k, err)
			}
		}
		c.msgs[tag] = m
	}
	return c, nil
}

// Keys are the keys of tag's messages, sorted.
func (c *Catalog) Keys(tag language.Tag) []string {
	keys := make([]string, 0, len(c.msgs[tag]))
	for k := range c.msgs[tag] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Message is tag's message for key as written in the catalogue, "" when
// there is none.
func (c *Catalog) Message(tag language.Tag, key string) string { return c.msgs[tag][key] }

// Printer formats tag's messages and numbers.
func (c *Catalog) Printer(tag language.Tag) *message.Printer {
	return message.NewPrinter(tag, message.Catalog(c.builder))
}

// placeholder marks string argument i in a formatted message, in the
// private use area, so no message text can contain it.
var placeholderMarks = strings.NewReplacer("\uE000", "", "\uE001", "")

func placeholder(i int) string { return "\uE000" + strconv.Itoa(i) + "\uE001" }

// HTML is the message key in tag with args: numbers are formatted by the
// locale's rules; every string argument (data) is defanged like
// everything a page prints (linkguard), HTML-escaped and wrapped in
// <bdi>, so a right-to-left name cannot reorder the sentence around it.
// A single []any argument is spread (a template cannot spread).
func (c *Catalog) HTML(tag language.Tag, key string, args ...any) template.HTML {
	if len(args) == 1 {
		if a, ok := args[0].([]any); ok {
			args = a
		}
	}
	var data []string
	var markup [][2]string
	pargs := make([]any, len(args))
	for i, a := range args {
		var s string
		isString := true
		switch v := a.(type) {
		case Text:
			pargs[i] = html.EscapeString(string(v))
			continue
		case template.HTML:
			// Markup of ours (a size made by a message): kept as it is.
			pargs[i] = placeholder(-1 - i)
			markup = append(markup, [2]string{placeholder(-1 - i), string(v)})
			continue
		case string:
			s = linkguard.Defang(v)
		case fmt.Stringer:
			s = v.String()
		default:
			// A named string type (a page's Verbatim: what the visitor
			// typed, one of our URLs) is data too, shown as it is.
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				s = rv.String()
			} else {
				isString = false
			}
		}
		if !isString {
			pargs[i] = a
			continue
		}
		pargs[i] = placeholder(len(data))
		// The placeholders' marks taken out of the data, so no argument
		// can stand in for another's place.
		data = append(data, placeholderMarks.Replace(s))
	}
	out := c.Printer(tag).Sprintf(key, pargs...)
	for i, s := range data {
		out = strings.Replace(out, placeholder(i), Isolate(s), 1)
	}
	for _, m := range markup {
		out = strings.Replace(out, m[0], m[1], 1)
	}
	return template.HTML(out)
}

// Text is text of ours (a date, a size) passed to a message: escaped,
// not isolated, since it is not data.
type Text string

// Isolate is s escaped for HTML and isolated in <bdi>.
func Isolate(s string) string { return "<bdi>" + html.EscapeString(s) + "</bdi>" }

// Choose picks the page language: an explicit choice (the lang cookie,
// set by the switcher) wins everywhere, since the visitor made it on
// purpose; then the notice's language when the visitor came from a
// notice; then the signed-in member's locale; then Accept-Language; then
// English. Locales are matched to the supported languages (de-CH is
// German); anything unparsable or unsupported is skipped.
func (c *Catalog) Choose(choice, noticeLocale, memberLocale, acceptLanguage string) language.Tag {
	for _, l := range []string{choice, noticeLocale, memberLocale} {
		if t, ok := c.Supported(l); ok {
			return t
		}
	}
	if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
		if t, _, conf := c.matcher.Match(tags...); conf >= language.High {
			return base(t)
		}
	}
	return language.English
}

// Supported reports the supported language s names, if it names one.
func (c *Catalog) Supported(s string) (language.Tag, bool) {
	if s == "" || len(s) > 35 {
		return language.Und, false
	}
	t, err := language.Parse(s)
	if err != nil {
		return language.Und, false
	}
	m, _, conf := c.matcher.Match(t)
	if conf < language.High {
		return language.Und, false
	}
	return base(m), true
}

// base is the supported tag t was matched to (the matcher may return
// t with a -u-rg extension; the catalogue is keyed by the plain tags).
func base(t language.Tag) language.Tag {
	b, _ := t.Base()
	for _, s := range Supported {
		if sb, _ := s.Base(); sb == b {
			return s
		}
	}
	return language.English
}

// Dir is the writing direction of tag: "rtl" or "ltr".
func Dir(tag language.Tag) string {
	switch b, _ := tag.Base(); b.String() {
	case "ar", "he", "fa", "ur", "yi", "ps", "sd", "ug", "dv", "ku":
		return "rtl"
	}
	return "ltr"
}

// months are the month names of the supported languages that spell them.
var months = map[string][12]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
}

// Date is t's date (in UTC) as tag writes it: 7 December 2026,
// 7. Dezember 2026, 7 décembre 2026, 2026年12月7日.
func Date(tag language.Tag, t time.Time) Text {
	t = t.UTC()
	b, _ := tag.Base()
	switch b.String() {
	case "ja":
		return Text(fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day()))
	case "de":
		return Text(fmt.Sprintf("%d. %s %d", t.Day(), months["de"][t.Month()-1], t.Year()))
	case "fr":
		day := strconv.Itoa(t.Day())
		if t.Day() == 1 {
			day = "1er"
		}
		return Text(fmt.Sprintf("%s %s %d", day, months["fr"][t.Month()-1], t.Year()))
	}
	return Text(fmt.Sprintf("%d %s %d", t.Day(), months["en"][t.Month()-1], t.Year()))
}

// DateTime is t's date and time in UTC, stated as such.
func DateTime(tag language.Tag, t time.Time) Text {
	t = t.UTC()
	b, _ := tag.Base()
	switch b.String() {
	case "de":
		return Date(tag, t) + Text(", "+t.Format("15:04")+" UTC")
	case "fr":
		return Date(tag, t) + Text(" à "+t.Format("15:04")+" UTC")
	}
	return Date(tag, t) + Text(" "+t.Format("15:04")+" UTC")
}
