package admin

import (
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// importPage is an import's preview (nothing written) or result, with the
// upload form again.
type importPage struct {
	Incident notifier.Incident
	// What is "organizations" or "exposures".
	What     string
	FileName string
	Preview  *notifier.ImportPreview
	// Orgs and Exposures are the import's result, once made.
	Orgs      *notifier.OrgImportResult
	Exposures *notifier.ExposureImportResult
	// Problems are the rows the import refused (nothing was written).
	Problems []notifier.RowError
	Message  string
}

// uploadDeadline bounds reading and answering one upload: the API's
// import deadline (httpapi.ImportDeadline), long enough for a file at
// the import's size limit over a slow link.
const uploadDeadline = 30 * time.Minute

// openUpload opens a console upload: the connection and the request get
// deadline from now (a signed-in staff member gets the time a large file
// needs, as an API key does; everyone else keeps the server's short
// timeouts), the form token (the first part) is checked before anything
// of the file is read, and the path's incident is read as the session's
// key. When any of that fails it answers the request itself and ok is
// false. The caller calls cancel either way; r carries the deadline.
func (s *Server) openUpload(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession, deadline time.Duration) (
	_ *http.Request, mr *multipart.Reader, inc notifier.Incident, cancel context.CancelFunc, ok bool) {
	at := time.Now().Add(deadline)
	web.SetConnDeadline(w, at)
	ctx, cancel := context.WithDeadline(r.Context(), at)
	r = r.WithContext(ctx)
	mr, err := r.MultipartReader()
	if err != nil {
		s.refuseForm(w, r, sess)
		return r, nil, inc, cancel, false
	}
	if token, err := formField(mr, "csrf"); err != nil || !s.forms.Valid(formSession, token, sess.IDHash, time.Now()) {
		s.refuseForm(w, r, sess)
		return r, nil, inc, cancel, false
	}
	if inc, err = s.svc.Incident(ctx, sess.Actor(), r.PathValue("id")); err != nil {
		s.fail(w, r, sess, err, "/admin/incidents")
		return r, nil, inc, cancel, false
	}
	return r, mr, inc, cancel, true
}

// maxFormPart bounds the small fields before the file.
const maxFormPart = 512

// importFile serves POST /admin/incidents/{id}/import: a multipart form
// of csrf, what and file, in that order (the form's order, which the
// browser keeps). The file streams to the service's import use case, or
// its dry run without ?confirm=1, with the service's limits.
func (s *Server) importFile(w http.ResponseWriter, r *http.Request, sess notifier.StaffSession) {
	r, mr, inc, cancel, ok := s.openUpload(w, r, sess, uploadDeadline)
	defer cancel()
	if !ok {
		return
	}
	ctx, by := r.Context(), sess.Actor()
	back := "/admin/incidents/" + strconv.FormatInt(inc.ID, 10)
	what, err := formField(mr, "what")
	if err != nil || (what != "organizations" && what != "exposures") {
		s.fail(w, r, sess, badField("what", `choose what the file holds: "organizations" or "exposures"`), back)
		return
	}
	file, err := mr.NextPart()
	if err != nil || file.FormName() != "file" || file.FileName() == "" {
		s.fail(w, r, sess, badField("file", "choose a file to upload"), back)
		return
	}
	defer file.Close()
	format, ok := formatOf(file.FileName())
	if !ok {
		s.fail(w, r, sess, badField("file", "the file's name must end in .csv, .ndjson or .jsonl, as its format"), back)
		return
	}
	p := importPage{Incident: inc, What: what, FileName: path.Base(file.FileName())}
	confirm := r.URL.Query().Get("confirm") == "1"
	switch {
	case !confirm && what == "organizations":
		pv, perr := s.svc.PreviewOrganizationImport(ctx, by, file, format)
		p.Preview, err = &pv, perr
	case !confirm:
		pv, perr := s.svc.PreviewExposureImport(ctx, by, inc.Slug, file, format)
		p.Preview, err = &pv, perr
	case what == "organizations":
		res, ierr := s.svc.ImportOrganizations(ctx, by, file, format)
		p.Orgs, err = &res, ierr
	default:
		res, ierr := s.svc.ImportExposures(ctx, by, inc.Slug, file, format)
		p.Exposures, err = &res, ierr
	}
	status := http.StatusOK
	if err != nil {
		rows, _ := notifier.ErrorDetails(err).([]notifier.RowError)
		if notifier.ErrorCode(err) != notifier.CodeInvalid || !confirm {
			s.fail(w, r, sess, withDetails(err), back)
			return
		}
		p.Orgs, p.Exposures, p.Problems, p.Message = nil, nil, rows, notifier.ErrorMessage(err)
		status = http.StatusUnprocessableEntity
	} else if p.Preview != nil && !p.Preview.OK() {
		status = http.StatusUnprocessableEntity
	}
	s.render(w, r, status, "import", s.data(sess, "incidents", pageData{Title: "Import into " + inc.Title, Page: p}))
}

// formField reads the next part, which must be the named small field.
func formField(mr *multipart.Reader, name string) (string, error) {
	part, err := mr.NextPart()
	if err != nil {
		return "", err
	}
	defer part.Close()
	if part.FormName() != name {
		return "", badField(name, "is missing")
	}
	b, err := io.ReadAll(io.LimitReader(part, maxFormPart))
	return string(b), err
}

// formatOf is a file's import format, by its name's extension.
func formatOf(name string) (notifier.Format, bool) {
	switch strings.ToLower(path.Ext(name)) {
	case ".csv":
		return notifier.FormatCSV, true
	case ".ndjson", ".jsonl":
		return notifier.FormatNDJSON, true
	}
	return "", false
}

func badField(field, msg string) error {
	return &notifier.Error{Code: notifier.CodeInvalid, Message: field + ": " + msg}
}
