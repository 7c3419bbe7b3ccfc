package portal

import (
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// Passkeys (WebAuthn) as the second factor. The ceremonies need the
// browser's API, so the pages that offer one load passkey.js (their CSP
// allows our own script and fetches to us; every other page keeps
// pageCSP). The relying party is the configured public URL: its host is
// the RP ID, its origin the only one accepted.

//go:embed static/passkey.js
var passkeyJS []byte

// passkeyCSP is pageCSP with our own script and its requests to us.
const passkeyCSP = pageCSP + "; script-src 'self'; connect-src 'self'"

// passkeyFormLimit bounds a ceremony's answer (an attestation with a
// certificate chain is a few KB; signedIn's 4 KB is for plain forms).
const passkeyFormLimit = 64 << 10

// newRelyingParty configures WebAuthn from the public URL. Passkeys need
// a domain (never an IP address: browsers refuse one as RP ID), so when
// the public URL has none, or WebAuthn refuses it, passkeys are off (nil)
// and the authenticator app is the factor; the reason is logged.
func newRelyingParty(publicURL, name string, logger *slog.Logger) *webauthn.WebAuthn {
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		logger.Info("passkeys are off: the public URL names no domain", "public_url", publicURL)
		return nil
	}
	if name == "" {
		name = "breachnotify"
	}
	rp, err := webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: name, RPOrigins: []string{u.Scheme + "://" + u.Host}})
	if err != nil {
		logger.Warn("passkeys are off: the public URL cannot be a WebAuthn relying party", "public_url", publicURL, "error", err)
		return nil
	}
	return rp
}

// passkeyUser is the member as WebAuthn sees them. The user handle is
// the contact's id: no personal data, and stable.
type passkeyUser struct {
	sess  notifier.PortalSession
	creds []webauthn.Credential
}

func (u passkeyUser) WebAuthnID() []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(u.sess.ContactID))
}
func (u passkeyUser) WebAuthnName() string { return u.sess.ContactEmail }
func (u passkeyUser) WebAuthnDisplayName() string {
	if u.sess.ContactName != "" {
		return u.sess.ContactName
	}
	return u.sess.ContactEmail
}
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func (s *Server) passkeyUser(r *http.Request, sess notifier.PortalSession) (passkeyUser, error) {
	u := passkeyUser{sess: sess}
	records, err := s.svc.PortalPasskeys(r.Context(), sess)
	if err != nil {
		return u, err
	}
	for _, rec := range records {
		var c webauthn.Credential
		if err := json.Unmarshal(rec, &c); err != nil {
			return u, err
		}
		u.creds = append(u.creds, c)
	}
	return u, nil
}

// registerPasskeys mounts the ceremonies and the script.
func (s *Server) registerPasskeys(page func(pattern string, h http.HandlerFunc)) {
	page("GET /static/passkey.js", s.passkeyScript)
	page("POST /portal/factors/passkey/options", s.signedIn(s.passkeyCreateOptions))
	page("POST /portal/factors/passkey", s.signedIn(s.passkeyCreate))
	page("POST /portal/verify-factor/passkey/options", s.signedIn(s.passkeyGetOptions))
	page("POST /portal/verify-factor/passkey", s.signedIn(s.passkeyGet))
}

func (s *Server) passkeyScript(w http.ResponseWriter, _ *http.Request) {
	if s.rp == nil {
		http.NotFound(w, nil)
		return
	}
	secureHeaders(w)
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(passkeyJS)
}

// passkeyJSON answers a ceremony's request.
func passkeyJSON(w http.ResponseWriter, status int, v any) {
	secureHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// passkeyFailed answers a ceremony that did not pass: the page says so
// (the script shows its own sentence); the reason stays in the log.
func (s *Server) passkeyFailed(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, audit bool, err error) {
	s.logger.InfoContext(r.Context(), "passkey ceremony failed", "contact_id", sess.ContactID, "error", err)
	if audit {
		if _, aerr := s.svc.VerifyPortalFactor(r.Context(), sess, notifier.FactorUse{Passkey: true}); aerr != nil {
			s.logger.ErrorContext(r.Context(), "audit of a failed passkey", "error", aerr)
		}
	}
	passkeyJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "not accepted"})
}

func (s *Server) saveCeremony(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, data *webauthn.SessionData, options any) {
	state, err := json.Marshal(data)
	if err == nil {
		err = s.svc.SavePasskeyCeremony(r.Context(), sess, state)
	}
	if err != nil {
		s.passkeyFailed(w, r, sess, false, err)
		return
	}
	passkeyJSON(w, http.StatusOK, options)
}

func (s *Server) takeCeremony(r *http.Request, sess notifier.PortalSession) (webauthn.SessionData, error) {
	var data webauthn.SessionData
	state, err := s.svc.TakePasskeyCeremony(r.Context(), sess)
	if err != nil {
		return data, err
	}
	err = json.Unmarshal(state, &data)
	return data, err
}

func (s *Server) passkeyCreateOptions(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	if s.rp == nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	u, err := s.passkeyUser(r, sess)
	if err != nil {
		s.passkeyFailed(w, r, sess, false, err)
		return
	}
	if sess.FactorEnrolled && !sess.FactorFresh(time.Now()) {
		// Adding a passkey to a member who has a factor needs that factor
		// first: a sign-in link alone must not add one.
		s.passkeyFailed(w, r, sess, false, errors.New("a factor is enrolled and not verified"))
		return
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(u.creds))
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	options, data, err := s.rp.BeginRegistration(u, webauthn.WithExclusions(exclude),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}))
	if err != nil {
		s.passkeyFailed(w, r, sess, false, err)
		return
	}
	s.saveCeremony(w, r, sess, data, options)
}

// finishingCeremony starts the second step of either ceremony: passkeys
// on, an attempt allowed, the ceremony saved by the first step (taken
// once), the member's passkeys. auditMissing records a missing or spent
// ceremony as a failed verification. ok false means the answer is
// written.
func (s *Server) finishingCeremony(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, auditMissing bool) (webauthn.SessionData, passkeyUser, bool) {
	if s.rp == nil {
		s.portalFail(w, r, sess, errNotFound)
		return webauthn.SessionData{}, passkeyUser{}, false
	}
	if !s.allowFactorAttempt(w, r, sess) {
		return webauthn.SessionData{}, passkeyUser{}, false
	}
	data, err := s.takeCeremony(r, sess)
	if err != nil {
		s.passkeyFailed(w, r, sess, auditMissing, err)
		return data, passkeyUser{}, false
	}
	u, err := s.passkeyUser(r, sess)
	if err != nil {
		s.passkeyFailed(w, r, sess, false, err)
		return data, u, false
	}
	return data, u, true
}

func (s *Server) passkeyCreate(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	data, u, ok := s.finishingCeremony(w, r, sess, false)
	if !ok {
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(r.PostForm.Get("response")))
	if err != nil {
		s.passkeyFailed(w, r, sess, false, err)
		return
	}
	cred, err := s.rp.CreateCredential(u, data, parsed)
	if err != nil {
		s.passkeyFailed(w, r, sess, false, err)
		return
	}
	rec, err := json.Marshal(cred)
	if err == nil {
		err = s.svc.AddPasskey(r.Context(), sess, notifier.Passkey{ID: cred.ID, PublicKey: cred.PublicKey,
			AAGUID: cred.Authenticator.AAGUID, SignCount: cred.Authenticator.SignCount, Record: rec})
	}
	if err != nil {
		s.passkeyFailed(w, r, sess, false, err)
		return
	}
	passkeyJSON(w, http.StatusOK, map[string]string{"next": safeNext(r.PostForm.Get("next"))})
}

func (s *Server) passkeyGetOptions(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	if s.rp == nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	u, err := s.passkeyUser(r, sess)
	if err == nil && len(u.creds) == 0 {
		err = errors.New("no passkey")
	}
	if err != nil {
		s.passkeyFailed(w, r, sess, false, err)
		return
	}
	options, data, err := s.rp.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		s.passkeyFailed(w, r, sess, false, err)
		return
	}
	s.saveCeremony(w, r, sess, data, options)
}

func (s *Server) passkeyGet(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	data, u, ok := s.finishingCeremony(w, r, sess, true)
	if !ok {
		return
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(r.PostForm.Get("response")))
	if err != nil {
		s.passkeyFailed(w, r, sess, true, err)
		return
	}
	cred, err := s.rp.ValidateLogin(u, data, parsed)
	if err == nil && cred.Authenticator.CloneWarning {
		// The counter went back: two copies of the key exist, one of them
		// not the member's. Refused (audited); IR staff reset the factors.
		err = errors.New("the passkey's signature counter went back: it may be cloned")
	}
	if err != nil {
		s.passkeyFailed(w, r, sess, true, err)
		return
	}
	rec, err := json.Marshal(cred)
	if err == nil {
		err = s.svc.UsePasskey(r.Context(), sess, notifier.Passkey{ID: cred.ID, SignCount: cred.Authenticator.SignCount, Record: rec})
	}
	if err != nil {
		s.passkeyFailed(w, r, sess, true, err)
		return
	}
	passkeyJSON(w, http.StatusOK, map[string]string{"next": safeNext(r.PostForm.Get("next"))})
}

// passkeyView is what a page that offers a passkey ceremony needs.
type passkeyView struct {
	// Mode is "create" or "get".
	Mode, Options, Finish string
	CSRF                  web.Verbatim
	Next                  string
}
