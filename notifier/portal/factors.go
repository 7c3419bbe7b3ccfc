package portal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/breachnotify/breachnotify/notifier"
)

// The second factor before stolen mail (issue 14): the magic link signs
// a member in for notices and lists; a message, its HTML, a revealed
// secret or a download also needs an authenticator-app code (or a
// recovery code) verified by the session within notifier.FactorMaxAge.

// Code checks per contact (enrolment and verification, every session
// of the contact together): 10 at once, then one a minute. A person who
// mistypes is not held up; a guesser gets about 1,440 tries a day at a
// six-digit code with three steps open, each failure audited.
const (
	factorBurst = 10
	factorEvery = time.Minute
)

// totpOpts are the authenticator apps' defaults (RFC 6238): every app
// supports them, and an app shown other parameters may ignore them.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// newFactorAEAD derives the key that seals TOTP secrets from the
// installation secret, as app.go derives its other keys.
func newFactorAEAD(secret []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, "breachnotify portal totp secrets v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// factorAD binds a sealed secret to its contact: a sealed secret copied
// to another contact's row does not open.
func factorAD(contactID int64) []byte {
	return []byte("portal totp contact " + strconv.FormatInt(contactID, 10))
}

func (s *Server) sealTOTP(contactID int64, secret string) []byte {
	nonce := make([]byte, s.factorAEAD.NonceSize())
	_, _ = rand.Read(nonce)
	return s.factorAEAD.Seal(nonce, nonce, []byte(secret), factorAD(contactID))
}

func (s *Server) openTOTP(contactID int64, sealed []byte) (string, error) {
	n := s.factorAEAD.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed totp secret too short")
	}
	plain, err := s.factorAEAD.Open(nil, sealed[:n], sealed[n:], factorAD(contactID))
	return string(plain), err
}

// matchTOTP finds the 30-second step whose code is code at now (one step
// either side for clocks that drift), or 0.
func matchTOTP(secret, code string, now time.Time) int64 {
	code = strings.TrimSpace(code)
	if !validAt(secret, code, now) {
		return 0
	}
	step := now.Unix() / int64(totpOpts.Period)
	for _, st := range []int64{step, step - 1, step + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*int64(totpOpts.Period), 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return st
		}
	}
	return 0
}

func validAt(secret, code string, now time.Time) bool {
	ok, err := totp.ValidateCustom(code, secret, now, totpOpts)
	return err == nil && ok
}

// safeNext is where to go after verifying: a path of this portal only
// (never another origin, never a scheme, never a protocol-relative or
// backslashed URL), else the overview.
func safeNext(raw string) string {
	if len(raw) > 512 || !strings.HasPrefix(raw, "/portal") || strings.HasPrefix(raw, "//") ||
		strings.ContainsAny(raw, "\\\x00\r\n\t ") {
		return "/portal"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		(u.Path != "/portal" && !strings.HasPrefix(u.Path, "/portal/")) || strings.Contains(u.Path, "/..") || strings.Contains(u.Path, "/./") {
		return "/portal"
	}
	return u.RequestURI()
}

// withMail guards the stolen mail's routes: a member whose level is
// notices gets the 403 that says whom to ask, whatever the URL names
// (nothing is looked up first). The level is read with the session on
// every request, so a change counts at once.
func (s *Server) withMail(next func(http.ResponseWriter, *http.Request, notifier.PortalSession)) func(http.ResponseWriter, *http.Request, notifier.PortalSession) {
	return func(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
		if s.review != nil && !sess.MailAccess {
			s.render(w, r, http.StatusForbidden, "error", s.portalData(sess, "", pageData{Title: "title.no_mail_access",
				Heading: "title.no_mail_access", Message: "members.no_mail_access"}))
			return
		}
		next(w, r, sess)
	}
}

// withFactor guards the routes that show stolen content: without a fresh
// second factor the member is sent to verify one (or to enrol), and
// comes back afterwards. Nothing is looked up first, so the redirect
// says nothing about what the URL names.
func (s *Server) withFactor(next func(http.ResponseWriter, *http.Request, notifier.PortalSession)) func(http.ResponseWriter, *http.Request, notifier.PortalSession) {
	return func(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
		if s.review == nil || sess.FactorFresh(time.Now()) {
			next(w, r, sess)
			return
		}
		back := r.URL.RequestURI()
		switch {
		case r.Method == http.MethodGet:
		case strings.HasPrefix(r.URL.Path, "/portal/members/"), strings.HasPrefix(r.URL.Path, "/portal/requests/"):
			back = "/portal/members"
		default:
			// A form's target cannot be reopened by GET: back to its message.
			back = "/portal/messages"
			if ref, ok := messageRef(r); ok {
				back += "/" + ref.String()
			}
		}
		to := "/portal/verify-factor"
		if !sess.FactorEnrolled {
			to = "/portal/factors"
		}
		seeOther(w, r, to+"?next="+url.QueryEscape(safeNext(back)))
	}
}

// registerFactors mounts the enrolment and verification pages.
func (s *Server) registerFactors(page func(pattern string, h http.HandlerFunc)) {
	page("GET /portal/factors", s.signedIn(s.factorsPage))
	page("POST /portal/factors/totp", s.signedIn(s.enrolTOTP))
	page("GET /portal/verify-factor", s.signedIn(s.verifyFactorForm))
	page("POST /portal/verify-factor", s.signedIn(s.verifyFactor))
	s.registerPasskeys(page)
}

// factorsView is the factors page's data.
type factorsView struct {
	Enrolled  bool
	CodesLeft int
	// Secret and URI set up an authenticator app (enrolment only).
	Secret, URI string
	// Codes are the recovery codes, shown once right after enrolment.
	Codes   []string
	Next    string
	Problem string
	// Passkey offers a passkey (nil: not possible here).
	Passkey *passkeyView
}

func (s *Server) factorsPage(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	v := factorsView{Next: safeNext(r.URL.Query().Get("next")), Enrolled: sess.FactorEnrolled}
	if v.Enrolled {
		n, err := s.svc.RecoveryCodesLeft(r.Context(), sess)
		if err != nil {
			s.portalFail(w, r, sess, err)
			return
		}
		v.CodesLeft = n
		s.render(w, r, http.StatusOK, "factors", s.portalData(sess, "", pageData{Title: "factor.title", Page: v}))
		return
	}
	s.showEnrolment(w, r, sess, v, http.StatusOK)
}

// showEnrolment makes a new secret for this page (each page view
// replaces an unfinished one: the secret on screen is the one checked).
func (s *Server) showEnrolment(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, v factorsView, status int) {
	issuer := s.sender
	if issuer == "" {
		issuer = "breachnotify"
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: sess.ContactEmail, Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err == nil {
		err = s.svc.SavePendingTOTP(r.Context(), sess, s.sealTOTP(sess.ContactID, key.Secret()))
	}
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	v.Secret, v.URI = key.Secret(), key.URL()
	d := s.portalData(sess, "", pageData{Title: "factor.title_setup"})
	if s.rp != nil {
		v.Passkey = &passkeyView{Mode: "create", Options: "/portal/factors/passkey/options", Finish: "/portal/factors/passkey", CSRF: d.SessionCSRF, Next: v.Next}
	}
	d.Page = v
	s.renderFactorPage(w, r, status, "factors", d, v.Passkey != nil)
}

func (s *Server) enrolTOTP(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	v := factorsView{Next: safeNext(r.PostForm.Get("next"))}
	if !s.allowFactorAttempt(w, r, sess) {
		return
	}
	t, err := s.svc.PortalTOTP(r.Context(), sess)
	if err != nil || t.Confirmed {
		// Nothing pending (or already enrolled): start from the page.
		seeOther(w, r, "/portal/factors?next="+url.QueryEscape(v.Next))
		return
	}
	secret, err := s.openTOTP(sess.ContactID, t.Sealed)
	if err != nil {
		s.portalFail(w, r, sess, fmt.Errorf("open totp secret: %w", err))
		return
	}
	step := matchTOTP(secret, r.PostForm.Get("code"), time.Now())
	if step == 0 {
		v.Problem = "factor.wrong_enrol"
		s.showEnrolment(w, r, sess, v, http.StatusUnprocessableEntity)
		return
	}
	codes, hashes := notifier.NewRecoveryCodes()
	if err := s.svc.ConfirmTOTP(r.Context(), sess, t.Sealed, step, hashes); err != nil {
		if notifier.ErrorCode(err) == notifier.CodeConflict {
			seeOther(w, r, "/portal/factors?next="+url.QueryEscape(v.Next))
			return
		}
		s.portalFail(w, r, sess, err)
		return
	}
	v.Enrolled, v.Codes, v.CodesLeft = true, codes, len(codes)
	s.render(w, r, http.StatusOK, "factors", s.portalData(sess, "", pageData{Title: "factor.title", Page: v}))
}

// verifyFactorView is the verification page's data.
type verifyFactorView struct {
	Next    string
	Problem string
	Passkey *passkeyView
}

func (s *Server) verifyFactorForm(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	next := safeNext(r.URL.Query().Get("next"))
	if !sess.FactorEnrolled {
		seeOther(w, r, "/portal/factors?next="+url.QueryEscape(next))
		return
	}
	s.showVerifyFactor(w, r, sess, http.StatusOK, verifyFactorView{Next: next})
}

// showVerifyFactor renders the verification page, with the passkey
// ceremony when the member has a passkey.
func (s *Server) showVerifyFactor(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, status int, v verifyFactorView) {
	d := s.portalData(sess, "", pageData{Title: "factor.title_confirm"})
	if s.rp != nil {
		if keys, err := s.svc.PortalPasskeys(r.Context(), sess); err != nil {
			s.portalFail(w, r, sess, err)
			return
		} else if len(keys) > 0 {
			v.Passkey = &passkeyView{Mode: "get", Options: "/portal/verify-factor/passkey/options", Finish: "/portal/verify-factor/passkey", CSRF: d.SessionCSRF, Next: v.Next}
		}
	}
	d.Page = v
	s.renderFactorPage(w, r, status, "verify_factor", d, v.Passkey != nil)
}

// renderFactorPage renders a factor page: with passkeyCSP when it
// offers a passkey (it loads passkey.js), else with pageCSP.
func (s *Server) renderFactorPage(w http.ResponseWriter, r *http.Request, status int, page string, d pageData, script bool) {
	if !script {
		s.render(w, r, status, page, d)
		return
	}
	s.renderCSP(w, r, status, passkeyCSP, page, d)
}

func (s *Server) verifyFactor(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	v := verifyFactorView{Next: safeNext(r.PostForm.Get("next"))}
	if !sess.FactorEnrolled {
		seeOther(w, r, "/portal/factors?next="+url.QueryEscape(v.Next))
		return
	}
	if !s.allowFactorAttempt(w, r, sess) {
		return
	}
	var use notifier.FactorUse
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if norm := notifier.NormalizeRecoveryCode(code); norm != "" {
		use.RecoveryHash = notifier.HashRecoveryCode(norm)
	} else {
		t, err := s.svc.PortalTOTP(r.Context(), sess)
		if err != nil {
			s.portalFail(w, r, sess, err)
			return
		}
		secret, err := s.openTOTP(sess.ContactID, t.Sealed)
		if err != nil {
			s.portalFail(w, r, sess, fmt.Errorf("open totp secret: %w", err))
			return
		}
		use.Step = matchTOTP(secret, code, time.Now())
	}
	ok, err := s.svc.VerifyPortalFactor(r.Context(), sess, use)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	if !ok {
		v.Problem = "factor.wrong_verify"
		s.showVerifyFactor(w, r, sess, http.StatusUnprocessableEntity, v)
		return
	}
	seeOther(w, r, v.Next)
}

// allowFactorAttempt rate-limits code checks per contact (whatever the
// session or address): the 429 page when over.
func (s *Server) allowFactorAttempt(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) bool {
	if ok, _ := s.factorByContact.Allow(strconv.FormatInt(sess.ContactID, 10)); ok {
		return true
	}
	s.render(w, r, http.StatusTooManyRequests, "ratelimited", s.portalData(sess, "", pageData{Title: "factor.title_too_many",
		Heading: "factor.title_too_many", Message: "factor.too_many_text"}))
	return false
}
