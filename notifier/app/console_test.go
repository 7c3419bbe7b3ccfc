package app_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/templates"
)

// upload posts an import file as the console's form does: csrf, what,
// then the file.
func (b *staffBrowser) upload(path, token, what, name, body string) reply {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("csrf", token)
	_ = mw.WriteField("what", what)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write([]byte(body))
	_ = mw.Close()
	req, err := http.NewRequest("POST", b.base+path, &buf)
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

var idempotencyField = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)

// TestConsoleRolesAndForms checks the console's actions as the API's
// roles have them, each needing the session's form token: a viewer sees
// the wave and cannot launch it, an operator cannot change the policy, a
// form without the token does nothing, and a launch form sent twice
// launches once.
func TestConsoleRolesAndForms(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	e.LoadSample(t, "roles")
	plan, err := e.Client.PlanWave(ctx, "roles", templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	wavePath := "/admin/waves/" + strconv.FormatInt(plan.ID, 10)
	newOrg := "org_ref,org_name,domain,contact_email\nfabrikam2,Fabrikam Two,fabrikam2.example,soc@fabrikam2.example\n"
	noNewOrg := func(what string) {
		t.Helper()
		if _, err := e.App.Service.Organization(ctx, notifier.LocalActor("test"), "fabrikam2"); notifier.ErrorCode(err) != notifier.CodeNotFound {
			t.Errorf("%s: the organization was imported (%v)", what, err)
		}
	}

	viewer := newStaffBrowser(t, e)
	viewer.mustSignIn(newKey(t, e, "vera viewer", notifier.RoleViewer))
	expectPage(t, "viewer's incident page", viewer.get("/admin/incidents/roles"), 200, `href="`+wavePath+`"`, "need an operator or admin key")
	page := viewer.get(wavePath)
	expectPage(t, "viewer's wave page", page, 200, "need an operator or admin key")
	if strings.Contains(page.body, `action="`+wavePath+`/launch"`) {
		t.Error("the viewer's wave page offers the launch form")
	}
	frame := viewer.get(wavePath + "/message?org=contoso&locale=de")
	expectPage(t, "the message's HTML", frame, 200, "MSG-100001")
	if csp := frame.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "sandbox") {
		t.Errorf("the message's HTML is served with CSP %q", csp)
	}
	token := csrf(t, page.body)
	expectPage(t, "viewer launches", viewer.post(wavePath+"/launch", url.Values{"csrf": {token}, "idempotency_key": {"v1"}}), 403, "does not allow")
	expectPage(t, "viewer creates an incident", viewer.post("/admin/incidents", url.Values{"csrf": {token}, "slug": {"v"}, "title": {"V"}}), 403)
	expectPage(t, "viewer imports", viewer.upload("/admin/incidents/roles/import?confirm=1", token, "organizations", "o.csv", newOrg), 403)
	noNewOrg("viewer's import")
	if st := waveStatus(t, e, plan.ID); st != notifier.WavePlanned {
		t.Fatalf("after the viewer's launch the wave is %s", st)
	}

	operator := newStaffBrowser(t, e)
	operator.mustSignIn(newKey(t, e, "olga operator", notifier.RoleOperator))
	page = operator.get(wavePath)
	token = csrf(t, page.body)
	expectPage(t, "launch without a form token", operator.post(wavePath+"/launch", url.Values{"idempotency_key": {"x"}}), 403, "Nothing was done")
	expectPage(t, "launch with the viewer's token", operator.post(wavePath+"/launch", url.Values{"csrf": {csrf(t, viewer.get(wavePath).body)}}), 403, "Nothing was done")
	expectPage(t, "import without the token", operator.upload("/admin/incidents/roles/import?confirm=1", "forged", "organizations", "o.csv", newOrg), 403, "Nothing was done")
	noNewOrg("import without the token")
	expectPage(t, "operator edits the policy", operator.post("/admin/incidents/roles/policy", url.Values{"csrf": {token}, "disclosure": {"minimal"}}), 403, "does not allow")

	// The operator previews the file: nothing is written; then imports it.
	expectPage(t, "preview", operator.upload("/admin/incidents/roles/import", token, "organizations", "o.csv", newOrg), 200, "1 valid rows")
	noNewOrg("preview")
	expectPage(t, "import", operator.upload("/admin/incidents/roles/import?confirm=1", token, "organizations", "o.csv", newOrg), 200, "Imported: organizations 1 created")

	// One launch form sent twice launches once, as the same reply.
	m := idempotencyField.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no idempotency key on the wave page:\n%s", page.body)
	}
	launch := url.Values{"csrf": {token}, "idempotency_key": {m[1]}}
	expectRedirect(t, "launch", operator.post(wavePath+"/launch", launch), wavePath+"?done=launched")
	expectRedirect(t, "launch again", operator.post(wavePath+"/launch", launch), wavePath+"?done=launched")
	expectPage(t, "cancel unconfirmed", operator.post(wavePath+"/cancel", url.Values{"csrf": {token}}), 422, "cannot be resumed")
	expectRedirect(t, "cancel", operator.post(wavePath+"/cancel", url.Values{"csrf": {token}, "confirm": {"1"}}), wavePath+"?done=cancelled")
	if st := waveStatus(t, e, plan.ID); st != notifier.WaveCancelled {
		t.Errorf("after cancel the wave is %s", st)
	}

	// A refused incident comes back with the form as typed and the field
	// named; a taken slug is refused too.
	expectPage(t, "bad slug", operator.post("/admin/incidents", url.Values{"csrf": {token}, "title": {"Second breach"}, "slug": {"Not A Slug"}}), 422,
		"The incident was not created", "slug", `value="Second breach"`)
	expectPage(t, "slug taken", operator.post("/admin/incidents", url.Values{"csrf": {token}, "title": {"Again"}, "slug": {"roles"}}), 422, "The incident was not created")
	if !auditedAs(t, e, "wave.launch", "olga operator") {
		t.Error("the launch is not audited as the operator's key")
	}
	list, err := e.App.Service.AuditEntries(ctx, notifier.LocalActor("test"), notifier.AuditFilter{Action: "wave.launch"}, notifier.Page{Limit: 10})
	if err != nil || len(list.Items) != 1 {
		t.Errorf("launches audited: %d (%v), want 1", len(list.Items), err)
	}
}

// TestImportPreviewWritesNothing checks the dry run behind the console's
// Preview button: an exposure file's first rows as parsed and every
// problem by line and field, and no batch written; and a message preview
// in a language without a template says which languages there are.
func TestImportPreviewWritesNothing(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx, by := context.Background(), notifier.LocalActor("test")
	e.LoadSample(t, "dry")
	file := "org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n" +
		"contoso,N-1,email,2023-11-02T09:14:00Z,One,,\n" +
		"contoso,N-2,postcard,2023-11-02T09:14:00Z,Two,,\n" +
		"contoso,N-3,email,not-a-time,Three,,\n"
	p, err := e.App.Service.PreviewExposureImport(ctx, by, "dry", strings.NewReader(file), notifier.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if p.OK() || len(p.Problems) != 2 || p.Problems[0].Line != 3 || p.Problems[0].Field != "kind" || p.Problems[1].Line != 4 || p.Problems[1].Field != "occurred_at" {
		t.Errorf("problems %+v", p.Problems)
	}
	good := "org_ref,item_ref,kind\ncontoso,N-1,email\n"
	p, err = e.App.Service.PreviewExposureImport(ctx, by, "dry", strings.NewReader(good), notifier.FormatCSV)
	if err != nil || !p.OK() || p.Valid != 1 || len(p.Rows) != 1 || p.Rows[0][2] != "N-1" {
		t.Errorf("preview %+v, %v", p, err)
	}
	batches, err := e.App.Service.Batches(ctx, by, "dry", notifier.Page{Limit: 10})
	if err != nil || len(batches.Items) != 1 {
		t.Errorf("batches after the previews: %d (%v), want the sample's 1", len(batches.Items), err)
	}
	viewer := notifier.Actor{KeyID: 1, Name: "v", Role: notifier.RoleViewer}
	if _, err := e.App.Service.PreviewOrganizationImport(ctx, viewer, strings.NewReader(good), notifier.FormatCSV); notifier.ErrorCode(err) != notifier.CodeForbidden {
		t.Errorf("a viewer's preview: %v", err)
	}
	_, err = e.App.Service.PreviewMessage(ctx, by, notifier.MessagePreview{Incident: "dry", Organization: "contoso", Kind: templates.KindInitial, Locale: "tlh"})
	if rows, _ := notifier.ErrorDetails(err).([]notifier.RowError); len(rows) != 1 || rows[0].Field != "locale" || !strings.Contains(rows[0].Message, "de, en, fr, ja") {
		t.Errorf("preview in an unknown language: %v %v", err, notifier.ErrorDetails(err))
	}
}
