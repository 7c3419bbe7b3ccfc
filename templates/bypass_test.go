package templates_test

import (
	"errors"
	"testing"

	"github.com/breachnotify/breachnotify/notifier/linkguard"
	"github.com/breachnotify/breachnotify/templates"
	"github.com/breachnotify/breachnotify/templates/templatetest"
)

// TestBypassCorpus holds both lines of defence to every attempt in the
// corpus: the upload checks refuse it by part, and, when a template gets
// past them (CompileUnchecked), the link firewall stops the message it
// renders. The engine's test does the same through a delivery.
func TestBypassCorpus(t *testing.T) {
	t.Parallel()
	if n := len(templatetest.Bypasses); n < 40 {
		t.Fatalf("the corpus has %d attempts, want at least 40", n)
	}
	for _, b := range templatetest.Bypasses {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			_, err := templates.Compile(b.TemplateKind(), "en", b.Source())
			var pe *templates.PartError
			if !errors.As(err, &pe) {
				t.Fatalf("upload: err = %v, want it refused", err)
			}
			if len(linkguard.Scan(err.Error())) > 0 {
				t.Errorf("upload: the refusal %q carries a live link", err)
			}
			tmpl, err := templates.CompileUnchecked(b.TemplateKind(), "en", b.Source())
			if err != nil {
				t.Fatalf("unchecked compile: %v", err)
			}
			d := templates.SampleData()
			d.Notice.Kind = string(b.TemplateKind())
			d.Links.Portal = "https://notify.example/portal/login/" + "Tok3nTok3nTok3nTok3nTok3nTok3nTok3nTok3nTok"
			out, err := tmpl.Render(d)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			policy := linkguard.Policy{Links: []string{d.Links.Ack, d.Links.Portal, d.Links.Verify}, Addresses: []string{d.Sender.Address}}
			var v *linkguard.Violation
			if err := policy.Check(out.Subject, out.Text, out.HTML); !errors.As(err, &v) {
				t.Fatalf("firewall: err = %v, want a violation", err)
			}
		})
	}
}

// TestLinksNeverReachATemplate shows why a template cannot leak a sign-in
// token whatever it does: it is given an opaque stand-in for each link,
// and only a whole stand-in becomes the link.
func TestLinksNeverReachATemplate(t *testing.T) {
	t.Parallel()
	tmpl, err := templates.CompileUnchecked(templates.KindPortalLink, "en", templates.Source{
		Subject: "x", Text: `[{{slice .Links.Portal 0 10}}][{{printf "%.20s" .Links.Portal}}][{{len .Links.Portal}}]`, HTML: "<p>x</p>"})
	if err != nil {
		t.Fatal(err)
	}
	d := templates.SampleData()
	d.Links.Portal = "https://notify.example/portal/login/SECRETTOKEN"
	out, err := tmpl.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, piece := range []string{"https", "notify", "SECRET", "login"} {
		if contains(out.Text, piece) {
			t.Errorf("a piece of the link (%q) reached the output: %q", piece, out.Text)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
