package httpapi

import (
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
)

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "limit", "cursor", "action", "target_type", "target_id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := pageOf(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := notifier.AuditFilter{Action: q.Get("action"), TargetType: q.Get("target_type"), TargetID: q.Get("target_id")}
	list, err := s.svc.AuditEntries(r.Context(), actor(r), f, p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "checkpoint")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.svc.VerifyAudit(r.Context(), actor(r), q.Get("checkpoint"))
	s.reply(w, r, http.StatusOK, v, err)
}
