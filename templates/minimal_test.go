package templates_test

import (
	"errors"
	"html"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/templates"
)

// minimalHostile is hostile data whose every piece of notice content
// carries a marker, so a test can tell whether any of it reached a
// message.
func minimalHostile(locale string) *templates.Data {
	d := hostile(locale)
	d.Incident.Title = "TITLE-MARK " + d.Incident.Title
	d.Incident.Summary = "SUMMARY-MARK " + d.Incident.Summary
	d.Incident.Slug = "SLUG-MARK"
	d.Notice.Items[0].Subject = "SUBJ-MARK-0 " + d.Notice.Items[0].Subject
	d.Notice.Items[1].Subject = "SUBJ-MARK-1 Re: VPN password for finance.example"
	d.Notice.Items[2].Subject = "SUBJ-MARK-2 <b>payroll.xlsx</b>"
	d.Notice.Items[1].SecretTypes = []string{"client_secret", "<mystery>"}
	d.Notice.Minimal = true
	return d
}

// leaks lists what of d's notice content appears in out: anything but the
// organization, the recipient, the reference and the links.
func leaks(d *templates.Data, locale string, out templates.Rendered) []string {
	forbidden := []string{"TITLE-MARK", "SUMMARY-MARK", "SLUG-MARK", "SUBJ-MARK", "payroll", "finance[.]example", "phish",
		"MSG-10000", "FILE-1", "client_secret", "api_key", "sas_token", "private_key", "recovery_code", "mystery", "Ω-very-long-value"}
	for _, s := range templates.Secrets(locale, d.Notice.SecretTypes) {
		forbidden = append(forbidden, s.Advice)
		if s.Type != "password" && s.Type != "token" { // everyday words ("We will never ask you for a password")
			forbidden = append(forbidden, s.Label)
		}
	}
	var found []string
	for _, part := range []string{out.Subject, out.Text, html.UnescapeString(out.HTML)} {
		for _, f := range forbidden {
			if strings.Contains(part, f) {
				found = append(found, f)
			}
		}
	}
	return found
}

// TestMinimalEveryKindAndLocale renders each shipped notice template, in
// every locale and recipient shape, for a minimal-disclosure notice with
// hostile content: the message has the reference, the verify address,
// the portal and acknowledgement links and the organization, and nothing
// of the incident, the items or their secrets; the full variant of the
// same template still tells everything.
func TestMinimalEveryKindAndLocale(t *testing.T) {
	t.Parallel()
	set, err := templates.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range templates.WaveKinds {
		for _, loc := range locales {
			t.Run(string(kind)+"/"+loc, func(t *testing.T) {
				t.Parallel()
				tmpl, ok := set.Get(kind, loc)
				if !ok {
					t.Fatalf("no shipped %s template for %s", kind, loc)
				}
				for _, shape := range recipientShapes {
					d := minimalHostile(loc)
					d.Notice.Kind = string(kind)
					shape.apply(d)
					out, err := tmpl.Render(d)
					if err != nil {
						t.Fatalf("%s: %v", shape.name, err)
					}
					if l := leaks(d, loc, out); len(l) > 0 {
						t.Errorf("%s: the minimal notice shows %q", shape.name, l)
					}
					for _, part := range []string{out.Subject, out.Text, out.HTML} {
						if !strings.Contains(part, d.Notice.Reference) {
							t.Errorf("%s: a part lacks the reference code", shape.name)
						}
					}
					if !strings.Contains(out.Subject, "Evil <script>alert(1)</script> & Co") || !strings.Contains(out.Text, "Evil <script>alert(1)</script> & Co") ||
						!strings.Contains(out.HTML, "Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co") {
						t.Errorf("%s: the organization is not named (escaped in HTML)", shape.name)
					}
					for _, link := range []string{d.Links.Verify, d.Links.Ack, d.Links.Portal} {
						if link != "" && (!strings.Contains(out.Text, link) || !strings.Contains(out.HTML, link)) {
							t.Errorf("%s: link %s is missing", shape.name, link)
						}
					}
					if !strings.Contains(out.HTML, `lang="`+loc+`"`) {
						t.Errorf("%s: the HTML does not declare its language", shape.name)
					}
					p, err := tmpl.Prepare(d)
					if err != nil {
						t.Fatal(err)
					}
					fast := p.Render(templates.Recipient{Name: d.Contact.Name, Email: d.Contact.Email, Reference: d.Notice.Reference, AckURL: d.Links.Ack})
					if fast != out {
						t.Errorf("%s: the prepared render differs from the full one:\n%s", shape.name, firstDiff(fast, out))
					}
				}
				// The same template, for a full notice, tells everything.
				d := minimalHostile(loc)
				d.Notice.Kind = string(kind)
				d.Notice.Minimal = false
				full, err := tmpl.Render(d)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(full.Text, "TITLE-MARK") || !strings.Contains(full.HTML, "TITLE-MARK") {
					t.Error("the full variant does not name the incident")
				}
				minimal, _ := tmpl.Render(minimalHostile(loc))
				if minimal.Subject == full.Subject {
					t.Error("the minimal subject is the full one")
				}
			})
		}
	}
}

// TestMinimalHoldsForAnyTemplate shows that a minimal notice cannot leak
// through an uploaded template that asks for everything: the data it is
// given has no incident, no items, no counts and no secrets.
func TestMinimalHoldsForAnyTemplate(t *testing.T) {
	t.Parallel()
	greedy := `{{.Incident.Title}} {{.Incident.Summary}} {{.Incident.Slug}} n={{.Notice.ItemCount}} more={{.Notice.MoreItems}}
{{range .Notice.Kinds}}{{.Kind}}={{.Count}} {{end}}{{range .Notice.SecretTypes}}{{.}} {{end}}{{range .Notice.Secrets}}{{.Type}} {{.Label}} {{.Advice}} {{end}}
{{range .Notice.Items}}{{.Ref}} {{.Kind}} {{.Subject}} {{range .SecretTypes}}{{.}} {{end}}{{end}}
{{.Notice.Reference}} {{.Links.Verify}}`
	tmpl, err := templates.Compile(templates.KindInitial, "en", templates.Source{
		Subject: `{{.Incident.Title}} {{range .Notice.Items}}{{.Subject}}{{end}} [{{.Notice.Reference}}]`,
		Text:    greedy,
		HTML:    "<p>" + greedy + "</p>",
	})
	if err != nil {
		t.Fatal(err)
	}
	d := minimalHostile("en")
	out, err := tmpl.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	if l := leaks(d, "en", out); len(l) > 0 {
		t.Errorf("an uploaded template shows %q of a minimal notice:\n%s", l, out.Text)
	}
	if !strings.Contains(out.Text, "n=0 more=0") || !strings.Contains(out.Text, d.Notice.Reference) {
		t.Errorf("the minimal data is not what was expected:\n%s", out.Text)
	}
	d.Notice.Minimal = false
	full, err := tmpl.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(full.Text, "SUBJ-MARK-1") || !strings.Contains(full.Text, "client_secret") || !strings.Contains(full.Subject, "TITLE-MARK") {
		t.Errorf("the full notice lost its content:\n%s", full.Text)
	}
}

// TestMinimalTemplateMustRender: a template that works for a full notice
// but fails for a minimal one says so by part (an upload refuses it; a
// stored version still renders full notices).
func TestMinimalTemplateMustRender(t *testing.T) {
	t.Parallel()
	tmpl, err := templates.Compile(templates.KindInitial, "en", templates.Source{
		Subject: `{{(index .Notice.Items 0).Subject}} [{{.Notice.Reference}}]`, Text: "{{.Links.Verify}}", HTML: "<p>x</p>"})
	if err != nil {
		t.Fatal(err)
	}
	var pe *templates.PartError
	if err := tmpl.MinimalError(); !errors.As(err, &pe) || pe.Part != "subject" || !strings.Contains(err.Error(), "minimal") {
		t.Errorf("MinimalError = %v, want the subject named", err)
	}
	if _, err := tmpl.Render(templates.SampleData()); err != nil {
		t.Errorf("a full notice: %v", err)
	}
	set, _ := templates.Defaults()
	for _, kind := range templates.Kinds {
		for _, loc := range locales {
			if tmpl, _ := set.Get(kind, loc); tmpl.MinimalError() != nil {
				t.Errorf("%s/%s: %v", kind, loc, tmpl.MinimalError())
			}
		}
	}
}
