package portal

import (
	"net/http"
	"strconv"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// verifyPage is the verify page's data.
type verifyPage struct {
	// Code is what was typed; Checked is true once a lookup was made.
	Code    web.Verbatim
	Checked bool
	// Result is the genuine notice, nil when the code is not ours.
	Result *notifier.VerifiedNotice
	// Site is the public URL, the only place our notices link to.
	Site web.Verbatim
	// ContactURL and ContactText are how to reach us other than by the
	// mail (configured: BREACHNOTIFY_CONTACT_URL, _CONTACT_TEXT).
	ContactURL  web.Verbatim
	ContactText string
}

// verify serves GET /verify: the form, and with ?code= the answer.
//
// The lookup is a GET rather than a POST with a form token: it changes
// nothing (a safe method, as HTTP means it), works from a bookmark or a
// reload without a "resubmit?" prompt, and needs no cookie or session.
// The code in the query string is not a credential (the answer is a
// masked address, a date, the organization and, for a full-disclosure
// notice, the incident's title), never reaches our logs (they name the
// route, not the URL), nor another site (Referrer-Policy: no-referrer),
// nor a cache (no-store). Guessing is bounded by the per-address rate
// limit. A genuine code's page is in the language of the notice it
// belongs to, unless the visitor chose another.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	page := verifyPage{Site: web.Verbatim(s.publicURL), ContactURL: web.Verbatim(s.contactURL), ContactText: s.contactText}
	d := pageData{Title: "title.verify", Page: page}
	code := r.URL.Query().Get("code")
	if code == "" {
		s.render(w, r, http.StatusOK, "verify", d)
		return
	}
	if len(code) > 200 {
		code = code[:200]
	}
	if ok, wait := s.verifyByIP.Allow(web.RateKey(s.clientAddr.Of(r))); !ok {
		s.tooMany(w, r, wait)
		return
	}
	page.Code, page.Checked = web.Verbatim(code), true
	v, err := s.svc.VerifyReference(r.Context(), code)
	switch {
	case err == nil:
		page.Result = &v
		d.NoticeLocale = v.Locale
	case notifier.ErrorCode(err) != notifier.CodeNotFound:
		s.fail(w, r, err)
		return
	}
	d.Page = page
	s.render(w, r, http.StatusOK, "verify", d)
}

// tooMany is the 429 page, with when to come back.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := int(wait/time.Second) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.render(w, r, http.StatusTooManyRequests, "ratelimited", pageData{Title: "ratelimited.heading",
		Message: "ratelimited.wait", MessageArgs: []any{secs}})
}
