package admin

import (
	"context"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/evidence"
)

// evidenceUploadDeadline is the API's (httpapi.EvidenceUploadDeadline): a
// mailbox of millions of messages streams for hours.
const evidenceUploadDeadline = 12 * time.Hour

// maxEvidenceName bounds the file name an import is recorded under, as
// the API does.
const maxEvidenceName = 255

// evidenceListed bounds the imports the incident page lists, newest first;
// `breachnotify evidence list` has them all.
const evidenceListed = 10

// evidenceView is the incident page's stolen-mail section.
type evidenceView struct {
	// Enabled is false when this process has no evidence importer (no API).
	Enabled bool
	Imports []notifier.EvidenceImport
	// More is true when Imports is cut short.
	More bool
}

// evidenceImports reads the incident's recent evidence imports.
func (s *Server) evidenceImports(ctx context.Context, by notifier.Actor, inc notifier.Incident) (evidenceView, error) {
	if s.evidence == nil {
		return evidenceView{}, nil
	}
	list, err := s.evidence.List(ctx, by, inc.ID)
	if err != nil {
		return evidenceView{}, err
	}
	v := evidenceView{Enabled: true, Imports: list[:min(len(list), evidenceListed)], More: len(list) > evidenceListed}
	return v, nil
}

// importEvidence serves POST /admin/incidents/{id}/evidence: a multipart
// form of csrf and file, in that order. The file (an mbox, one message,
// or a tar / tar.gz of those or of a Maildir) streams message by message
// into the evidence import use case, as the API's POST
// /api/v1/incidents/{incident}/evidence does; the use case checks the
// role (operator) and records the import on the audit trail.
func (s *Server) importEvidence(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	r, mr, inc, cancel, ok := s.openUpload(w, r, sess, evidenceUploadDeadline)
	defer cancel()
	if !ok {
		return
	}
	ctx := r.Context()
	back := "/admin/incidents/" + strconv.FormatInt(inc.ID, 10)
	if s.evidence == nil {
		s.fail(w, r, sess, notifier.Errorf(notifier.CodeConflict, "this process does not import evidence"), back)
		return
	}
	file, err := mr.NextPart()
	if err != nil || file.FormName() != "file" || file.FileName() == "" {
		s.fail(w, r, sess, badField("file", "choose a mail archive to upload"), back)
		return
	}
	defer file.Close()
	name := path.Base(file.FileName())
	if len(name) > maxEvidenceName || strings.ContainsFunc(name, unicode.IsControl) {
		s.fail(w, r, sess, badField("file", "the file's name must be at most 255 characters without control characters"), back)
		return
	}
	if strings.EqualFold(path.Ext(name), ".zip") {
		s.fail(w, r, sess, notifier.Errorf(notifier.CodeUnsupported, "file: a zip archive cannot be read as a stream: upload its messages as a tar or tar.gz"), back)
		return
	}
	reader, err := evidence.NewReader(evidence.Config{})
	if err != nil {
		s.fail(w, r, sess, err, back)
		return
	}
	if _, err := s.evidence.Import(ctx, sess.Actor(), inc.ID, name, reader.ReadStream(ctx, name, file, -1)); err != nil {
		s.fail(w, r, sess, err, back)
		return
	}
	seeOther(w, r, back+"?done=evidence#evidence")
}
