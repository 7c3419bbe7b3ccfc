package portal

import (
	"net/http"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// signInPage is the sign-in form's data.
type signInPage struct {
	Email     web.Verbatim
	Problem   string
	SignedOut bool
}

// signInSentPage is the answer to a sign-in request.
type signInSentPage struct {
	Email   string
	Minutes int
}

// loginLinkPage is a sign-in link's page.
type loginLinkPage struct {
	Link notifier.PortalLinkView
}

// signInForm serves GET /portal/login. The form's token is bound to a
// random cookie (double submit): a SameSite=Lax cookie is not sent with
// another site's POST, so another site cannot make a browser ask for
// sign-in emails.
func (s *Server) signInForm(w http.ResponseWriter, r *http.Request) {
	_, state, err := s.session(r)
	switch {
	case err != nil:
		s.fail(w, r, err)
		return
	case state == web.LiveSession:
		seeOther(w, r, "/portal")
		return
	case state == web.RefusedSession:
		s.cookies.Delete(w, sessionCookie)
	}
	s.renderSignIn(w, r, http.StatusOK, signInPage{SignedOut: r.URL.Query().Get("signed_out") != ""})
}

func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, p signInPage) {
	bind := s.cookies.FormBinding(w, r, signInCookie)
	s.render(w, r, status, "signin", pageData{Title: "title.sign_in", CSRF: web.Verbatim(s.forms.Make(formSignIn, []byte(bind), time.Now())), Page: p})
}

// signInReplyFloor is the least time the answer to a sign-in request
// takes. A known address costs a write, a queued job and a commit; an
// unknown one a single read: without the floor, the reply's timing would
// tell who is a contact, which the page's words never do.
const signInReplyFloor = 300 * time.Millisecond

// requestLink serves POST /portal/login. The answer is the same whether
// the address may sign in, is unknown, or asked too often: the page never
// tells who is a contact, by its words or by its timing.
func (s *Server) requestLink(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	email, ok := s.addressForm(w, r, formSignIn, func(given string) {
		s.renderSignIn(w, r, http.StatusUnprocessableEntity, signInPage{Email: web.Verbatim(given), Problem: "signin.problem"})
	})
	if !ok {
		return
	}
	// Over the per-address limit, nothing is sent, silently: saying so
	// would tell that the address is known.
	if ok, _ := s.signInByAddress.Allow(strings.ToLower(email)); ok {
		if err := s.svc.RequestPortalLink(r.Context(), email, s.clientAddr.Of(r)); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if !replyFloor(r, start) {
		return
	}
	s.render(w, r, http.StatusOK, "signin_sent", pageData{Title: "signin_sent.heading",
		Page: signInSentPage{Email: email, Minutes: int(notifier.PortalLinkLifetime / time.Minute)}})
}

// addressForm reads the address of an anonymous form that asks for mail
// (a sign-in link, access): its token bound to the sign-in cookie, the
// client's rate limit, the address normalized. It answers the request
// itself and returns false when the form expired, the client asks too
// often, or the address is not one (invalid renders the form again with
// what was given).
func (s *Server) addressForm(w http.ResponseWriter, r *http.Request, form string, invalid func(given string)) (string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	bind := s.cookies.Get(r, signInCookie)
	if err := r.ParseForm(); err != nil || !s.forms.Valid(form, r.PostForm.Get("csrf"), []byte(bind), time.Now()) {
		s.render(w, r, http.StatusForbidden, "error", pageData{Title: "title.not_sent", Heading: "signin.nothing_sent",
			Message: "signin.form_expired"})
		return "", false
	}
	if ok, wait := s.signInByIP.Allow(web.RateKey(s.clientAddr.Of(r))); !ok {
		s.tooMany(w, r, wait)
		return "", false
	}
	email, ok := notifier.NormalizePortalEmail(r.PostForm.Get("email"))
	if !ok {
		invalid(r.PostForm.Get("email"))
	}
	return email, ok
}

// replyFloor waits until signInReplyFloor after start, so the reply's
// timing does not tell a known address from an unknown one; false when
// the client went away meanwhile.
func replyFloor(r *http.Request, start time.Time) bool {
	floor := time.NewTimer(time.Until(start.Add(signInReplyFloor)))
	defer floor.Stop()
	select {
	case <-floor.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// loginLink serves GET (and HEAD) /portal/login/{token}: a page with a
// Continue button. Opening the link uses nothing up, so a mail scanner's
// visit cannot spend it. The button's form token is bound to the link and
// to a random cookie of this browser: another site that obtained a form
// token for its own link (by opening it) cannot make a victim's browser
// sign in to the attacker's organization (login CSRF).
func (s *Server) loginLink(w http.ResponseWriter, r *http.Request) {
	v, err := s.svc.PortalLink(r.Context(), r.PathValue("token"))
	if err != nil {
		s.linkFailed(w, r, err)
		return
	}
	bind := s.cookies.FormBinding(w, r, signInCookie)
	s.render(w, r, http.StatusOK, "login_link", pageData{Title: "title.sign_in", CSRF: web.Verbatim(s.forms.Make(formLogin, loginBinding(v.TokenHash, bind), time.Now())),
		Page: loginLinkPage{Link: v}})
}

// loginBinding is what a sign-in link's form token is bound to: the
// link's hash and the browser's binding cookie.
func loginBinding(tokenHash []byte, cookie string) []byte {
	b := make([]byte, 0, len(tokenHash)+1+len(cookie))
	b = append(b, tokenHash...)
	b = append(b, 0)
	return append(b, cookie...)
}

// startSession serves POST /portal/login/{token}: the link is used up and
// a new session starts, with a new random id (never one the browser
// brought along).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request) {
	hash, ok := notifier.ParsePortalToken(r.PathValue("token"))
	if !ok {
		s.notFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	bind := s.cookies.Get(r, signInCookie)
	if err := r.ParseForm(); err != nil || !s.forms.Valid(formLogin, r.PostForm.Get("csrf"), loginBinding(hash, bind), time.Now()) {
		s.render(w, r, http.StatusForbidden, "error", pageData{Title: "title.not_signed_in", Heading: "title.not_signed_in",
			Message: "login_link.form_expired"})
		return
	}
	id, _, err := s.svc.StartPortalSession(r.Context(), r.PathValue("token"), notifier.AckRequest{IP: s.clientAddr.Of(r), UserAgent: r.UserAgent()})
	if err != nil {
		// A link that cannot be used leaves the browser's session alone.
		s.linkFailed(w, r, err)
		return
	}
	// A session the browser still holds ends: one browser, one session.
	if old, state, err := s.session(r); err == nil && state == web.LiveSession {
		if err := s.svc.EndPortalSession(r.Context(), old); err != nil {
			s.logger.WarnContext(r.Context(), "could not end the previous portal session", "error", err)
		}
	}
	s.cookies.Set(w, sessionCookie, id, 0)
	s.cookies.Delete(w, signInCookie)
	seeOther(w, r, "/portal")
}

// linkFailed answers a sign-in link that cannot be used, without saying
// whether it was unknown, used or expired.
func (s *Server) linkFailed(w http.ResponseWriter, r *http.Request, err error) {
	if notifier.ErrorCode(err) != notifier.CodeNotFound {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusNotFound, "login_invalid", pageData{Title: "title.link_not_valid"})
}

// signOut serves POST /portal/logout: the session ends on the server, so
// the cookie is worthless even if it was copied.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	if err := s.svc.EndPortalSession(r.Context(), sess); err != nil {
		s.fail(w, r, err)
		return
	}
	s.cookies.Delete(w, sessionCookie)
	seeOther(w, r, "/portal/login?signed_out=1")
}
