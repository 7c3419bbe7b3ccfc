package httpapi

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		if err := s.ready(r.Context()); err != nil {
			s.logger.WarnContext(r.Context(), "not ready", "error", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		writeError(w, r, notifier.Errorf(notifier.CodeNotFound, "metrics are not enabled"))
		return
	}
	s.metrics.ServeHTTP(w, r)
}

var incidentRefPattern = regexp.MustCompile(`^([1-9][0-9]{0,18}|[a-z0-9][a-z0-9-]{0,62})$`)

// incidentRef validates the {incident} path value: an id or a slug.
func incidentRef(r *http.Request) (string, error) {
	v := r.PathValue("incident")
	if !incidentRefPattern.MatchString(v) {
		return "", notifier.Errorf(notifier.CodeBadRequest, "incident must be a numeric id or a slug")
	}
	return v, nil
}

// pathID validates a numeric path value.
func pathID(r *http.Request, name string) (int64, error) {
	id, ok := notifier.ParseInt(r.PathValue(name))
	if !ok {
		return 0, notifier.Errorf(notifier.CodeBadRequest, "%s must be a positive integer", name)
	}
	return id, nil
}

func (s *Server) createIncident(w http.ResponseWriter, r *http.Request) {
	var in notifier.NewIncident
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := s.svc.CreateIncident(r.Context(), actor(r), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, inc)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := s.svc.Incident(r.Context(), actor(r), ref)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (s *Server) importOrganizations(w http.ResponseWriter, r *http.Request) {
	format, err := notifier.FormatFromContentType(r.Header.Get("Content-Type"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.svc.ImportOrganizations(r.Context(), actor(r), http.MaxBytesReader(w, r.Body, s.maxBody), format)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
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
	res, err := s.svc.ImportExposures(r.Context(), actor(r), ref, http.MaxBytesReader(w, r.Body, s.maxBody), format)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

func (s *Server) planWave(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		Kind notifier.WaveKind `json:"kind"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	plan, err := s.svc.PlanWave(r.Context(), actor(r), ref, in.Kind)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, plan)
}

func (s *Server) getWave(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wave, err := s.svc.Wave(r.Context(), actor(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wave)
}

func (s *Server) launchWave(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wave, err := s.svc.LaunchWave(r.Context(), actor(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wave)
}

// listPage is the shape of every list reply.
type listPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (s *Server) listMailbox(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			s.fail(w, r, notifier.Errorf(notifier.CodeBadRequest, "limit must be between 1 and 500"))
			return
		}
		limit = n
	}
	var before int64
	if v := r.URL.Query().Get("cursor"); v != "" {
		n, ok := notifier.ParseInt(v)
		if !ok {
			s.fail(w, r, notifier.Errorf(notifier.CodeBadRequest, "cursor is not valid"))
			return
		}
		before = n
	}
	msgs, err := s.svc.CapturedMessages(r.Context(), actor(r), limit, before)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := listPage[notifier.CapturedMessage]{Items: msgs}
	if page.Items == nil {
		page.Items = []notifier.CapturedMessage{}
	}
	if len(msgs) == limit {
		page.NextCursor = strconv.FormatInt(msgs[len(msgs)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, page)
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
