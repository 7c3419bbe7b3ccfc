package admin

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// Cookie names, before the __Host- prefix they get behind https (see
// web.Cookies). The session cookie must reach /riverui/ as well as
// /admin, which Path=/ allows; the names are distinct from the customer
// portal's cookies. Both are SameSite=Strict, unlike the portal's Lax:
// staff do not arrive by links in emails, and no other site's link or
// form may carry a staff session along. The session cookie has no
// Max-Age: it ends with the browser, and the server ends it sooner.
const (
	sessionCookie = "bn_admin"
	signInCookie  = "bn_admin_signin"
)

// session looks the request's session up, and with it the key: a session
// of a revoked key is refused.
func (s *Server) session(r *http.Request) (notifier.StaffSession, web.SessionState, error) {
	return web.Session(r, s.cookies, sessionCookie, s.svc.StaffSession)
}

// staffHandler is a dashboard page of a signed-in staff member.
type staffHandler func(http.ResponseWriter, *http.Request, notifier.StaffSession)

// signedIn guards a dashboard route. Without a session the visitor is
// sent to sign in (and brought back afterwards); a cookie the server no
// longer accepts is deleted and the sign-in page says the session ended.
// POST routes also need the session's form token.
func (s *Server) signedIn(next staffHandler) http.HandlerFunc { return s.guard(next, false) }

// signedInUpload guards an upload: a multipart POST whose form token is
// its first part, which the handler checks (validUpload) before reading
// the file, so that the file streams instead of being buffered.
func (s *Server) signedInUpload(next staffHandler) http.HandlerFunc { return s.guard(next, true) }

func (s *Server) guard(next staffHandler, upload bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, state, err := s.session(r)
		switch {
		case err != nil:
			s.fail(w, r, notifier.StaffSession{}, err, "/admin")
			return
		case state == web.NoSession:
			seeOther(w, r, signInURL(r, false))
			return
		case state == web.RefusedSession:
			s.cookies.Delete(w, sessionCookie)
			seeOther(w, r, signInURL(r, true))
			return
		}
		if r.Method == http.MethodPost && !upload {
			r.Body = http.MaxBytesReader(w, r.Body, 4096)
			if err := r.ParseForm(); err != nil || !s.forms.Valid(formSession, r.PostForm.Get("csrf"), sess.IDHash, time.Now()) {
				s.refuseForm(w, r, sess)
				return
			}
		}
		next(w, r, sess)
	}
}

// refuseForm answers a POST without a valid form token of the session.
func (s *Server) refuseForm(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	s.render(w, r, http.StatusForbidden, "error", s.data(sess, "", pageData{Title: "Not done", Page: problemPage{
		Heading: "Nothing was done",
		Message: "This form has expired or did not come from the dashboard. Reload the page and try again.",
		Back:    "/admin", BackText: "Go to the overview"}}))
}

// signInURL is the sign-in page, bringing the visitor back to the page
// asked for (GET only: a form is not worth replaying).
func signInURL(r *http.Request, ended bool) string {
	q := url.Values{}
	if ended {
		q.Set("ended", "1")
	}
	if r.Method == http.MethodGet && r.URL.RequestURI() != "/admin" {
		if next := safeNext(r.URL.RequestURI()); next != "/admin" {
			q.Set("next", next)
		}
	}
	if len(q) == 0 {
		return "/admin/login"
	}
	return "/admin/login?" + q.Encode()
}

// safeNext is where to go after signing in: a path of the dashboard or
// the River UI on this site, never another site (//host, /\host) or a
// path that leaves them (..); anything else is the overview.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") || strings.Contains(u.Path, "..") || len(next) > 500 {
		return "/admin"
	}
	if u.Path == "/admin" || strings.HasPrefix(u.Path, "/admin/") || u.Path == queuePrefix || strings.HasPrefix(u.Path, queuePrefix+"/") {
		return next
	}
	return "/admin"
}

// Form token purposes (see web.FormTokens): a token made for one form is
// refused by every other, and none of them is a customer portal token
// (the portal's purposes differ).
const (
	formSignIn  = "admin-sign-in"
	formSession = "admin-session"
)
