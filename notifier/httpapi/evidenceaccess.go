package httpapi

import "net/http"

// listEvidenceAccess serves GET /api/v1/organizations/{org}/evidence-access:
// who of the organization viewed, revealed or downloaded what of its
// stolen mail in the portal, newest first.
func (s *Server) listEvidenceAccess(w http.ResponseWriter, r *http.Request) {
	ref, p, err := refAndPage(r, orgRef)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.EvidenceAccess(r.Context(), actor(r), ref, p)
	s.reply(w, r, http.StatusOK, list, err)
}
