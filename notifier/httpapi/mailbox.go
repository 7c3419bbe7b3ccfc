package httpapi

import (
	"net/http"
	"strconv"
)

func (s *Server) listMailbox(w http.ResponseWriter, r *http.Request) {
	p, err := listPage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.CapturedMessages(r.Context(), actor(r), p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) getMailboxMessage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.svc.CapturedMessage(r.Context(), actor(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "message/rfc822")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", "attachment; filename=message-"+strconv.FormatInt(m.ID, 10)+".eml")
	_, _ = w.Write(m.Raw)
}
