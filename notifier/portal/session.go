package portal

import (
	"net/http"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// Cookie names, before the __Host- prefix they get behind https (see
// web.Cookies). Both are SameSite=Lax: contacts arrive by links in
// emails. The session cookie has no Max-Age: it ends with the browser,
// and the server ends it sooner (idle, absolute expiry).
const (
	sessionCookie = "bn_portal"
	signInCookie  = "bn_signin"
)

// session looks the request's session cookie up.
func (s *Server) session(r *http.Request) (notifier.PortalSession, web.SessionState, error) {
	return web.Session(r, s.cookies, sessionCookie, s.svc.PortalSession)
}

// signedIn guards a portal page. Without a session cookie the visitor is
// sent to sign in. A cookie the server does not accept (signed out, idle,
// expired, forged) gets the same neutral 404 as any token it does not
// accept, with a page saying how to sign in again, and is deleted. POST
// routes also need the session's form token.
func (s *Server) signedIn(next func(http.ResponseWriter, *http.Request, notifier.PortalSession)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, state, err := s.session(r)
		switch {
		case err != nil:
			s.fail(w, r, err)
			return
		case state == web.NoSession:
			seeOther(w, r, "/portal/login")
			return
		case state == web.RefusedSession:
			s.cookies.Delete(w, sessionCookie)
			s.render(w, r, http.StatusNotFound, "session_ended", pageData{Title: "title.signed_out"})
			return
		}
		if r.Method == http.MethodPost {
			limit := int64(4096)
			if strings.HasSuffix(r.URL.Path, "/passkey") {
				limit = passkeyFormLimit // a passkey ceremony's answer
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if err := r.ParseForm(); err != nil || !s.forms.Valid(formSession, r.PostForm.Get("csrf"), sess.IDHash, time.Now()) {
				s.render(w, r, http.StatusForbidden, "error", s.portalData(sess, "", pageData{Title: "title.not_done", Heading: "session.nothing_done",
					Message: "session.form_expired"}))
				return
			}
		}
		next(w, r, sess)
	}
}

// portalData completes a signed-in page's data.
func (s *Server) portalData(sess notifier.PortalSession, nav string, d pageData) pageData {
	d.Session = &sess
	d.SessionCSRF = web.Verbatim(s.forms.Make(formSession, sess.IDHash, time.Now()))
	d.Nav = nav
	d.MailReview = s.review != nil
	return d
}

// seeOther redirects after a form or to the sign-in page, with the same
// headers as a page: a redirect that sets a cookie must not be cached.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	secureHeaders(w)
	http.Redirect(w, r, to, http.StatusSeeOther)
}
