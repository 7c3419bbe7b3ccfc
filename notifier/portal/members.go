package portal

import (
	"net/http"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// registerMembers mounts the organization's membership: the members page
// (every member reads it; approvers change it, each change behind a fresh
// second factor like the stolen mail, since it opens the stolen mail to
// others) and the public access request.
func (s *Server) registerMembers(page func(pattern string, h http.HandlerFunc)) {
	page("GET /portal/members", s.signedIn(s.membersPage))
	page("POST /portal/members/invite", s.signedIn(s.withFactor(s.inviteMember)))
	page("POST /portal/members/{id}/level", s.signedIn(s.withFactor(s.setMemberLevel)))
	page("POST /portal/members/{id}/revoke", s.signedIn(s.withFactor(s.revokeMember)))
	page("POST /portal/members/{id}/factors/reset", s.signedIn(s.withFactor(s.resetMemberFactors)))
	page("POST /portal/requests/{id}", s.signedIn(s.withFactor(s.decideRequest)))
	page("POST /portal/members/sessions/end", s.signedIn(s.withFactor(s.endOrganizationSessions)))
	page("GET /portal/request-access", s.requestAccessForm)
	page("POST /portal/request-access", s.requestAccess)
}

// membersView is the members page's data.
type membersView struct {
	notifier.Members
	// Done is the catalogue key of what the last change did ("" none).
	Done string
	// Problem is the catalogue key of what went wrong with the invitation.
	Problem string
	Email   web.Verbatim
}

// memberDone are the confirmations a change redirects with (?done=).
var memberDone = map[string]string{
	"invited": "members.done_invited", "level": "members.done_level", "revoked": "members.done_revoked",
	"reset": "members.done_reset", "decided": "members.done_decided",
}

func (s *Server) membersPage(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	s.showMembers(w, r, sess, http.StatusOK, membersView{Done: memberDone[r.URL.Query().Get("done")]})
}

func (s *Server) showMembers(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, status int, v membersView) {
	m, err := s.svc.PortalMembers(r.Context(), sess)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	v.Members = m
	s.render(w, r, status, "members", s.portalData(sess, "members", pageData{Title: "nav.members", Page: v}))
}

// memberChanged answers a change: back to the page with its confirmation;
// an invalid or refused change shows the page with the problem.
func (s *Server) memberChanged(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, err error, done string) {
	if err == nil {
		seeOther(w, r, "/portal/members?done="+done)
		return
	}
	switch notifier.ErrorCode(err) {
	case notifier.CodeInvalid:
		s.showMembers(w, r, sess, http.StatusUnprocessableEntity, membersView{Problem: "members.problem_email", Email: web.Verbatim(r.PostForm.Get("email"))})
	case notifier.CodeForbidden:
		s.showMembers(w, r, sess, http.StatusForbidden, membersView{Problem: "members.problem_domain", Email: web.Verbatim(r.PostForm.Get("email"))})
	case notifier.CodeConflict:
		s.showMembers(w, r, sess, http.StatusConflict, membersView{Problem: "members.problem_approver"})
	default:
		s.portalFail(w, r, sess, err)
	}
}

func (s *Server) inviteMember(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	_, err := s.svc.InviteMember(r.Context(), sess, r.PostForm.Get("email"), r.PostForm.Get("level"))
	s.memberChanged(w, r, sess, err, "invited")
}

// withMember runs a change of the member the path names; a number that
// is not one is the neutral 404.
func (s *Server) withMember(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, done string, change func(id int64) error) {
	id, ok := pathID(r)
	if !ok {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	s.memberChanged(w, r, sess, change(id), done)
}

func (s *Server) setMemberLevel(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	s.withMember(w, r, sess, "level", func(id int64) error {
		return s.svc.SetPortalMemberLevel(r.Context(), sess, id, r.PostForm.Get("level"))
	})
}

func (s *Server) revokeMember(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	s.withMember(w, r, sess, "revoked", func(id int64) error {
		_, err := s.svc.RevokePortalMember(r.Context(), sess, id)
		return err
	})
}

func (s *Server) resetMemberFactors(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	s.withMember(w, r, sess, "reset", func(id int64) error {
		return s.svc.ResetPortalMemberFactors(r.Context(), sess, id)
	})
}

func (s *Server) decideRequest(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	s.withMember(w, r, sess, "decided", func(id int64) error {
		switch r.PostForm.Get("decision") {
		case notifier.DecisionApproved:
			return s.svc.DecidePortalAccessRequest(r.Context(), sess, id, true, r.PostForm.Get("level"))
		case notifier.DecisionRefused:
			return s.svc.DecidePortalAccessRequest(r.Context(), sess, id, false, "")
		}
		return notifier.Errorf(notifier.CodeInvalid, "decision must be approved or refused")
	})
}

// endOrganizationSessions ends every session of the organization, the
// approver's own too: they sign in again like everyone.
func (s *Server) endOrganizationSessions(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	if _, err := s.svc.EndAllOrganizationSessions(r.Context(), sess); err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	s.cookies.Delete(w, sessionCookie)
	seeOther(w, r, "/portal/login?signed_out=1")
}

// requestAccessPage is the public access request's data.
type requestAccessPage struct {
	Email   web.Verbatim
	Problem string
	Sent    bool
}

// requestAccessForm serves GET /portal/request-access; its form token is
// bound like the sign-in form's.
func (s *Server) requestAccessForm(w http.ResponseWriter, r *http.Request) {
	s.renderRequestAccess(w, r, http.StatusOK, requestAccessPage{})
}

func (s *Server) renderRequestAccess(w http.ResponseWriter, r *http.Request, status int, p requestAccessPage) {
	bind := s.cookies.FormBinding(w, r, signInCookie)
	s.render(w, r, status, "request_access", pageData{Title: "nav.request_access",
		CSRF: web.Verbatim(s.forms.Make(formRequestAccess, []byte(bind), time.Now())), Page: p})
}

// requestAccess serves POST /portal/request-access: one answer whether or
// not the address's domain is an organization's, it is already a member or
// has a request pending, and never sooner than the sign-in's floor; the
// sign-in's limits per client and per address apply.
func (s *Server) requestAccess(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	email, ok := s.addressForm(w, r, formRequestAccess, func(given string) {
		s.renderRequestAccess(w, r, http.StatusUnprocessableEntity, requestAccessPage{Email: web.Verbatim(given), Problem: "signin.problem"})
	})
	if !ok {
		return
	}
	if ok, _ := s.signInByAddress.Allow("request:" + strings.ToLower(email)); ok {
		if err := s.svc.RequestPortalAccess(r.Context(), email, s.language(w, r, pageData{}).String()); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if !replyFloor(r, start) {
		return
	}
	s.renderRequestAccess(w, r, http.StatusOK, requestAccessPage{Sent: true})
}
