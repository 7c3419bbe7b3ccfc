package httpapi

import (
	"io"
	"mime"
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
)

// recordBounce takes an RFC 3464 report (message/rfc822 or the
// multipart/report itself) or the simple JSON form.
func (s *Server) recordBounce(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		s.fail(w, r, notifier.Errorf(notifier.CodeUnsupported, "send message/rfc822, multipart/report or application/json"))
		return
	}
	switch mt {
	case "application/json":
		var in notifier.BounceJSON
		if err := s.decodeJSON(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		b, err := s.svc.RecordBounceJSON(r.Context(), actor(r), in)
		s.reply(w, r, http.StatusCreated, notifier.ListResult[notifier.Bounce]{Items: []notifier.Bounce{b}}, err)
	case "message/rfc822", "multipart/report":
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, min(s.maxBody, 10<<20)))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if mt == "message/rfc822" {
			ct = ""
		}
		list, err := s.svc.RecordDSN(r.Context(), actor(r), raw, ct)
		s.reply(w, r, http.StatusCreated, notifier.ListResult[notifier.Bounce]{Items: list}, err)
	default:
		s.fail(w, r, notifier.Errorf(notifier.CodeUnsupported, "send message/rfc822, multipart/report or application/json, not %s", mt))
	}
}

func (s *Server) listBounces(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "limit", "cursor", "kind")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := pageOf(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.Bounces(r.Context(), actor(r), notifier.BounceKind(q.Get("kind")), p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) listUnreachable(w http.ResponseWriter, r *http.Request) {
	ref, p, err := refAndPage(r, incidentRef)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.UnreachableNotices(r.Context(), actor(r), ref, p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) resendNotice(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.svc.ResendNotice(r.Context(), actor(r), id)
	s.reply(w, r, http.StatusOK, res, err)
}
