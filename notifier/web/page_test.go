package web

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestPages(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"pages/layout.html": {Data: []byte(`{{define "layout"}}<main>{{template "body" .}}</main>{{end}}`)},
		"pages/parts.html":  {Data: []byte(`{{define "name"}}<b>{{shout .}}</b>{{end}}`)},
		"pages/hello.html":  {Data: []byte(`{{define "body"}}Hello {{template "name" .Name}}{{end}}`)},
		"pages/broken.html": {Data: []byte(`{{define "body"}}{{.Missing.Field}}{{end}}`)},
		"pages/bad.html":    {Data: []byte(`{{define "body"}}{{end`)},
	}
	funcs := template.FuncMap{"shout": strings.ToUpper}
	if _, err := ParsePages(fsys, funcs, []string{"hello", "bad"}); err == nil || !strings.Contains(err.Error(), "page bad:") {
		t.Errorf("a page that does not parse: %v", err)
	}
	pages, err := ParsePages(fsys, funcs, []string{"hello", "broken"})
	if err != nil {
		t.Fatal(err)
	}
	data := struct{ Name string }{"<ann>"}

	w := httptest.NewRecorder()
	if err := WritePage(w, httptest.NewRequest("GET", "/", nil), http.StatusTeapot, "default-src 'none'", pages["hello"], data); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusTeapot || w.Body.String() != "<main>Hello <b>&lt;ANN&gt;</b></main>" ||
		w.Header().Get("Content-Type") != "text/html; charset=utf-8" || w.Header().Get("Content-Security-Policy") != "default-src 'none'" {
		t.Errorf("GET: %d %q %v", w.Code, w.Body, w.Header())
	}
	w = httptest.NewRecorder()
	if err := WritePage(w, httptest.NewRequest("HEAD", "/", nil), http.StatusOK, "x", pages["hello"], data); err != nil || w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %v, %d %q", err, w.Code, w.Body)
	}
	// A template that fails answers a plain 500, not half a page.
	w = httptest.NewRecorder()
	if err := WritePage(w, httptest.NewRequest("GET", "/", nil), http.StatusOK, "x", pages["broken"], data); err == nil ||
		w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "<main>") {
		t.Errorf("failing template: %v, %d %q", err, w.Code, w.Body)
	}
}
