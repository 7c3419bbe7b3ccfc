package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

var waveStatuses = []notifier.WaveStatus{notifier.WavePlanned, notifier.WaveApproved, notifier.WaveRunning,
	notifier.WavePaused, notifier.WaveCompleted, notifier.WaveCancelled}

func (s *Server) planWave(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		Kind       templates.Kind `json:"kind"`
		UrgentOnly bool           `json:"urgent_only"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	plan, err := s.svc.PlanWaveWith(r.Context(), actor(r), ref, in.Kind, notifier.WaveOptions{UrgentOnly: in.UrgentOnly})
	s.reply(w, r, http.StatusCreated, plan, err)
}

func (s *Server) listIncidentWaves(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.waves(w, r, ref)
}

func (s *Server) listWaves(w http.ResponseWriter, r *http.Request) { s.waves(w, r, "") }

func (s *Server) waves(w http.ResponseWriter, r *http.Request, incident string) {
	q, err := query(r, "limit", "cursor", "status")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var f notifier.WaveFilter
	p, err := pageOf(q)
	if err == nil {
		f.Status, err = enumParam(q, "status", waveStatuses)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.Waves(r.Context(), actor(r), incident, f, p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) getWave(w http.ResponseWriter, r *http.Request) {
	s.waveAction(w, r, s.svc.Wave)
}

func (s *Server) approveWave(w http.ResponseWriter, r *http.Request) {
	s.waveAction(w, r, s.svc.ApproveWave)
}

func (s *Server) pauseWave(w http.ResponseWriter, r *http.Request) {
	s.waveAction(w, r, s.svc.PauseWave)
}

func (s *Server) resumeWave(w http.ResponseWriter, r *http.Request) {
	s.waveAction(w, r, s.svc.ResumeWave)
}

func (s *Server) cancelWave(w http.ResponseWriter, r *http.Request) {
	s.waveAction(w, r, s.svc.CancelWave)
}

// launchWave honours Idempotency-Key: every repeat of a keyed launch gets
// the first launch's reply, byte for byte.
func (s *Server) launchWave(w http.ResponseWriter, r *http.Request) {
	idem := notifier.Idempotency{Key: r.Header.Get("Idempotency-Key"), Request: r.Method + " " + r.URL.Path}
	s.waveAction(w, r, func(ctx context.Context, by notifier.Actor, id int64) (notifier.Wave, error) {
		return s.svc.LaunchWave(ctx, by, id, idem)
	})
}

// waveAction runs a use case on the wave named by the path.
func (s *Server) waveAction(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, by notifier.Actor, id int64) (notifier.Wave, error)) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		// These actions take no body; an empty JSON object is tolerated.
		// A body of unknown length (chunked) is read to tell which it is.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if len(bytes.TrimSpace(body)) > 0 {
			r.Body = io.NopCloser(bytes.NewReader(body))
			var none struct{}
			if err := s.decodeJSON(w, r, &none); err != nil {
				s.fail(w, r, err)
				return
			}
		}
	}
	wave, err := do(r.Context(), actor(r), id)
	s.reply(w, r, http.StatusOK, wave, err)
}

func (s *Server) listIncidentNotices(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.notices(w, r, ref)
}

func (s *Server) listNotices(w http.ResponseWriter, r *http.Request) { s.notices(w, r, "") }

func (s *Server) notices(w http.ResponseWriter, r *http.Request, incident string) {
	q, err := query(r, "limit", "cursor", "wave", "organization", "acknowledged", "kind")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var f notifier.NoticeFilter
	p, err := pageOf(q)
	if err == nil {
		f.WaveID, err = idParam(q, "wave")
	}
	if err == nil {
		f.OrganizationID, err = idParam(q, "organization")
	}
	if err == nil {
		f.Kind, err = enumParam(q, "kind", templates.WaveKinds)
	}
	if err == nil {
		switch q.Get("acknowledged") {
		case "true":
			f.Acknowledged = new(bool)
			*f.Acknowledged = true
		case "false":
			f.Acknowledged = new(bool)
		case "":
		default:
			err = notifier.Errorf(notifier.CodeBadRequest, "acknowledged must be true or false")
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.Notices(r.Context(), actor(r), incident, f, p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) getNotice(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.svc.Notice(r.Context(), actor(r), id)
	s.reply(w, r, http.StatusOK, n, err)
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "limit", "cursor", "wave", "notice", "status")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var f notifier.DeliveryFilter
	p, err := pageOf(q)
	if err == nil {
		f.WaveID, err = idParam(q, "wave")
	}
	if err == nil {
		f.NoticeID, err = idParam(q, "notice")
	}
	if err == nil {
		f.Status, err = enumParam(q, "status", notifier.DeliveryStatuses)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.Deliveries(r.Context(), actor(r), f, p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.svc.Delivery(r.Context(), actor(r), id)
	s.reply(w, r, http.StatusOK, d, err)
}
