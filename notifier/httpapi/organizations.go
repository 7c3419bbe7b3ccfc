package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

func (s *Server) importOrganizations(w http.ResponseWriter, r *http.Request) {
	format, err := notifier.FormatFromContentType(r.Header.Get("Content-Type"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The service streams the file and bounds it by the import limits
	// (rows and bytes, each named in its error), not the body limit.
	extendForImport(w)
	res, err := s.svc.ImportOrganizations(r.Context(), actor(r), r.Body, format)
	s.reply(w, r, http.StatusOK, res, err)
}

// ImportDeadline bounds reading and answering one import request: a
// million-row file is read, checked and stored in about two minutes on two
// cores (README, Import formats); the import limits, not this, say how
// large a file may be.
const ImportDeadline = 30 * time.Minute

func extendForImport(w http.ResponseWriter) {
	at := time.Now().Add(ImportDeadline)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(at)
	_ = rc.SetWriteDeadline(at)
}

func (s *Server) listOrganizations(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "limit", "cursor", "ref")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := pageOf(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.Organizations(r.Context(), actor(r), notifier.OrganizationFilter{Ref: q.Get("ref")}, p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request) {
	ref, err := orgRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	o, err := s.svc.Organization(r.Context(), actor(r), ref)
	s.reply(w, r, http.StatusOK, o, err)
}

func (s *Server) listOrgContacts(w http.ResponseWriter, r *http.Request) {
	ref, err := orgRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.contacts(w, r, ref)
}

func (s *Server) listContacts(w http.ResponseWriter, r *http.Request) { s.contacts(w, r, "") }

func (s *Server) contacts(w http.ResponseWriter, r *http.Request, org string) {
	q, err := query(r, "limit", "cursor", "status", "role")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var f notifier.ContactFilter
	p, err := pageOf(q)
	if err == nil {
		f.Status, err = enumParam(q, "status", []string{notifier.ContactActive, notifier.ContactBounced, notifier.ContactSuppressed})
	}
	if err == nil {
		f.Role, err = enumParam(q, "role", []string{notifier.ContactSecurity, notifier.ContactTechnical, notifier.ContactLegal, notifier.ContactExecutive})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.Contacts(r.Context(), actor(r), org, f, p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.svc.Contact(r.Context(), actor(r), id)
	s.reply(w, r, http.StatusOK, c, err)
}

func (s *Server) patchContact(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var patch notifier.ContactPatch
	if err := s.decodeJSON(w, r, &patch); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.svc.UpdateContact(r.Context(), actor(r), id, patch)
	s.reply(w, r, http.StatusOK, c, err)
}

func (s *Server) suppressContact(w http.ResponseWriter, r *http.Request) {
	s.contactStatus(w, r, s.svc.SuppressContact)
}

func (s *Server) reactivateContact(w http.ResponseWriter, r *http.Request) {
	s.contactStatus(w, r, s.svc.ReactivateContact)
}

func (s *Server) contactStatus(w http.ResponseWriter, r *http.Request,
	change func(ctx context.Context, by notifier.Actor, id int64, reason string) (notifier.Contact, error)) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := change(r.Context(), actor(r), id, in.Reason)
	s.reply(w, r, http.StatusOK, c, err)
}

// resetContactFactors removes a portal member's second factors (admin).
func (s *Server) resetContactFactors(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := s.svc.ResetContactFactors(r.Context(), actor(r), id, in.Reason)
	s.reply(w, r, http.StatusOK, out, err)
}
