package admin

import (
	"cmp"
	"context"
	"html/template"
	"net/http"
	"slices"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// refreshSeconds is how often the live parts of a page are refreshed.
const refreshSeconds = 5

// pageNames are the pages in pages/, each parsed with layout.html and
// parts.html.
var pageNames = []string{"signin", "error", "overview", "incidents", "incident", "notices", "unreachable", "failures", "plan", "wave", "import"}

// queueStates are the River job states that count as waiting in the queue.
var queueStates = map[string]bool{"available": true, "scheduled": true, "retryable": true, "pending": true}

// overviewPage is the overview's data.
type overviewPage struct {
	Snapshot notifier.StateSnapshot
	// QueueDepth counts jobs waiting to run; Running those being worked.
	QueueDepth, Running int64
	// OldestWaiting is the age in seconds of the oldest job ready to run
	// and not yet taken, over all queues.
	OldestWaiting float64
	// Waves are the running and paused waves.
	Waves []waveView
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	ctx, by := r.Context(), sess.Actor()
	snap, err := s.svc.StateSnapshot(ctx, by)
	if err != nil {
		s.fail(w, r, sess, err, "")
		return
	}
	p := overviewPage{Snapshot: snap}
	for _, j := range snap.Jobs {
		switch {
		case queueStates[j.State]:
			p.QueueDepth += j.Count
		case j.State == "running":
			p.Running += j.Count
		}
	}
	for _, age := range snap.OldestAvailable {
		p.OldestWaiting = max(p.OldestWaiting, age)
	}
	slices.SortFunc(p.Snapshot.Jobs, func(a, b notifier.QueueCount) int {
		return cmp.Or(cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.State, b.State))
	})
	for _, st := range []notifier.WaveStatus{notifier.WaveRunning, notifier.WavePaused} {
		list, err := s.svc.Waves(ctx, by, "", notifier.WaveFilter{Status: st}, notifier.Page{Limit: 50})
		if err != nil {
			s.fail(w, r, sess, err, "")
			return
		}
		for _, wv := range list.Items {
			p.Waves = append(p.Waves, viewWave(wv))
		}
	}
	if err := s.nameIncidents(ctx, by, p.Waves); err != nil {
		s.fail(w, r, sess, err, "")
		return
	}
	s.render(w, r, http.StatusOK, "overview", s.data(sess, "overview", pageData{Title: "Overview", Refresh: refreshSeconds, Page: p}))
}

// nameIncidents fills in the waves' incident titles.
func (s *Server) nameIncidents(ctx context.Context, by notifier.Actor, waves []waveView) error {
	ids := make([]int64, len(waves))
	for i := range waves {
		ids[i] = waves[i].IncidentID
	}
	titles, err := s.incidentTitles(ctx, by, ids)
	for i := range waves {
		waves[i].IncidentTitle = titles[waves[i].IncidentID]
	}
	return err
}

// incidentTitles names incidents by id: the newest incidents in one
// query, any older one on its own.
func (s *Server) incidentTitles(ctx context.Context, by notifier.Actor, ids []int64) (map[int64]string, error) {
	titles := map[int64]string{}
	if len(ids) == 0 {
		return titles, nil
	}
	recent, err := s.svc.Incidents(ctx, by, notifier.Page{Limit: notifier.PageLimitMax})
	if err != nil {
		return titles, err
	}
	for _, inc := range recent.Items {
		titles[inc.ID] = inc.Title
	}
	for _, id := range ids {
		if _, ok := titles[id]; ok {
			continue
		}
		inc, err := s.svc.Incident(ctx, by, strconv.FormatInt(id, 10))
		// An all-digit slug wins over an id: only a match by id names it.
		if err == nil && inc.ID == id {
			titles[id] = inc.Title
		} else if err != nil && notifier.ErrorCode(err) != notifier.CodeNotFound {
			return titles, err
		} else {
			titles[id] = "Incident #" + strconv.FormatInt(id, 10)
		}
	}
	return titles, nil
}

// incidentsPage is the incident list's data.
type incidentsPage struct {
	Incidents []notifier.Incident
	NextURL   web.Verbatim
}

func (s *Server) incidents(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	after, err := notifier.DecodeCursor(r.URL.Query().Get("after"))
	if err != nil {
		s.fail(w, r, sess, notifier.Errorf(notifier.CodeNotFound, "this page of incidents does not exist"), "/admin/incidents")
		return
	}
	list, err := s.svc.Incidents(r.Context(), sess.Actor(), notifier.Page{Limit: 50, After: after})
	if err != nil {
		s.fail(w, r, sess, err, "")
		return
	}
	p := newIncidentPage{incidentsPage: incidentsPage{Incidents: list.Items}, Console: s.console(sess, notifier.Incident{})}
	if list.NextCursor != "" {
		p.NextURL = web.Verbatim("/admin/incidents?after=" + list.NextCursor)
	}
	s.render(w, r, http.StatusOK, "incidents", s.data(sess, "incidents", pageData{Title: "Incidents", Page: p}))
}

// incidentPage is an incident's page data.
type incidentPage struct {
	Incident    notifier.Incident
	Waves       []waveView
	Unreachable []notifier.UnreachableNotice
	// MoreUnreachable is true when the list was cut short.
	MoreUnreachable bool
	// Deadlines is the deadline section; nil while the clock has not started.
	Deadlines *deadlineView
	// Failures charts the incident's failures by domain and reply class.
	Failures template.HTML
	// CanOperate tells whether the session may pause and resume waves.
	CanOperate bool
	// Done reports the action just taken (after a redirect).
	Done string
	// Console is the campaign flow's forms (see console.go).
	Console consoleView
	// OrgStates are the incident's organizations by state (orgstates.go).
	OrgStates []orgStateRow
	// Evidence is the stolen-mail section (consoleevidence.go).
	Evidence evidenceView
}

func (s *Server) incident(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	ctx, by := r.Context(), sess.Actor()
	inc, ok := s.pathIncident(w, r, sess)
	if !ok {
		return
	}
	// The slug from here on: an all-digit slug could also be read as an id.
	waves, err := s.svc.Waves(ctx, by, inc.Slug, notifier.WaveFilter{}, notifier.Page{Limit: notifier.PageLimitMax})
	if err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return
	}
	unreachable, err := s.svc.UnreachableNotices(ctx, by, inc.Slug, notifier.Page{Limit: 100})
	if err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return
	}
	deadlines, err := s.deadlines(ctx, by, inc)
	if err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return
	}
	states, err := s.svc.OrganizationStates(ctx, by, inc.Slug)
	if err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return
	}
	ev, err := s.evidenceImports(ctx, by, inc)
	if err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return
	}
	p := incidentPage{Evidence: ev, Incident: inc, Unreachable: unreachable.Items, MoreUnreachable: unreachable.NextCursor != "",
		CanOperate: sess.Role.Allows(notifier.RoleOperator), Done: doneMessage(r), Deadlines: deadlines,
		Console: s.console(sess, inc), OrgStates: orgStateRows(states, inc.Slug)}
	refresh := 0
	for _, wv := range waves.Items {
		v := viewWave(wv)
		v.IncidentTitle = inc.Title
		p.Waves = append(p.Waves, v)
		if v.live() {
			refresh = refreshSeconds
		}
	}
	if err := s.incidentCharts(ctx, by, inc, &p); err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return
	}
	s.render(w, r, http.StatusOK, "incident", s.data(sess, "incidents", pageData{Title: inc.Title, Refresh: refresh, Page: p}))
}

// doneMessage is the confirmation of the action a redirect came from: one
// of a fixed set, never text from the query.
func doneMessage(r *http.Request) string {
	q := r.URL.Query()
	if msg := incidentDone(q.Get("done")); msg != "" {
		return msg
	}
	wave, err := strconv.ParseInt(q.Get("wave"), 10, 64)
	if err != nil || wave <= 0 {
		return ""
	}
	n := strconv.FormatInt(wave, 10)
	switch q.Get("done") {
	case "paused":
		return "Wave #" + n + " is paused: sends already under way finish, no new ones start."
	case "resumed":
		return "Wave #" + n + " is running again."
	}
	return ""
}

func (s *Server) pauseWave(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	s.waveAction(w, r, sess, "paused", s.svc.PauseWave)
}

func (s *Server) resumeWave(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	s.waveAction(w, r, sess, "resumed", s.svc.ResumeWave)
}

// waveAction runs a wave use case as the session's key (which checks the
// role and audits the action), then shows the incident again
// (post/redirect/get).
func (s *Server) waveAction(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession, done string,
	act func(context.Context, notifier.Actor, int64) (notifier.Wave, error)) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, sess, notifier.Errorf(notifier.CodeNotFound, "there is no such wave"), "/admin/incidents")
		return
	}
	back := "/admin/incidents"
	if cur, err := s.svc.Wave(r.Context(), sess.Actor(), id); err == nil {
		back += "/" + strconv.FormatInt(cur.IncidentID, 10)
	}
	wv, err := act(r.Context(), sess.Actor(), id)
	if err != nil {
		s.fail(w, r, sess, err, back)
		return
	}
	seeOther(w, r, "/admin/incidents/"+strconv.FormatInt(wv.IncidentID, 10)+"?done="+done+"&wave="+strconv.FormatInt(wv.ID, 10))
}

// noticesPage is the list of notices awaiting acknowledgement.
type noticesPage struct {
	Notices []notifier.Notice
	// Incidents names the notices' incidents by id.
	Incidents map[int64]string
	NextURL   web.Verbatim
}

func (s *Server) notices(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	ctx, by := r.Context(), sess.Actor()
	after, err := notifier.DecodeCursor(r.URL.Query().Get("after"))
	if err != nil {
		s.fail(w, r, sess, notifier.Errorf(notifier.CodeNotFound, "this page of notices does not exist"), "/admin/notices")
		return
	}
	unacknowledged := false
	// Ordered by id: the oldest notice, the longest wait, comes first.
	list, err := s.svc.Notices(ctx, by, "", notifier.NoticeFilter{Acknowledged: &unacknowledged}, notifier.Page{Limit: 100, After: after})
	if err != nil {
		s.fail(w, r, sess, err, "")
		return
	}
	ids := make([]int64, len(list.Items))
	for i, n := range list.Items {
		ids[i] = n.IncidentID
	}
	p := noticesPage{Notices: list.Items}
	if p.Incidents, err = s.incidentTitles(ctx, by, ids); err != nil {
		s.fail(w, r, sess, err, "")
		return
	}
	if list.NextCursor != "" {
		p.NextURL = web.Verbatim("/admin/notices?after=" + list.NextCursor)
	}
	s.render(w, r, http.StatusOK, "notices", s.data(sess, "notices", pageData{Title: "Awaiting acknowledgement", Page: p}))
}

// unreachableIncident is one incident's unreachable organizations.
type unreachableIncident struct {
	Incident notifier.Incident
	Notices  []notifier.UnreachableNotice
	More     bool
}

// unreachableIncidents bounds how many incidents the page looks through
// (the newest): the page is for the incidents being worked on.
const unreachableIncidents = 50

func (s *Server) unreachable(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	ctx, by := r.Context(), sess.Actor()
	incs, err := s.svc.Incidents(ctx, by, notifier.Page{Limit: unreachableIncidents})
	if err != nil {
		s.fail(w, r, sess, err, "")
		return
	}
	var p []unreachableIncident
	for _, inc := range incs.Items {
		list, err := s.svc.UnreachableNotices(ctx, by, inc.Slug, notifier.Page{Limit: 100})
		if err != nil {
			s.fail(w, r, sess, err, "")
			return
		}
		if len(list.Items) > 0 {
			p = append(p, unreachableIncident{Incident: inc, Notices: list.Items, More: list.NextCursor != ""})
		}
	}
	s.render(w, r, http.StatusOK, "unreachable", s.data(sess, "unreachable", pageData{Title: "Unreachable organizations", Page: p}))
}

func (s *Server) failures(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	list, err := s.svc.RecentFailures(r.Context(), sess.Actor(), 100)
	if err != nil {
		s.fail(w, r, sess, err, "")
		return
	}
	s.render(w, r, http.StatusOK, "failures", s.data(sess, "failures", pageData{Title: "Recent failures", Page: list}))
}
