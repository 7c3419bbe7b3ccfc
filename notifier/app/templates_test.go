package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/templates"
)

// templateBody is the JSON body of POST /api/v1/templates for a shipped
// template with edit applied.
func templateBody(t *testing.T, kind templates.Kind, locale string, edit func(*templates.Source)) map[string]any {
	t.Helper()
	src, err := templates.DefaultSource(kind, locale)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&src)
	}
	return map[string]any{"kind": kind, "locale": locale, "subject": src.Subject, "text": src.Text, "html": src.HTML}
}

type errorReply struct {
	Error struct {
		Code    string              `json:"code"`
		Message string              `json:"message"`
		Details []notifier.RowError `json:"details"`
	} `json:"error"`
}

// TestTemplateUploadRefusalActivateAndPreview drives the template routes
// as an admin would: refused uploads say which part and field, a good one
// is stored once, previewed with real data, activated and audited.
func TestTemplateUploadRefusalActivateAndPreview(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	slug := e.LoadSample(t, "tmpl")
	viewer, operator := newKey(t, e, "viewer", notifier.RoleViewer), newKey(t, e, "operator", notifier.RoleOperator)

	// A field templates.Data lacks is refused, naming the part and the field.
	st, b := call(t, e, "POST", "/api/v1/templates", e.Key, templateBody(t, templates.KindInitial, "de", func(s *templates.Source) {
		s.Text = strings.Replace(s.Text, "{{isolate .Organization.Name}}", "{{isolate .Organization.Nmae}}", 1)
	}))
	refusal := decode[errorReply](t, b)
	if st != 422 || refusal.Error.Code != "invalid" || len(refusal.Error.Details) != 1 ||
		refusal.Error.Details[0].Field != "text" || refusal.Error.Details[0].Message != "unknown field Nmae" {
		t.Fatalf("unknown field: %d %s, want 422 with details [{field: text, message: unknown field Nmae}]", st, b)
	}
	// So are a syntax error, a tracking pixel and missing parts.
	for name, c := range map[string]struct {
		body  map[string]any
		field string
	}{
		"syntax error": {templateBody(t, templates.KindInitial, "en", func(s *templates.Source) { s.Subject = "{{if .Notice.Reference}}open" }), "subject"},
		"tracking pixel": {templateBody(t, templates.KindInitial, "en", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "</body>", `<img src="https://track.example/o.gif"></body>`, 1)
		}), "html"},
		"no html":      {map[string]any{"kind": "initial", "locale": "en", "subject": "x", "text": "y"}, "html"},
		"unknown kind": {templateBody(t, templates.KindInitial, "en", nil), "kind"},
		"bad locale":   {templateBody(t, templates.KindInitial, "en", nil), "locale"},
	} {
		switch name {
		case "unknown kind":
			c.body["kind"] = "newsletter"
		case "bad locale":
			c.body["locale"] = "english"
		}
		st, b := call(t, e, "POST", "/api/v1/templates", e.Key, c.body)
		res := decode[errorReply](t, b)
		if st != 422 || len(res.Error.Details) == 0 || res.Error.Details[0].Field != c.field {
			t.Errorf("%s: %d %s, want 422 naming %s", name, st, b, c.field)
		}
	}
	// Only admins upload.
	good := templateBody(t, templates.KindInitial, "de", func(s *templates.Source) {
		s.Subject = "Wichtig: " + s.Subject
	})
	for _, key := range []string{viewer, operator} {
		if st, b := call(t, e, "POST", "/api/v1/templates", key, good); st != 403 {
			t.Errorf("upload by a non-admin: %d %s, want 403", st, b)
		}
	}
	if st, b := call(t, e, "GET", "/api/v1/templates", e.Key, nil); st != 200 || !bytes.Contains(b, []byte(`"items":[]`)) {
		t.Fatalf("nothing may have been stored by refused uploads: %d %s", st, b)
	}

	// Stored, not yet in use; the same content again is the same version.
	good["activate"] = false
	st, b = call(t, e, "POST", "/api/v1/templates", e.Key, good)
	v := decode[notifier.TemplateVersion](t, b)
	if st != 201 || v.ID == 0 || v.Current || v.Locale != "de" || v.Version != templates.VersionOf(sourceOf(good)) {
		t.Fatalf("upload: %d %s", st, b)
	}
	st, b = call(t, e, "POST", "/api/v1/templates", e.Key, good)
	if again := decode[notifier.TemplateVersion](t, b); st != 200 || again.ID != v.ID {
		t.Errorf("same content again: %d %s, want 200 and template %d", st, b, v.ID)
	}
	st, b = call(t, e, "GET", fmt.Sprintf("/api/v1/templates/%d", v.ID), viewer, nil)
	if shown := decode[notifier.TemplateVersion](t, b); st != 200 || shown.HTML != good["html"] || shown.Text != good["text"] {
		t.Errorf("show: %d %.200s", st, b)
	}
	st, b = call(t, e, "GET", "/api/v1/templates?kind=initial&locale=DE", viewer, nil)
	if list := decode[notifier.ListResult[notifier.TemplateVersion]](t, b); st != 200 || len(list.Items) != 1 || list.Items[0].ID != v.ID || list.Items[0].HTML != "" {
		t.Errorf("list: %d %s", st, b)
	}

	// Preview with the real data: Fabrikam's security contact, its items.
	path := fmt.Sprintf("/api/v1/templates/%d/preview", v.ID)
	st, b = call(t, e, "POST", path, viewer, map[string]string{"organization": "fabrikam", "incident": slug})
	p := decode[notifier.TemplatePreview](t, b)
	if st != 200 || p.To != "sicherheit@fabrikam.example" || p.SampleContact || p.SampleData || !strings.HasPrefix(p.Subject, "Wichtig: Sicherheitsvorfall: Daten von Fabrikam GmbH") ||
		!strings.Contains(p.Text, "MSG-200001") || !strings.Contains(p.Text, "Passwort: Ändern Sie das Passwort") ||
		!strings.Contains(p.Text, "Guten Tag \u2068Fabrikam CERT\u2069") || !strings.Contains(p.HTML, "http://notify.test/ack/") {
		t.Errorf("preview for fabrikam: %d %+v", st, p)
	}
	// Without organization and incident: the sample data.
	st, b = call(t, e, "POST", path, viewer, nil)
	if p := decode[notifier.TemplatePreview](t, b); st != 200 || !p.SampleData || !strings.Contains(p.Subject, "Contoso Ltd") {
		t.Errorf("sample preview: %d %s", st, b)
	}
	if st, b := call(t, e, "POST", path, viewer, map[string]string{"organization": "fabrikam"}); st != 422 || !bytes.Contains(b, []byte(`"field":"incident"`)) {
		t.Errorf("preview without an incident: %d %s, want 422", st, b)
	}
	if st, _ := call(t, e, "POST", path, viewer, map[string]string{"organization": "nobody", "incident": slug}); st != 404 {
		t.Errorf("preview for an unknown organization: %d, want 404", st)
	}

	// Activation: admins only, then it is current; doing it again is harmless.
	activate := fmt.Sprintf("/api/v1/templates/%d/activate", v.ID)
	if st, _ := call(t, e, "POST", activate, operator, nil); st != 403 {
		t.Errorf("activation by an operator: %d, want 403", st)
	}
	for range 2 {
		st, b = call(t, e, "POST", activate, e.Key, nil)
		if a := decode[notifier.TemplateVersion](t, b); st != 200 || !a.Current || a.ActivatedAt == nil {
			t.Fatalf("activate: %d %s", st, b)
		}
	}
	if st, _ := call(t, e, "POST", "/api/v1/templates/999999/activate", e.Key, nil); st != 404 {
		t.Errorf("activating an unknown template: %d, want 404", st)
	}
	// A second upload for de/initial takes over and the first is no longer current.
	st, b = call(t, e, "POST", "/api/v1/templates", e.Key, templateBody(t, templates.KindInitial, "de", nil))
	second := decode[notifier.TemplateVersion](t, b)
	if st != 201 || !second.Current {
		t.Fatalf("second upload: %d %s", st, b)
	}
	st, b = call(t, e, "GET", "/api/v1/templates?current=true", viewer, nil)
	if list := decode[notifier.ListResult[notifier.TemplateVersion]](t, b); st != 200 || len(list.Items) != 1 || list.Items[0].ID != second.ID {
		t.Errorf("current versions: %d %s, want only template %d", st, b, second.ID)
	}

	// Every change is on the audit trail, with the previous version.
	st, b = call(t, e, "GET", "/api/v1/audit?target_type=template", viewer, nil)
	var actions []string
	for _, en := range decode[notifier.ListResult[notifier.AuditEntry]](t, b).Items {
		actions = append(actions, en.Action+" "+en.TargetID)
	}
	want := fmt.Sprintf("template.upload %d, template.activate %d, template.upload %d", second.ID, v.ID, v.ID)
	if st != 200 || strings.Join(actions, ", ") != want {
		t.Errorf("audit = %v, want %s", actions, want)
	}
	// Versions are immutable, even to the database's own users.
	if _, err := e.App.Pool.Exec(context.Background(), `UPDATE template_versions SET subject = 'x' WHERE id = $1`, v.ID); err == nil {
		t.Error("a stored template version was changed")
	}
}

// sourceOf is the template source in an upload body.
func sourceOf(body map[string]any) templates.Source {
	return templates.Source{Subject: body["subject"].(string), Text: body["text"].(string), HTML: body["html"].(string)}
}

// TestWaveAfterActivationUsesNewVersion activates an English initial
// template and launches a wave: English contacts get the new text and
// their deliveries record its version; German contacts keep theirs.
func TestWaveAfterActivationUsesNewVersion(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	slug := e.LoadSample(t, "activated")
	ctx := context.Background()
	const marker = "Our reference desk is open around the clock."
	st, b := call(t, e, "POST", "/api/v1/templates", e.Key, templateBody(t, templates.KindInitial, "en", func(s *templates.Source) {
		// Both variants (full and minimal disclosure) get the marker.
		s.Text = strings.ReplaceAll(s.Text, "Is this message genuine?", marker+"\n\nIs this message genuine?")
	}))
	v := decode[notifier.TemplateVersion](t, b)
	if st != 201 || !v.Current {
		t.Fatalf("upload: %d %s", st, b)
	}
	w := e.LaunchInitial(t, slug)
	ds, err := e.App.Store.WaveDeliveries(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	byRcpt := map[string]notifier.Delivery{}
	for _, d := range ds {
		byRcpt[d.Recipient] = d
	}
	de, _ := templates.DefaultSource(templates.KindInitial, "de")
	for rcpt, want := range map[string]struct {
		version string
		marker  bool
	}{
		"soc@contoso.example":         {v.Version, true},
		"security@northwind.example":  {v.Version, true},
		"sicherheit@fabrikam.example": {templates.VersionOf(de), false},
	} {
		msgs := messagesTo(t, e, rcpt)
		if len(msgs) != 1 {
			t.Fatalf("%s received %d messages", rcpt, len(msgs))
		}
		if got := strings.Contains(msgs[0].Text, marker); got != want.marker {
			t.Errorf("%s: new text in the message = %v, want %v", rcpt, got, want.marker)
		}
		if d := byRcpt[rcpt]; d.TemplateVersion != want.version || d.Status != notifier.DeliverySent {
			t.Errorf("%s: delivery %+v, want sent with template version %s", rcpt, d, want.version)
		}
	}
}

// TestCurrentTemplatesReachOtherProcesses checks that a process started
// after an activation uses the new version, and that a running one picks
// it up at its next refresh (the maintenance job's step).
func TestCurrentTemplatesReachOtherProcesses(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	slug := e.LoadSample(t, "procs")
	ctx := context.Background()
	other := startSecondProcess(t, e)

	st, b := call(t, e, "POST", "/api/v1/templates", e.Key, templateBody(t, templates.KindInitial, "en", func(s *templates.Source) {
		s.Subject = "Important: " + s.Subject
	}))
	v := decode[notifier.TemplateVersion](t, b)
	if st != 201 {
		t.Fatalf("upload: %d %s", st, b)
	}
	sample := func(a *app.App) string {
		t.Helper()
		plan, err := a.Service.PlanWave(ctx, notifier.LocalActor("test"), slug, templates.KindInitial)
		if err != nil || plan.Sample == nil {
			t.Fatalf("plan: %v %+v", err, plan)
		}
		return plan.Sample.TemplateVersion
	}
	if got := sample(e.App); got != v.Version {
		t.Errorf("the process that activated renders with %s, want %s", got, v.Version)
	}
	if got := sample(other); got == v.Version {
		t.Fatal("the other process changed templates before any refresh")
	}
	if err := other.Service.RefreshTemplates(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sample(other); got != v.Version {
		t.Errorf("after a refresh the other process renders with %s, want %s", got, v.Version)
	}
	if got := sample(startSecondProcess(t, e)); got != v.Version {
		t.Errorf("a process started after the activation renders with %s, want %s", got, v.Version)
	}
}

// startSecondProcess builds another service on e's database, as a second
// `breachnotify serve` would be (without listening or working jobs).
func startSecondProcess(t *testing.T, e *apptest.Env) *app.App {
	t.Helper()
	cfg := *e.App.Config
	a, err := app.New(context.Background(), &cfg, app.Options{NoWorkers: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	})
	return a
}

// TestTemplateRoutesAreJSON checks the error shape of a malformed upload.
func TestTemplateRoutesAreJSON(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	st, b := call(t, e, "POST", "/api/v1/templates", e.Key, map[string]any{"kind": "initial", "unknown": 1})
	var res errorReply
	if err := json.Unmarshal(b, &res); err != nil || st != 400 || res.Error.Code != "bad_request" {
		t.Errorf("unknown field in the body: %d %s", st, b)
	}
}
