package httpapi

import (
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
)

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	p, err := listPage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.Incidents(r.Context(), actor(r), p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) createIncident(w http.ResponseWriter, r *http.Request) {
	var in notifier.NewIncident
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := s.svc.CreateIncident(r.Context(), actor(r), in)
	s.reply(w, r, http.StatusCreated, inc, err)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := s.svc.Incident(r.Context(), actor(r), ref)
	s.reply(w, r, http.StatusOK, inc, err)
}

func (s *Server) patchIncident(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		Policy *notifier.PolicyPatch   `json:"policy"`
		Clock  *notifier.IncidentClock `json:"clock"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	// One change a request: two would be two transactions, and a refused
	// second would leave the first applied behind an error reply.
	if (in.Policy == nil) == (in.Clock == nil) {
		s.fail(w, r, notifier.Errorf(notifier.CodeBadRequest, `send either {"policy": {...}} with the fields to change or {"clock": {...}} to replace the deadline clock`))
		return
	}
	var inc notifier.Incident
	if in.Policy != nil {
		inc, err = s.svc.UpdatePolicy(r.Context(), actor(r), ref, *in.Policy)
	} else {
		inc, err = s.svc.UpdateClock(r.Context(), actor(r), ref, *in.Clock)
	}
	s.reply(w, r, http.StatusOK, inc, err)
}

func (s *Server) incidentDeadlines(w http.ResponseWriter, r *http.Request) {
	ref, p, err := refAndPage(r, incidentRef)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	board, err := s.svc.Deadlines(r.Context(), actor(r), ref, p)
	s.reply(w, r, http.StatusOK, board, err)
}

func (s *Server) importExposures(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	format, err := notifier.FormatFromContentType(r.Header.Get("Content-Type"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The service streams the file and bounds it by the import limits
	// (rows and bytes, each named in its error), not the body limit.
	extendForImport(w)
	res, err := s.svc.ImportExposures(r.Context(), actor(r), ref, r.Body, format)
	s.reply(w, r, http.StatusCreated, res, err)
}

func (s *Server) listBatches(w http.ResponseWriter, r *http.Request) {
	ref, p, err := refAndPage(r, incidentRef)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.Batches(r.Context(), actor(r), ref, p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := s.svc.Batch(r.Context(), actor(r), id)
	s.reply(w, r, http.StatusOK, b, err)
}

func (s *Server) listItems(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q, err := query(r, "limit", "cursor", "batch", "organization", "kind", "secret_type")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var f notifier.ItemFilter
	p, err := pageOf(q)
	if err == nil {
		f.BatchID, err = idParam(q, "batch")
	}
	if err == nil {
		f.OrganizationID, err = idParam(q, "organization")
	}
	if err == nil {
		f.Kind, err = enumParam(q, "kind", notifier.ItemKinds)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f.SecretType = q.Get("secret_type")
	list, err := s.svc.Items(r.Context(), actor(r), ref, f, p)
	s.reply(w, r, http.StatusOK, list, err)
}
