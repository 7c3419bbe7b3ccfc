package templates_test

import (
	"errors"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier/linkguard"
	"github.com/breachnotify/breachnotify/templates"
)

var locales = []string{"en", "de", "fr", "ja"}

// hostile is recipient and breach data written to break out: markup, a
// header injection, template syntax and a value far longer than any real one.
func hostile(locale string) *templates.Data {
	d := templates.SampleData()
	long := strings.Repeat("Ω-very-long-value ", 600)
	d.Organization.Name = "Evil <script>alert(1)</script> & Co\r\nBcc: victim@evil.example {{.Links.Ack}}"
	d.Contact.Name = "Mallory \"<b>\"\r\nX-Injected: yes {{template \"x\"}}"
	d.Incident.Title = "Breach <img src=x onerror=alert(2)> {{.Contact.Email}}"
	d.Incident.Summary = long
	d.Notice.Items[0].Subject = "{{.Notice.Reference}} <a href=\"https://phish.example\">click</a>\r\nSubject: fake"
	d.Notice.Items[1].Subject = long
	d.Notice.SecretTypes = []string{"password", "api_key", "client_secret", "sas_token", "private_key", "recovery_code", "token", "certificate", "<mystery>"}
	d.Notice.Secrets = templates.Secrets(locale, d.Notice.SecretTypes)
	d.Notice.MoreItems = 17
	return d
}

// TestEveryKindAndLocale renders each shipped template with hostile data in
// every recipient shape: escaped in HTML, raw in text, one line in the
// subject, and the render-once path equal to the full render.
func TestEveryKindAndLocale(t *testing.T) {
	t.Parallel()
	set, err := templates.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range templates.Kinds {
		for _, loc := range locales {
			t.Run(string(kind)+"/"+loc, func(t *testing.T) {
				t.Parallel()
				tmpl, ok := set.Get(kind, loc)
				if !ok || tmpl.Locale != loc {
					t.Fatalf("no shipped %s template for %s", kind, loc)
				}
				if !tmpl.CanPrepare() {
					t.Error("a shipped template must render once per notice")
				}
				for _, shape := range recipientShapes {
					d := hostile(loc)
					d.Notice.Kind = string(kind)
					shape.apply(d)
					full, err := tmpl.Render(d)
					if err != nil {
						t.Fatalf("%s: %v", shape.name, err)
					}
					checkHostile(t, shape.name, d, full)
					p, err := tmpl.Prepare(d)
					if err != nil {
						t.Fatal(err)
					}
					fast := p.Render(templates.Recipient{Name: d.Contact.Name, Email: d.Contact.Email, Reference: d.Notice.Reference, AckURL: d.Links.Ack})
					if fast != full {
						t.Errorf("%s: the prepared render differs from the full one:\n%s", shape.name, firstDiff(fast, full))
					}
				}
			})
		}
	}
}

var recipientShapes = []struct {
	name  string
	apply func(*templates.Data)
}{
	{"named, portal, ack", func(*templates.Data) {}},
	{"unnamed", func(d *templates.Data) { d.Contact.Name = "" }},
	{"no portal access", func(d *templates.Data) { d.Links.Portal = "" }},
	{"no ack link", func(d *templates.Data) { d.Links.Ack = "" }},
	{"no secrets, no summary", func(d *templates.Data) {
		d.Notice.Secrets, d.Notice.SecretTypes, d.Incident.Summary = nil, nil, ""
		for i := range d.Notice.Items {
			d.Notice.Items[i].SecretTypes = nil
		}
	}},
}

func checkHostile(t *testing.T, shape string, d *templates.Data, out templates.Rendered) {
	t.Helper()
	if strings.ContainsAny(out.Subject, "\r\n") || out.Subject != strings.TrimSpace(out.Subject) {
		t.Errorf("%s: the subject is not one line: %q", shape, out.Subject)
	}
	if !strings.Contains(out.Subject, "Evil <script>alert(1)</script> & Co Bcc: victim@evil[.]example {{.Links[.]Ack}}") {
		t.Errorf("%s: the subject does not name the organization, flattened to one line: %q", shape, out.Subject)
	}
	for _, bad := range []string{"<script", "<img", "<b>", "<a href=\"https://phish"} {
		if strings.Contains(strings.ToLower(out.HTML), bad) {
			t.Errorf("%s: HTML part carries recipient markup %q unescaped", shape, bad)
		}
	}
	if !strings.Contains(out.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("%s: HTML part does not show the organization's name escaped", shape)
	}
	// Template syntax in data is text: it comes out as written (defanged),
	// never run; and the link in an item's subject is no link.
	lists := d.Notice.Kind == string(templates.KindInitial) || d.Notice.Kind == string(templates.KindFollowUp)
	for _, part := range []string{out.Text, html.UnescapeString(out.HTML)} {
		if !strings.Contains(part, "{{.Links[.]Ack}}") || (lists && !strings.Contains(part, `{{.Notice[.]Reference}} <a href="hxxps://phish[.]example">`)) {
			t.Errorf("%s: template syntax in the data was not shown as it is", shape)
		}
	}
	// (A sign-in email without its sign-in link is no real message: its
	// button would link nowhere, and the firewall rightly stops it.)
	policy := linkguard.Policy{Links: []string{d.Links.Ack, d.Links.Portal, d.Links.Verify}, Addresses: []string{d.Sender.Address}}
	signInWithoutLink := d.Notice.Kind == string(templates.KindPortalLink) && d.Links.Portal == ""
	if err := policy.Check(out.Subject, out.Text, out.HTML); err != nil && !signInWithoutLink {
		t.Errorf("%s: the message does not pass the link firewall: %v", shape, err)
	}
	if !strings.Contains(out.Text, "Evil <script>alert(1)</script> & Co") {
		t.Errorf("%s: the text part must show names as they are", shape)
	}
	if strings.Contains(out.Text, "&lt;") || strings.Contains(out.Text, "&amp;") {
		t.Errorf("%s: the text part is HTML-escaped", shape)
	}
	if !strings.Contains(out.Text, d.Notice.Reference) || !strings.Contains(out.HTML, d.Notice.Reference) {
		t.Errorf("%s: the reference code is missing", shape)
	}
	if !strings.Contains(out.Text, d.Links.Verify) || !strings.Contains(out.HTML, d.Links.Verify) {
		t.Errorf("%s: the verify address is missing", shape)
	}
	for _, link := range []string{d.Links.Ack, d.Links.Portal} {
		if link != "" && (!strings.Contains(out.Text, link) || !strings.Contains(out.HTML, `href="`+link+`"`)) {
			t.Errorf("%s: link %s is missing", shape, link)
		}
	}
	if d.Links.Ack == "" && strings.Contains(out.Text, "/ack/") {
		t.Errorf("%s: an acknowledgement link appears without Links.Ack", shape)
	}
	if d.Notice.Kind != string(templates.KindPortalLink) || d.Notice.ItemCount > 0 {
		for _, s := range d.Notice.Secrets {
			if !strings.Contains(out.Text, s.Advice) || !strings.Contains(html.UnescapeString(out.HTML), s.Advice) {
				t.Errorf("%s: no advice for %s", shape, s.Type)
			}
		}
	}
}

// TestPortalLinkForTheSignInPage renders the sign-in email as the portal
// sends it: no incident, no notice, no reference, no acknowledgement link.
func TestPortalLinkForTheSignInPage(t *testing.T) {
	t.Parallel()
	set, err := templates.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range locales {
		tmpl, err := set.Lookup(templates.KindPortalLink, loc)
		if err != nil {
			t.Fatal(err)
		}
		d := &templates.Data{
			Organization: templates.Organization{Name: "Contoso Ltd", Ref: "contoso"},
			Contact:      templates.Contact{Name: "Dana", Email: "dana@contoso.example", Role: "security"},
			Notice:       templates.Notice{Kind: string(templates.KindPortalLink)},
			Sender:       templates.Sender{Name: "Security Notices", Address: "security-notice@notify.example"},
			Links:        templates.Links{Portal: "https://notify.example/portal/login/T0k3n", Verify: "https://notify.example/verify"},
		}
		out, err := tmpl.Render(d)
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		for _, part := range []string{out.Text, out.HTML} {
			if !strings.Contains(part, "https://notify.example/portal/login/T0k3n") || !strings.Contains(part, "15") ||
				!strings.Contains(part, "Contoso Ltd") || !strings.Contains(part, "https://notify.example/verify") {
				t.Errorf("%s: the sign-in email lacks the link, its 15 minutes, the organization or the verify address:\n%s", loc, part)
			}
			if strings.Contains(part, "()") || strings.Contains(part, "（）") || strings.Contains(part, "« »") || strings.Contains(part, "„“") {
				t.Errorf("%s: an empty incident title left empty brackets:\n%s", loc, part)
			}
		}
	}
}

var (
	hrefAttr  = regexp.MustCompile(`(?i)\bhref\s*=\s*"([^"]*)"`)
	anyURL    = regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://[^\s"'<>]+`)
	loadsHTML = regexp.MustCompile(`(?i)<\s*(img|script|iframe|link|object|embed|form|video|audio|svg|source)\b|\ssrc\s*=|url\s*\(|@import`)
)

// TestDefaultsLinkOnlyToTheNotice checks that no shipped HTML loads
// anything (no image, pixel, script or remote style) and that every href,
// and every URL anywhere in a message, is one of the Links values.
func TestDefaultsLinkOnlyToTheNotice(t *testing.T) {
	t.Parallel()
	set, err := templates.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	d := templates.SampleData()
	d.Links = templates.Links{Ack: "https://notice.test/ack/AAA", Portal: "https://notice.test/portal", Verify: "https://notice.test/verify"}
	links := []string{d.Links.Ack, d.Links.Portal, d.Links.Verify}
	for _, kind := range templates.Kinds {
		for _, loc := range locales {
			tmpl, _ := set.Get(kind, loc)
			out, err := tmpl.Render(d)
			if err != nil {
				t.Fatal(err)
			}
			name := string(kind) + "/" + loc
			if m := loadsHTML.FindString(out.HTML); m != "" {
				t.Errorf("%s: the HTML loads something: %q", name, m)
			}
			hrefs := hrefAttr.FindAllStringSubmatch(out.HTML, -1)
			if len(hrefs) == 0 {
				t.Errorf("%s: the HTML has no link at all", name)
			}
			for _, h := range hrefs {
				if !slices.Contains(links, html.UnescapeString(h[1])) {
					t.Errorf("%s: href %q is not a Links value", name, h[1])
				}
			}
			for _, part := range []string{out.Subject, out.Text, html.UnescapeString(out.HTML)} {
				for _, u := range anyURL.FindAllString(part, -1) {
					if !slices.ContainsFunc(links, func(l string) bool { return strings.HasPrefix(u, l) && !isURLChar(u[len(l):]) }) {
						t.Errorf("%s: URL %q is not a Links value", name, u)
					}
				}
			}
			if !strings.Contains(out.HTML, `lang="`+loc+`"`) {
				t.Errorf("%s: the HTML does not declare its language", name)
			}
		}
	}
}

// isURLChar reports whether rest continues the URL before it (so the URL
// is longer than the link it starts with).
func isURLChar(rest string) bool {
	return rest != "" && strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/?#&=%-_~+", rune(rest[0]))
}

// TestCompileRefusesForeignLinks checks that a template which would make a
// notice look like phishing, or track its reader, is refused by name.
func TestCompileRefusesForeignLinks(t *testing.T) {
	t.Parallel()
	base, err := templates.DefaultSource(templates.KindInitial, "en")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, part string
		edit       func(*templates.Source)
	}{
		{"tracking pixel", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "</body>", `<img src="https://tracker.example/p.gif" width="1" height="1"></body>`, 1)
		}},
		{"relative image", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "</body>", `<img src="cid:logo"></body>`, 1)
		}},
		{"remote style", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "<body ", `<body background="x" `, 1)
		}},
		{"css url", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "<p>", `<p style="background: url(//cdn.example/x.png)">`, 1)
		}},
		{"foreign href", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "</body>", `<a href="https://evil.example/login">sign in</a></body>`, 1)
		}},
		{"link with a query", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "</body>", `<a href="{{.Links.Verify}}?code=1">verify</a></body>`, 1)
		}},
		{"javascript href", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "</body>", `<a href="javascript:alert(1)">x</a></body>`, 1)
		}},
		{"url in the text", "text", func(s *templates.Source) { s.Text += "\nUpdate your password at https://evil.example/reset\n" }},
		{"url in the subject", "subject", func(s *templates.Source) { s.Subject += " http://evil.example" }},
		// What the sample data's path through the template does not show.
		{"pixel for other organizations", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "</body>", `{{if ne .Organization.Ref "nobody"}}{{else}}<img src="https://track.example/p.gif?o={{.Organization.Ref}}">{{end}}</body>`, 1)
		}},
		{"link in a branch not taken", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "</body>", `{{if eq .Organization.Ref "nobody"}}<a href="//evil.example/login">sign in</a>{{end}}</body>`, 1)
		}},
		{"css url behind a character reference", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "<p>", `<p style="background:&#117;rl(//track.example/p.gif)">`, 1)
		}},
		{"css url behind a css escape", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "<p>", `<p style="background:\75rl(//track.example/p.gif)">`, 1)
		}},
		{"escaped @import", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "</body>", `<style>@\69mport "//track.example/x.css";</style></body>`, 1)
		}},
		{"refresh behind a character reference", "html", func(s *templates.Source) {
			s.HTML = strings.Replace(s.HTML, "</body>", `<meta http-equiv="re&#102;resh" content="0;url=//evil.example/"></body>`, 1)
		}},
		{"url completed by data", "text", func(s *templates.Source) { s.Text += "\nSee https://{{.Incident.Slug}}.evil.example/\n" }},
		{"url in string constants", "text", func(s *templates.Source) { s.Text += `{{"https:/"}}{{"/evil.example"}}` }},
		{"bare web address", "text", func(s *templates.Source) { s.Text += "\nReset at www.evil-phish.example/login\n" }},
	}
	for _, c := range cases {
		src := base
		c.edit(&src)
		_, err := templates.Compile(templates.KindInitial, "en", src)
		var pe *templates.PartError
		if !errors.As(err, &pe) || pe.Part != c.part {
			t.Errorf("%s: err = %v, want it refused in the %s part", c.name, err, c.part)
		}
	}
	if _, err := templates.Compile(templates.KindInitial, "en", base); err != nil {
		t.Errorf("the shipped template is refused: %v", err)
	}
}

func TestFormatDate(t *testing.T) {
	t.Parallel()
	first := time.Date(2024, 3, 1, 23, 30, 0, 0, time.FixedZone("x", -2*3600)) // 2 March in UTC
	fifth := time.Date(2024, 1, 5, 14, 22, 0, 0, time.UTC)
	for _, c := range []struct {
		locale    string
		t         time.Time
		date, dtm string
	}{
		{"en", fifth, "5 January 2024", "5 January 2024 14:22 UTC"},
		{"de", fifth, "5. Januar 2024", "5. Januar 2024, 14:22 UTC"},
		{"de-AT", first, "2. März 2024", "2. März 2024, 01:30 UTC"},
		{"fr", time.Date(2024, 8, 1, 9, 5, 0, 0, time.UTC), "1er août 2024", "1er août 2024 à 9 h 05 UTC"},
		{"fr-CA", fifth, "5 janvier 2024", "5 janvier 2024 à 14 h 22 UTC"},
		{"ja", fifth, "2024年1月5日", "2024年1月5日 14:22（UTC）"},
		{"pt-BR", fifth, "5 January 2024", "5 January 2024 14:22 UTC"},
	} {
		if got := templates.FormatDate(c.locale, c.t); got != c.date {
			t.Errorf("FormatDate(%s) = %q, want %q", c.locale, got, c.date)
		}
		if got := templates.FormatDateTime(c.locale, c.t); got != c.dtm {
			t.Errorf("FormatDateTime(%s) = %q, want %q", c.locale, got, c.dtm)
		}
	}
}

// TestSecretAdvice checks that every secret type has its own advice in
// every language, and that unknown types get the general advice.
func TestSecretAdvice(t *testing.T) {
	t.Parallel()
	known := []string{"password", "api_key", "client_secret", "sas_token", "private_key", "recovery_code", "token", "certificate",
		"aws_access_key", "github_token", "slack_token", "connection_string", "webhook_url", "client_id"}
	for _, loc := range locales {
		generic := templates.SecretAdvice(loc, "no_such_type")
		seen := map[string]bool{generic: true}
		for _, typ := range known {
			a := templates.SecretAdvice(loc, typ)
			if a == "" || seen[a] {
				t.Errorf("%s/%s: advice %q is empty or not specific", loc, typ, a)
			}
			seen[a] = true
			if l := templates.SecretLabel(loc, typ); l == "" || (loc != "en" && l == templates.SecretLabel("en", typ) && typ != "sas_token" && typ != "webhook_url") {
				t.Errorf("%s/%s: label %q is not translated", loc, typ, l)
			}
		}
		got := templates.Secrets(loc, []string{"password", "weird_kind"})
		if len(got) != 2 || got[1].Advice != generic || got[1].Label != "weird kind" || got[0].Type != "password" {
			t.Errorf("%s: Secrets = %+v", loc, got)
		}
	}
	if templates.SecretAdvice("fr-CA", "password") != templates.SecretAdvice("fr", "password") ||
		templates.SecretAdvice("es", "password") != templates.SecretAdvice("en", "password") {
		t.Error("advice does not follow the language, falling back to English")
	}
}

func TestLookupByLocale(t *testing.T) {
	t.Parallel()
	set, err := templates.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for locale, want := range map[string]string{
		"de": "de", "de-CH": "de", "fr-CA": "fr", "FR-ca": "fr", "ja": "ja", "ja-JP": "ja", "en-GB": "en", "pt": "en", "": "en", "not a locale!": "en",
	} {
		tmpl, err := set.Lookup(templates.KindInitial, locale)
		if err != nil || tmpl.Locale != want {
			t.Errorf("Lookup(%q) = %v, %v; want the %s template", locale, tmpl, err, want)
		}
	}
	// A template uploaded for a region wins over its language for that
	// region only, whatever the case it is asked in.
	src, _ := templates.DefaultSource(templates.KindInitial, "fr")
	src.Subject = "Québec: " + src.Subject
	ca, err := templates.Compile(templates.KindInitial, "fr-ca", src)
	if err != nil {
		t.Fatal(err)
	}
	set.Put(ca)
	if got, _ := set.Lookup(templates.KindInitial, "FR-CA"); got != ca || ca.Locale != "fr-CA" {
		t.Errorf("fr-CA template not found for FR-CA (stored as %q)", ca.Locale)
	}
	if got, _ := set.Lookup(templates.KindInitial, "fr-BE"); got == ca {
		t.Error("fr-BE got the fr-CA template")
	}
}

func TestNormalizeLocale(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"EN": "en", "fr-ca": "fr-CA", "zh-hant-tw": "zh-Hant-TW", "es-419": "es-419", "de": "de"} {
		if got, ok := templates.NormalizeLocale(in); !ok || got != want {
			t.Errorf("NormalizeLocale(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "e", "english", "en_US", "en-", "../en", "en-US\n"} {
		if _, ok := templates.NormalizeLocale(bad); ok {
			t.Errorf("NormalizeLocale(%q) accepted", bad)
		}
	}
}

// firstDiff shows where two renders part.
func firstDiff(a, b templates.Rendered) string {
	for _, p := range [][3]string{{"subject", a.Subject, b.Subject}, {"text", a.Text, b.Text}, {"html", a.HTML, b.HTML}} {
		x, y := p[1], p[2]
		for i := 0; i < len(x) && i < len(y); i++ {
			if x[i] != y[i] {
				lo := max(0, i-60)
				return fmt.Sprintf("%s at %d:\n prepared: %q\n full:     %q", p[0], i, x[lo:min(len(x), i+60)], y[lo:min(len(y), i+60)])
			}
		}
		if len(x) != len(y) {
			return fmt.Sprintf("%s lengths %d and %d", p[0], len(x), len(y))
		}
	}
	return "no difference"
}
