// Package templates renders notice emails. A template is an immutable version
// of a subject, a plain-text body and an HTML body for one kind of message
// and one locale. Templates are parsed once per version; rendering takes a
// Data value, so a reference to a field that does not exist is an error, not
// an empty string. HTML goes through html/template, so recipient data is
// always escaped; every data value is defanged before any template sees it,
// and no template ever sees a link (see Template.Render).
package templates

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"

	"github.com/breachnotify/breachnotify/notifier/linkguard"
)

// Kind is what a message is for: the kind of a wave, of its notices and of
// the template they are rendered with, or the portal's sign-in email.
type Kind string

// The kinds.
const (
	KindInitial  Kind = "initial"
	KindFollowUp Kind = "follow_up"
	// KindReminder and KindEscalation are made by the reminder job: their
	// notices chase an unacknowledged notice (the parent).
	KindReminder   Kind = "reminder"
	KindEscalation Kind = "escalation"
	// KindPortalLink is the portal's sign-in email: a template, never a
	// wave.
	KindPortalLink Kind = "portal_link"
)

// Kinds lists every kind (every template kind).
var Kinds = []Kind{KindInitial, KindFollowUp, KindReminder, KindEscalation, KindPortalLink}

// WaveKinds lists the kinds a wave (and its notices) can have: every kind
// but the sign-in email.
var WaveKinds = []Kind{KindInitial, KindFollowUp, KindReminder, KindEscalation}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// IsWave reports whether k is one of WaveKinds.
func (k Kind) IsWave() bool { return slices.Contains(WaveKinds, k) }

// Label is the kind as pages show it to people ("Follow-up"); an unknown
// kind shows as it is stored.
func (k Kind) Label() string {
	switch k {
	case KindInitial:
		return "Initial notice"
	case KindFollowUp:
		return "Follow-up"
	case KindReminder:
		return "Reminder"
	case KindEscalation:
		return "Escalation"
	case KindPortalLink:
		return "Sign-in link"
	}
	return string(k)
}

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
	// Source is the text the version was compiled from.
	Source  Source
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
	// preparable: rendering once per notice and filling in recipients
	// gives exactly the full render (see prepare.go).
	preparable bool
	// minimalErr is why the template cannot render a minimal-disclosure
	// notice (see MinimalError).
	minimalErr error
}

// MinimalError is why the template fails to render a minimal-disclosure
// notice (the sample data without incident, items or secrets), as a
// *PartError naming the part; nil when it renders. Such a template can
// still render full notices; an upload refuses it.
func (t *Template) MinimalError() error { return t.minimalErr }

// forMinimal says that err came from rendering a minimal notice, keeping
// the part it names.
func forMinimal(err error) error {
	var pe *PartError
	if errors.As(err, &pe) {
		return &PartError{Part: pe.Part, Err: fmt.Errorf("for a minimal-disclosure notice (no incident, items or secrets): %w", pe.Err)}
	}
	var uf *UnknownFieldError
	if errors.As(err, &uf) {
		return err
	}
	return &PartError{Part: "text", Err: fmt.Errorf("for a minimal-disclosure notice: %w", err)}
}

// Compile parses src and refuses it, with a message saying what to change,
// when it names a field Data does not have (*UnknownFieldError), or when it
// could link or load anything but the notice's own links: it calls a
// function that assembles text, takes a link apart, or writes a link, a
// load or a piece of either in any branch (see links.go). Other problems
// come as a *PartError naming the part. The template's functions (date,
// count, ...) write in locale's language.
func Compile(kind Kind, locale string, src Source) (*Template, error) {
	return compile(kind, locale, src, true)
}

// CompileUnchecked is Compile without the upload checks on links and
// loads: the template is only parsed and rendered once. It exists so tests
// can show that the send-time firewall stops what a template smuggles past
// those checks; the service never calls it.
func CompileUnchecked(kind Kind, locale string, src Source) (*Template, error) {
	return compile(kind, locale, src, false)
}

func compile(kind Kind, locale string, src Source, checked bool) (*Template, error) {
	if l, ok := NormalizeLocale(locale); ok {
		locale = l
	}
	t := &Template{Kind: kind, Locale: locale, Version: VersionOf(src), Source: src}
	funcs := funcsFor(locale)
	var err error
	if t.subject, err = texttemplate.New("subject").Funcs(funcs).Option("missingkey=error").Parse(src.Subject); err != nil {
		return nil, &PartError{Part: "subject", Err: err}
	}
	if t.text, err = texttemplate.New("text").Funcs(funcs).Option("missingkey=error").Parse(src.Text); err != nil {
		return nil, &PartError{Part: "text", Err: err}
	}
	if t.html, err = htmltemplate.New("html").Funcs(htmltemplate.FuncMap(funcs)).Funcs(htmlFuncs).Option("missingkey=error").Parse(src.HTML); err != nil {
		return nil, &PartError{Part: "html", Err: err}
	}
	if checked {
		// Before the first render: html/template adds its escapers to
		// the trees then.
		if err := t.checkSources(); err != nil {
			return nil, err
		}
	}
	// A template renders full and minimal-disclosure notices alike (the
	// incident's policy decides, not the template). A minimal rendering
	// that fails is kept as MinimalError, not refused here: a version
	// stored or pinned before minimal notices existed must still load
	// for the full notices it was made for; an upload refuses it.
	for _, minimal := range []bool{false, true} {
		sample := SampleData()
		sample.Notice.Secrets = Secrets(locale, sample.Notice.SecretTypes)
		sample.Notice.Minimal = minimal
		out, err := t.Render(sample)
		if err != nil && minimal {
			t.minimalErr = forMinimal(err)
			continue
		}
		if err != nil {
			return nil, err
		}
		if checked {
			policy := linkguard.Policy{Links: []string{sample.Links.Ack, sample.Links.Portal, sample.Links.Verify}, Addresses: []string{sample.Sender.Address}}
			if err := policy.Check(out.Subject, out.Text, out.HTML); err != nil {
				var v *linkguard.Violation
				if errors.As(err, &v) {
					return nil, &PartError{Part: v.Part, Err: errors.New(v.Reason)}
				}
				return nil, err
			}
		}
	}
	t.preparable = t.checkPreparable()
	return t, nil
}

// checkSources runs checkSource on every template of every part.
func (t *Template) checkSources() error {
	for _, tt := range t.subject.Templates() {
		if err := checkSource("subject", tt.Tree, false); err != nil {
			return err
		}
	}
	for _, tt := range t.text.Templates() {
		if err := checkSource("text", tt.Tree, false); err != nil {
			return err
		}
	}
	for _, tt := range t.html.Templates() {
		if err := checkSource("html", tt.Tree, true); err != nil {
			return err
		}
	}
	return nil
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
//
// Three things hold here whatever the template does. A minimal-disclosure
// notice's content is left out of the data (see Minimized). Every data
// value is defanged (see Defanged): breach data can never become a link. And
// the template never sees a link: each of d.Links stands in the data as an
// opaque token (letters and digits, unguessable, made at start), and only
// after the template ran is each token replaced by its link, whole. A
// template that slices or formats a link gets pieces of a token, never of
// a link, let alone of a sign-in token.
func (t *Template) Render(d *Data) (Rendered, error) {
	dd := Defanged(Minimized(d))
	links := [...]string{d.Links.Ack, d.Links.Portal, d.Links.Verify}
	for i, l := range links {
		if l != "" {
			*dd.linkField(i) = linkTokens[i]
		}
	}
	out, err := t.execute(dd)
	if err != nil {
		return out, err
	}
	var textPairs, htmlPairs []string
	for i, l := range links {
		if l != "" {
			textPairs = append(textPairs, linkTokens[i], l)
			htmlPairs = append(htmlPairs, linkTokens[i], html.EscapeString(l))
		}
	}
	if len(textPairs) > 0 {
		r := strings.NewReplacer(textPairs...)
		out.Subject, out.Text = r.Replace(out.Subject), r.Replace(out.Text)
		out.HTML = strings.NewReplacer(htmlPairs...).Replace(out.HTML)
	}
	return out, nil
}

func (t *Template) execute(d *Data) (Rendered, error) {
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

// linkTokens stand for the links while a template runs: random letters
// and digits (which every escaper leaves alone), made once per process, so
// neither a template nor breach data can write one on purpose.
var linkTokens = [3]string{newLinkToken(), newLinkToken(), newLinkToken()}

// newLinkToken is as long as a real link (about 80 characters), so a
// template that measures or slices one behaves as it would with the link.
func newLinkToken() string { return "qLNK" + rand.Text() + rand.Text() + rand.Text() }

// Set holds the compiled templates in use, keyed by kind and locale, and
// every version it was ever given, by version (a running wave renders with
// the versions pinned when it was launched, see ByVersion).
type Set struct {
	mu        sync.RWMutex
	templates map[string]*Template
	versions  map[versionKey]*Template
}

// NewSet returns a set holding ts, each in use for its kind and locale.
func NewSet(ts ...*Template) *Set {
	s := &Set{templates: map[string]*Template{}, versions: map[versionKey]*Template{}}
	for _, t := range ts {
		s.Put(t)
	}
	return s
}

// Defaults compiles the templates shipped with the binary.
func Defaults() (*Set, error) {
	s := NewSet()
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
	s.versions[versionKey{t.Kind, t.Locale, t.Version}] = t
}

// Keep adds t to the versions the set knows without making it the one in
// use (a version a wave was pinned to, loaded from the database).
func (s *Set) Keep(t *Template) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions[versionKey{t.Kind, t.Locale, t.Version}] = t
}

// ByVersion returns a version the set was given (Put or Keep).
func (s *Set) ByVersion(kind Kind, locale, version string) (*Template, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.versions[versionKey{kind, locale, version}]
	return t, ok
}

// versionKey names a version within a kind and locale.
type versionKey struct {
	kind            Kind
	locale, version string
}

// Current lists the templates in use for kind, by locale.
func (s *Set) Current(kind Kind) map[string]*Template {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]*Template{}
	for _, t := range s.templates {
		if t.Kind == kind {
			out[t.Locale] = t
		}
	}
	return out
}

// LocaleCandidates are the locales a message for locale is looked up
// in, in order: the locale itself (canonical case), its base language
// (de-CH → de), then English.
func LocaleCandidates(locale string) []string {
	if l, ok := NormalizeLocale(locale); ok {
		locale = l
	}
	base, _, _ := strings.Cut(locale, "-")
	return []string{locale, base, DefaultLocale}
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, l := range LocaleCandidates(locale) {
		if t, ok := s.templates[string(kind)+"/"+l]; ok {
			return t, nil
		}
	}
	return nil, fmt.Errorf("no %s template", kind)
}
