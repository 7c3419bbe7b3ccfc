package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// registerPortal mounts the customer portal through page (a page's
// deadline) and download (a download's). Every signed-in route goes
// through signedIn; every query behind it is scoped to the session's
// organization by the store.
func (s *Server) registerPortal(page, download func(pattern string, h http.HandlerFunc)) {
	page("GET /portal/login", s.signInForm)
	page("POST /portal/login", s.requestLink)
	page("GET /portal/login/{token}", s.loginLink)
	page("POST /portal/login/{token}", s.startSession)
	page("POST /portal/logout", s.signedIn(s.signOut))

	page("GET /portal", s.signedIn(s.home))
	page("GET /portal/incidents/{id}", s.signedIn(s.incident))
	page("GET /portal/notices/{id}", s.signedIn(s.notice))
	page("POST /portal/notices/{id}/ack", s.signedIn(s.acknowledge))
	page("GET /portal/items", s.signedIn(s.items))
	page("GET /portal/items/{id}", s.signedIn(s.item))
	download("GET /portal/items.csv", s.signedIn(s.itemsCSV))
	s.registerMail(page, download)
	s.registerFactors(page)
	s.registerSessions(page)
	s.registerMembers(page)
	// Anything else under /portal is the portal's own 404, whatever the
	// method, signed in or not.
	page("/portal/", s.portalNotFound)
}

func (s *Server) portalNotFound(w http.ResponseWriter, r *http.Request) {
	d := pageData{Title: "title.not_found"}
	if sess, state, err := s.session(r); err == nil && state == web.LiveSession {
		d = s.portalData(sess, "", d)
	}
	s.render(w, r, http.StatusNotFound, "portal_notfound", d)
}

// portalFail answers a failed portal page: not_found (anything of another
// organization, any unknown id) is the portal's neutral 404.
func (s *Server) portalFail(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, err error) {
	if notifier.ErrorCode(err) == notifier.CodeNotFound {
		s.render(w, r, http.StatusNotFound, "portal_notfound", s.portalData(sess, "", pageData{Title: "title.not_found"}))
		return
	}
	s.logger.ErrorContext(r.Context(), "portal page failed", "error", err)
	s.render(w, r, http.StatusInternalServerError, "error", s.portalData(sess, "", pageData{Title: "title.error",
		Heading: "error.heading", Message: "error.text"}))
}

// pathID is the {id} of the route: a positive number, or not found.
func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

var errNotFound = notifier.Errorf(notifier.CodeNotFound, "no such page")

func (s *Server) home(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	o, err := s.svc.PortalOverview(r.Context(), sess)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "home", s.portalData(sess, "overview", pageData{Title: "nav.overview", Page: o}))
}

func (s *Server) incident(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	id, ok := pathID(r)
	if !ok {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	p, err := s.svc.PortalIncidentPage(r.Context(), sess, id)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "incident", s.portalData(sess, "overview", pageData{TitleData: p.Incident.Title, Page: p}))
}

func (s *Server) notice(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	id, ok := pathID(r)
	if !ok {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	p, err := s.svc.PortalNoticePage(r.Context(), sess, id)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "notice", s.portalData(sess, "overview", pageData{Title: "label.notice", Page: p}))
}

// acknowledge serves POST /portal/notices/{id}/ack (form token checked by
// signedIn), then shows the notice again (post/redirect/get).
func (s *Server) acknowledge(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	id, ok := pathID(r)
	if !ok {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	if _, _, err := s.svc.PortalAcknowledge(r.Context(), sess, id, notifier.AckRequest{IP: s.clientAddr.Of(r), UserAgent: r.UserAgent()}); err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	seeOther(w, r, "/portal/notices/"+strconv.FormatInt(id, 10))
}

// itemsPage is the item list's data.
type itemsPage struct {
	notifier.PortalItemsPage
	Filter   notifier.PortalItemFilter
	Filtered bool
	Kinds    []string
	// NextURL and CSVURL keep the filter.
	NextURL web.Verbatim
	CSVURL  web.Verbatim
}

// itemFilter reads the list's filter from the query; a malformed one is
// not found, like a guessed id.
func itemFilter(q url.Values) (notifier.PortalItemFilter, bool) {
	var f notifier.PortalItemFilter
	num := func(name string) (int64, bool) {
		v := q.Get(name)
		if v == "" {
			return 0, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil && n > 0
	}
	var ok1, ok2 bool
	f.IncidentID, ok1 = num("incident")
	f.BatchID, ok2 = num("batch")
	f.Kind, f.SecretType = q.Get("kind"), q.Get("secret")
	return f, ok1 && ok2
}

func filterQuery(f notifier.PortalItemFilter) url.Values {
	q := url.Values{}
	if f.IncidentID != 0 {
		q.Set("incident", strconv.FormatInt(f.IncidentID, 10))
	}
	if f.BatchID != 0 {
		q.Set("batch", strconv.FormatInt(f.BatchID, 10))
	}
	if f.Kind != "" {
		q.Set("kind", f.Kind)
	}
	if f.SecretType != "" {
		q.Set("secret", f.SecretType)
	}
	return q
}

func (s *Server) items(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	q := r.URL.Query()
	f, ok := itemFilter(q)
	after, err := notifier.DecodeCursor(q.Get("after"))
	if !ok || err != nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	list, err := s.svc.PortalItems(r.Context(), sess, f, notifier.Page{After: after})
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	fq := filterQuery(f)
	p := itemsPage{PortalItemsPage: list, Filter: f, Filtered: len(fq) > 0, Kinds: []string{"email", "file", "credential", "other"},
		CSVURL: "/portal/items.csv"}
	if len(fq) > 0 {
		p.CSVURL += web.Verbatim("?" + fq.Encode())
	}
	if list.Items.NextCursor != "" {
		next := filterQuery(f)
		next.Set("after", list.Items.NextCursor)
		p.NextURL = web.Verbatim("/portal/items?" + next.Encode())
	}
	s.render(w, r, http.StatusOK, "items", s.portalData(sess, "items", pageData{Title: "nav.items", Page: p}))
}

func (s *Server) item(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	id, ok := pathID(r)
	if !ok {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	it, err := s.svc.PortalItem(r.Context(), sess, id)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "item", s.portalData(sess, "items", pageData{TitleData: it.ItemRef, Page: it}))
}

// csvHeader names the download's columns.
var csvHeader = []string{"incident", "notice_id", "batch_id", "item_ref", "kind", "occurred_at", "subject", "summary", "secret_types"}

// itemsCSV serves GET /portal/items.csv: every item the filter selects.
// Every cell is neutralised against spreadsheet formulas (CSVWriter): the
// items' subjects come from the attacker's haul. A session, and a client
// address, may have only a few downloads running at once: each holds a
// connection of ours for as long as its client takes to read, up to
// downloadDeadline.
func (s *Server) itemsCSV(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	f, ok := itemFilter(r.URL.Query())
	if !ok {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	release, ok := s.downloadsBySession.Take(string(sess.IDHash))
	if !ok {
		s.tooManyDownloads(w, r, sess, "downloads.per_session", downloadsPerSession)
		return
	}
	defer release()
	releaseAddr, ok := s.downloadsByAddress.Take(web.RateKey(s.clientAddr.Of(r)))
	if !ok {
		s.tooManyDownloads(w, r, sess, "downloads.per_address", downloadsPerAddress)
		return
	}
	defer releaseAddr()
	var cw *notifier.CSVWriter
	err := s.svc.PortalItemsCSV(r.Context(), sess, f, func(it notifier.PortalItem) error {
		if cw == nil {
			cw = s.startCSV(w)
		}
		occurred := ""
		if it.OccurredAt != nil {
			occurred = it.OccurredAt.UTC().Format(time.RFC3339)
		}
		return cw.Write([]string{it.IncidentTitle, strconv.FormatInt(it.NoticeID, 10), strconv.FormatInt(it.BatchID, 10), it.ItemRef, it.Kind,
			occurred, it.Subject, it.Summary, strings.Join(it.SecretTypes, ";")})
	})
	switch {
	case err != nil && cw == nil:
		s.portalFail(w, r, sess, err)
	case err != nil:
		// Half a file must not pass for a whole one: cut the connection.
		s.logger.ErrorContext(r.Context(), "portal download interrupted", "error", err)
		panic(http.ErrAbortHandler)
	default:
		if cw == nil {
			cw = s.startCSV(w) // no items: the header alone
		}
		if err := cw.Flush(); err != nil {
			s.logger.WarnContext(r.Context(), "portal download not fully written", "error", err)
		}
	}
}

// tooManyDownloads is the 429 page of a download over its caps.
func (s *Server) tooManyDownloads(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, msg string, limit int) {
	s.render(w, r, http.StatusTooManyRequests, "ratelimited", s.portalData(sess, "items",
		pageData{Title: "downloads.heading", Heading: "downloads.heading", Message: msg, MessageArgs: []any{limit}}))
}

func (s *Server) startCSV(w http.ResponseWriter) *notifier.CSVWriter {
	secureHeaders(w)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="exposed-items.csv"`)
	cw := notifier.NewCSVWriter(w)
	_ = cw.Write(csvHeader)
	return cw
}
