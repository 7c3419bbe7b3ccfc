package httpapi

import (
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "limit", "cursor", "kind", "locale", "current")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var f notifier.TemplateFilter
	p, err := pageOf(q)
	if err == nil {
		f.Kind, err = enumParam(q, "kind", templates.Kinds)
	}
	if err == nil {
		var current string
		current, err = enumParam(q, "current", []string{"true", "false"})
		f.Current = current == "true"
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f.Locale = q.Get("locale")
	if l, ok := templates.NormalizeLocale(f.Locale); ok {
		f.Locale = l
	}
	list, err := s.svc.Templates(r.Context(), actor(r), f, p)
	s.reply(w, r, http.StatusOK, list, err)
}

// uploadTemplate answers 201 for a new version and 200 when the same
// content was stored before.
func (s *Server) uploadTemplate(w http.ResponseWriter, r *http.Request) {
	var in notifier.TemplateUpload
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	v, created, err := s.svc.UploadTemplate(r.Context(), actor(r), in)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.reply(w, r, status, v, err)
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.svc.Template(r.Context(), actor(r), id)
	s.reply(w, r, http.StatusOK, v, err)
}

func (s *Server) activateTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.ContentLength > 0 {
		// The action takes no body; an empty JSON object is tolerated.
		var none struct{}
		if err := s.decodeJSON(w, r, &none); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	v, err := s.svc.ActivateTemplate(r.Context(), actor(r), id)
	s.reply(w, r, http.StatusOK, v, err)
}

func (s *Server) previewTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in notifier.TemplatePreviewRequest
	if r.ContentLength != 0 {
		// No body (or {}) previews the sample data.
		if err := s.decodeJSON(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	out, err := s.svc.PreviewTemplate(r.Context(), actor(r), id, in)
	s.reply(w, r, http.StatusOK, out, err)
}
