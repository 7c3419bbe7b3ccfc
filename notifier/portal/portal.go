// Package portal serves the pages customer contacts see: the
// acknowledgement page behind every notice's link (GET shows, only a
// deliberate POST acknowledges), the verify page that tells a genuine
// notice from a forgery by its reference code, and the customer portal
// (sign-in by one-time email link, then the organization's incidents,
// notices and exposed items). Pages are server-rendered, work without
// JavaScript, load nothing from elsewhere, and never put a token in a log,
// a Referer or a cache.
package portal

import (
	"crypto/cipher"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"golang.org/x/text/language"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/i18n"
	"github.com/breachnotify/breachnotify/notifier/review"
	"github.com/breachnotify/breachnotify/notifier/web"
)

//go:embed pages/*.html
var pageFiles embed.FS

//go:embed static/style.css
var styleCSS []byte

// Config configures a Server.
type Config struct {
	Service *notifier.Service
	// Secret keys the CSRF tokens (the installation secret).
	Secret []byte
	// Sender names who the pages come from (the notices' sender).
	Sender string
	// PublicURL is the base URL recipients use; when it is https, cookies
	// are Secure and their names carry the __Host- prefix.
	PublicURL string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (see web.ClientAddr); none means the connection's peer
	// is the client.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Review reads stolen mail for the mail review; nil when no evidence
	// key is configured (the mail pages are then not found).
	Review *review.Reviewer
	// ContactURL and ContactText tell the verify page how to reach the
	// sender through a channel the notice's mail does not carry (a
	// contact page, a phone number); both may be empty.
	ContactURL  string
	ContactText string
}

// Server serves the customer pages.
type Server struct {
	svc    *notifier.Service
	sender string
	logger *slog.Logger
	// pages are parsed once per language: pages[lang][name].
	pages   map[language.Tag]map[string]*template.Template
	catalog *i18n.Catalog
	// contactURL and contactText are shown on the verify page.
	contactURL, contactText string
	cookies                 web.Cookies
	// forms makes and checks form tokens, keyed by the installation secret.
	forms web.FormTokens
	// clientAddr finds a request's client address (rate limits, records).
	clientAddr web.ClientAddr
	// publicURL is where our notices link to, shown on the verify page.
	publicURL string
	// Rate limits, per process (see web.Limiter).
	verifyByIP, signInByIP, signInByAddress *web.Limiter
	// Downloads running at once, per session and per client address
	// (see web.Slots).
	downloadsBySession, downloadsByAddress *web.Slots
	// review reads stolen mail (nil without an evidence key).
	review *review.Reviewer
	// factorAEAD seals TOTP secrets; factorByContact limits code checks.
	factorAEAD      cipher.AEAD
	factorByContact *web.Limiter
	// rp runs passkey ceremonies (nil: the public URL names no host).
	rp *webauthn.WebAuthn
}

// New parses the pages once.
func New(cfg Config) (*Server, error) {
	forms, err := web.NewFormTokens(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cat, err := i18n.Load()
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	factorAEAD, err := newFactorAEAD(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	rp := newRelyingParty(cfg.PublicURL, cfg.Sender, cfg.Logger)
	pages := make(map[language.Tag]map[string]*template.Template, len(i18n.Supported))
	for _, tag := range i18n.Supported {
		if pages[tag], err = web.ParsePages(pageFiles, pageFuncs(cat, tag), pageNames); err != nil {
			return nil, fmt.Errorf("portal: %s: %w", tag, err)
		}
	}
	return &Server{svc: cfg.Service, sender: cfg.Sender, logger: cfg.Logger, pages: pages, catalog: cat,
		contactURL: cfg.ContactURL, contactText: cfg.ContactText,
		cookies:            web.NewCookies(cfg.PublicURL, http.SameSiteLaxMode),
		forms:              forms,
		clientAddr:         web.NewClientAddr(cfg.TrustedProxies),
		publicURL:          strings.TrimRight(cfg.PublicURL, "/"),
		verifyByIP:         web.NewLimiter(verifyBurst, verifyEvery, limiterKeys),
		signInByIP:         web.NewLimiter(signInIPBurst, signInIPEvery, limiterKeys),
		signInByAddress:    web.NewLimiter(signInAddressBurst, signInAddressEvery, limiterKeys),
		downloadsBySession: web.NewSlots(downloadsPerSession),
		downloadsByAddress: web.NewSlots(downloadsPerAddress),
		review:             cfg.Review,
		factorAEAD:         factorAEAD,
		factorByContact:    web.NewLimiter(factorBurst, factorEvery, limiterKeys),
		rp:                 rp,
	}, nil
}

// Register mounts the pages on mux, each with pageDeadline (the
// portal's download with downloadDeadline): customer pages are small,
// and anyone on the internet can open a connection to them and read
// slowly.
func (s *Server) Register(mux *http.ServeMux) {
	page := func(pattern string, h http.HandlerFunc) { mux.HandleFunc(pattern, web.Deadline(pageDeadline, h)) }
	page("GET /ack/{token}", s.ackPage)
	page("HEAD /ack/{token}", s.ackHead)
	page("POST /ack/{token}", s.ackPost)
	page("GET /static/style.css", s.style)
	page("GET /verify", s.verify)
	s.registerPortal(page, func(pattern string, h http.HandlerFunc) { mux.HandleFunc(pattern, web.Deadline(downloadDeadline, h)) })
}

// pageData is what every page template gets.
type pageData struct {
	// Title is the catalogue key of the page's title; TitleData, when
	// set, is the title instead (an incident's, an item's: data).
	Title     string
	TitleData string
	Sender    string
	// Lang and Dir are the page's language and direction; Langs the
	// language switcher's links (render sets all three).
	Lang  string
	Dir   string
	Langs []langLink
	// NoticeLocale is the locale of the notice the visitor came from (ack
	// and verify pages), "" elsewhere.
	NoticeLocale string
	// Page-specific fields.
	Ack            notifier.AckView
	Recipient      string
	AcknowledgedBy string
	CSRF           web.Verbatim
	// Heading and Message are catalogue keys (error pages), Message
	// formatted with MessageArgs.
	Heading     string
	Message     string
	MessageArgs []any
	// Session is the signed-in contact on portal pages (nil elsewhere).
	Session *notifier.PortalSession
	// SessionCSRF is the form token of a signed-in page's forms.
	SessionCSRF web.Verbatim
	// Nav is the portal section the page belongs to.
	Nav string
	// MailReview says the review of stolen mail is on (an evidence key is
	// configured): the nav links to it.
	MailReview bool
	// Page is a verify or portal page's own data.
	Page any
}

// pageCSP lets a page load our stylesheet and nothing else: no script at
// all, and forms post only to us.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secureHeaders keeps pages from being framed, cached, or leaking their
// URL (which carries a token) to any other site.
func secureHeaders(w http.ResponseWriter) { web.SecureHeaders(w, pageCSP) }

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	s.renderCSP(w, r, status, pageCSP, page, d)
}

// renderCSP is render with the page's own content security policy, in
// the visitor's language (see language).
func (s *Server) renderCSP(w http.ResponseWriter, r *http.Request, status int, csp, page string, d pageData) {
	d.Sender = s.sender
	tag := s.language(w, r, d)
	d.Lang, d.Dir, d.Langs = tag.String(), i18n.Dir(tag), langLinks(r, tag)
	if err := web.WritePage(w, r, status, csp, s.pages[tag][page], d); err != nil {
		s.logger.ErrorContext(r.Context(), "page render failed", "page", page, "error", err)
	}
}

// notFound is the one neutral answer for a link that is unknown, altered
// or expired: the page does not say which.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "notfound", pageData{Title: "title.link_not_valid"})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if notifier.ErrorCode(err) == notifier.CodeNotFound {
		s.notFound(w, r)
		return
	}
	s.logger.ErrorContext(r.Context(), "page failed", "error", err)
	s.render(w, r, http.StatusInternalServerError, "error", pageData{Title: "title.error", Heading: "error.heading",
		Message: "error.text"})
}

func (s *Server) ackPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.svc.AckPage(r.Context(), r.PathValue("token"), "GET "+userAgent(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "ack", s.ackData(v))
}

// ackHead answers a scanner's HEAD like the GET, without a body: it is
// recorded as an opened link, never as an acknowledgement.
func (s *Server) ackHead(w http.ResponseWriter, r *http.Request) {
	v, err := s.svc.AckPage(r.Context(), r.PathValue("token"), "HEAD "+userAgent(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "ack", s.ackData(v))
}

func (s *Server) ackData(v notifier.AckView) pageData {
	d := pageData{Title: "title.acknowledge", Ack: v, NoticeLocale: v.Locale, Recipient: notifier.MaskEmail(v.Recipient), CSRF: web.Verbatim(s.csrfToken(v.TokenHash, time.Now()))}
	if v.AcknowledgedBy != "" {
		d.AcknowledgedBy = notifier.MaskEmail(v.AcknowledgedBy)
	}
	return d
}

func (s *Server) ackPost(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	hash, ok := notifier.ParseAckToken(token)
	if !ok {
		s.notFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil || !s.validCSRF(r.PostForm.Get("csrf"), hash, time.Now()) {
		s.render(w, r, http.StatusForbidden, "error", pageData{Title: "title.not_acknowledged", Heading: "title.not_acknowledged",
			Message: "ack.form_expired"})
		return
	}
	v, _, err := s.svc.Acknowledge(r.Context(), token, notifier.AckRequest{IP: s.clientAddr.Of(r), UserAgent: r.UserAgent()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "ack_done", pageData{Title: "title.acknowledged", Ack: v, NoticeLocale: v.Locale})
}

func (s *Server) style(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(styleCSS)
}

// Form token purposes (see web.FormTokens): a token made for one form is
// refused by every other.
const (
	formAck     = "ack-form"
	formLogin   = "portal-login"
	formSignIn  = "portal-sign-in"
	formSession = "portal-session"
	// formRequestAccess is the public access request, bound like the sign-in form.
	formRequestAccess = "portal-request-access"
)

// csrfToken binds the acknowledgement form to the link it was shown for.
func (s *Server) csrfToken(linkHash []byte, now time.Time) string {
	return s.forms.Make(formAck, linkHash, now)
}

func (s *Server) validCSRF(token string, linkHash []byte, now time.Time) bool {
	return s.forms.Valid(formAck, token, linkHash, now)
}

func userAgent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	return ua
}
