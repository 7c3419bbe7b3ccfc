package httpapi

import (
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
)

// MemberInvite is IR staff's invitation of a member.
type MemberInvite struct {
	Email string `json:"email"`
	Level string `json:"level"`
}

// AccessDecision decides an access request in place of the approvers.
type AccessDecision struct {
	Decision string `json:"decision"`
	Level    string `json:"level"`
}

// InviteDomain allows (or no longer allows) invitations at a domain
// outside the organization's own.
type InviteDomain struct {
	Domain string `json:"domain"`
	Allow  bool   `json:"allow"`
}

// listMembers serves GET /api/v1/organizations/{org}/members.
func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	ref, err := orgRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.svc.OrganizationMembers(r.Context(), actor(r), ref)
	s.reply(w, r, http.StatusOK, m, err)
}

// changeMembers runs one change of an organization's membership with a
// JSON body and answers with the membership as it is after it.
func changeMembers[T any](s *Server, w http.ResponseWriter, r *http.Request, idName string, change func(ref string, id int64, in T) error) {
	ref, err := orgRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var id int64
	if idName != "" {
		if id, err = pathID(r, idName); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var in T
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := change(ref, id, in); err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.svc.OrganizationMembers(r.Context(), actor(r), ref)
	s.reply(w, r, http.StatusOK, m, err)
}

// inviteMember serves POST /api/v1/organizations/{org}/members.
func (s *Server) inviteMember(w http.ResponseWriter, r *http.Request) {
	changeMembers(s, w, r, "", func(ref string, _ int64, in MemberInvite) error {
		_, err := s.svc.StaffInviteMember(r.Context(), actor(r), ref, in.Email, in.Level)
		return err
	})
}

// changeMember serves PATCH /api/v1/organizations/{org}/members/{id}.
func (s *Server) changeMember(w http.ResponseWriter, r *http.Request) {
	changeMembers(s, w, r, "id", func(ref string, id int64, in notifier.MemberChange) error {
		return s.svc.ChangeMember(r.Context(), actor(r), ref, id, in)
	})
}

// decideAccessRequest serves POST /api/v1/organizations/{org}/access-requests/{id}.
func (s *Server) decideAccessRequest(w http.ResponseWriter, r *http.Request) {
	changeMembers(s, w, r, "id", func(ref string, id int64, in AccessDecision) error {
		return s.svc.StaffDecideAccessRequest(r.Context(), actor(r), ref, id, in.Decision, in.Level)
	})
}

// setInviteDomain serves POST /api/v1/organizations/{org}/invite-domains.
func (s *Server) setInviteDomain(w http.ResponseWriter, r *http.Request) {
	changeMembers(s, w, r, "", func(ref string, _ int64, in InviteDomain) error {
		return s.svc.SetInviteDomain(r.Context(), actor(r), ref, in.Domain, in.Allow)
	})
}
