// Package templates renders notice emails. A template is an immutable version
// of a subject, a plain-text body and an HTML body for one kind of message
// and one locale. Templates are parsed once per version; rendering takes a
// Data value, so a reference to a field that does not exist is an error, not
// an empty string. HTML goes through html/template, so recipient data is
// always escaped.
package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
)

// Kind is what a message is for.
type Kind string

// The template kinds.
const (
	KindInitial    Kind = "initial"
	KindFollowUp   Kind = "follow_up"
	KindReminder   Kind = "reminder"
	KindEscalation Kind = "escalation"
	KindPortalLink Kind = "portal_link"
)

// Kinds lists every template kind.
var Kinds = []Kind{KindInitial, KindFollowUp, KindReminder, KindEscalation, KindPortalLink}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// DefaultLocale is used when a contact's locale has no template.
const DefaultLocale = "en"

//go:embed defaults
var defaultFiles embed.FS

// Source is the text of one template version.
type Source struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// Rendered is one message's rendered parts.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// Template is a compiled template version, safe for concurrent use.
type Template struct {
	Kind    Kind
	Locale  string
	Version string
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
	// preparable: rendering once per notice and filling in recipients
	// gives exactly the full render (see prepare.go).
	preparable bool
}

// Compile parses src, checks what it writes on its own in every branch
// (checkSource), and renders it against SampleData, so a template that
// names a field Data does not have is refused with that field
// (*UnknownFieldError), and one that links or loads anything but the
// notice's own links is refused too (see links.go). Other problems come as
// a *PartError naming the part. The template's functions (date, count, ...)
// write in locale's language.
func Compile(kind Kind, locale string, src Source) (*Template, error) {
	if l, ok := NormalizeLocale(locale); ok {
		locale = l
	}
	t := &Template{Kind: kind, Locale: locale, Version: VersionOf(src)}
	funcs := funcsFor(locale)
	var err error
	if t.subject, err = texttemplate.New("subject").Funcs(funcs).Option("missingkey=error").Parse(src.Subject); err != nil {
		return nil, &PartError{Part: "subject", Err: err}
	}
	if t.text, err = texttemplate.New("text").Funcs(funcs).Option("missingkey=error").Parse(src.Text); err != nil {
		return nil, &PartError{Part: "text", Err: err}
	}
	if t.html, err = htmltemplate.New("html").Funcs(htmltemplate.FuncMap(funcs)).Option("missingkey=error").Parse(src.HTML); err != nil {
		return nil, &PartError{Part: "html", Err: err}
	}
	for _, tt := range t.subject.Templates() {
		if err := checkSource("subject", tt.Tree, false); err != nil {
			return nil, err
		}
	}
	for _, tt := range t.text.Templates() {
		if err := checkSource("text", tt.Tree, false); err != nil {
			return nil, err
		}
	}
	for _, tt := range t.html.Templates() {
		if err := checkSource("html", tt.Tree, true); err != nil {
			return nil, err
		}
	}
	sample := SampleData()
	sample.Notice.Secrets = Secrets(locale, sample.Notice.SecretTypes)
	out, err := t.Render(sample)
	if err != nil {
		return nil, err
	}
	if err := checkLinks(out, sample.Links); err != nil {
		return nil, err
	}
	t.preparable = t.checkPreparable()
	return t, nil
}

// VersionOf names a template version by its content, so the same text is
// always the same version and the proof-of-notification report can tell
// exactly which text was used.
func VersionOf(src Source) string {
	h := sha256.New()
	for _, part := range []string{src.Subject, src.Text, src.HTML} {
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// UnknownFieldError reports a template that refers to a field Data lacks.
type UnknownFieldError struct {
	Part  string
	Field string
}

func (e *UnknownFieldError) Error() string {
	return fmt.Sprintf("%s: unknown field %q", e.Part, e.Field)
}

// PartError is any other problem with one part of a template (subject,
// text or html): a syntax error, a failure to render, a forbidden link.
type PartError struct {
	Part string
	Err  error
}

// Error names the part and the problem.
func (e *PartError) Error() string { return e.Part + ": " + e.Err.Error() }

// Unwrap returns the problem.
func (e *PartError) Unwrap() error { return e.Err }

var unknownField = regexp.MustCompile(`can't evaluate field (\w+)|map has no entry for key "([^"]+)"`)

// Render executes the three parts. A failure names the part and, when the
// cause is an unknown field, returns an *UnknownFieldError.
func (t *Template) Render(d *Data) (Rendered, error) {
	var out Rendered
	var buf bytes.Buffer
	run := func(part string, exec func() error) (string, error) {
		buf.Reset()
		if err := exec(); err != nil {
			if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
				return "", &UnknownFieldError{Part: part, Field: m[1] + m[2]}
			}
			return "", &PartError{Part: part, Err: err}
		}
		return buf.String(), nil
	}
	var err error
	if out.Subject, err = run("subject", func() error { return t.subject.Execute(&buf, d) }); err != nil {
		return out, err
	}
	// A subject is one line; recipient data must not be able to add headers.
	out.Subject = strings.Join(strings.Fields(out.Subject), " ")
	if out.Subject == "" {
		return out, &PartError{Part: "subject", Err: errors.New("renders empty")}
	}
	if out.Text, err = run("text", func() error { return t.text.Execute(&buf, d) }); err != nil {
		return out, err
	}
	if out.HTML, err = run("html", func() error { return t.html.Execute(&buf, d) }); err != nil {
		return out, err
	}
	return out, nil
}

// Set holds the compiled templates in use, keyed by kind and locale.
type Set struct {
	mu        sync.RWMutex
	templates map[string]*Template
}

// Defaults compiles the templates shipped with the binary.
func Defaults() (*Set, error) {
	s := &Set{templates: map[string]*Template{}}
	locales, err := fs.ReadDir(defaultFiles, "defaults")
	if err != nil {
		return nil, err
	}
	for _, loc := range locales {
		files, err := fs.Glob(defaultFiles, path.Join("defaults", loc.Name(), "*.subject.tmpl"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			kind := Kind(strings.TrimSuffix(path.Base(f), ".subject.tmpl"))
			src, err := DefaultSource(kind, loc.Name())
			if err != nil {
				return nil, err
			}
			t, err := Compile(kind, loc.Name(), src)
			if err != nil {
				return nil, fmt.Errorf("default template %s/%s: %w", loc.Name(), kind, err)
			}
			s.Put(t)
		}
	}
	return s, nil
}

// DefaultSource returns the shipped text of a template.
func DefaultSource(kind Kind, locale string) (Source, error) {
	read := func(ext string) (string, error) {
		b, err := defaultFiles.ReadFile(path.Join("defaults", locale, string(kind)+ext))
		return string(b), err
	}
	var src Source
	var err error
	if src.Subject, err = read(".subject.tmpl"); err != nil {
		return src, err
	}
	if src.Text, err = read(".txt.tmpl"); err != nil {
		return src, err
	}
	src.HTML, err = read(".html.tmpl")
	return src, err
}

// Put makes t the template in use for its kind and locale.
func (s *Set) Put(t *Template) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.templates[string(t.Kind)+"/"+t.Locale] = t
}

// Get returns the template in use for exactly kind and locale, without
// falling back to another locale.
func (s *Set) Get(kind Kind, locale string) (*Template, bool) {
	if l, ok := NormalizeLocale(locale); ok {
		locale = l
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.templates[string(kind)+"/"+locale]
	return t, ok
}

// Lookup returns the template for kind in locale, falling back to the base
// language (de-CH → de, fr-CA → fr) and then to English. The locale's case
// does not matter (fr-ca finds fr-CA).
func (s *Set) Lookup(kind Kind, locale string) (*Template, error) {
	if l, ok := NormalizeLocale(locale); ok {
		locale = l
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	base, _, _ := strings.Cut(locale, "-")
	for _, l := range []string{locale, base, DefaultLocale} {
		if t, ok := s.templates[string(kind)+"/"+l]; ok {
			return t, nil
		}
	}
	return nil, fmt.Errorf("no %s template", kind)
}
