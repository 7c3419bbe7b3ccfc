package portal

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/i18n"
	"github.com/breachnotify/breachnotify/notifier/linkguard"
	"github.com/breachnotify/breachnotify/notifier/web"
	"github.com/breachnotify/breachnotify/templates"
)

// pageNames are the pages in pages/, each parsed with layout.html.
var pageNames = []string{
	"ack", "ack_done", "notfound", "error", "ratelimited",
	"verify",
	"signin", "signin_sent", "login_link", "login_invalid", "session_ended", "portal_notfound",
	"home", "incident", "notice", "items", "item",
	"messages", "message", "download", "activity",
	"factors", "verify_factor",
	"sessions", "members", "request_access",
}

// pageFuncs are the helpers pages may call, in language tag: every
// user-visible string of a page is {{t "key" args...}} from the
// catalogue (see notifier/i18n), every piece of breach or customer data
// printed on its own is {{d .X}} (isolated in <bdi>), dates and numbers
// are written as tag writes them.
func pageFuncs(cat *i18n.Catalog, tag language.Tag) template.FuncMap {
	return template.FuncMap{
		"t": func(key string, args ...any) template.HTML {
			if cat.Message(language.English, key) == "" {
				// Not a key (a code the catalogue does not know): data.
				return template.HTML(i18n.Isolate(linkguard.Defang(key)))
			}
			return cat.HTML(tag, key, args...)
		},
		"d":        isolate,
		"datetime": func(t *time.Time) i18n.Text { return i18n.DateTime(tag, *t) },
		"date":     func(t time.Time) i18n.Text { return i18n.Date(tag, t) },
		"num":      func(n any) string { return cat.Printer(tag).Sprint(n) },
		"mask":     notifier.MaskEmail,
		"join":     strings.Join,
		"kind":     func(k templates.Kind) string { return "kind." + string(k) },
		"itemkind": func(k string) string { return "itemkind." + k },
		"code":     func(prefix, v string) string { return prefix + "." + v },
		"bytes": func(n any) template.HTML {
			return humanBytes(cat, tag, n)
		},
	}
}

// isolate is v, defanged unless it is a Verbatim, escaped and wrapped in
// <bdi>: breach data printed on a page keeps its own direction without
// reordering the text around it.
func isolate(v any) template.HTML {
	var s string
	switch x := v.(type) {
	case web.Verbatim:
		s = string(x)
	case string:
		s = linkguard.Defang(x)
	case interface{ String() string }:
		s = x.String()
	default:
		s = fmt.Sprint(v)
	}
	return template.HTML(i18n.Isolate(s))
}

// Rate limits (per process; see web.Limiter).
const (
	// A person checks a code or two; 10 a minute per address is plenty,
	// and makes guessing a code's random part hopeless.
	verifyBurst = 10
	verifyEvery = 6 * time.Second
	// Sign-in requests per client address: 10 at once, then one every 90
	// seconds (10 per quarter hour).
	signInIPBurst = 10
	signInIPEvery = 90 * time.Second
	// Sign-in emails per typed address: 3 at once, then one every 5
	// minutes, so nobody can flood a contact's mailbox.
	signInAddressBurst = 3
	signInAddressEvery = 5 * time.Minute
	// limiterKeys bounds each limiter's memory.
	limiterKeys = 10000
)

// Deadlines and caps of the customer pages (per process). A page is
// read and answered within pageDeadline; the CSV download, which can be
// megabytes, within downloadDeadline (6 MB takes 48 s at 1 Mbit/s);
// past either the connection is cut. A download reads its rows a page at
// a time and holds no database connection while it writes, but it holds
// a connection of ours: a session may have downloadsPerSession running
// at once, a client address (IPv6 by /64) downloadsPerAddress; beyond,
// 429.
const (
	pageDeadline        = 10 * time.Second
	downloadDeadline    = 60 * time.Second
	downloadsPerSession = 2
	downloadsPerAddress = 4
)

// humanBytes is a size for people in tag: 512 bytes, 14.2 KB, 3.1 MB
// (1.234 Byte, 14,2 KB in German).
func humanBytes(cat *i18n.Catalog, tag language.Tag, n any) template.HTML {
	var v float64
	switch x := n.(type) {
	case int:
		v = float64(x)
	case int64:
		v = float64(x)
	}
	switch {
	case v < 1000:
		return cat.HTML(tag, "size.bytes", int64(v))
	case v < 1e6:
		return cat.HTML(tag, "size.kb", v/1e3)
	default:
		return cat.HTML(tag, "size.mb", v/1e6)
	}
}
