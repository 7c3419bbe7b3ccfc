package portal

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/review"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// The review of stolen mail (issue 13): the mail list, a message's page
// with its HTML in a sandboxed frame, reveals, downloads behind a
// warning, and the organization's own record of who did what. Every
// route is signedIn and every message is looked up with the session's
// organization (notifier.Service.PortalEvidence), which audits the use
// before a byte of the message is read.

// registerMail mounts the mail review; without an evidence key (no
// review) its pages are the portal's 404.
func (s *Server) registerMail(page, download func(pattern string, h http.HandlerFunc)) {
	page("GET /portal/messages", s.signedIn(s.withMail(s.messages)))
	page("GET /portal/messages/{ref}", s.signedIn(s.withMail(s.withFactor(s.message))))
	page("POST /portal/messages/{ref}/reveal", s.signedIn(s.withMail(s.withFactor(s.revealSecret))))
	page("GET /portal/messages/{ref}/html", s.signedIn(s.withMail(s.withFactor(s.messageHTML))))
	page("GET /portal/messages/{ref}/attachments/{n}", s.signedIn(s.withMail(s.withFactor(s.attachmentWarning))))
	download("POST /portal/messages/{ref}/attachments/{n}", s.signedIn(s.withMail(s.withFactor(s.attachmentDownload))))
	page("GET /portal/messages/{ref}/original", s.signedIn(s.withMail(s.withFactor(s.originalWarning))))
	download("POST /portal/messages/{ref}/original", s.signedIn(s.withMail(s.withFactor(s.originalDownload))))
	page("GET /portal/activity", s.signedIn(s.withMail(s.activity)))
}

// messagePageCSP is pageCSP with one frame allowed: the message's own
// HTML, from us (the frame's own response allows only us as its parent).
const messagePageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// frameStyle is the frame's only style; the frame's CSP allows it by
// hash and nothing else.
const frameStyle = `body{font-family:system-ui,sans-serif;line-height:1.4;color:#1a1a1a;margin:0.5rem;overflow-wrap:anywhere}table{border-collapse:collapse}td,th{vertical-align:top}`

// frameCSP loads nothing at all (no image, font, style sheet or
// connection), runs nothing (sandbox without allow-scripts, and no
// script-src), may be framed by our pages only, and submits nowhere.
var frameCSP = func() string {
	h := sha256.Sum256([]byte(frameStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) +
		"'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
}()

// frameTemplate is the frame's document around the sanitised HTML.
var frameTemplate = template.Must(template.New("frame").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><style>` + frameStyle + `</style></head>
<body>{{.}}</body></html>`))

func messageRef(r *http.Request) (notifier.MessageRef, bool) {
	return notifier.ParseMessageRef(r.PathValue("ref"))
}

// messagesPage is the mail list's data.
type messagesPage struct {
	notifier.PortalMessagesPage
	Subject, Participant, From, To string
	HasSecrets, Filtered           bool
	NextURL                        web.Verbatim
}

// mailFilter reads the list's search from the query.
func mailFilter(q url.Values) (notifier.PortalMessageFilter, messagesPage, bool) {
	p := messagesPage{Subject: q.Get("subject"), Participant: q.Get("participant"), From: q.Get("from"), To: q.Get("to"),
		HasSecrets: q.Get("secrets") == "1"}
	f := notifier.PortalMessageFilter{Subject: p.Subject, Participant: p.Participant, HasSecrets: p.HasSecrets}
	day := func(v string) (time.Time, bool) {
		if v == "" {
			return time.Time{}, true
		}
		t, err := time.Parse(time.DateOnly, v)
		return t, err == nil
	}
	var ok1, ok2 bool
	f.From, ok1 = day(p.From)
	f.To, ok2 = day(p.To)
	p.Filtered = p.Subject != "" || p.Participant != "" || p.From != "" || p.To != "" || p.HasSecrets
	return f, p, ok1 && ok2
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	q := r.URL.Query()
	f, p, ok := mailFilter(q)
	if !ok || s.review == nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	list, err := s.svc.PortalMessages(r.Context(), sess, f, q.Get("after"))
	if notifier.ErrorCode(err) == notifier.CodeInvalid {
		err = errNotFound
	}
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	p.PortalMessagesPage = list
	if list.Next != "" {
		next := url.Values{}
		for _, k := range []string{"subject", "participant", "from", "to", "secrets"} {
			if v := q.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		next.Set("after", list.Next)
		p.NextURL = web.Verbatim("/portal/messages?" + next.Encode())
	}
	s.render(w, r, http.StatusOK, "messages", s.portalData(sess, "messages", pageData{Title: "nav.messages", Page: p}))
}

// messageView is a message page's data.
type messageView struct {
	review.MessageView
	Ref web.Verbatim
}

func (s *Server) message(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	s.showMessage(w, r, sess, -1)
}

// revealSecret serves the reveal form (its token checked by signedIn):
// the page again, with that one secret in clear. It is the POST's own
// answer, not a redirect, so the secret is never in a URL.
func (s *Server) revealSecret(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	seq, err := strconv.Atoi(r.PostForm.Get("finding"))
	if err != nil || seq < 0 {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	s.showMessage(w, r, sess, seq)
}

func (s *Server) showMessage(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession, reveal int) {
	ref, ok := messageRef(r)
	if !ok || s.review == nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	v, err := s.review.Message(r.Context(), sess, ref, reveal)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	d := s.portalData(sess, "messages", pageData{Title: "title.message", Page: messageView{MessageView: v, Ref: web.Verbatim(ref.String())}})
	s.renderCSP(w, r, http.StatusOK, messagePageCSP, "message", d)
}

// messageHTML serves a message's HTML part, sanitised, for its page's
// sandboxed frame.
func (s *Server) messageHTML(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	ref, ok := messageRef(r)
	if !ok || s.review == nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	body, err := s.review.HTML(r.Context(), sess, ref)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	web.SecureHeaders(w, frameCSP)
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The sanitiser's output is the frame's markup: trusted as HTML
	// here, and only here, under the frame's CSP and sandbox.
	if err := frameTemplate.Execute(w, template.HTML(body)); err != nil { //nolint:gosec // sanitised above
		s.logger.WarnContext(r.Context(), "message frame not fully written", "error", err)
	}
}

// downloadPage is the warning before a download.
type downloadPage struct {
	Ref        web.Verbatim
	Action     web.Verbatim
	Subject    string
	Name       string
	Type       string
	Size       int64
	IsOriginal bool
	// SubjectHasSecret hides the subject (see notifier.PortalMessage).
	SubjectHasSecret bool
	// NotKept says the import did not keep the message's bytes (too
	// large): there is nothing to download.
	NotKept bool
}

func attachmentIndex(r *http.Request) (int, bool) {
	n, err := strconv.Atoi(r.PathValue("n"))
	return n, err == nil && n >= 0 && n < 100000
}

func (s *Server) attachmentWarning(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	ref, ok := messageRef(r)
	n, ok2 := attachmentIndex(r)
	if !ok || !ok2 || s.review == nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	d, err := s.review.Detail(r.Context(), sess, ref, "attachment warning")
	if err == nil && n >= len(d.Files) {
		err = errNotFound
	}
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	f := d.Files[n]
	p := downloadPage{Ref: web.Verbatim(ref.String()), Action: web.Verbatim(fmt.Sprintf("/portal/messages/%s/attachments/%d", ref, n)),
		Subject: d.Subject, SubjectHasSecret: d.SubjectHasSecret, Name: f.Name, Type: f.ContentType, Size: int64(f.Size)}
	s.render(w, r, http.StatusOK, "download", s.portalData(sess, "messages", pageData{Title: "title.download_file", Page: p}))
}

func (s *Server) originalWarning(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	ref, ok := messageRef(r)
	if !ok || s.review == nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	d, err := s.review.Detail(r.Context(), sess, ref, "original warning")
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	p := downloadPage{Ref: web.Verbatim(ref.String()), Action: web.Verbatim("/portal/messages/" + ref.String() + "/original"),
		Subject: d.Subject, SubjectHasSecret: d.SubjectHasSecret, Name: "message.eml", Type: "message/rfc822", Size: d.Size, IsOriginal: true,
		NotKept: strings.HasPrefix(d.Unparseable, review.TooLargePrefix)}
	s.render(w, r, http.StatusOK, "download", s.portalData(sess, "messages", pageData{Title: "title.download_message", Page: p}))
}

// takeDownloadSlots takes the session's and the address's download
// slots (the CSV download's caps), or answers 429.
func (s *Server) takeDownloadSlots(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) (func(), bool) {
	release, ok := s.downloadsBySession.Take(string(sess.IDHash))
	if !ok {
		s.tooManyDownloads(w, r, sess, "downloads.per_session", downloadsPerSession)
		return nil, false
	}
	releaseAddr, ok := s.downloadsByAddress.Take(web.RateKey(s.clientAddr.Of(r)))
	if !ok {
		release()
		s.tooManyDownloads(w, r, sess, "downloads.per_address", downloadsPerAddress)
		return nil, false
	}
	return func() { releaseAddr(); release() }, true
}

// downloadHeaders make a file of stolen mail a download the browser
// neither shows nor sniffs nor runs: octet-stream, attachment, nosniff,
// and a sandbox CSP should it be opened in a tab anyway.
func downloadHeaders(w http.ResponseWriter, name string, size int64) {
	web.SecureHeaders(w, "default-src 'none'; sandbox")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeFilename(name)+`"`)
	if size >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
}

// safeFilename makes a stolen file name a harmless download name: ASCII
// letters, digits, dot, dash and underscore only, no leading dot, at most
// 100 characters, and ".bin" added to anything that would run or render
// (the extension is the attacker's; the file is opened by a person).
func safeFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_'):
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	out := strings.TrimLeft(b.String(), "._")
	if len(out) > 100 {
		out = out[len(out)-100:]
	}
	if out == "" {
		out = "file"
	}
	return out + ".download"
}

func (s *Server) attachmentDownload(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	ref, ok := messageRef(r)
	n, ok2 := attachmentIndex(r)
	if !ok || !ok2 || s.review == nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	release, ok := s.takeDownloadSlots(w, r, sess)
	if !ok {
		return
	}
	defer release()
	f, content, err := s.review.Attachment(r.Context(), sess, ref, n)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	downloadHeaders(w, f.Name, int64(len(content)))
	if _, err := w.Write(content); err != nil {
		s.logger.WarnContext(r.Context(), "attachment download not fully written", "error", err)
	}
}

func (s *Server) originalDownload(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	ref, ok := messageRef(r)
	if !ok || s.review == nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	release, ok := s.takeDownloadSlots(w, r, sess)
	if !ok {
		return
	}
	defer release()
	_, body, err := s.review.Original(r.Context(), sess, ref)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	// No Content-Length: the stored bytes are what is sent (a message the
	// import found too large to keep has none, whatever its size was).
	downloadHeaders(w, "message-"+ref.String()[:min(len(ref.String()), 30)]+".eml", -1)
	if _, err := io.Copy(w, body); err != nil {
		// Half a message must not pass for a whole one: cut the connection.
		s.logger.WarnContext(r.Context(), "message download interrupted", "error", err)
		panic(http.ErrAbortHandler)
	}
}

// activityPage is the organization's record of its members' reviews.
type activityPage struct {
	notifier.ListResult[notifier.EvidenceAccess]
	NextURL web.Verbatim
}

func (s *Server) activity(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	after, err := notifier.DecodeCursor(r.URL.Query().Get("after"))
	if err != nil || s.review == nil {
		s.portalFail(w, r, sess, errNotFound)
		return
	}
	list, err := s.svc.PortalActivity(r.Context(), sess, notifier.Page{After: after})
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	p := activityPage{ListResult: list}
	if list.NextCursor != "" {
		p.NextURL = web.Verbatim("/portal/activity?after=" + url.QueryEscape(list.NextCursor))
	}
	s.render(w, r, http.StatusOK, "activity", s.portalData(sess, "activity", pageData{Title: "nav.activity", Page: p}))
}
