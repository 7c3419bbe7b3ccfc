package linkguard

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var testPolicy = &Policy{
	Links:     []string{"https://notify.example/ack/TOKEN", "https://notify.example/portal", "https://notify.example/verify"},
	Addresses: []string{"security-notice@notify.example"},
}

func TestCheckAcceptsALetter(t *testing.T) {
	t.Parallel()
	doc := `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Notice</title>
<style>body { color: #1a1a1a; font-family: Arial, sans-serif }</style></head>
<body style="max-width: 640px; margin: 0 auto"><p>Dear Contoso SOC,</p><table><tr><td style="padding: 4px">hxxps://evil[.]example</td></tr></table>
<p><a href="https://notify.example/ack/TOKEN" style="color: #0b57d0">acknowledge</a> or type <strong>https://notify.example/verify</strong>.</p>
<p>security-notice@notify.example</p></body></html>`
	if err := testPolicy.Check("Notice for Contoso [BN-1234]", "Type https://notify.example/verify by hand.\nsecurity-notice@notify.example", doc); err != nil {
		t.Fatal(err)
	}
}

func TestCheckRefusesLinksAndLoads(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`<img src="https://evil.example/p.gif">`,
		`<IMG/SRC=//evil.example/p.gif>`,
		`<p style="background:url(//evil.example/p.gif)">x</p>`,
		`<p style="background:u\72l(//evil.example)">x</p>`,
		`<p style="background:U\000052L  (//evil.example)">x</p>`,
		`<p style="background:ur/**/l(x)">x</p>`,
		`<p style="background-image:image-set('x.png' 1x)">x</p>`,
		`<p style="width:expression(alert(1))">x</p>`,
		`<style>@import 'https://evil.example/x.css';</style>`,
		`<style/>p{background:url(https://evil.example/x)}</style>`,
		`<style>@font-face{font-family:x;src:local(x)}</style>`,
		`<meta http-equiv="refresh" content="0;url=https://evil.example">`,
		`<a href="https://evil.example/login">acknowledge</a>`,
		`<a href="//evil.example">x</a>`,
		`<a href="https://notify.example/ack/TOKEN/../../evil">x</a>`,
		`<a href="https&#58;//evil.example">x</a>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href=" https://notify.example/verify">x</a>`,
		`<area href="https://notify.example/verify">`,
		`<base href="https://evil.example/">`,
		`<link rel="stylesheet" href="https://evil.example/x.css">`,
		`<form action="https://evil.example"><button>go</button></form>`,
		`<svg><a xlink:href="https://evil.example"><text>x</text></a></svg>`,
		`<table background="https://evil.example/bg.png"><tr><td>x</td></tr></table>`,
		`<p onclick="location='https://evil.example'">x</p>`,
		`<!--[if mso]><img src="https://evil.example/p.gif"><![endif]-->`,
		`<p>Visit www.evil.example today</p>`,
		`<p>evil.<b></b>example/login</p>`,
		`<p>https://notify.example/verify.evil.example</p>`,
		`<p title="go to https://evil.example">x</p>`,
		`<p>ｈｔｔｐｓ://evil．example</p>`,
		`<p>x@evil.example</p>`,
		`<video poster="https://evil.example/p.png"></video>`,
		`<p style="behavior:url(x.htc)">x</p>`,
		`<iframe src="https://evil.example"></iframe>`,
		`<object data="https://evil.example/x"></object>`,
		`<p>&#104;ttps://evil.example</p>`,
	} {
		err := testPolicy.Check("subject", "text", doc)
		var v *Violation
		if !errors.As(err, &v) || v.Part != "html" {
			t.Errorf("%s: accepted (%v), want an html violation", doc, err)
			continue
		}
		if len(Scan(v.Reason)) > 0 {
			t.Errorf("%s: the violation %q carries a live link", doc, v.Reason)
		}
	}
}

func TestCheckRefusesLinksInTextAndSubject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ subject, text string }{
		{"Reset at https://evil.example", "ok"},
		{"ok", "Reset at www.evil.example"},
		{"ok", "type https://notify.example/verify/../x"},
		{"ok", "mailto:x@evil.example"},
		{"ok", "other@notify.example"},
	} {
		if err := testPolicy.Check(tc.subject, tc.text, "<p>ok</p>"); err == nil {
			t.Errorf("%q / %q accepted", tc.subject, tc.text)
		}
	}
}

func TestShapeChecksOnlyWhatValuesTouch(t *testing.T) {
	t.Parallel()
	holes := []Hole{{Marker: "zNAMEz"}, {Marker: "zACKz", Link: true}}
	p := &Policy{Links: []string{"https://n.example/verify"}}
	shape, err := p.Prepare("Hello zNAMEz", "Dear zNAMEz,\nack: zACKz\nverify: https://n.example/verify\n",
		`<p>Dear zNAMEz</p><p><a href="zACKz">ack</a> zACKz</p>`, holes)
	if err != nil {
		t.Fatal(err)
	}
	if err := shape.Check([]string{"Dana", "https://n.example/ack/T1"}); err != nil {
		t.Fatalf("a plain name: %v", err)
	}
	if err := shape.Check([]string{"see https://evil.example", "https://n.example/ack/T1"}); err == nil {
		t.Fatal("a name with a link passed")
	}
	// A template that glues a value to text around it.
	glued, err := p.Prepare("s", "go to evil.examplezNAMEz", "<p>x</p>", holes)
	if err != nil {
		t.Fatal(err)
	}
	if err := glued.Check([]string{"/login", "https://n.example/ack/T1"}); err == nil {
		t.Fatal("a value completing a link with the text before it passed")
	}
	if _, err := p.Prepare("s", "t", `<a href="zNAMEz">x</a>`, holes); err == nil {
		t.Fatal("a data value in an href passed")
	}
	if _, err := p.Prepare("s", "t", `<p style="color:zNAMEz">x</p>`, holes); err == nil {
		t.Fatal("a data value in a style passed")
	}
}

func TestViolationQuotesDefanged(t *testing.T) {
	t.Parallel()
	err := testPolicy.CheckText("text", "go to https://phish.attacker.example/"+strings.Repeat("a", 200))
	if err == nil || len(Scan(err.Error())) > 0 || len(err.Error()) > 200 {
		t.Fatalf("violation = %v", err)
	}
}

// FuzzShapeMatchesFullCheck holds the per-recipient check to the full one:
// for any text around the holes and any values, checking only the words
// the values land in gives the same verdict as checking the whole part.
func FuzzShapeMatchesFullCheck(f *testing.F) {
	f.Add("Dear ", ",", "Dana", "soc@contoso.example")
	f.Add("see ", ".example/x", "evil", "x")
	f.Add("https://", "", "evil.example", "a")
	f.Add("", "", "www", ".evil.com")
	f.Fuzz(func(t *testing.T, before, after, name, email string) {
		for _, v := range []string{before, after, name, email} {
			if !utf8.ValidString(v) || strings.Contains(v, "zq") {
				return
			}
		}
		const ack = "https://n.example/ack/T1"
		holes := []Hole{{Marker: "zqNAMEqz"}, {Marker: "zqMAILqz"}, {Marker: "zqACKqz", Link: true}}
		p := &Policy{Links: []string{"https://n.example/verify"}}
		text := before + "zqNAMEqz" + after + " (zqMAILqz) zqACKqz https://n.example/verify"
		shape, err := p.Prepare("s", text, "<p>x</p>", holes)
		if err != nil {
			return // the notice itself would be stopped
		}
		filled := strings.NewReplacer("zqNAMEqz", name, "zqMAILqz", email, "zqACKqz", ack).Replace(text)
		withAck := &Policy{Links: append(p.Links, ack)}
		full := withAck.CheckText("text", filled)
		got := shape.Check([]string{name, email, ack})
		if (full == nil) != (got == nil) {
			t.Fatalf("text %q: full check %v, shape check %v", filled, full, got)
		}
	})
}
