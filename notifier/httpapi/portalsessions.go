package httpapi

import (
	"net/http"
	"time"
)

// PortalSession is a live portal session as IR staff see it: who, since
// when, last use, browser and coarse network; never its id or hash.
type PortalSession struct {
	ContactID    int64     `json:"contact_id"`
	ContactEmail string    `json:"contact_email"`
	CreatedAt    time.Time `json:"created_at"`
	LastSeenAt   time.Time `json:"last_seen_at"`
	UserAgent    string    `json:"user_agent"`
	Network      string    `json:"network"`
}

// PortalSessionList is the organization's live sessions.
type PortalSessionList struct {
	Items []PortalSession `json:"items"`
}

// PortalSessionsEnded says how many sessions ended.
type PortalSessionsEnded struct {
	Ended int `json:"ended"`
}

// listPortalSessions serves GET /api/v1/organizations/{org}/portal-sessions.
func (s *Server) listPortalSessions(w http.ResponseWriter, r *http.Request) {
	ref, err := orgRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.OrganizationPortalSessions(r.Context(), actor(r), ref)
	out := make([]PortalSession, 0, len(list))
	for _, d := range list {
		out = append(out, PortalSession{ContactID: d.ContactID, ContactEmail: d.ContactEmail, CreatedAt: d.CreatedAt,
			LastSeenAt: d.LastSeenAt, UserAgent: d.UserAgent, Network: d.Network})
	}
	s.reply(w, r, http.StatusOK, PortalSessionList{Items: out}, err)
}

// endPortalSessions serves POST /api/v1/organizations/{org}/portal-sessions/end:
// every portal session of the organization ends at once.
func (s *Server) endPortalSessions(w http.ResponseWriter, r *http.Request) {
	ref, err := orgRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.svc.EndOrganizationPortalSessions(r.Context(), actor(r), ref)
	s.reply(w, r, http.StatusOK, PortalSessionsEnded{Ended: n}, err)
}
