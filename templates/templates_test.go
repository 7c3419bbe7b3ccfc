package templates_test

import (
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/templates"
)

func TestDefaultsCompileAndPrepare(t *testing.T) {
	t.Parallel()
	set, err := templates.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := set.Lookup(templates.KindInitial, "en")
	if err != nil {
		t.Fatal(err)
	}
	if !tmpl.CanPrepare() {
		t.Fatal("the default initial template should render once per notice")
	}
	// Hostile recipient data comes out the same, escaped, both ways.
	d := templates.SampleData()
	d.Contact.Name = `<script>alert("x")</script> & {{.Evil}}`
	d.Links.Ack = "https://notify.example/ack/T0k-en_1"
	full, err := tmpl.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tmpl.Prepare(d)
	if err != nil {
		t.Fatal(err)
	}
	fast := p.Render(templates.Recipient{Name: d.Contact.Name, Email: d.Contact.Email, Reference: d.Notice.Reference, AckURL: d.Links.Ack})
	if fast != full {
		t.Fatalf("prepared render differs:\n%q\n%q", fast.HTML, full.HTML)
	}
	if strings.Contains(full.HTML, "<script>") || !strings.Contains(full.HTML, "&lt;script&gt;") || !strings.Contains(full.Text, "<script>") {
		t.Error("HTML part must escape the name, text part must not")
	}
}

func TestUnknownFieldIsRefusedByName(t *testing.T) {
	t.Parallel()
	_, err := templates.Compile(templates.KindInitial, "en", templates.Source{Subject: "{{.Contact.Shoe}}", Text: "x", HTML: "x"})
	uf, ok := err.(*templates.UnknownFieldError)
	if !ok || uf.Field != "Shoe" || uf.Part != "subject" {
		t.Fatalf("err = %v, want unknown field Shoe in the subject", err)
	}
}

func TestTransformingTemplateIsNotPrepared(t *testing.T) {
	t.Parallel()
	tmpl, err := templates.Compile(templates.KindInitial, "en", templates.Source{
		Subject: "Hi {{len .Contact.Name}}", Text: "{{.Contact.Name}}", HTML: "<p>{{.Contact.Name}}</p>"})
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.CanPrepare() {
		t.Error("a template that measures the name cannot be rendered once per notice")
	}
}
