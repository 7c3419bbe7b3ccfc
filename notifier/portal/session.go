package portal

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// Cookie names. Behind https they carry the __Host- prefix, which the
// browser accepts only with Secure, Path=/ and no Domain: no other host,
// and no plain-http page, can set or overwrite them.
const (
	sessionCookie = "bn_portal"
	signInCookie  = "bn_signin"
)

func (s *Server) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// setCookie sets an HttpOnly, SameSite=Lax cookie on the whole site; a
// negative maxAge deletes it. The session cookie has no Max-Age: it ends
// with the browser, and the server ends it sooner (idle, absolute expiry).
func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) cookie(r *http.Request, base string) string {
	c, err := r.Cookie(s.cookieName(base))
	if err != nil {
		return ""
	}
	return c.Value
}

// sessionState is what a request's session cookie amounts to.
type sessionState int

const (
	noSession      sessionState = iota // no cookie: anonymous
	liveSession                        // a session the server accepts
	refusedSession                     // a cookie the server does not accept (ended, expired, forged)
)

// session looks the request's session cookie up.
func (s *Server) session(r *http.Request) (notifier.PortalSession, sessionState, error) {
	id := s.cookie(r, sessionCookie)
	if id == "" {
		return notifier.PortalSession{}, noSession, nil
	}
	sess, err := s.svc.PortalSession(r.Context(), id)
	switch {
	case err == nil:
		return sess, liveSession, nil
	case notifier.ErrorCode(err) == notifier.CodeNotFound:
		return sess, refusedSession, nil
	}
	return sess, refusedSession, err
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
		case state == noSession:
			seeOther(w, r, "/portal/login")
			return
		case state == refusedSession:
			s.setCookie(w, sessionCookie, "", -1)
			s.render(w, r, http.StatusNotFound, "session_ended", pageData{Title: "Signed out"})
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 4096)
			if err := r.ParseForm(); err != nil || !s.validForm(formSession, r.PostForm.Get("csrf"), sess.IDHash, time.Now()) {
				s.render(w, r, http.StatusForbidden, "error", s.portalData(sess, "", pageData{Title: "Not done", Heading: "Nothing was done",
					Message: "This form has expired or did not come from our portal. Go back, reload the page and try again."}))
				return
			}
		}
		next(w, r, sess)
	}
}

// portalData completes a signed-in page's data.
func (s *Server) portalData(sess notifier.PortalSession, nav string, d pageData) pageData {
	d.Session = &sess
	d.SessionCSRF = s.formToken(formSession, sess.IDHash, time.Now())
	d.Nav = nav
	return d
}

// seeOther redirects after a form or to the sign-in page, with the same
// headers as a page: a redirect that sets a cookie must not be cached.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	secureHeaders(w)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// randomValue is 128 random bits for a cookie that binds a form.
func randomValue() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
