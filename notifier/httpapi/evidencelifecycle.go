package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

// The purge of an incident's evidence and the review of its findings
// (issue 13).

func (s *Server) getPurge(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := query(r); err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.svc.EvidencePurgeState(r.Context(), actor(r), ref)
	s.reply(w, r, http.StatusOK, st, err)
}

// purgeEvidence answers 202 when the purge is only requested (a second
// admin must approve it), 200 once the evidence is purged.
func (s *Server) purgeEvidence(w http.ResponseWriter, r *http.Request) {
	s.purgeAction(w, r, s.svc.PurgeEvidence)
}

func (s *Server) approvePurge(w http.ResponseWriter, r *http.Request) {
	s.purgeAction(w, r, s.svc.ApproveEvidencePurge)
}

func (s *Server) cancelPurge(w http.ResponseWriter, r *http.Request) {
	s.purgeAction(w, r, s.svc.CancelEvidencePurge)
}

// purgeAction runs a purge use case on the incident of the path, with the
// reason of an optional body.
func (s *Server) purgeAction(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, by notifier.Actor, incident, reason string) (notifier.EvidencePurge, error)) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in notifier.PurgeRequest
	if err := s.optionalJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := do(r.Context(), actor(r), ref, in.Reason)
	status := http.StatusOK
	if st.State == notifier.EvidencePurgeRequested {
		status = http.StatusAccepted
	}
	s.reply(w, r, status, st, err)
}

// optionalJSON decodes the body into v when there is one: no body, or
// only white space, leaves v as it is.
func (s *Server) optionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return s.decodeJSON(w, r, v)
}

// listFindings lists an incident's findings, one page at a time.
func (s *Server) listFindings(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q, err := query(r, "type", "dismissed", "live", "limit", "cursor")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var f notifier.FindingFilter
	if f.Type = q.Get("type"); len(f.Type) > 64 {
		s.fail(w, r, notifier.Errorf(notifier.CodeBadRequest, "type is at most 64 characters"))
		return
	}
	if f.Dismissed, err = boolParam(q.Get("dismissed"), "dismissed"); err != nil {
		s.fail(w, r, err)
		return
	}
	if f.Live, err = boolParam(q.Get("live"), "live"); err != nil {
		s.fail(w, r, err)
		return
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > notifier.PageLimitMax {
			s.fail(w, r, notifier.Errorf(notifier.CodeBadRequest, "limit must be between 1 and %d", notifier.PageLimitMax))
			return
		}
	}
	if f.After, err = notifier.DecodeFindingCursor(q.Get("cursor")); err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.Findings(r.Context(), actor(r), ref, f, limit)
	s.reply(w, r, http.StatusOK, list, err)
}

// boolParam reads an optional true/false query parameter.
func boolParam(v, name string) (*bool, error) {
	switch v {
	case "":
		return nil, nil
	case "true", "false":
		b := v == "true"
		return &b, nil
	}
	return nil, notifier.Errorf(notifier.CodeBadRequest, "%s must be true or false", name)
}

func (s *Server) dismissFinding(w http.ResponseWriter, r *http.Request) {
	s.findingAction(w, r, s.svc.DismissFinding)
}

func (s *Server) undismissFinding(w http.ResponseWriter, r *http.Request) {
	s.findingAction(w, r, s.svc.UndismissFinding)
}

// findingAction runs a dismissal use case on the finding of the path,
// with the body's (required) reason.
func (s *Server) findingAction(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, by notifier.Actor, incident, finding, reason string) (notifier.Finding, error)) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	finding := r.PathValue("finding")
	if _, err := notifier.ParseFindingID(finding); err != nil {
		s.fail(w, r, err)
		return
	}
	var in notifier.DismissRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := do(r.Context(), actor(r), ref, finding, in.Reason)
	s.reply(w, r, http.StatusOK, f, err)
}
