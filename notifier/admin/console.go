package admin

import (
	"context"
	"crypto/rand"
	_ "embed"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
	"github.com/breachnotify/breachnotify/templates"
)

// registerConsole mounts the IR console's campaign flow: incidents
// created and their policy edited, imports previewed then made, waves
// planned, previewed, approved, launched and stopped. Each action is the
// notifier use case the API runs, as the session's key.
func (s *Server) registerConsole(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/incidents", s.signedIn(s.createIncident))
	mux.HandleFunc("POST /admin/incidents/{id}/policy", s.signedIn(s.editPolicy))
	mux.HandleFunc("POST /admin/incidents/{id}/import", s.signedInUpload(s.importFile))
	mux.HandleFunc("POST /admin/incidents/{id}/evidence", s.signedInUpload(s.importEvidence))
	mux.HandleFunc("POST /admin/incidents/{id}/plan", s.signedIn(s.planWave))
	mux.HandleFunc("GET /admin/waves/{id}", s.signedIn(s.wavePage))
	mux.HandleFunc("GET /admin/waves/{id}/message", s.signedIn(s.messageFrame))
	mux.HandleFunc("POST /admin/waves/{id}/approve", s.signedIn(s.approveWave))
	mux.HandleFunc("POST /admin/waves/{id}/launch", s.signedIn(s.launchWave))
	mux.HandleFunc("POST /admin/waves/{id}/cancel", s.signedIn(s.cancelWave))
	mux.HandleFunc("GET /admin/static/upload.js", static("text/javascript; charset=utf-8", uploadJS))
	mux.HandleFunc("GET /admin/static/console.css", static("text/css; charset=utf-8", consoleCSS))
}

//go:embed static/upload.js
var uploadJS []byte

//go:embed static/console.css
var consoleCSS []byte

// consoleView is what the incident page's console forms need.
type consoleView struct {
	// CanOperate and CanAdmin tell which forms the key's role may use.
	CanOperate, CanAdmin bool
	// Obligations are the obligation profiles an incident may select.
	Obligations []string
	// Selected are the incident's obligations.
	Selected map[string]bool
	// AwareAt and MaterialAt are the clock's times as a datetime-local
	// field shows them (UTC).
	AwareAt, MaterialAt string
}

// datetimeLocal is the form field format of the clock's times, in UTC.
const datetimeLocal = "2006-01-02T15:04"

func (s *Server) console(sess notifier.StaffSession, inc notifier.Incident) consoleView {
	v := consoleView{CanOperate: sess.Role.Allows(notifier.RoleOperator), CanAdmin: sess.Role.Allows(notifier.RoleAdmin),
		Obligations: s.svc.Obligations(), Selected: map[string]bool{}}
	for _, o := range inc.Clock.Obligations {
		v.Selected[o] = true
	}
	if t := inc.Clock.AwareAt; t != nil {
		v.AwareAt = t.UTC().Format(datetimeLocal)
	}
	if t := inc.Clock.MaterialityDeterminedAt; t != nil {
		v.MaterialAt = t.UTC().Format(datetimeLocal)
	}
	return v
}

// newIncidentPage is the incident list's creation form, shown again with
// what was typed when the service refused it.
type newIncidentPage struct {
	incidentsPage
	Console consoleView
	Form    map[string]string
	// Message and Problems say why the form was refused.
	Message  string
	Problems []notifier.RowError
}

// createIncident serves POST /admin/incidents: CreateIncident with the
// clock, then (admin keys only, as the API) the policy.
func (s *Server) createIncident(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	ctx, by, f := r.Context(), sess.Actor(), r.PostForm
	clock, problems := clockFromForm(f, nil)
	if len(problems) > 0 {
		s.refuseIncident(w, r, sess, "The deadline clock is not valid.", problems)
		return
	}
	inc, err := s.svc.CreateIncident(ctx, by, notifier.NewIncident{Slug: f.Get("slug"), Title: f.Get("title"), Summary: f.Get("summary"), Clock: clock})
	if notifier.ErrorCode(err) == notifier.CodeInvalid || notifier.ErrorCode(err) == notifier.CodeConflict {
		problems, _ = notifier.ErrorDetails(err).([]notifier.RowError)
		s.refuseIncident(w, r, sess, notifier.ErrorMessage(err), problems)
		return
	}
	if err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return
	}
	back := "/admin/incidents/" + strconv.FormatInt(inc.ID, 10)
	if sess.Role.Allows(notifier.RoleAdmin) {
		if _, err := s.svc.UpdatePolicy(ctx, by, inc.Slug, policyFromForm(f)); err != nil {
			// The incident stands; its page has the policy form to fix.
			s.fail(w, r, sess, &notifier.Error{Code: notifier.ErrorCode(err),
				Message: "The incident is created, but its policy was not saved: " + notifier.ErrorMessage(withDetails(err))}, back)
			return
		}
	}
	seeOther(w, r, back+"?done=created")
}

// refuseIncident shows the creation form again with what was typed and
// why it was refused.
func (s *Server) refuseIncident(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession, message string, problems []notifier.RowError) {
	list, err := s.svc.Incidents(r.Context(), sess.Actor(), notifier.Page{Limit: 50})
	if err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return
	}
	form := map[string]string{}
	for k := range r.PostForm {
		form[k] = r.PostForm.Get(k)
	}
	p := newIncidentPage{incidentsPage: incidentsPage{Incidents: list.Items}, Console: s.console(sess, notifier.Incident{}),
		Form: form, Message: message, Problems: problems}
	for _, o := range r.PostForm["obligations"] {
		p.Console.Selected[o] = true
	}
	s.render(w, r, http.StatusUnprocessableEntity, "incidents", s.data(sess, "incidents", pageData{Title: "Incidents", Page: p}))
}

// editPolicy serves POST /admin/incidents/{id}/policy: UpdatePolicy and
// UpdateClock, both admin only (the service checks).
func (s *Server) editPolicy(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	ctx, by, f := r.Context(), sess.Actor(), r.PostForm
	inc, ok := s.pathIncident(w, r, sess)
	if !ok {
		return
	}
	back := "/admin/incidents/" + strconv.FormatInt(inc.ID, 10)
	clock, problems := clockFromForm(f, inc.Clock.DeadlineTargets)
	if len(problems) > 0 {
		s.fail(w, r, sess, &notifier.Error{Code: notifier.CodeInvalid, Message: "the deadline clock is not valid: " + rowErrors(problems)}, back)
		return
	}
	if _, err := s.svc.UpdatePolicy(ctx, by, inc.Slug, policyFromForm(f)); err != nil {
		s.fail(w, r, sess, withDetails(err), back)
		return
	}
	if clock != nil {
		if _, err := s.svc.UpdateClock(ctx, by, inc.Slug, *clock); err != nil {
			s.fail(w, r, sess, withDetails(err), back)
			return
		}
	}
	seeOther(w, r, back+"?done=policy")
}

// policyFromForm reads the policy form. Unchecked boxes are not sent, so
// every field is set: the form shows the whole policy.
func policyFromForm(f map[string][]string) notifier.PolicyPatch {
	get := func(k string) string {
		if v := f[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	disclosure := notifier.Disclosure(get("disclosure"))
	approval, followUps := get("require_approval") != "", get("auto_follow_up") != ""
	p := notifier.PolicyPatch{Disclosure: &disclosure, RequireApproval: &approval, AutoFollowUp: &followUps}
	if v := get("reminder_after"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			rd := notifier.Duration(d)
			p.ReminderAfter = &rd
		} else {
			bad := notifier.Duration(-1) // out of bounds: Validate names the field
			p.ReminderAfter = &bad
		}
	}
	if v := get("max_reminders"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = -1
		}
		p.MaxReminders = &n
	}
	return p
}

// clockFromForm reads the clock fields (UTC times from datetime-local
// fields); nil when no time is given, so the clock is left unset.
func clockFromForm(f map[string][]string, targets map[string]int) (*notifier.IncidentClock, []notifier.RowError) {
	var problems []notifier.RowError
	at := func(field string) *time.Time {
		v := ""
		if len(f[field]) > 0 {
			v = strings.TrimSpace(f[field][0])
		}
		if v == "" {
			return nil
		}
		t, err := time.Parse(datetimeLocal, v)
		if err != nil {
			problems = append(problems, notifier.RowError{Field: field, Message: "must be a date and time such as 2026-12-01T09:30 (UTC)"})
			return nil
		}
		return &t
	}
	c := notifier.IncidentClock{AwareAt: at("aware_at"), MaterialityDeterminedAt: at("materiality_determined_at"),
		Obligations: f["obligations"], DeadlineTargets: targets}
	if c.AwareAt == nil && c.MaterialityDeterminedAt == nil && len(c.Obligations) == 0 {
		return nil, problems
	}
	return &c, problems
}

// withDetails folds an invalid error's details into its message, for the
// error page, which shows the message only.
func withDetails(err error) error {
	rows, _ := notifier.ErrorDetails(err).([]notifier.RowError)
	if notifier.ErrorCode(err) != notifier.CodeInvalid || len(rows) == 0 {
		return err
	}
	return &notifier.Error{Code: notifier.CodeInvalid, Message: notifier.ErrorMessage(err) + ": " + rowErrors(rows)}
}

func rowErrors(rows []notifier.RowError) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = r.Field + " " + r.Message
	}
	return strings.Join(parts, "; ")
}

// planPage is a planned wave's report: its counts and the organizations
// it leaves out, grouped by reason.
type planPage struct {
	Incident notifier.Incident
	Plan     notifier.WavePlan
	Skipped  []skippedGroup
}

// skippedGroup is the organizations skipped for one reason.
type skippedGroup struct {
	Reason string
	Count  int
	// Names are the first of them.
	Names []string
}

// skippedNames bounds the organizations named per reason.
const skippedNames = 20

func (s *Server) planWave(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	ctx, by := r.Context(), sess.Actor()
	inc, ok := s.pathIncident(w, r, sess)
	if !ok {
		return
	}
	plan, err := s.svc.PlanWaveWith(ctx, by, inc.Slug, templates.Kind(r.PostForm.Get("kind")),
		notifier.WaveOptions{UrgentOnly: r.PostForm.Get("urgent_only") != ""})
	if err != nil {
		s.fail(w, r, sess, withDetails(err), "/admin/incidents/"+strconv.FormatInt(inc.ID, 10))
		return
	}
	p := planPage{Incident: inc, Plan: plan}
	for _, sk := range plan.Skipped {
		i := slices.IndexFunc(p.Skipped, func(g skippedGroup) bool { return g.Reason == sk.Reason })
		if i < 0 {
			p.Skipped = append(p.Skipped, skippedGroup{Reason: sk.Reason})
			i = len(p.Skipped) - 1
		}
		p.Skipped[i].Count++
		if len(p.Skipped[i].Names) < skippedNames {
			p.Skipped[i].Names = append(p.Skipped[i].Names, sk.Name+" ("+sk.OrgRef+")")
		}
	}
	s.render(w, r, http.StatusOK, "plan", s.data(sess, "incidents", pageData{Title: "Wave planned", Page: p}))
}

// wavePage is a wave's console page.
type wavePage struct {
	Incident notifier.Incident
	Wave     waveView
	// Locales are those a message may be previewed in.
	Locales []string
	// Organizations are offered as the preview's organization (the
	// first page; any other may be typed).
	Organizations []notifier.Organization
	// Org and Locale are the preview asked for; Preview is it rendered.
	Org, Locale string
	Preview     *notifier.TemplatePreview
	// FrameURL is the preview's HTML, served on its own.
	FrameURL web.Verbatim
	// PreviewProblem says why the preview could not be made.
	PreviewProblem string
	CanOperate     bool
	// CanApprove, CanLaunch and CanCancel tell which actions the wave's
	// status allows.
	CanApprove, CanLaunch, CanCancel bool
	// IdempotencyKey makes the launch form launch once however often it
	// is submitted.
	IdempotencyKey string
	Done           string
}

// waveCSP is the dashboard's page policy, letting the page frame our own
// preview of a message's HTML.
const waveCSP = pageCSP + "; frame-src 'self'"

func (s *Server) wavePage(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	ctx, by := r.Context(), sess.Actor()
	wv, inc, ok := s.waveAndIncident(w, r, sess)
	if !ok {
		return
	}
	q := r.URL.Query()
	p := wavePage{Incident: inc, Wave: viewWave(wv), Locales: s.svc.PreviewLocales(wv.Kind), Org: q.Get("org"), Locale: q.Get("locale"),
		CanOperate: sess.Role.Allows(notifier.RoleOperator), Done: waveDone(q.Get("done")),
		CanApprove:     wv.Status == notifier.WavePlanned && inc.Policy.RequireApproval && wv.ApprovedBy == nil,
		CanLaunch:      wv.Status == notifier.WavePlanned || wv.Status == notifier.WaveApproved,
		IdempotencyKey: "console-" + rand.Text()}
	p.CanCancel = p.CanLaunch || wv.Status == notifier.WaveRunning || wv.Status == notifier.WavePaused
	orgs, err := s.svc.Organizations(ctx, by, notifier.OrganizationFilter{}, notifier.Page{Limit: notifier.PageLimitMax})
	if err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return
	}
	p.Organizations = orgs.Items
	p.Wave.IncidentTitle = inc.Title
	if p.Locale == "" {
		p.Locale = templates.DefaultLocale
	}
	if p.Org != "" {
		pv, err := s.svc.PreviewMessage(ctx, by, notifier.MessagePreview{Incident: inc.Slug, Organization: p.Org, Kind: wv.Kind, Locale: p.Locale})
		switch code := notifier.ErrorCode(err); {
		case err == nil:
			p.Preview = &pv
			p.FrameURL = web.Verbatim(r.URL.Path + "/message?" + q.Encode())
		case code == notifier.CodeInvalid || code == notifier.CodeNotFound:
			p.PreviewProblem = notifier.ErrorMessage(withDetails(err))
		default:
			s.fail(w, r, sess, err, "/admin/incidents")
			return
		}
	}
	if err := web.WritePage(w, r, http.StatusOK, waveCSP, s.pages["wave"],
		s.data(sess, "incidents", pageData{Title: "Wave #" + strconv.FormatInt(wv.ID, 10), Page: p})); err != nil {
		s.logger.ErrorContext(ctx, "admin page render failed", "page", "wave", "error", err)
	}
}

// waveDone is the confirmation of the action a redirect came from.
func waveDone(done string) string {
	switch done {
	case "approved":
		return "The wave is approved: it may be launched."
	case "launched":
		return "The wave is launched."
	case "cancelled":
		return "The wave is cancelled: nothing more of it is sent."
	}
	return ""
}

// frameCSP is the policy of a previewed message's HTML: it loads nothing
// (mail clients block remote content too), runs nothing, and is framed
// by the dashboard only, in a sandbox of its own.
const frameCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

// messageFrame serves the HTML part of a previewed message on its own,
// for the wave page's sandboxed frame.
func (s *Server) messageFrame(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	wv, inc, ok := s.waveAndIncident(w, r, sess)
	if !ok {
		return
	}
	q := r.URL.Query()
	pv, err := s.svc.PreviewMessage(r.Context(), sess.Actor(), notifier.MessagePreview{Incident: inc.Slug, Organization: q.Get("org"), Kind: wv.Kind, Locale: q.Get("locale")})
	if err != nil {
		s.fail(w, r, sess, withDetails(err), "/admin/waves/"+strconv.FormatInt(wv.ID, 10))
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", frameCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(pv.HTML))
}

// waveAndIncident reads the path's wave and its incident, or answers the
// request with why not.
func (s *Server) waveAndIncident(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) (notifier.Wave, notifier.Incident, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, sess, notifier.Errorf(notifier.CodeNotFound, "there is no such wave"), "/admin/incidents")
		return notifier.Wave{}, notifier.Incident{}, false
	}
	wv, err := s.svc.Wave(r.Context(), sess.Actor(), id)
	if err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return notifier.Wave{}, notifier.Incident{}, false
	}
	inc, err := s.svc.Incident(r.Context(), sess.Actor(), strconv.FormatInt(wv.IncidentID, 10))
	if err != nil || inc.ID != wv.IncidentID {
		if err == nil {
			err = notifier.Errorf(notifier.CodeNotFound, "the wave's incident is not found")
		}
		s.fail(w, r, sess, err, "/admin/incidents")
		return notifier.Wave{}, notifier.Incident{}, false
	}
	return wv, inc, true
}

func (s *Server) approveWave(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	s.waveStep(w, r, sess, "approved", s.svc.ApproveWave)
}

// cancelWave cancels only when the form's box saying what it means is
// checked: a cancelled wave cannot be resumed.
func (s *Server) cancelWave(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	if r.PostForm.Get("confirm") == "" {
		s.fail(w, r, sess, badField("confirm", "check the box to confirm: a cancelled wave cannot be resumed"), "/admin/waves/"+r.PathValue("id"))
		return
	}
	s.waveStep(w, r, sess, "cancelled", s.svc.CancelWave)
}

// launchWave launches with the form's idempotency key: a second submit
// of the same form replays the first launch instead of launching again.
func (s *Server) launchWave(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	idem := notifier.Idempotency{Key: r.PostForm.Get("idempotency_key"), Request: r.Method + " " + r.URL.Path}
	s.waveStep(w, r, sess, "launched", func(ctx context.Context, by notifier.Actor, id int64) (notifier.Wave, error) {
		return s.svc.LaunchWave(ctx, by, id, idem)
	})
}

// waveStep runs a wave use case as the session's key, then shows the
// wave's page again (post/redirect/get).
func (s *Server) waveStep(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession, done string,
	act func(context.Context, notifier.Actor, int64) (notifier.Wave, error)) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, sess, notifier.Errorf(notifier.CodeNotFound, "there is no such wave"), "/admin/incidents")
		return
	}
	back := "/admin/waves/" + strconv.FormatInt(id, 10)
	if _, err := act(r.Context(), sess.Actor(), id); err != nil {
		s.fail(w, r, sess, withDetails(err), back)
		return
	}
	seeOther(w, r, back+"?done="+done)
}

// incidentDone is the confirmation of an incident action a redirect came
// from: one of a fixed set, never text from the query.
func incidentDone(done string) string {
	switch done {
	case "created":
		return "The incident is created. Import its organizations and exposures next."
	case "policy":
		return "The policy and deadline clock are saved."
	case "evidence":
		return "The mail archive is imported: see its counts under Stolen mail."
	}
	return ""
}

// policyForm is the policy a policy form starts from: the incident's, or
// a new incident's (none given).
func policyForm(p ...notifier.Policy) policyView {
	v := notifier.DefaultPolicy()
	if len(p) > 0 {
		v = p[0]
	}
	return policyView{Policy: v, ReminderAfter: time.Duration(v.ReminderAfter).String()}
}

// policyView is a policy as its form shows it.
type policyView struct {
	notifier.Policy
	// ReminderAfter is written as a Go duration ("48h0m0s"), as the
	// form reads it back.
	ReminderAfter string
}

// uploadForm is the data of the upload form.
type uploadForm struct {
	CSRF       web.Verbatim
	IncidentID int64
	// What is the kind of file chosen last.
	What string
}

func uploadFormOf(d pageData, incidentID int64, what string) uploadForm {
	return uploadForm{CSRF: d.CSRF, IncidentID: incidentID, What: what}
}
