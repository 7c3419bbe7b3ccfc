package portal

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
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
}

// pageFuncs are the helpers pages may call.
var pageFuncs = template.FuncMap{
	"datetime": func(t *time.Time) string { return t.UTC().Format("2 January 2006 15:04 UTC") },
	"date":     func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	"mask":     notifier.MaskEmail,
	"join":     strings.Join,
	"kind":     templates.Kind.Label,
	"bytes":    humanBytes,
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

// humanBytes is a size for people: 512 bytes, 14.2 KB, 3.1 MB.
func humanBytes(n any) string {
	var v float64
	switch x := n.(type) {
	case int:
		v = float64(x)
	case int64:
		v = float64(x)
	}
	switch {
	case v < 1000:
		return fmt.Sprintf("%.0f bytes", v)
	case v < 1e6:
		return fmt.Sprintf("%.1f KB", v/1e3)
	default:
		return fmt.Sprintf("%.1f MB", v/1e6)
	}
}
