package main

import (
	"strconv"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/templates"
)

// TestCLITemplates runs the template verbs: a refused upload says which
// part and field, a good one is stored, listed, shown part by part,
// previewed with an organization's data and activated.
func TestCLITemplates(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t, apptest.Options{NoWorkers: true})
	c := cli{t, srv.App.URL(), srv.Key, nil}
	srv.LoadSample(t, "cli-tmpl")
	dir := t.TempDir()
	src, err := templates.DefaultSource(templates.KindReminder, "fr")
	if err != nil {
		t.Fatal(err)
	}
	subject := writeFile(t, dir, "subject.tmpl", []byte("Rappel important : "+src.Subject))
	text := writeFile(t, dir, "text.tmpl", []byte(src.Text))
	html := writeFile(t, dir, "html.tmpl", []byte(src.HTML))
	bad := writeFile(t, dir, "bad.tmpl", []byte("Bonjour {{.Contact.Prenom}}"))
	args := func(subjectFile string) []string {
		return []string{"template", "upload", "--kind", "reminder", "--locale", "fr", "--subject-file", subjectFile, "--text-file", text, "--html-file", html}
	}

	r := c.run(args(bad)...)
	if r.code != 1 {
		t.Errorf("refused upload exited %d, want 1", r.code)
	}
	contains(t, "refused upload", r.errOut, "invalid (HTTP 422)", "field subject: unknown field Prenom")

	var v notifier.TemplateVersion
	c.json(&v, append(args(subject), "--activate=false")...)
	if v.ID == 0 || v.Current || v.Kind != templates.KindReminder || v.Locale != "fr" {
		t.Fatalf("upload --json = %+v", v)
	}
	id := strconv.FormatInt(v.ID, 10)
	matches(t, "template list", c.ok("template", "list"), `ID\s+KIND\s+LOCALE\s+VERSION\s+CURRENT`, id+`\s+reminder\s+fr\s+`+v.Version+`\s+no`)
	contains(t, "upload again", c.ok(args(subject)...), "already stored as template "+id)
	if got := c.ok("template", "show", id, "--part", "html"); got != src.HTML {
		t.Errorf("show --part html printed %d bytes, want the %d uploaded", len(got), len(src.HTML))
	}
	out := c.ok("template", "preview", id, "--org", "woodgrove", "--incident", "cli-tmpl")
	matches(t, "preview", out, `to\s+csirt@woodgrove\.example`, `subject\s+Rappel important : Rappel`)
	// Names are in bidi isolates (U+2068…U+2069) in the text part.
	contains(t, "preview", out, "Bonjour \u2068Woodgrove CSIRT\u2069,", "2 éléments de \u2068Woodgrove Bank\u2069", "BN-0000-0000-PREV-IEW0")
	contains(t, "sample preview", c.ok("template", "preview", id), "(sample data)", "Contoso Ltd")
	if r := c.run("template", "preview", id, "--org", "woodgrove"); r.code != 2 {
		t.Errorf("preview with --org alone exited %d, want 2", r.code)
	}
	matches(t, "activate", c.ok("template", "activate", id), `current\s+yes`)
}
