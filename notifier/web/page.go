package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
)

// ParsePages parses each named page, pages/NAME.html in fsys, together
// with pages/layout.html and pages/parts.html and with funcs, once at
// start-up: a page that does not parse stops the server from starting,
// instead of failing on a visitor's request. Each page is a template set
// of its own, so every page may define the blocks the layout leaves
// open; WritePage executes its "layout".
//
// Every value a page prints is defanged (see defang.go) unless it is a
// Verbatim: breach data never looks like a link on our pages.
func ParsePages(fsys fs.FS, funcs template.FuncMap, names []string) (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(names))
	for _, name := range names {
		t, err := template.New("layout.html").Funcs(funcs).Funcs(template.FuncMap{"defang": defang}).
			ParseFS(fsys, "pages/layout.html", "pages/parts.html", "pages/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("page %s: %w", name, err)
		}
		defangActions(t)
		pages[name] = t
	}
	return pages, nil
}

// WritePage answers r with the page t's "layout" template makes of data,
// with SecureHeaders(csp) and status. The page is made in memory first,
// so a template that fails answers a plain 500 instead of half a page
// under a 200; the error is returned for the caller to log. A HEAD
// request gets the headers only.
func WritePage(w http.ResponseWriter, r *http.Request, status int, csp string, t *template.Template, data any) error {
	SecureHeaders(w, csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return err
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
	return nil
}
