package httpapi

import (
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/evidence"
)

// EvidenceUploadDeadline is how long an evidence upload may take: a
// mailbox of millions of messages streams for hours, not the minutes of
// APIDeadline.
const EvidenceUploadDeadline = 12 * time.Hour

// maxEvidenceName bounds the name an upload is recorded under.
const maxEvidenceName = 255

// evidenceIncident starts a handler of an incident's evidence, given what
// its query(r, ...) returned: this process must import evidence, the
// query must be valid, and the path must name an incident the caller may
// see. ok false means the reply (an error) is written.
func (s *Server) evidenceIncident(w http.ResponseWriter, r *http.Request, queryErr error) (inc notifier.Incident, ok bool) {
	if s.evidence == nil {
		s.fail(w, r, notifier.Errorf(notifier.CodeConflict, "this process does not import evidence"))
		return inc, false
	}
	err := queryErr
	if err == nil {
		var ref string
		if ref, err = incidentRef(r); err == nil {
			inc, err = s.svc.Incident(r.Context(), actor(r), ref)
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return inc, false
	}
	return inc, true
}

// importEvidence streams the request body (an mbox, one message, or a
// tar / tar.gz of those or of a Maildir) into the incident as one import.
// Nothing is held whole: the body is read message by message.
func (s *Server) importEvidence(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "name")
	inc, ok := s.evidenceIncident(w, r, err)
	if !ok {
		return
	}
	name := q.Get("name")
	if name == "" {
		name = "upload"
	}
	if len(name) > maxEvidenceName || strings.ContainsFunc(name, unicode.IsControl) {
		s.fail(w, r, notifier.Errorf(notifier.CodeBadRequest, "name must be at most %d characters without control characters", maxEvidenceName))
		return
	}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/zip") {
		s.fail(w, r, notifier.Errorf(notifier.CodeUnsupported, "a zip archive cannot be read as a stream: send its messages as a tar or tar.gz (breachnotify evidence import does so)"))
		return
	}
	rc := http.NewResponseController(w)
	at := time.Now().Add(EvidenceUploadDeadline)
	_ = rc.SetReadDeadline(at)
	_ = rc.SetWriteDeadline(at)
	reader, err := evidence.NewReader(evidence.Config{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	imp, err := s.evidence.Import(r.Context(), actor(r), inc.ID, name, reader.ReadStream(r.Context(), name, r.Body, r.ContentLength))
	s.reply(w, r, http.StatusCreated, imp, err)
}

func (s *Server) listEvidenceImports(w http.ResponseWriter, r *http.Request) {
	_, err := query(r)
	inc, ok := s.evidenceIncident(w, r, err)
	if !ok {
		return
	}
	list, err := s.evidence.List(r.Context(), actor(r), inc.ID)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) getEvidenceImport(w http.ResponseWriter, r *http.Request) {
	if s.evidence == nil {
		s.fail(w, r, notifier.Errorf(notifier.CodeConflict, "this process does not import evidence"))
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	imp, err := s.evidence.Get(r.Context(), actor(r), id)
	s.reply(w, r, http.StatusOK, imp, err)
}

// listUnattributedEvidence reports the incident's messages that expose
// no known organization, with a page of their participants' domains.
func (s *Server) listUnattributedEvidence(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "limit", "cursor")
	inc, ok := s.evidenceIncident(w, r, err)
	if !ok {
		return
	}
	// The cursor is the report's own (a count and a domain), not an id.
	p, err := pageOf(url.Values{"limit": q["limit"]})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rep, err := s.evidence.Unattributed(r.Context(), actor(r), inc.ID, p, q.Get("cursor"))
	s.reply(w, r, http.StatusOK, rep, err)
}

// reattributeEvidence attributes the incident's stored messages again
// against the organizations as they are now.
func (s *Server) reattributeEvidence(w http.ResponseWriter, r *http.Request) {
	_, err := query(r)
	inc, ok := s.evidenceIncident(w, r, err)
	if !ok {
		return
	}
	// Millions of messages take minutes: the run outlives APIDeadline
	// the way an upload does.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(EvidenceUploadDeadline))
	run, err := s.evidence.Reattribute(r.Context(), actor(r), inc.ID)
	s.reply(w, r, http.StatusCreated, run, err)
}
