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
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
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
	Logger    *slog.Logger
}

// Server serves the customer pages.
type Server struct {
	svc    *notifier.Service
	secret []byte
	sender string
	logger *slog.Logger
	pages  map[string]*template.Template
	// secure is true behind an https public URL (cookie attributes).
	secure bool
	// publicURL is where our notices link to, shown on the verify page.
	publicURL string
	// Rate limits, per process (see limiter).
	verifyByIP, signInByIP, signInByAddress *limiter
}

// New parses the pages once.
func New(cfg Config) (*Server, error) {
	if len(cfg.Secret) < 16 {
		return nil, fmt.Errorf("portal: the secret must be at least 16 bytes")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{svc: cfg.Service, secret: cfg.Secret, sender: cfg.Sender, logger: cfg.Logger, pages: map[string]*template.Template{},
		secure:          strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://"),
		publicURL:       strings.TrimRight(cfg.PublicURL, "/"),
		verifyByIP:      newLimiter(verifyBurst, verifyEvery, limiterKeys),
		signInByIP:      newLimiter(signInIPBurst, signInIPEvery, limiterKeys),
		signInByAddress: newLimiter(signInAddressBurst, signInAddressEvery, limiterKeys),
	}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(pageFuncs).ParseFS(pageFiles, "pages/layout.html", "pages/parts.html", "pages/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: page %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return s, nil
}

// Register mounts the pages on mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /ack/{token}", s.ackPage)
	mux.HandleFunc("HEAD /ack/{token}", s.ackHead)
	mux.HandleFunc("POST /ack/{token}", s.ackPost)
	mux.HandleFunc("GET /static/style.css", s.style)
	mux.HandleFunc("GET /verify", s.verify)
	s.registerPortal(mux)
}

// pageData is what every page template gets.
type pageData struct {
	Title  string
	Sender string
	// Page-specific fields.
	Ack            notifier.AckView
	Recipient      string
	AcknowledgedBy string
	CSRF           string
	Heading        string
	Message        string
	// Session is the signed-in contact on portal pages (nil elsewhere).
	Session *notifier.PortalSession
	// SessionCSRF is the form token of a signed-in page's forms.
	SessionCSRF string
	// Nav is the portal section the page belongs to.
	Nav string
	// Page is a verify or portal page's own data.
	Page any
}

// secureHeaders keeps pages from being framed, cached, or leaking their
// URL (which carries a token) to any other site.
func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	secureHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	d.Sender = s.sender
	var b strings.Builder
	if err := s.pages[page].ExecuteTemplate(&b, "layout", d); err != nil {
		s.logger.ErrorContext(r.Context(), "page render failed", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(b.String()))
	}
}

// notFound is the one neutral answer for a link that is unknown, altered
// or expired: the page does not say which.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "notfound", pageData{Title: "Link not valid"})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if notifier.ErrorCode(err) == notifier.CodeNotFound {
		s.notFound(w, r)
		return
	}
	s.logger.ErrorContext(r.Context(), "page failed", "error", err)
	s.render(w, r, http.StatusInternalServerError, "error", pageData{Title: "Error", Heading: "Something went wrong",
		Message: "Please try again in a few minutes."})
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
	d := pageData{Title: "Acknowledge", Ack: v, Recipient: notifier.MaskEmail(v.Recipient), CSRF: s.csrfToken(v.TokenHash, time.Now())}
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
		s.render(w, r, http.StatusForbidden, "error", pageData{Title: "Not acknowledged", Heading: "Not acknowledged",
			Message: "This form has expired or did not come from our page. Open the link from your email again and press the button there."})
		return
	}
	v, _, err := s.svc.Acknowledge(r.Context(), token, notifier.AckRequest{IP: clientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "ack_done", pageData{Title: "Acknowledged", Ack: v})
}

func (s *Server) style(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(styleCSS)
}

// csrfLifetime is how long a form may be submitted.
const csrfLifetime = 12 * time.Hour

// Form token purposes: a token made for one form is refused by every other.
const (
	formAck     = "ack-form"
	formLogin   = "portal-login"
	formSignIn  = "portal-sign-in"
	formSession = "portal-session"
)

// csrfToken binds the acknowledgement form to the link it was shown for.
func (s *Server) csrfToken(linkHash []byte, now time.Time) string {
	return s.formToken(formAck, linkHash, now)
}

func (s *Server) validCSRF(token string, linkHash []byte, now time.Time) bool {
	return s.validForm(formAck, token, linkHash, now)
}

// formToken binds a form to its purpose, to what it acts on (a link's
// hash, a session's hash, the sign-in cookie) and to a time: an HMAC only
// this installation can make.
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

// clientIP is the connection's address (a proxy in front should be
// trusted explicitly before its headers are).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func userAgent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	return ua
}
