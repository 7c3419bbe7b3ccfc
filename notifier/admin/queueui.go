package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// queuePrefix is where the River UI is mounted.
const queuePrefix = "/riverui"

// queueUIBodyMax bounds what the River UI's API may be sent: job ids and
// queue settings, a few kilobytes.
const queueUIBodyMax = 64 << 10

// queueUI is River's own web UI. It has no authentication of its own:
// Server.queue is its only way in.
type queueUI struct {
	handler *riverui.Handler
	mu      sync.Mutex
	stop    context.CancelFunc
}

func newQueueUI(client *river.Client[pgx.Tx], logger *slog.Logger) (*queueUI, error) {
	h, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    logger.With("component", "riverui"),
		Prefix:    queuePrefix,
		// Job arguments hold delivery ids, not secrets, but a list of
		// jobs has no need to show them.
		JobListHideArgsByDefault: true,
	})
	if err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	return &queueUI{handler: h}, nil
}

// Start starts the River UI's background services (its count caches);
// it must run before the UI serves. They run until Stop, whatever ctx
// becomes after Start returns.
func (s *Server) Start(ctx context.Context) error {
	if s.queueUI == nil {
		return nil
	}
	q := s.queueUI
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stop != nil {
		return nil
	}
	// riverui stops its services when this context ends: Stop ends it.
	uiCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := q.handler.Start(uiCtx); err != nil {
		cancel()
		return fmt.Errorf("start the River UI: %w", err)
	}
	q.stop = cancel
	return nil
}

// Stop stops the River UI's background services.
func (s *Server) Stop() {
	if s.queueUI == nil {
		return
	}
	s.queueUI.mu.Lock()
	defer s.queueUI.mu.Unlock()
	if s.queueUI.stop != nil {
		s.queueUI.stop()
		s.queueUI.stop = nil
	}
}

// queueHeaders are the River UI's security headers. Its pages are a
// script application, so they get a policy of their own, under /riverui/
// only: our own scripts (no inline script, no eval: its one Function("")
// is a feature probe of its validation library, which works without),
// fetches to its API, its stylesheet plus the <style> elements its
// components insert (toasts, theme switching: hence 'unsafe-inline' for
// styles, never for scripts), and the data: SVG icons of its stylesheet.
func queueHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "+
		"font-src 'self' data:; connect-src 'self'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// queue guards the River UI: every request (page, script, API call) needs
// a live session of an admin key. Anonymous page views are sent to sign
// in; everything else is refused. A request that may change the queue must
// come from our own pages and is audited as the session's key before the
// UI sees it.
func (s *Server) queue(w http.ResponseWriter, r *http.Request) {
	if s.queueUI == nil {
		s.render(w, r, http.StatusNotFound, "error", pageData{Title: "Not available", Page: problemPage{
			Heading: "The River UI is not available", Message: "This process has no job queue client.", Back: "/admin", BackText: "Go to the dashboard"}})
		return
	}
	sess, state, err := s.session(r)
	switch {
	case err != nil:
		s.fail(w, r, notifier.StaffSession{}, err, "/admin")
		return
	case state != web.LiveSession:
		if state == web.RefusedSession {
			s.cookies.Delete(w, sessionCookie)
		}
		if isPageRequest(r) {
			seeOther(w, r, signInURL(r, state == web.RefusedSession))
			return
		}
		refuse(w, http.StatusForbidden, "sign in to the dashboard with an admin key to use the River UI")
		return
	case !sess.Role.Allows(notifier.RoleAdmin):
		s.render(w, r, http.StatusForbidden, "error", s.data(sess, "", pageData{Title: "Admins only", Page: problemPage{
			Heading: "The River UI is for admins",
			Message: "The River UI can cancel, retry and delete any job, so it needs an admin key; you signed in with a " + string(sess.Role) + " key.",
			Back:    "/admin", BackText: "Go to the overview"}}))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !sameOrigin(r) {
			refuse(w, http.StatusForbidden, "this request did not come from the River UI's own pages")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, queueUIBodyMax))
		if err != nil {
			refuse(w, http.StatusRequestEntityTooLarge, "the request is too large")
			return
		}
		// The UI decodes with encoding/json, where the last of two keys
		// equal but for case wins: the audit entry would show the first.
		// (Whether it is JSON at all is the UI's to say.)
		var dup *notifier.DuplicateKeyError
		if err := notifier.CheckJSONKeys(body); errors.As(err, &dup) {
			refuse(w, http.StatusBadRequest, "the request body is not valid: "+dup.Error())
			return
		}
		if err := s.svc.AuditQueueUIAction(r.Context(), sess.Actor(), r.Method, r.URL.Path, body); err != nil {
			s.logger.ErrorContext(r.Context(), "could not audit a River UI request", "error", err)
			refuse(w, http.StatusInternalServerError, "the request could not be recorded, so it was not made")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	queueHeaders(w)
	s.queueUI.handler.ServeHTTP(w, r)
}

// isPageRequest tells a browser's page view (sent to the sign-in page when
// anonymous) from the UI's scripts and API calls (refused).
func isPageRequest(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if strings.HasPrefix(r.URL.Path, queuePrefix+"/api/") || strings.HasPrefix(r.URL.Path, queuePrefix+"/assets/") {
		return false
	}
	accept := r.Header.Get("Accept")
	return accept == "" || strings.Contains(accept, "text/html")
}

// sameOrigin reports whether a state-changing request came from a page of
// this site. The session cookie is SameSite=Strict, so another site's
// request carries no session anyway; this also refuses requests from a
// page of this site's other origins (another port or scheme). Browsers
// send Sec-Fetch-Site, or at least Origin, with such requests; a client
// sending neither is not a browser, and has the cookie by other means.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		return err == nil && u.Host == r.Host
	}
	return true
}

// refuse answers a River UI script or API call in plain text.
func refuse(w http.ResponseWriter, status int, message string) {
	secureHeaders(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, message+"\n")
}
