package admin

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// Sign-in attempts per client address: 10 at once, then one a minute. A
// key has 256 random bits, so the limit is not what keeps keys safe; it
// keeps a client from using the form to load the database.
const (
	signInBurst = 10
	signInEvery = time.Minute
	// limiterKeys bounds the limiter's memory.
	limiterKeys = 10000
)

// signInPage is the sign-in form's data.
type signInPage struct {
	// Next is where to go once signed in (checked by safeNext).
	Next web.Verbatim
	// Problem says why the last attempt failed.
	Problem string
	// Ended and SignedOut explain why the visitor is here.
	Ended, SignedOut bool
}

// signInForm serves GET /admin/login. The form's token is bound to a
// random cookie (double submit), so no other site can sign a browser in
// with a key of its choosing.
func (s *Server) signInForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	next := safeNext(q.Get("next"))
	_, state, err := s.session(r)
	switch {
	case err != nil:
		s.fail(w, r, notifier.StaffSession{}, err, "")
		return
	case state == web.LiveSession:
		seeOther(w, r, next)
		return
	case state == web.RefusedSession:
		s.cookies.Delete(w, sessionCookie)
	}
	s.renderSignIn(w, r, http.StatusOK, signInPage{Next: web.Verbatim(next), Ended: q.Get("ended") != "", SignedOut: q.Get("signed_out") != ""})
}

func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, p signInPage) {
	bind := s.cookies.FormBinding(w, r, signInCookie)
	s.render(w, r, status, "signin", pageData{Title: "Sign in", CSRF: web.Verbatim(s.forms.Make(formSignIn, []byte(bind), time.Now())), Page: p})
}

// signIn serves POST /admin/login: the key is checked (Service.Authenticate)
// and a new session starts with a new random id, never one the browser
// brought along. The key travels in this POST's body only: it is never in
// a URL, a cookie or a log.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil || !s.forms.Valid(formSignIn, r.PostForm.Get("csrf"), []byte(s.cookies.Get(r, signInCookie)), time.Now()) {
		s.render(w, r, http.StatusForbidden, "error", pageData{Title: "Not signed in", Page: problemPage{
			Heading: "Not signed in",
			Message: "This form has expired or did not come from the dashboard (your browser must accept cookies from this site). Reload the sign-in page and try again.",
			Back:    "/admin/login", BackText: "Sign in"}})
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	ip := s.clientAddr.Of(r)
	if ok, wait := s.signInByIP.Allow(web.RateKey(ip)); !ok {
		secs := strconv.Itoa(int(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", secs)
		s.render(w, r, http.StatusTooManyRequests, "error", pageData{Title: "Too many attempts", Page: problemPage{
			Heading: "Too many sign-in attempts",
			Message: "Too many sign-in attempts came from your address. Wait " + secs + " seconds, then try again.",
			Back:    "/admin/login", BackText: "Sign in"}})
		return
	}
	// A session the browser still holds ends: one browser, one session.
	if old, state, err := s.session(r); err == nil && state == web.LiveSession {
		if err := s.svc.EndStaffSession(r.Context(), old); err != nil {
			s.logger.WarnContext(r.Context(), "could not end the previous staff session", "error", err)
		}
	}
	id, _, err := s.svc.StartStaffSession(r.Context(), strings.TrimSpace(r.PostForm.Get("key")),
		notifier.AckRequest{IP: ip, UserAgent: r.UserAgent()})
	if notifier.ErrorCode(err) == notifier.CodeUnauthorized {
		s.logger.WarnContext(r.Context(), "staff sign-in refused", "ip", ip)
		s.renderSignIn(w, r, http.StatusUnauthorized, signInPage{Next: web.Verbatim(next),
			Problem: "That key does not work: it is mistyped, unknown or revoked. Paste the whole key, starting with bn_."})
		return
	}
	if err != nil {
		s.fail(w, r, notifier.StaffSession{}, err, "/admin/login")
		return
	}
	s.cookies.Set(w, sessionCookie, id, 0)
	s.cookies.Delete(w, signInCookie)
	seeOther(w, r, next)
}

// signOut serves POST /admin/logout: the session ends on the server, so
// the cookie is worthless even if it was copied.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	if err := s.svc.EndStaffSession(r.Context(), sess); err != nil {
		s.fail(w, r, sess, err, "/admin")
		return
	}
	s.cookies.Delete(w, sessionCookie)
	seeOther(w, r, "/admin/login?signed_out=1")
}
