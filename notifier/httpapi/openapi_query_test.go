package httpapi_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// packageSource is the parsed non-test source of package httpapi.
type packageSource struct {
	fset  *token.FileSet
	files []*ast.File
	// methods are the *Server methods by name; funcs the package-level
	// functions by name.
	methods map[string]*ast.FuncDecl
	funcs   map[string]*ast.FuncDecl
}

func parsePackageSource(t *testing.T) *packageSource {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	src := &packageSource{fset: token.NewFileSet(), methods: map[string]*ast.FuncDecl{}, funcs: map[string]*ast.FuncDecl{}}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(src.fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		src.files = append(src.files, f)
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			switch {
			case fd.Recv == nil:
				src.funcs[fd.Name.Name] = fd
			case receiverType(fd) == "Server":
				src.methods[fd.Name.Name] = fd
			}
		}
	}
	if len(src.methods) == 0 {
		t.Fatal("found no *Server methods in the package source")
	}
	return src
}

// receiverType names a method's receiver type, without the pointer.
func receiverType(fd *ast.FuncDecl) string {
	typ := fd.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	id, _ := typ.(*ast.Ident)
	if id == nil {
		return ""
	}
	return id.Name
}

// receiverName is the name a method calls its receiver ("" if unnamed).
func receiverName(fd *ast.FuncDecl) string {
	if names := fd.Recv.List[0].Names; len(names) > 0 {
		return names[0].Name
	}
	return ""
}

// routeHandlers reads the route table in routes.go and returns the name of
// each route's *Server handler method, keyed by "METHOD pattern".
func (src *packageSource) routeHandlers(t *testing.T) map[string]string {
	t.Helper()
	fd := src.methods["routes"]
	if fd == nil {
		t.Fatal("found no (*Server).routes method")
	}
	fields := src.structFields(t, "route")
	recv := receiverName(fd)
	handlers := map[string]string{}
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		arr, ok := lit.Type.(*ast.ArrayType)
		if !ok {
			return true
		}
		if elt, ok := arr.Elt.(*ast.Ident); !ok || elt.Name != "route" {
			return true
		}
		for _, e := range lit.Elts {
			pos := src.fset.Position(e.Pos())
			elt, ok := e.(*ast.CompositeLit)
			if !ok {
				t.Errorf("%s: a route that is not a composite literal; the test cannot read it", pos)
				continue
			}
			entry := map[string]ast.Expr{}
			for i, v := range elt.Elts {
				if kv, ok := v.(*ast.KeyValueExpr); ok {
					if key, ok := kv.Key.(*ast.Ident); ok {
						entry[key.Name] = kv.Value
					}
				} else if i < len(fields) {
					entry[fields[i]] = v
				}
			}
			method, okMethod := stringLiteral(entry["method"])
			pattern, okPattern := stringLiteral(entry["pattern"])
			sel, okSel := entry["handler"].(*ast.SelectorExpr)
			if okSel {
				x, isIdent := sel.X.(*ast.Ident)
				okSel = isIdent && x.Name == recv && src.methods[sel.Sel.Name] != nil
			}
			if !okMethod || !okPattern || !okSel {
				t.Errorf("%s: a route whose method and pattern are not string literals or whose handler is not a %s.method value; the test cannot read it", pos, recv)
				continue
			}
			handlers[method+" "+pattern] = sel.Sel.Name
		}
		return false
	})
	return handlers
}

// structFields lists the field names of a struct type declared in the
// package, in order.
func (src *packageSource) structFields(t *testing.T, typeName string) []string {
	t.Helper()
	for _, f := range src.files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if ts.Name.Name != typeName || !ok {
					continue
				}
				var names []string
				for _, field := range st.Fields.List {
					for _, n := range field.Names {
						names = append(names, n.Name)
					}
				}
				return names
			}
		}
	}
	t.Fatalf("found no struct type %q in the package source", typeName)
	return nil
}

func stringLiteral(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// acceptedQuery returns the query parameters a handler accepts: the string
// literals given to query(r, ...) in the handler and in every *Server
// method and package function it reaches. query refuses any other key, so
// this is exactly what the route takes.
func (src *packageSource) acceptedQuery(t *testing.T, handler string) map[string]bool {
	t.Helper()
	accepted := map[string]bool{}
	seen := map[*ast.FuncDecl]bool{}
	var visit func(fd *ast.FuncDecl)
	visit = func(fd *ast.FuncDecl) {
		if seen[fd] {
			return
		}
		seen[fd] = true
		recv := ""
		if fd.Recv != nil {
			recv = receiverName(fd)
		}
		var inspect func(n ast.Node) bool
		inspect = func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "query" {
					src.queryArgs(t, n, accepted)
				}
			case *ast.SelectorExpr:
				// s.method (called or passed as a value) reaches that method;
				// the selector's name is not a package function, so only X
				// is inspected further.
				if x, ok := n.X.(*ast.Ident); ok && recv != "" && x.Name == recv {
					if m := src.methods[n.Sel.Name]; m != nil {
						visit(m)
					}
				}
				ast.Inspect(n.X, inspect)
				return false
			case *ast.Ident:
				if f := src.funcs[n.Name]; f != nil {
					visit(f)
				}
			}
			return true
		}
		ast.Inspect(fd.Body, inspect)
	}
	visit(src.methods[handler])
	return accepted
}

// queryArgs adds the allowed keys of one query(r, ...) call.
func (src *packageSource) queryArgs(t *testing.T, call *ast.CallExpr, accepted map[string]bool) {
	t.Helper()
	pos := src.fset.Position(call.Pos())
	if call.Ellipsis.IsValid() {
		t.Errorf("%s: query is given a spread slice; the test can only read string literals", pos)
		return
	}
	for _, arg := range call.Args[1:] {
		name, ok := stringLiteral(arg)
		if !ok {
			t.Errorf("%s: a query parameter that is not a string literal; the test can only read string literals", pos)
			continue
		}
		accepted[name] = true
	}
}

// documentedQuery returns the names of an operation's `in: query`
// parameters, path-level ones included.
func documentedQuery(t *testing.T, doc map[string]any, method, pattern string) (map[string]bool, bool) {
	t.Helper()
	paths, _ := doc["paths"].(map[string]any)
	item, _ := paths[pattern].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	if op == nil {
		return nil, false
	}
	itemParams, _ := item["parameters"].([]any)
	opParams, _ := op["parameters"].([]any)
	names := map[string]bool{}
	for _, p := range slices.Concat(itemParams, opParams) {
		pm := resolve(t, doc, p)
		if pm["in"] != "query" {
			continue
		}
		name, _ := pm["name"].(string)
		names[name] = true
	}
	return names, true
}

// TestOpenAPIQueryParameters checks that every route documents exactly the
// query parameters its handler accepts. The handlers refuse any other key
// (400), so an undocumented parameter is a feature nobody can find and a
// documented one the handler lacks is a request that always fails.
func TestOpenAPIQueryParameters(t *testing.T) {
	src := parsePackageSource(t)
	if src.funcs["query"] == nil {
		t.Fatal("found no query function; the handlers' allow-lists cannot be read")
	}
	handlers := src.routeHandlers(t)
	doc := openAPIDoc(t)

	// The table read from source must be the one the server registers, or
	// routes could escape this test.
	routes := routesByKey(t)
	for _, key := range sortedKeys(routes) {
		if _, ok := handlers[key]; !ok {
			t.Errorf("route %s is registered but was not found in the route table of routes.go", key)
		}
	}
	for _, key := range sortedKeys(handlers) {
		if _, ok := routes[key]; !ok {
			t.Errorf("routes.go lists %s, which the server does not register", key)
		}
	}

	for _, key := range sortedKeys(handlers) {
		method, pattern, _ := strings.Cut(key, " ")
		documented, ok := documentedQuery(t, doc, method, pattern)
		if !ok {
			continue // reported by TestOpenAPIMatchesRoutes
		}
		accepted := src.acceptedQuery(t, handlers[key])
		var undocumented, refused []string
		for _, name := range sortedKeys(accepted) {
			if !documented[name] {
				undocumented = append(undocumented, name)
			}
		}
		for _, name := range sortedKeys(documented) {
			if !accepted[name] {
				refused = append(refused, name)
			}
		}
		if len(undocumented) > 0 {
			t.Errorf("%s (%s) accepts query parameters openapi.json does not document: %s",
				key, handlers[key], strings.Join(undocumented, ", "))
		}
		if len(refused) > 0 {
			t.Errorf("%s (%s): openapi.json documents query parameters the handler refuses with 400: %s",
				key, handlers[key], strings.Join(refused, ", "))
		}
	}
}
