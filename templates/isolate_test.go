package templates_test

import (
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/templates"
)

// TestDefaultsIsolateBreachData: in every default notice of every
// locale, an Arabic organization name and subject are isolated: between
// U+2068 and U+2069 in the text part, in <bdi> in the HTML part, so they
// cannot reorder the sentence around them.
func TestDefaultsIsolateBreachData(t *testing.T) {
	t.Parallel()
	set, err := templates.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	const org, subject = "شركة المثال", "فاتورة عاجلة"
	for _, locale := range []string{"en", "de", "fr", "ja"} {
		for _, kind := range []templates.Kind{templates.KindInitial, templates.KindFollowUp, templates.KindReminder, templates.KindEscalation} {
			tmpl, err := set.Lookup(kind, locale)
			if err != nil {
				t.Fatal(err)
			}
			d := templates.SampleData()
			d.Organization.Name = org
			d.Notice.Items[0].Subject = subject
			d.Notice.Secrets = templates.Secrets(locale, d.Notice.SecretTypes)
			out, err := tmpl.Render(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{org, subject} {
				if (kind == templates.KindReminder || kind == templates.KindEscalation) && v == subject {
					continue // reminders and escalations list no items
				}
				if strings.Count(out.Text, v) == 0 || strings.Count(out.Text, v) != strings.Count(out.Text, "\u2068"+v+"\u2069") {
					t.Errorf("%s %s: text part prints %q without isolation", locale, kind, v)
				}
				if strings.Count(out.HTML, v) == 0 || strings.Count(out.HTML, v) != strings.Count(out.HTML, "<bdi>"+v+"</bdi>") {
					t.Errorf("%s %s: HTML part prints %q without <bdi>", locale, kind, v)
				}
			}
		}
	}
}
