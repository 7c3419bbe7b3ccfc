package portal

import (
	"net/http"
	"net/url"

	"golang.org/x/text/language"

	"github.com/breachnotify/breachnotify/notifier/i18n"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// langCookie holds the language a visitor chose with the switcher.
const langCookie = "lang"

// langCookieAge is how long the choice is kept: a year.
const langCookieAge = 365 * 24 * 60 * 60

// langLink is one entry of the language switcher.
type langLink struct {
	Tag     string
	Name    string
	URL     web.Verbatim
	Current bool
}

// langNames are the languages' own names (the switcher names each
// language in itself, so a visitor finds theirs on a page they cannot
// read).
var langNames = map[language.Tag]string{
	language.English:  "English",
	language.German:   "Deutsch",
	language.French:   "Français",
	language.Japanese: "日本語",
}

// language picks the page's language (see i18n.Catalog.Choose). The
// switcher is plain links to the same page with ?lang=xx: a supported
// choice there is used and remembered in the lang cookie, which then
// wins over everything else, the notice's language included: the
// visitor chose it on purpose. The switcher is a GET on purpose too: it
// changes nothing but a display preference and needs no script or form.
func (s *Server) language(w http.ResponseWriter, r *http.Request, d pageData) language.Tag {
	choice := s.cookies.Get(r, langCookie)
	if q := r.URL.Query().Get("lang"); q != "" {
		if tag, ok := s.catalog.Supported(q); ok {
			choice = tag.String()
			s.cookies.Set(w, langCookie, choice, langCookieAge)
		}
	}
	member := ""
	if d.Session != nil {
		member = d.Session.ContactLocale
	}
	return s.catalog.Choose(choice, d.NoticeLocale, member, r.Header.Get("Accept-Language"))
}

// langLinks are the switcher's links: this page (its path and query,
// ?lang= replaced) in every supported language.
func langLinks(r *http.Request, current language.Tag) []langLink {
	links := make([]langLink, 0, len(i18n.Supported))
	for _, tag := range i18n.Supported {
		q := url.Values{}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			q = r.URL.Query()
		}
		q.Set("lang", tag.String())
		links = append(links, langLink{Tag: tag.String(), Name: langNames[tag], Current: tag == current,
			URL: web.Verbatim(r.URL.EscapedPath() + "?" + q.Encode())})
	}
	return links
}
