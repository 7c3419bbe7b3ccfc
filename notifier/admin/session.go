package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// Cookie names. The session cookie must reach /riverui/ as well as
// /admin, so both cookies are on Path=/. Behind https they carry the
// __Host- prefix, which the browser accepts only with Secure, Path=/ and
// no Domain: no other host, and no plain-http page, can set or overwrite
// them. They are distinct from the customer portal's cookies.
const (
	sessionCookie = "bn_admin"
	signInCookie  = "bn_admin_signin"
)

func (s *Server) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// setCookie sets an HttpOnly, SameSite=Strict cookie on the whole site; a
// negative maxAge deletes it. Strict, unlike the portal's Lax: staff do
// not arrive by links in emails, and no other site's link or form may
// carry a staff session along. The session cookie has no Max-Age: it ends
// with the browser, and the server ends it sooner.
func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
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
	refusedSession                     // a cookie the server does not accept (ended, expired, revoked key, forged)
)

// session looks the request's session up, and with it the key: a session
// of a revoked key is refused.
func (s *Server) session(r *http.Request) (notifier.StaffSession, sessionState, error) {
	id := s.cookie(r, sessionCookie)
	if id == "" {
		return notifier.StaffSession{}, noSession, nil
	}
	sess, err := s.svc.StaffSession(r.Context(), id)
	switch {
	case err == nil:
		return sess, liveSession, nil
	case notifier.ErrorCode(err) == notifier.CodeNotFound:
		return sess, refusedSession, nil
	}
	return sess, refusedSession, err
}

// staffHandler is a dashboard page of a signed-in staff member.
type staffHandler func(http.ResponseWriter, *http.Request, notifier.StaffSession)

// signedIn guards a dashboard route. Without a session the visitor is
// sent to sign in (and brought back afterwards); a cookie the server no
// longer accepts is deleted and the sign-in page says the session ended.
// POST routes also need the session's form token.
func (s *Server) signedIn(next staffHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, state, err := s.session(r)
		switch {
		case err != nil:
			s.fail(w, r, notifier.StaffSession{}, err, "/admin")
			return
		case state == noSession:
			seeOther(w, r, signInURL(r, false))
			return
		case state == refusedSession:
			s.setCookie(w, sessionCookie, "", -1)
			seeOther(w, r, signInURL(r, true))
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 4096)
			if err := r.ParseForm(); err != nil || !s.validForm(formSession, r.PostForm.Get("csrf"), sess.IDHash, time.Now()) {
				s.render(w, r, http.StatusForbidden, "error", s.data(sess, "", pageData{Title: "Not done", Page: problemPage{
					Heading: "Nothing was done",
					Message: "This form has expired or did not come from the dashboard. Reload the page and try again.",
					Back:    "/admin", BackText: "Go to the overview"}}))
				return
			}
		}
		next(w, r, sess)
	}
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

// csrfLifetime is how long a form may be submitted.
const csrfLifetime = 12 * time.Hour

// Form token purposes: a token made for one form is refused by every
// other, and none of them is a customer portal token (the portal's
// purposes differ).
const (
	formSignIn  = "admin-sign-in"
	formSession = "admin-session"
)

// formToken binds a form to its purpose, to what it acts on (a session's
// hash, the sign-in cookie) and to a time: an HMAC only this installation
// can make.
func (s *Server) formToken(purpose string, bound []byte, now time.Time) string {
	exp := strconv.FormatInt(now.Add(csrfLifetime).Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(s.formMAC(purpose, bound, exp))
}

func (s *Server) formMAC(purpose string, bound []byte, exp string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(purpose + "|" + hex.EncodeToString(bound) + "|" + exp))
	return m.Sum(nil)
}

func (s *Server) validForm(purpose, token string, bound []byte, now time.Time) bool {
	exp, mac, ok := strings.Cut(token, ".")
	if !ok || len(exp) > 12 || len(bound) == 0 {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > t {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	return err == nil && hmac.Equal(got, s.formMAC(purpose, bound, exp))
}

// randomValue is 128 random bits for the cookie that binds the sign-in form.
func randomValue() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
