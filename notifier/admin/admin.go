// Package admin serves the staff dashboard under /admin: incidents and
// the live progress of their waves (with pause and resume), unreachable
// organizations, notices awaiting acknowledgement, recent delivery
// failures and the queue's state; and it puts River's own queue UI at
// /riverui/ behind the same sign-in, for admins only.
//
// Staff sign in with an API key, POSTed once; the server keeps the
// session (only its id's hash is stored) and checks on every request that
// the key still works, so revoking a key signs its sessions out. Pages are
// server-rendered and work without JavaScript; one small script only
// refreshes the live parts in place. Every state change goes through a
// notifier use case with the session's key as the actor, so it is checked
// for the key's role and audited as that key.
package admin

import (
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/ingest"
	"github.com/breachnotify/breachnotify/notifier/web"
)

//go:embed pages/*.html
var pageFiles embed.FS

//go:embed static/admin.css
var adminCSS []byte

//go:embed static/admin.js
var adminJS []byte

// Config configures a Server.
type Config struct {
	Service *notifier.Service
	// Secret keys the form tokens (the installation secret).
	Secret []byte
	// PublicURL is the service's base URL; when it is https, the cookies
	// are Secure and their names carry the __Host- prefix.
	PublicURL string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (see web.ClientAddr); none means the connection's peer
	// is the client.
	TrustedProxies []netip.Prefix
	// Queue is the River client whose jobs the River UI at /riverui/ shows
	// (an insert-only client will do); nil leaves the UI out, and the
	// dashboard says so.
	Queue *river.Client[pgx.Tx]
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
	// Evidence imports stolen-mail archives uploaded on the incident page;
	// nil leaves the upload out.
	Evidence *ingest.Importer
}

// Server serves the staff dashboard and guards the River UI.
type Server struct {
	svc     *notifier.Service
	logger  *slog.Logger
	pages   map[string]*template.Template
	cookies web.Cookies
	// forms makes and checks form tokens, keyed by the installation secret.
	forms web.FormTokens
	// clientAddr finds a request's client address (rate limit, records).
	clientAddr web.ClientAddr
	// queueUI is River's UI, nil when not configured.
	queueUI *queueUI
	// evidence imports stolen-mail archives; nil when not configured.
	evidence *ingest.Importer
	// signInByIP limits sign-in attempts per client address.
	signInByIP *web.Limiter
}

// New parses the pages once and builds the River UI when a client is
// given. Start must run before the River UI serves.
func New(cfg Config) (*Server, error) {
	forms, err := web.NewFormTokens(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if cfg.Service == nil {
		return nil, fmt.Errorf("admin: a service is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := web.ParsePages(pageFiles, pageFuncs, pageNames)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	s := &Server{svc: cfg.Service, logger: cfg.Logger, pages: pages,
		cookies:    web.NewCookies(cfg.PublicURL, http.SameSiteStrictMode),
		forms:      forms,
		clientAddr: web.NewClientAddr(cfg.TrustedProxies),
		signInByIP: web.NewLimiter(signInBurst, signInEvery, limiterKeys),
		evidence:   cfg.Evidence,
	}
	if cfg.Queue != nil {
		ui, err := newQueueUI(cfg.Queue, cfg.Logger)
		if err != nil {
			return nil, err
		}
		s.queueUI = ui
	}
	return s, nil
}

// Register mounts the dashboard and the River UI on mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/login", s.signInForm)
	mux.HandleFunc("POST /admin/login", s.signIn)
	mux.HandleFunc("POST /admin/logout", s.signedIn(s.signOut))
	mux.HandleFunc("GET /admin/static/admin.css", static("text/css; charset=utf-8", adminCSS))
	mux.HandleFunc("GET /admin/static/admin.js", static("text/javascript; charset=utf-8", adminJS))

	mux.HandleFunc("GET /admin", s.signedIn(s.overview))
	mux.HandleFunc("GET /admin/incidents", s.signedIn(s.incidents))
	mux.HandleFunc("GET /admin/incidents/{id}", s.signedIn(s.incident))
	mux.HandleFunc("POST /admin/waves/{id}/pause", s.signedIn(s.pauseWave))
	mux.HandleFunc("POST /admin/waves/{id}/resume", s.signedIn(s.resumeWave))
	mux.HandleFunc("GET /admin/notices", s.signedIn(s.notices))
	mux.HandleFunc("GET /admin/unreachable", s.signedIn(s.unreachable))
	mux.HandleFunc("GET /admin/failures", s.signedIn(s.failures))
	s.registerConsole(mux)
	// Anything else under /admin is the dashboard's own 404.
	mux.HandleFunc("/admin/", s.notFoundPage)

	// The River UI answers under /riverui/ only through the guard, which
	// checks the session on every request: page, assets and API alike.
	mux.Handle("/riverui", http.HandlerFunc(s.queue))
	mux.Handle("/riverui/", http.HandlerFunc(s.queue))
}

// pageData is what every page template gets.
type pageData struct {
	Title string
	// Nav is the dashboard section the page belongs to.
	Nav string
	// Session is the signed-in staff member (nil on the sign-in page).
	Session *notifier.StaffSession
	// CSRF is the form token of the session's forms.
	CSRF web.Verbatim
	// QueueUI tells whether to offer the River UI: admins only, and only
	// when this process has one.
	QueueUI bool
	// QueueUINote says why there is no River UI, when there is none.
	QueueUINote string
	// Refresh is, for a page with live parts, how often (seconds) they
	// are refreshed; 0 for a page that does not change by itself.
	Refresh int
	// Page is the page's own data.
	Page any
}

// problemPage is the data of the error page.
type problemPage struct {
	Heading string
	Message string
	// Back is where the page offers to go back to.
	Back     web.Verbatim
	BackText string
	// RequestID names the request in the server log (internal errors).
	RequestID string
}

// pageCSP lets a dashboard page load our own stylesheet and script (which
// fetches the live parts from us) and nothing else.
const pageCSP = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secureHeaders keeps dashboard pages from being framed, cached, sniffed
// or leaking their address; only our own stylesheet and script may load.
func secureHeaders(w http.ResponseWriter) { web.SecureHeaders(w, pageCSP) }

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	if err := web.WritePage(w, r, status, pageCSP, s.pages[page], d); err != nil {
		s.logger.ErrorContext(r.Context(), "admin page render failed", "page", page, "error", err)
	}
}

// data completes a signed-in page's data.
func (s *Server) data(sess notifier.StaffSession, nav string, d pageData) pageData {
	if sess.KeyID != 0 {
		// An error page for a visitor not signed in shows no staff menu.
		d.Session = &sess
	}
	d.CSRF = web.Verbatim(s.forms.Make(formSession, sess.IDHash, time.Now()))
	d.Nav = nav
	switch {
	case s.queueUI == nil:
		d.QueueUINote = "The River UI is not available: this process has no job queue client."
	case sess.Role.Allows(notifier.RoleAdmin):
		d.QueueUI = true
	default:
		d.QueueUINote = "The River UI (the job queue's own pages) is for admin keys."
	}
	return d
}

// pathIncident reads the incident the path names ({id}: an id or a
// slug), as the session's key sees it; false when it answered the
// problem page instead.
func (s *Server) pathIncident(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) (notifier.Incident, bool) {
	inc, err := s.svc.Incident(r.Context(), sess.Actor(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return inc, false
	}
	return inc, true
}

// fail answers a failed dashboard request: a coded error shows its
// message (it is written for users), anything else a generic page with
// the request id to look up in the log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession, err error, back string) {
	p := problemPage{Back: web.Verbatim(back), BackText: "Go back"}
	status := http.StatusInternalServerError
	switch notifier.ErrorCode(err) {
	case notifier.CodeNotFound:
		status, p.Heading = http.StatusNotFound, "Not found"
	case notifier.CodeForbidden:
		status, p.Heading = http.StatusForbidden, "Your key's role does not allow this"
	case notifier.CodeConflict:
		status, p.Heading = http.StatusConflict, "Not done"
	case notifier.CodeInvalid, notifier.CodeBadRequest:
		status, p.Heading = http.StatusUnprocessableEntity, "Not done"
	default:
		s.logger.ErrorContext(r.Context(), "admin page failed", "error", err)
		p.Heading, p.RequestID = "Something went wrong", notifier.RequestIDFrom(r.Context())
	}
	p.Message = notifier.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		p.Message = "The dashboard could not load this. Try again in a moment; if it persists, the server log has the details."
	}
	s.render(w, r, status, "error", s.data(sess, "", pageData{Title: p.Heading, Page: p}))
}

func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/admin/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		seeOther(w, r, "/admin")
		return
	}
	d := pageData{Title: "Not found", Page: problemPage{Heading: "Not found", Message: "There is no such dashboard page.", Back: "/admin", BackText: "Go to the overview"}}
	if sess, state, err := s.session(r); err == nil && state == web.LiveSession {
		d = s.data(sess, "", d)
	}
	s.render(w, r, http.StatusNotFound, "error", d)
}

// static serves an embedded file; it is the same for everyone, so it may
// be cached.
func static(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(body)
	}
}

// seeOther redirects after a form or to the sign-in page, with the same
// headers as a page: a redirect that sets a cookie must not be cached.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	secureHeaders(w)
	http.Redirect(w, r, to, http.StatusSeeOther)
}
