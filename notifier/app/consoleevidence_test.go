package app_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// uploadEvidence posts the incident page's stolen-mail form as a browser
// does: the form token first, then the file.
func (b *staffBrowser) uploadEvidence(incidentID int64, token, name, content string) reply {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", token)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		b.t.Fatal(err)
	}
	_, _ = fw.Write([]byte(content))
	_ = mw.Close()
	req, err := http.NewRequest("POST", fmt.Sprintf("%s/admin/incidents/%d/evidence", b.base, incidentID), &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return reply{resp.StatusCode, out.String(), resp.Header}
}

// TestConsoleEvidenceUpload uploads an mbox of stolen mail from the
// incident page: a viewer is refused and nothing is recorded; an
// operator's upload is imported, audited as the operator's key, and
// listed with its counts on the page.
func TestConsoleEvidenceUpload(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	ctx := context.Background()
	slug := e.LoadSample(t, "console-evidence")
	inc, err := e.Client.Incident(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	incPage := fmt.Sprintf("/admin/incidents/%d", inc.ID)
	var mbox strings.Builder
	for _, m := range []string{
		stolen("cfo@contoso.example", "bank@elsewhere.example", "Wire transfer approval"),
		stolen("someone@elsewhere.example", "other@elsewhere.example", "Lunch"),
	} {
		mbox.WriteString("From MAILER-DAEMON Tue Nov  3 10:00:00 2026\n" + m + "\n")
	}

	viewer := newStaffBrowser(t, e)
	viewer.mustSignIn(newKey(t, e, "vera viewer", notifier.RoleViewer))
	page := viewer.get(incPage)
	expectPage(t, "viewer's incident page", page, 200, `<h2 id="evidence-h">Stolen mail</h2>`, "No mail archive imported yet.")
	if strings.Contains(page.body, `action="`+incPage+`/evidence"`) {
		t.Error("a viewer is offered the evidence upload")
	}
	expectPage(t, "viewer uploads", viewer.uploadEvidence(inc.ID, csrf(t, page.body), "export.mbox", mbox.String()), 403, "role")

	operator := newStaffBrowser(t, e)
	operator.mustSignIn(newKey(t, e, "olga operator", notifier.RoleOperator))
	page = operator.get(incPage)
	expectPage(t, "operator's incident page", page, 200, `action="`+incPage+`/evidence"`, "data-upload")
	expectPage(t, "upload without a form token", operator.uploadEvidence(inc.ID, "", "export.mbox", mbox.String()), 403, "Nothing was done")
	if list, err := e.Client.EvidenceImports(ctx, slug); err != nil || len(list) != 0 {
		t.Fatalf("after refused uploads: %+v %v", list, err)
	}

	done := incPage + "?done=evidence#evidence"
	expectRedirect(t, "operator uploads", operator.uploadEvidence(inc.ID, csrf(t, page.body), "export.mbox", mbox.String()), done)
	list, err := e.Client.EvidenceImports(ctx, slug)
	if err != nil || len(list) != 1 || list[0].Status != notifier.EvidenceImportDone || list[0].Messages != 2 || list[0].Stored != 2 || list[0].Name != "export.mbox" {
		t.Fatalf("imports after the upload: %+v %v", list, err)
	}
	if !auditedAs(t, e, "evidence.import", "olga operator") {
		t.Error("the import is not on the audit trail as the operator's key")
	}
	expectPage(t, "after the upload", operator.get(incPage+"?done=evidence"), 200, "The mail archive is imported",
		fmt.Sprintf(`<tr data-import="%d"><td data-label="Import">#%d</td><td data-label="File">export[.]mbox</td><td data-label="Status">done</td>`, list[0].ID, list[0].ID),
		`<td class="num" data-label="Messages">2</td><td class="num" data-label="Stored">2</td><td class="num" data-label="Known">0</td><td class="num" data-label="Unparseable">0</td><td class="num" data-label="Unattributed">1</td>`)
}
